"""The label protocol's withhold, stop and retreatment rules (CLINICAL.md s1)."""

from __future__ import annotations

import numpy as np

from il2sim import DoseRoute, Model, Observable, Param, State, simulate
from il2sim.trial.protocol import LabelProtocol, label_courses

SRC = "test"


def toxic_model(recovery: float) -> Model:
    """Each dose raises a toxicity state A that lowers SBP by 10 mmHg per unit."""
    obs = {"sbp": "120 - 10*A", "spo2": "98 + 0*A", "confusion": "0*A",
           "heart_rate": "75 + 0*A", "weight_gain_pct": "0*A", "urine_8h": "480 - 0*A",
           "creatinine": "1 + cr*A"}
    return Model(
        "toxic", "toy toxicity", "test", "h",
        states=(State("A", 0.0, "1", "toxicity"), State("T", 100.0, "cell", "tumour", log=True)),
        params=(Param("k", recovery, "1/h", "recovery", SRC),
                Param("cr", 0.0, "mg/dL", "creatinine per unit", SRC),
                Param("shrink", 0.0, "1/h", "tumour shrinkage", SRC)),
        equations={"A": "-k*A", "T": "-shrink*T"},
        observables=tuple(Observable(n, e, "1", n) for n, e in obs.items()),
        routes=(DoseRoute("iv", "A", "IU", "toxic drug"),),
    )


def run(model: Model, courses: int = 1, **params: float):  # type: ignore[no-untyped-def]
    regimen, cycles = label_courses("1 IU/kg", courses, 84.0)
    return simulate(model, regimen, params=params or None, times=[0.0, courses * 84 * 24.0],
                    covariates={"weight": 1.0}, decider=LabelProtocol(cycles))


def test_a_recovering_patient_gets_every_dose() -> None:
    r = run(toxic_model(recovery=5.0))
    assert (r.dose_log["status"] == "given").all() and len(r.dose_log) == 28


def test_hypotension_holds_doses_and_three_holds_stop_the_cycle() -> None:
    # no recovery: after 3 doses SBP = 90, after 4 it is 80 -> the 5th dose is held
    r = run(toxic_model(recovery=0.0))
    log = r.dose_log
    c1 = log[log.label == "course 1 cycle 1"]
    assert list(c1.status[:4]) == ["given"] * 4
    assert c1.reason.iloc[4] == "held: SBP < 90"
    assert c1.reason.iloc[6] == "held: SBP < 90 (third hold: cycle stopped)"
    assert (c1.reason.iloc[7:] == "cycle stopped").all()
    # cycle 2 starts again (holds count per cycle) but SBP is still low: held 3 times, stopped
    c2 = log[log.label == "course 1 cycle 2"]
    assert (c2.status == "held").all()
    assert np.isclose(r["A"][0, -1], 4.0)  # four doses given in all; doses never reduced


def test_an_absolute_criterion_stops_the_cycle_at_once() -> None:
    # creatinine rises 1.1 mg/dL per dose: 3.2 before the 3rd dose stops the cycle
    r = run(toxic_model(recovery=5.0), cr=1.1, k=0.0)
    c1 = r.dose_log[r.dose_log.label == "course 1 cycle 1"]
    assert list(c1.status[:2]) == ["given"] * 2
    assert c1.reason.iloc[2] == "cycle stopped: creatinine >= 3"
    assert (c1.reason.iloc[3:] == "cycle stopped").all()


def test_only_shrinking_tumours_are_retreated() -> None:
    shrinking = run(toxic_model(recovery=5.0), courses=3, shrink=1e-3)
    stable = run(toxic_model(recovery=5.0), courses=3, shrink=0.0)
    assert (shrinking.dose_log["status"] == "given").sum() == 84
    log = stable.dose_log
    assert (log[log.label.str.startswith("course 1")].status == "given").all()
    assert (log[~log.label.str.startswith("course 1")].reason == "not retreated").all()
