"""Kirschner & Panetta 1998: the paper's qualitative regimes and the BioModels file.

Published results checked (Kirschner & Panetta 1998, J Math Biol 37:235, sections 3-4):
- low antigenicity: the tumour escapes to near carrying capacity 1/b;
- intermediate antigenicity: sustained oscillations (deep crashes and relapses);
- high antigenicity: a small dormant tumour (a stable equilibrium);
- adoptive cell therapy (s1) above a threshold clears the tumour;
- IL-2 alone (s2) clears it only at doses where effectors grow without bound;
  that threshold is s2* = mu3*g1*mu2/(p1 - mu2), where p1*IL/(g1+IL) > mu2.
Tumour extinction is the explicit threshold T < 1 cell [assumption: the ODE never reaches 0].
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from il2sim import Infusion, Model, Regimen, Schedule, get_model, simulate

KP = get_model("kp1998")
TOL = {"rtol": 1e-8, "atol": 1e-8}
EXTINCT = 1.0  # cells


def constant(route: str, rate: float, days: float) -> Regimen:
    """The paper's constant treatment s1 or s2: one infusion over the whole horizon."""
    unit = "cell" if route == "cells" else "arb"
    return Regimen.of(Infusion(rate=f"{rate} {unit}/day", duration=f"{days} day", route=route),
                      Schedule(at=["0 h"]))


def test_regimes_escape_oscillation_dormancy() -> None:
    cs = [5e-5, 0.02, 0.035, 0.05]
    times = np.linspace(0, 5000, 5001)
    r = simulate(KP, None, params={"c": cs}, times=times, **TOL)
    tumour = r["T"]
    late, later = tumour[:, 1000:2000], tumour[:, 4000:]
    carrying = 1 / KP.param("b").value
    # escape: near carrying capacity and steady
    assert later[0].min() > 0.95 * carrying
    # oscillation at c = 0.02: the late cycle spans many decades, and it persists
    assert later[1].max() / later[1].min() > 1e6
    assert later[1].max() == pytest.approx(late[1].max(), rel=0.05)
    # dormancy: small and settling (amplitude shrinks) for c = 0.035 and 0.05
    for i in (2, 3):
        assert later[i].max() < 1e5
        assert later[i].max() / later[i].min() < late[i].max() / late[i].min()
        assert later[i].max() / later[i].min() < 1.1


@pytest.mark.parametrize("c", [0.005, 0.0075, 0.01, 0.0125, 0.015, 0.0175, 0.02])
def test_cell_states_stay_positive_through_deep_crashes(c: float) -> None:
    """DESIGN.md: at low antigenicity the tumour crashes by dozens of decades."""
    r = simulate(KP, None, params={"c": c}, initial={"E": 1.0, "T": 1e5, "IL": 1.0},
                 times=np.linspace(0, 1000, 1001), **TOL)
    assert r.status[0] == "ok"
    assert np.all(r.states >= 0)
    assert np.all(np.isfinite(r.states))


def test_a_batch_over_low_antigenicity_completes_for_every_run() -> None:
    cs = np.geomspace(0.005, 0.02, 40)
    r = simulate(KP, None, params={"c": cs}, times=np.linspace(0, 1000, 101), **TOL)
    assert list(r.status) == ["ok"] * len(cs)
    assert np.all(r.states >= 0)
    # the crash is real: the tumour falls below 1e-30 cells for most of these
    assert np.mean(r["T"].min(axis=1) < 1e-30) > 0.5


def test_adoptive_transfer_above_a_threshold_clears_the_tumour() -> None:
    days = 1000
    times = np.linspace(0, days, days + 1)
    outcomes = {}
    for s1 in (100.0, 300.0, 550.0, 1000.0):
        r = simulate(KP, constant("cells", s1, days), params={"c": 0.02}, times=times, **TOL)
        outcomes[s1] = r["T"][0, 500:].max()
    assert outcomes[100.0] > EXTINCT and outcomes[300.0] > EXTINCT
    assert outcomes[550.0] < EXTINCT and outcomes[1000.0] < EXTINCT


def test_il2_alone_clears_only_with_unbounded_effector_growth() -> None:
    p = KP.default_params
    threshold = p["mu3"] * p["g1"] * p["mu2"] / (p["p1"] - p["mu2"])  # about 6.35e7
    days = 20000
    times = np.linspace(0, days, 201)
    for s2 in (1e7, 5e7, 0.95 * threshold):
        r = simulate(KP, constant("il2", s2, days), times=times, **TOL)
        assert r["T"][0, -1] > EXTINCT, s2  # the tumour persists
        assert r["E"][0, -1] < 1e6, s2  # and effectors stay bounded
    for s2 in (1.03 * threshold, 1.1 * threshold):
        r = simulate(KP, constant("il2", s2, days), times=times, **TOL)
        effectors = r["E"][0]
        assert r["T"][0, 100:].max() < EXTINCT, s2  # cleared
        assert effectors[-1] > 1e8 and effectors[-1] > 10 * effectors[-50], s2  # unbounded


def test_agrees_with_libroadrunner_on_the_curated_sbml_file(shared_data: Path) -> None:
    import roadrunner

    rr = roadrunner.RoadRunner(str(shared_data / "biomodels/BIOMD0000000732.xml"))
    rr.integrator.relative_tolerance = 1e-10
    rr.integrator.absolute_tolerance = 1e-12
    for species, value in (("Tumor", 1e5), ("Immune_cells", 1.0), ("IL2", 1.0)):
        rr.model[f"init([{species}])"] = value
    rr.reset()
    ref = rr.simulate(0, 500, 501, ["time", "[Tumor]", "[Immune_cells]", "[IL2]"])
    times = np.linspace(0, 500, 501)
    columns = {"T": 1, "E": 2, "IL": 3}

    # The file's own form p1*E*IL/g1: the engine must match libRoadRunner closely.
    equations = dict(KP.equations)
    equations["E"] = "c*T - mu2*E + p1*E*IL/g1 + s1"
    file_form = Model("kp1998_file", KP.title, KP.citation, KP.time_unit, KP.states, KP.params,
                      equations, KP.inputs, KP.intermediates, KP.observables, KP.routes)
    r = simulate(file_form, None, times=times, rtol=1e-10, atol=1e-10)
    for name, col in columns.items():
        np.testing.assert_allclose(r[name][0], ref[:, col], rtol=1e-6)

    # The paper's form differs by IL/g1 (< 1e-3 here): untreated, the two agree closely.
    r = simulate(KP, None, times=times, rtol=1e-10, atol=1e-10)
    for name, col in columns.items():
        np.testing.assert_allclose(r[name][0], ref[:, col], rtol=1e-3)
