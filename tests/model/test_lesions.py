"""Several lesions sharing one systemic response (il2sim.model.library.il2_qsp.lesions).

Exact relations derived in the module docstring: one lesion is il2_qsp; n identical lesions,
each with 1/n of the cells and of each injection, are one tumour with plateau n*K_T and
smallest injection volume n*v_site_min. Behaviour: an injected lesion shrinks more than one
left alone, which still responds to the systemic effect (Radny et al. 2003, Br J Cancer
89:1620, counted responses of treated metastases; untreated ones are reached only through
the systemic response).
"""

from __future__ import annotations

import numpy as np
import pytest

from il2sim import (
    EngineError,
    Intratumoral,
    ModelError,
    Regimen,
    Schedule,
    get_model,
    presets,
    simulate,
)
from il2sim.model.library.il2_qsp.lesions import LESION_STATES, il2_qsp_lesions
from il2sim.units import ureg

QSP = get_model("il2_qsp")
TWO = get_model("il2_qsp_lesions_2")
DAYS = np.arange(0.0, 61.0, 2.0)
HOURS = DAYS * 24
TOL = {"rtol": 1e-9, "atol": 1e-12}
PATIENT = {"weight": 70.0}


def injections(route: str, dose: str = "3 MIU") -> Regimen:
    """Twice a week for four weeks, as Radny et al. 2003 injected (2-3 times a week)."""
    return Regimen.of(Intratumoral(dose, route=route), Schedule(every="3.5 day", count=8))


def lesion(name: str, k: int) -> str:
    return f"{name}_{k}" if name in LESION_STATES else name


def test_one_lesion_is_il2_qsp() -> None:
    one = get_model("il2_qsp_lesions_1")
    assert one is get_model("il2_qsp_lesions_1")
    for regimen, route in ((presets.label_high_dose(), None), (injections("it"), "it_1")):
        single = simulate(QSP, regimen, times=HOURS, covariates=PATIENT, **TOL)
        renamed = regimen if route is None else injections(route)
        r = simulate(one, renamed, times=HOURS, covariates=PATIENT, **TOL)
        for name in QSP.state_names:
            np.testing.assert_allclose(r[lesion(name, 1)], single[name], rtol=1e-6, atol=1e-9,
                                       err_msg=name)
        np.testing.assert_allclose(r["tumour_volume"], single["tumour_volume"], rtol=1e-6)
        np.testing.assert_allclose(r["tumour_volume_1"], single["tumour_volume"], rtol=1e-6)


def test_identical_lesions_are_one_tumour_with_a_scaled_plateau() -> None:
    """Two lesions with half the cells and half of each dose each = one tumour with plateau
    2*K_T and smallest injection volume 2*v_site_min: each lesion holds half of its cells
    and depot and has its oedema."""
    k_t, v_min = QSP.param("K_T").value, QSP.param("v_site_min").value
    single = simulate(QSP, injections("it"), {"K_T": 2 * k_t, "v_site_min": 2 * v_min},
                      times=HOURS, covariates=PATIENT, **TOL)
    both = injections("it_1", "1.5 MIU") + injections("it_2", "1.5 MIU")
    r = simulate(TWO, both, times=HOURS, covariates=PATIENT, **TOL)
    for name in QSP.state_names:
        if name in LESION_STATES:
            np.testing.assert_allclose(r[f"{name}_1"], r[f"{name}_2"], rtol=1e-7, err_msg=name)
            pooled = r[f"{name}_1"] + r[f"{name}_2"] if name in ("T", "T_r", "A_it") \
                else r[f"{name}_1"]  # cells and depots add up; oedema is each lesion's own
            np.testing.assert_allclose(pooled, single[name], rtol=1e-6, atol=1e-9, err_msg=name)
        else:
            np.testing.assert_allclose(r[name], single[name], rtol=1e-6, atol=1e-9,
                                       err_msg=name)
    assert single["T"][0, -1] < 0.5 * single["T"][0, 0]  # the case tests a response


@pytest.fixture(scope="module")
def one_injected() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Volumes (mL) of lesion 1 (injected), lesion 2 (left alone) and lesion 2 untreated."""
    r = simulate(TWO, injections("it_1"), times=HOURS, covariates=PATIENT, **TOL)
    untreated = simulate(TWO, None, times=HOURS, covariates=PATIENT, **TOL)
    return (r["tumour_volume_1"][0], r["tumour_volume_2"][0],
            untreated["tumour_volume_2"][0])


def test_an_injected_lesion_shrinks_more_than_one_left_alone(
        one_injected: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    injected, alone, untreated = one_injected
    assert injected[0] == alone[0]
    assert injected[-1] < 0.5 * injected[0]
    assert injected[-1] < 0.5 * alone[-1]


def test_a_lesion_left_alone_responds_to_the_systemic_effect(
        one_injected: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    """Memory, drained IL-2 and the pooled access of a smaller tumour reach lesion 2."""
    _, alone, untreated = one_injected
    assert alone[-1] < untreated[-1]


def test_lesion_factors_act_on_their_own_lesion_only() -> None:
    """Without antigenicity nothing kills; without perfusion lesion 2 cannot grow, so it
    keeps its cells exactly while lesion 1 grows."""
    r = simulate(TWO, None, {"ant": 0.0, "f_perf_2": 0.0}, times=HOURS, **TOL)
    np.testing.assert_allclose(r["T_2"][0], r["T_2"][0, 0], rtol=1e-9)
    assert r["T_1"][0, -1] > 1.05 * r["T_1"][0, 0]
    s = simulate(TWO, None, {"f_ant_2": 0.0}, times=HOURS, **TOL)
    assert s["T_2"][0, -1] > s["T_1"][0, -1]  # lesion 2 escapes recognition


def test_a_dose_fraction_is_a_smaller_injection() -> None:
    """f_dose_1 = 0.5 with 3 MIU is 1.5 MIU into lesion 1, exactly."""
    half = simulate(TWO, injections("it_1"), {"f_dose_1": 0.5}, times=HOURS[:8],
                    covariates=PATIENT, **TOL)
    written = simulate(TWO, injections("it_1", "1.5 MIU"), times=HOURS[:8],
                       covariates=PATIENT, **TOL)
    np.testing.assert_allclose(half.states, written.states, rtol=1e-12)


def test_lesion_sizes_and_routes() -> None:
    model = il2_qsp_lesions(3, initial_cells=(1e9, 2e9, 3e9))
    f = QSP.state("T_r").initial / (QSP.state("T").initial + QSP.state("T_r").initial)
    for k, cells in enumerate((1e9, 2e9, 3e9), start=1):
        assert model.state(f"T_{k}").initial + model.state(f"T_r_{k}").initial == \
            pytest.approx(cells)
        assert model.state(f"T_r_{k}").initial == pytest.approx(f * cells)
    assert {"it_1", "it_2", "it_3", "challenge_3"} <= {r.name for r in model.routes}
    with pytest.raises(EngineError, match="no dose route 'it'; known: .*it_1"):
        simulate(TWO, presets.intratumoral(), times=HOURS)


def test_every_parameter_has_unit_source_and_meaning() -> None:
    """As tests/model/test_library.py checks every listed model (the lesion models are a
    family outside the list)."""
    for p in TWO.params:
        assert p.source.strip() and p.meaning.strip(), p.name
        ureg.Unit(p.unit)
        assert p.bounds[0] <= p.value <= p.bounds[1]
    new = set(TWO.param_names) - set(QSP.param_names)
    assert new == {"f_ant_1", "f_ant_2", "f_perf_1", "f_perf_2", "f_dose_1", "f_dose_2"}
    assert all(TWO.param(name).is_assumption for name in new)
    assert {QSP.param(p.name) == p for p in QSP.params if p.name in TWO.param_names} == {True}


def test_bad_lesion_counts_and_sizes_are_errors() -> None:
    with pytest.raises(ModelError, match="number of lesions must be an integer >= 1, not 0"):
        il2_qsp_lesions(0)
    with pytest.raises(ModelError, match="initial_cells must be 2 positive numbers"):
        il2_qsp_lesions(2, initial_cells=(1e9,))
    for name in ("il2_qsp_lesions_21", "il2_qsp_lesions_0", "il2_qsp_lesions_02"):
        with pytest.raises(ModelError, match=f"unknown model '{name}'.*il2_qsp_lesions_<1-20>"):
            get_model(name)
