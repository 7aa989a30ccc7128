"""The libRoadRunner backend (il2sim's SBML export, CVODE) against exact solutions and SciPy.

- the exact-solution checks of ``test_exact.py`` (bolus decay, infusion steady state,
  superposition, Bateman depot, log-state jumps, per-kg and per-m2 doses, failures) rerun
  with ``backend="roadrunner"``: doses and holds stay in il2sim's event loop, CVODE
  integrates the smooth segments of the exported SBML;
- agreement with the SciPy reference (both at tight tolerances) on every library model
  untreated, on KP98 over 1000 days across the antigenicity range (tumour crashes below
  1e-30 included), and on ``il2_qsp`` under the label course with the label protocol's
  per-patient hold decisions;
- the log-state tolerance mapping (a species-sized absolute tolerance fails de Pillis
  2006), negative values, bad options and a missing libroadrunner are clear.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
import pytest
import test_exact
from one_compartment import V
from test_native_backend import _assert_agree

from il2sim import (
    Bolus,
    EngineError,
    Regimen,
    Schedule,
    compile_model,
    get_model,
    list_models,
    presets,
    simulate,
)
from il2sim.engine import roadrunner_backend
from il2sim.engine.roadrunner_backend import RoadRunnerBackend
from il2sim.protocol import ProtocolDecider, label_protocol

pytest.importorskip("roadrunner")

KP = get_model("kp1998")
rr_simulate = partial(simulate, backend="roadrunner")

EXACT_CHECKS: list[Callable[[], None]] = [
    test_exact.test_bolus_decay_is_exponential,
    test_exact.test_infusion_reaches_rate_over_clearance_and_decays_after_stop,
    test_exact.test_repeated_boluses_superpose,
    test_exact.test_output_at_a_dose_time_is_after_the_dose,
    test_exact.test_depot_follows_the_bateman_function,
    test_exact.test_log_state_bolus_jumps_exactly,
    test_exact.test_error_falls_as_tolerances_tighten,
    test_exact.test_per_kg_doses_scale_with_each_patients_weight,
    test_exact.test_per_m2_doses_use_mosteller_bsa,
    test_exact.test_a_failed_patient_is_recorded_not_dropped,
    test_exact.test_a_single_failed_simulation_raises,
]


def _name(check: Callable[[], None]) -> str:
    return check.__name__


@pytest.mark.parametrize("check", EXACT_CHECKS, ids=_name)
def test_exact_solutions_hold_with_the_roadrunner_backend(
        check: Callable[[], None], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(test_exact, "simulate", rr_simulate)
    check()


def test_batch_parameters_give_each_patient_its_own_exact_solution() -> None:
    """As test_exact's check, with an absolute tolerance below the smallest amount (2e-6 IU
    at k = 0.4/h): CVODE's error there is atol-dominated (5e-7 relative with atol 1e-12)."""
    ks = np.array([0.05, 0.1, 0.2, 0.4])
    r = rr_simulate(test_exact.MODEL, Regimen.of(Bolus("1000 IU"), Schedule(at=["0 h"])),
                    params={"k": ks}, times=test_exact.TIMES, rtol=1e-10, atol=1e-16)
    exact = 1000 / V * np.exp(-ks[:, None] * test_exact.TIMES[None, :])
    np.testing.assert_allclose(r["C"], exact, rtol=1e-7)
    assert list(r.status) == ["ok"] * 4


@pytest.mark.parametrize("name", [m.name for m in list_models()])
def test_agrees_with_scipy_on_every_library_model_untreated(name: str) -> None:
    model = get_model(name)
    times = np.linspace(0, 100, 101)
    tight = {"rtol": 1e-10, "atol": 1e-12}
    # CVODE integrates the states linearly: a log state's atol becomes relative control
    # down to 1e-200 (de Pillis 2006's tumour falls to 1e-77 here)
    _assert_agree(rr_simulate(model, None, times=times, **tight),
                  simulate(model, None, times=times, **tight), atol=1e-12, rtol=1e-6)


def test_agrees_with_scipy_on_kp1998_over_1000_days() -> None:
    cs = [0.005, 0.01, 0.02, 0.035, 0.05]
    times = np.linspace(0, 1000, 201)
    a = rr_simulate(KP, None, params={"c": cs}, times=times, rtol=1e-12, atol=1e-12)
    b = simulate(KP, None, params={"c": cs}, times=times, rtol=1e-12, atol=1e-12)
    # CVODE (order <= 5) at 1e-12 through tumour crashes to 1e-30 and back: 1e-5 relative
    _assert_agree(a, b, atol=1e-12, rtol=1e-5)
    assert a["T"][0].min() < 1e-30  # the deep crash regime is in the comparison


def test_agrees_with_scipy_on_il2_qsp_under_the_label_protocol() -> None:
    """28 scheduled doses, decided per patient by the label's hold rules, which read the
    chart of the shift before each dose: the reference patient (17 doses held: the hypotension
    of each cycle withholds doses and stops it early) and a leak-sensitive one (ec50_perm /
    4: 24 held, each cycle stopped on its second day). Both backends must take the same
    decisions, dose by dose."""
    qsp = get_model("il2_qsp")
    protocol = label_protocol("600000 IU/kg", 1)
    regimen = protocol.regimen()
    hours = np.arange(0.0, 30 * 24 + 1, 2.0)
    args: dict[str, Any] = {"times": hours, "covariates": {"weight": [70.0, 70.0]},
                            "params": {"ec50_perm": [qsp.param("ec50_perm").value,
                                                     qsp.param("ec50_perm").value / 4]},
                            "rtol": 1e-10, "atol": 1e-12}
    a = rr_simulate(qsp, regimen, decider=ProtocolDecider(protocol), **args)
    b = simulate(qsp, regimen, decider=ProtocolDecider(protocol), **args)
    assert len(a.dose_log) == 2 * 28
    assert list(a.dose_log["reason"]) == list(b.dose_log["reason"])
    held = (a.dose_log["status"] == "held").groupby(a.dose_log["patient"]).sum()
    assert list(held) == [17, 24]
    _assert_agree(a, b, atol=1e-12, rtol=1e-5)


def test_agrees_with_native_on_il2_qsp_under_the_label_course() -> None:
    qsp = get_model("il2_qsp")
    hours = np.arange(0.0, 60 * 24 + 1, 1.0)
    args: dict[str, Any] = {"times": hours, "covariates": {"weight": 70.0}}
    a = rr_simulate(qsp, presets.label_high_dose(), rtol=1e-10, atol=1e-12, **args)
    b = simulate(qsp, presets.label_high_dose(), backend="native", rtol=1e-10, atol=1e-12,
                 **args)
    _assert_agree(a, b, atol=1e-12, rtol=1e-5)


def test_a_species_sized_log_tolerance_fails_where_relative_control_works() -> None:
    """Why a log state's atol is mapped to relative control: de Pillis 2006's D term has
    (L/T)**l; once T is below CVODE's absolute tolerance it is stepped through zero."""
    model = get_model("depillis2006")
    cm = compile_model(model)
    x0 = np.array([[s.initial for s in model.states]])
    p = np.array([[q.value for q in model.params]])
    u = np.zeros((1, len(cm.input_names)))
    args: dict[str, Any] = {"rtol": 1e-8, "atol": 1e-8}
    good = RoadRunnerBackend().integrate(cm, 0.0, 100.0, cm.to_internal(x0), p, u,
                                         np.array([0.0]), **args)
    assert good.ok.all() and np.exp(good.y_end[0, 0]) < 1e-70
    sized = RoadRunnerBackend(log_floor=1.0).integrate(  # atol of T: 1e-8 cells
        cm, 0.0, 100.0, cm.to_internal(x0), p, u, np.array([0.0]), **args)
    assert not sized.ok.any()
    assert "libRoadRunner failed between t=0 and t=100" in sized.message[0]


def test_non_positive_log_states_are_clipped_or_fail() -> None:
    """A loose absolute tolerance lets CVODE overshoot zero in KP98's tumour crash (or
    give up: mxstep failures are recorded too); clipping rescues the overshooting ones."""
    cm = compile_model(KP)
    n = 6
    y = cm.to_internal(np.tile([1.0, 1e5, 1.0], (n, 1)))
    p = np.tile([q.value for q in KP.params], (n, 1))
    p[:, 0] = np.linspace(0.005, 0.02, n)
    u, t_eval = np.zeros((n, 2)), np.linspace(0.0, 1000.0, 101)[:-1]
    args: dict[str, Any] = {"rtol": 1e-4, "atol": 1e-4}
    clip = RoadRunnerBackend(log_floor=1.0)
    a = clip.integrate(cm, 0.0, 1000.0, y, p, u, t_eval, **args)
    b = RoadRunnerBackend(log_floor=1.0, negative="fail").integrate(cm, 0.0, 1000.0, y, p, u,
                                                                    t_eval, **args)
    assert clip.stats.clipped > 0 and clip.stats.patient_segments == n
    failed = ~b.ok
    assert failed.any()
    assert any("integrated as a log" in b.message[i] for i in np.flatnonzero(failed))
    assert np.isnan(b.y_end[failed]).all()
    negative = [i for i in range(n) if "integrated as a log" in b.message[i]]
    assert a.ok[negative].all() and np.isfinite(a.y_eval[negative]).all()
    assert np.array_equal(a.y_eval[b.ok], b.y_eval[b.ok])


def test_bad_options_are_clear_errors() -> None:
    assert RoadRunnerBackend(method="CVODE").name == "roadrunner"
    with pytest.raises(EngineError, match="unknown method 'euler'"):
        RoadRunnerBackend(method="euler")
    with pytest.raises(EngineError, match="negative must be 'clip' or 'fail'"):
        RoadRunnerBackend(negative="zero")
    with pytest.raises(EngineError, match="log_floor"):
        RoadRunnerBackend(log_floor=0.0)
    with pytest.raises(EngineError, match="unknown backend 'roadrunnr'"):
        simulate(KP, None, times=[0.0, 1.0], backend="roadrunnr")


def test_a_missing_libroadrunner_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def no_roadrunner(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "roadrunner":
            raise ImportError("No module named 'roadrunner'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_roadrunner)
    monkeypatch.setattr(roadrunner_backend._LOCAL, "instances", None, raising=False)
    model = get_model("aldesleukin_pk")
    with pytest.raises(EngineError, match="needs libroadrunner"):
        rr_simulate(model, None, times=[0.0, 1.0])
