"""The label protocol: per-patient withhold, stop and retreatment decisions.

Proleukin label and institutional practice (CLINICAL.md s1), evaluated on the
simulated patient just before each scheduled dose:

- withhold the dose for systolic BP < 90 mmHg, SpO2 < 90%, moderate confusion
  (score >= 2), or a heart rate above 130/min (arrhythmia needing treatment);
- relative criteria (counted, not withholding by themselves): weight gain > 15%
  of baseline, urine 80-160 mL per 8-h shift, creatinine 2.5-2.9 mg/dL, heart
  rate 100-130;
- absolute criteria: urine < 80 mL per shift, creatinine >= 3 mg/dL;
- stop the cycle at any absolute criterion, at 3 or more relative criteria, or
  once doses have been held 3 times in the cycle;
- doses are withheld, never reduced;
- another course only for patients whose tumour has shrunk (sum of diameters
  below baseline) when it is due, up to ``max_courses``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from il2sim.dosing.presets import label_high_dose
from il2sim.dosing.regimen import Administration, Regimen
from il2sim.engine.decisions import Decision, Observe

__all__ = ["HoldCriteria", "LabelProtocol", "label_courses"]


@dataclass(frozen=True)
class HoldCriteria:
    """Thresholds of the label's withhold and stop rules (CLINICAL.md s1)."""

    sbp_min: float = 90.0
    spo2_min: float = 90.0
    confusion_max: float = 2.0
    heart_rate_max: float = 130.0
    weight_gain_pct_max: float = 15.0
    urine_relative: tuple[float, float] = (80.0, 160.0)
    creatinine_relative: tuple[float, float] = (2.5, 3.0)
    heart_rate_relative: tuple[float, float] = (100.0, 130.0)
    holds_per_cycle: int = 3
    relative_to_stop: int = 3


def label_courses(dose: str = "600000 IU/kg", courses: int = 1,
                  interval_days: float = 84.0) -> tuple[Regimen, dict[int, tuple[int, int]]]:
    """``courses`` label courses every ``interval_days`` (course k starts at (k-1)*interval).

    The default interval lets a course start at least 7 weeks after discharge (day 19)
    with the response evaluated about 4 weeks after the course (CLINICAL.md s1).
    Returns the regimen and, for every dose id, its (course, cycle).
    """
    base = label_high_dose(dose)
    items = []
    course_cycle: dict[str, tuple[int, int]] = {}
    for k in range(courses):
        shifted = base.shifted(k * interval_days * 24)
        for cycle, a in enumerate(shifted.administrations, start=1):
            label = f"course {k + 1} {a.label}"
            course_cycle[label] = (k + 1, cycle)
            items.append(Administration(a.dose, a.schedule, label))
    regimen = Regimen(tuple(items), name=f"label high-dose x{courses}")
    table = regimen.events()
    cycles = {int(d): course_cycle[str(label)]
              for d, label in zip(table["dose_id"], table["label"])}
    return regimen, cycles


class LabelProtocol:
    """A :class:`~il2sim.engine.decisions.DoseDecider` for the label regimen."""

    def __init__(self, cycles: Mapping[int, tuple[int, int]], *,
                 criteria: HoldCriteria | None = None, tumour: str = "T",
                 max_courses: int = 5) -> None:
        self.cycles = dict(cycles)
        self.criteria = criteria or HoldCriteria()
        self.tumour = tumour
        self.max_courses = max_courses

    def start(self, n_patients: int) -> None:
        self.n = n_patients
        self.holds: dict[tuple[int, int], NDArray[np.int64]] = {}
        self.stopped: dict[tuple[int, int], NDArray[np.bool_]] = {}
        self.treated_course: dict[int, NDArray[np.bool_]] = {}
        self.baseline: NDArray[np.float64] | None = None

    def decide(self, t: float, doses: pd.DataFrame, observe: Observe) -> Decision:
        c = self.criteria
        n = self.n
        if self.baseline is None:
            self.baseline = observe(self.tumour).copy()
        sbp, spo2 = observe("sbp"), observe("spo2")
        confusion, hr = observe("confusion"), observe("heart_rate")
        gain, urine, creat = observe("weight_gain_pct"), observe("urine_8h"), observe("creatinine")
        withhold = {
            f"SBP < {c.sbp_min:g}": sbp < c.sbp_min,
            f"SpO2 < {c.spo2_min:g}%": spo2 < c.spo2_min,
            "moderate confusion": confusion >= c.confusion_max,
            f"heart rate > {c.heart_rate_max:g}": hr > c.heart_rate_max,
        }
        relative = {
            f"weight gain > {c.weight_gain_pct_max:g}%": gain > c.weight_gain_pct_max,
            "urine 80-160 mL/8 h": (urine >= c.urine_relative[0]) & (urine < c.urine_relative[1]),
            "creatinine 2.5-2.9": ((creat >= c.creatinine_relative[0])
                                   & (creat < c.creatinine_relative[1])),
            "heart rate 100-130": (hr >= c.heart_rate_relative[0])
            & (hr <= c.heart_rate_relative[1]),
        }
        absolute = {
            "urine < 80 mL/8 h": urine < c.urine_relative[0],
            "creatinine >= 3": creat >= c.creatinine_relative[1],
        }
        n_relative = np.sum([v for v in relative.values()], axis=0)
        given = np.ones((len(doses), n), dtype=bool)
        reason = np.full((len(doses), n), "", dtype=object)
        for row, dose_id in enumerate(doses["dose_id"].to_numpy()):
            course, cycle = self.cycles[int(dose_id)]
            key = (course, cycle)
            holds = self.holds.setdefault(key, np.zeros(n, dtype=np.int64))
            stopped = self.stopped.setdefault(key, np.zeros(n, dtype=bool))
            eligible = self._eligible(course, observe)
            why = np.full(n, "", dtype=object)
            why[~eligible] = "not retreated"
            for name, hit in absolute.items():
                new = hit & eligible & ~stopped & (why == "")
                why[new] = f"cycle stopped: {name}"
                stopped |= new
            many = (n_relative >= c.relative_to_stop) & eligible & ~stopped & (why == "")
            why[many] = "cycle stopped: 3 or more relative criteria"
            stopped |= many
            why[stopped & (why == "")] = "cycle stopped"
            for name, hit in withhold.items():
                why[hit & (why == "")] = f"held: {name}"
            held_now = np.char.startswith(why.astype(str), "held")
            holds += held_now
            limit = held_now & (holds >= c.holds_per_cycle)
            stopped |= limit
            why[limit] = why[limit] + " (third hold: cycle stopped)"
            given[row] = why == ""
            reason[row] = why
            self.treated_course.setdefault(course, np.zeros(n, dtype=bool))
            self.treated_course[course] |= given[row]
        return Decision(given, reason)

    def _eligible(self, course: int, observe: Observe) -> NDArray[np.bool_]:
        if course == 1:
            return np.ones(self.n, dtype=bool)
        if course > self.max_courses:
            return np.zeros(self.n, dtype=bool)
        assert self.baseline is not None
        previous = self.treated_course.get(course - 1, np.zeros(self.n, dtype=bool))
        started = self.treated_course.get(course, np.zeros(self.n, dtype=bool))
        shrunk = observe(self.tumour) < self.baseline
        return started | (previous & shrunk)
