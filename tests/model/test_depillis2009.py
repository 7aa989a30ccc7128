"""de Pillis et al. 2009: the curated BioModels file, libRoadRunner, and the paper's form.

What is checked:
- every parameter and initial value equals BIOMD0000000779's, by name, except d, l, s
  (0 in the file, which switches CD8+ killing off);
- the file's own form (d = l = s = 0, phi in the CD8+ turnover) built from the library
  model matches libRoadRunner on the file to rtol 1e-6, untreated and through infusions
  on all three routes and an IL-2 bolus;
- how the paper's form differs: CD8+ killing D = 0.84 /day at t = 0 instead of 0, a
  smaller tumour early on; theta in place of phi changes almost nothing (both make the
  IL-2-dependent turnover negligible at I of about 1000 IU/L);
- published values: the immune populations start at the paper's equilibrium values
  (NK 2.5e8, CD8+ 5.268e5, lymphocytes 2.25e9 cells/L, BIOMD0000000779) and stay within a few
  per cent of them untreated while the tumour grows to carrying capacity. No qualitative
  treatment result of the 2009 paper is checked (its figures were not available).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from il2sim import Bolus, Infusion, Model, Regimen, Schedule, get_model, simulate

P = get_model("depillis2009")
SPECIES = {"T": "T_Tumour_Cells", "N": "N_Natural_Killer_Cells", "L": "L_CD8_T_Cells",
           "C": "C_Lymphocytes", "M": "M_Chemotherapy_Drug", "I": "I_IL_2"}


def file_form() -> Model:
    """BIOMD0000000779 as written: phi where the paper has theta, and d = l = s = 0."""
    equations = dict(P.equations)
    paper_turnover = "-theta*m*L/(theta + I)"
    assert paper_turnover in equations["L"]
    equations["L"] = equations["L"].replace(paper_turnover, "-phi*m*L/(phi + I)")
    model = Model("depillis2009_file", P.title, P.citation, P.time_unit, P.states, P.params,
                  equations, P.inputs, P.intermediates, P.observables, P.routes)
    return model.with_params(d=0.0, l=0.0, s=0.0)


@pytest.fixture(scope="module")
def rr_model(shared_data: Path) -> Any:
    import roadrunner

    rr = roadrunner.RoadRunner(str(shared_data / "biomodels/BIOMD0000000779.xml"))
    rr.integrator.relative_tolerance = 1e-10
    rr.integrator.absolute_tolerance = 1e-12
    return rr


def test_parameters_and_initial_state_are_the_files(rr_model: Any) -> None:
    for p in P.params:
        expected = 0.0 if p.name in ("d", "l", "s") else p.value
        assert rr_model[p.name] == expected, p.name
    for state, species in SPECIES.items():
        assert P.state(state).initial == rr_model[f"init([{species}])"], state
    assert (P.param("d").value, P.param("l").value, P.param("s").value) == (2.34, 2.09, 3.8e-3)


def test_file_form_matches_libroadrunner_untreated(rr_model: Any) -> None:
    rr_model.resetAll()
    selections = ["time"] + [f"[{s}]" for s in SPECIES.values()]
    ref = rr_model.simulate(0, 100, 101, selections)
    r = simulate(file_form(), None, times=ref[:, 0], rtol=1e-10, atol=1e-10)
    for j, state in enumerate(SPECIES):
        if state == "M":
            np.testing.assert_allclose(r[state][0], ref[:, j + 1], atol=1e-12)
        else:
            np.testing.assert_allclose(r[state][0], ref[:, j + 1], rtol=1e-6)


def test_file_form_matches_libroadrunner_through_treatment(rr_model: Any) -> None:
    """Day 10-11: chemotherapy, IL-2 and CD8+ infusions together; day 20: an IL-2 bolus."""
    rr = rr_model
    rr.resetAll()
    selections = ["time"] + [f"[{s}]" for s in SPECIES.values()]
    parts = [rr.simulate(0, 10, 11, selections)]
    rr["v_M"], rr["v_I"], rr["v_L"] = 5.0, 1e5, 1e6
    parts.append(rr.simulate(10, 11, 11, selections)[1:])
    rr["v_M"], rr["v_I"], rr["v_L"] = 0.0, 0.0, 0.0
    parts.append(rr.simulate(11, 20, 10, selections)[1:-1])  # day 20 is reported post-dose
    rr["[I_IL_2]"] = rr["[I_IL_2]"] + 2e4
    parts.append(rr.simulate(20, 60, 41, selections))
    ref = np.vstack(parts)
    rr["v_M"], rr["v_I"], rr["v_L"] = 0.0, 0.0, 0.0

    day10 = Schedule(at=["10 day"])
    regimen = (Regimen.of(Infusion(rate="5 arb/day", duration="1 day", route="chemo"), day10)
               + Regimen.of(Infusion(rate="1e5 IU/L/day", duration="1 day", route="il2"),
                            day10)
               + Regimen.of(Infusion(rate="1e6 cell/L/day", duration="1 day", route="cells"),
                            day10)
               + Regimen.of(Bolus("2e4 IU/L", route="il2"), Schedule(at=["20 day"])))
    times = ref[:, 0]
    r = simulate(file_form(), regimen, times=times, rtol=1e-10, atol=1e-10)
    for j, state in enumerate(SPECIES):
        if state == "M":
            np.testing.assert_allclose(r[state][0], ref[:, j + 1], rtol=1e-6, atol=1e-10)
        else:
            np.testing.assert_allclose(r[state][0], ref[:, j + 1], rtol=1e-6)
    assert r["M"][0].max() > 3.0 and r["I"][0].max() > 2e4  # the doses did act


def test_paper_form_differs_by_cd8_killing() -> None:
    times = np.linspace(0, 60, 61)
    paper = simulate(P, None, times=times, rtol=1e-10, atol=1e-10)
    file = simulate(file_form(), None, times=times, rtol=1e-10, atol=1e-10)
    assert paper["cd8_kill"][0, 0] == pytest.approx(0.840, abs=1e-3)
    assert np.all(file["cd8_kill"][0] == 0.0)
    # early on the paper's tumour is smaller; both reach carrying capacity by day 30
    assert paper["T"][0, 10] < 0.9 * file["T"][0, 10]
    carrying = 1 / P.param("b").value
    assert paper["T"][0, 30] > 0.99 * carrying and file["T"][0, 30] > 0.99 * carrying
    # theta (paper) for phi (file) alone: a negligible change in this regime
    theta_only = simulate(P.with_params(d=0.0, l=0.0, s=0.0), None, times=times, rtol=1e-10,
                          atol=1e-10)
    np.testing.assert_allclose(theta_only["L"][0], file["L"][0], rtol=1e-5)


@pytest.mark.parametrize("form", ["paper", "file"])
def test_immune_populations_stay_at_the_papers_equilibrium_values(form: str) -> None:
    model = P if form == "paper" else file_form()
    r = simulate(model, None, times=np.linspace(0, 100, 101), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(r["C"][0], 2.25e9, rtol=1e-9)
    np.testing.assert_allclose(r["N"][0], 2.5e8, rtol=0.01)
    assert abs(r["L"][0, -1] / 5.268e5 - 1) < 0.01
    assert r["T"][0, -1] > 0.99 / P.param("b").value
