"""Fallon & Lauffenburger 2000: the receptor-level IL-2 reference, against the BioModels file.

What is checked:
- the file's own form (kf in the endosomal ligand balance) built from the library model
  matches libRoadRunner on BIOMD0000000665 to rtol 1e-6, for IL-2 and (the file's IL2
  switch set to 0) the analogue 2D1, including a dose of ligand into the medium;
- published values: surface Kd = kr/kf = 11.1 pM for IL-2 (8.2 pM for 2D1), endosomal
  Kd 1000 pM (3000 pM), time in minutes;
- the departure: the library's form conserves ligand (medium + bound + endosomal +
  degraded) while cells do not proliferate; the file's form destroys about two thirds
  of it in three days at 1 pM;
- the paper's main result (abstract): the analogue 2D1, which binds the receptor less
  tightly at endosomal pH, is sorted more to recycling, is degraded less per cell and
  stimulates more proliferation than IL-2. Reproduced: more proliferation at 10 and
  100 pM (3 days: +13.5 % and +2.1 % cells), less ligand degraded per cell at 10 and
  100 pM, a slower depletion of the medium at 100 pM. Not reproduced: at 10 pM and
  below, 2D1 is depleted from the medium *faster* than IL-2 here (its surface Kd is
  also lower, 8.2 against 11.1 pM, and at 10 pM it makes more cells that take it up);
  the paper's figures were not available to say at which conditions it reported the
  reduced depletion.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from il2sim import Bolus, Model, Regimen, Schedule, get_model, simulate
from il2sim.model.library.fallon2000 import fallon2000

IL2 = get_model("fallon2000")
D1 = get_model("fallon2000_2d1")
SPECIES = {"Rs": "Rs_0", "Cs": "Cs_0", "Ri": "Ri_0", "Ci": "Ci_0", "Li": "Li_0", "Ld": "Ld_0",
           "L": "L_0", "Y": "Y_0"}
DAYS3 = np.linspace(0, 3 * 1440, 73)  # minutes


def file_form(model: Model) -> Model:
    """BIOMD0000000665 as written: the endosomal ligand is bound with kf, not kfe."""
    equations = dict(model.equations)
    assert equations["Li"] == "(kre*Ci - kfe*Li*Ri)/(Ve*NA) - kx*Li"
    equations["Li"] = "(kre*Ci - kf*Li*Ri)/(Ve*NA) - kx*Li"
    return Model(model.name + "_file", model.title, model.citation, model.time_unit,
                 model.states, model.params, equations, model.inputs, model.intermediates,
                 model.observables, model.routes)


@pytest.fixture(scope="module")
def rr_model(shared_data: Path) -> Any:
    import roadrunner

    rr = roadrunner.RoadRunner(str(shared_data / "biomodels/BIOMD0000000665.xml"))
    rr.integrator.relative_tolerance = 1e-10
    rr.integrator.absolute_tolerance = 1e-12
    return rr


def test_published_binding_constants_and_the_files_values(rr_model: Any) -> None:
    for model, flag, kd, kd_e in ((IL2, 1.0, 11.1, 1000.0), (D1, 0.0, 8.2, 3000.0)):
        rr_model.resetAll()
        rr_model["IL2"] = flag
        p = model.default_params
        kf, kre = p["kr"] / p["Kd"], p["kre_kr"] * p["kr"]
        assert p["kr"] / kf == pytest.approx(kd) and kre / (kre / p["Kd_e"]) == kd_e
        assert kf == pytest.approx(rr_model["kf"], rel=1e-12)
        assert kre == pytest.approx(rr_model["kre"], rel=1e-12)
        assert kre / p["Kd_e"] == pytest.approx(rr_model["kfe"], rel=1e-12)
        for name in ("kr", "kt", "Vs", "ksyn", "ke", "kx", "kh", "Ve", "NA"):
            assert p[name] == rr_model[name], name
        for state, species in SPECIES.items():
            assert model.state(state).initial == rr_model[f"init([{species}])"], state
    rr_model["IL2"] = 1.0
    assert IL2.time_unit == "min"


@pytest.mark.parametrize("ligand", ["il2", "2d1"])
def test_file_form_matches_libroadrunner(rr_model: Any, ligand: str) -> None:
    """Three days, with 20 pM more ligand added to the medium after one day."""
    rr = rr_model
    rr.resetAll()
    rr["IL2"] = 1.0 if ligand == "il2" else 0.0
    selections = ["time"] + [f"[{s}]" for s in SPECIES.values()]
    first = rr.simulate(0, 1440, 49, selections)[:-1]  # t = 1440 is reported post-dose
    rr["[L_0]"] = rr["[L_0]"] + 20.0
    ref = np.vstack([first, rr.simulate(1440, 4320, 97, selections)])
    rr["IL2"] = 1.0
    regimen = Regimen.of(Bolus("20 pM", route="medium"), Schedule(at=["1 day"]))
    model = file_form(fallon2000(ligand))
    r = simulate(model, regimen, times=ref[:, 0], rtol=1e-10, atol=1e-10)
    for j, state in enumerate(SPECIES):
        np.testing.assert_allclose(r[state][0], ref[:, j + 1], rtol=1e-6, err_msg=state)
    assert r["Y"][0, -1] > 1.1 * r["Y"][0, 0]  # the cells did proliferate


def test_library_form_conserves_ligand_and_the_file_form_does_not() -> None:
    """At 1 pM there are too few complexes (< 125 per cell) for proliferation, so total
    ligand per litre of medium must stay constant."""
    kept = simulate(IL2, None, initial={"L": 1.0}, times=DAYS3, rtol=1e-10, atol=1e-12)
    assert np.all(kept["Y"][0] == kept["Y"][0, 0])
    total = kept["ligand_total"][0]
    np.testing.assert_allclose(total, total[0], rtol=1e-6)
    lost = simulate(file_form(IL2), None, initial={"L": 1.0}, times=DAYS3, rtol=1e-10,
                    atol=1e-12)["ligand_total"][0]
    assert lost[-1] < 0.35 * lost[0]


def _day3(model: Model, ligand_pm: float) -> dict[str, float]:
    r = simulate(model, None, initial={"L": ligand_pm}, times=DAYS3, rtol=1e-8, atol=1e-8)
    return {"L": float(r["L"][0, -1]), "Y": float(r["Y"][0, -1]),
            "Ld": float(r["Ld"][0, -1])}


@pytest.mark.parametrize("ligand_pm", [10.0, 100.0])
def test_2d1_is_degraded_less_and_stimulates_more_proliferation(ligand_pm: float) -> None:
    il2, d1 = _day3(IL2, ligand_pm), _day3(D1, ligand_pm)
    assert d1["Y"] > il2["Y"] * (1.1 if ligand_pm == 10.0 else 1.015)
    assert d1["Ld"] < il2["Ld"]
    if ligand_pm == 100.0:
        assert d1["L"] > 1.04 * il2["L"]  # less depletion of the medium
    else:
        assert d1["L"] < il2["L"]  # not reproduced at 10 pM: see the module docstring


def test_receptor_numbers_respond_to_ligand() -> None:
    """Ligand down-regulates free surface receptors and raises occupancy with dose."""
    low = simulate(IL2, None, initial={"L": 1.0}, times=[0.0, 240.0], rtol=1e-8, atol=1e-8)
    high = simulate(IL2, None, initial={"L": 100.0}, times=[0.0, 240.0], rtol=1e-8,
                    atol=1e-8)
    assert high["Rs"][0, -1] < low["Rs"][0, -1]
    assert high["surface_fraction_bound"][0, -1] > 0.5 > low["surface_fraction_bound"][0, -1]
