"""Per-patient dose decisions in the event loop, checked against exact solutions."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from one_compartment import MODEL, K, V

from il2sim import Bolus, Infusion, Regimen, Schedule, simulate
from il2sim.engine.decisions import Decision, Observe


class HoldAbove:
    """Hold a dose when the concentration before it exceeds a threshold."""

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold
        self.seen: list[tuple[float, np.ndarray]] = []

    def start(self, n_patients: int) -> None:
        self.seen.clear()

    def decide(self, t: float, doses: pd.DataFrame, observe: Observe) -> Decision:
        c = observe("C")
        self.seen.append((t, c.copy()))
        hold = c > self.threshold
        given = np.repeat(~hold[None, :], len(doses), axis=0)
        reason = np.where(given, "", f"held: C > {self.threshold}").astype(object)
        return Decision(given, reason)


def test_doses_are_held_per_patient_from_the_state_just_before_them() -> None:
    # q6h boluses; with k = 0.1/h, C before the 2nd dose = D/V*exp(-0.6)
    regimen = Regimen.of(Bolus("100 IU"), Schedule(every="6 h", count=4))
    rule = HoldAbove(threshold=30.0)
    r = simulate(MODEL, regimen, params={"V": [2.0, 6.0]}, times=np.linspace(0, 30, 31),
                 decider=rule, rtol=1e-10, atol=1e-12)
    log = r.dose_log
    held = log.pivot(index="dose_id", columns="patient", values="status")
    # patient 0: C = 50 at t=0 (after dose); before dose 2: 50*e^-0.6 = 27.4 -> given
    # then before dose 3: (50 e^-0.6 + 50) e^-0.6 = 42.5 -> held; before dose 4: 23.3 -> given
    assert list(held[0]) == ["given", "given", "held", "given"]
    # patient 1 (V = 6): C never exceeds 30
    assert list(held[1]) == ["given"] * 4
    c_before_3 = (50 * math.exp(-0.6) + 50) * math.exp(-0.6)
    assert abs(rule.seen[2][1][0] - c_before_3) < 1e-6
    assert (log.loc[log.status == "held", "reason"] == "held: C > 30.0").all()
    # trajectory of patient 0 follows the doses actually given
    t = r.times
    given_times = log.query("patient == 0 and status == 'given'")["time"].to_numpy()
    exact = sum(np.where(t >= s, 50 * np.exp(-K * (t - s)), 0.0) for s in given_times)
    np.testing.assert_allclose(r["C"][0], exact, rtol=1e-7)


def test_a_held_infusion_does_not_run() -> None:
    regimen = Regimen.of(Infusion(amount="100 IU", duration="2 h"), Schedule(at=["0 h", "6 h"]))
    r = simulate(MODEL, regimen, times=[8.0], decider=HoldAbove(threshold=1.0),
                 rtol=1e-10, atol=1e-12)
    rate = 50.0
    # first infusion given (C = 0 before it), second held (C > 1 at 6 h)
    exact = rate / K * (1 - math.exp(-2 * K)) * math.exp(-K * 6) / V
    assert abs(r["C"][0, 0] - exact) < 1e-7 * exact
    assert list(r.dose_log["status"]) == ["given", "held"]
