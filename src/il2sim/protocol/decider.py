"""Following a protocol during a simulation: the decision at each scheduled dose.

At a dose of drug d, course k, cycle c, for every patient, in this order:

1. course k >= 2 not given to this patient (decided once, at the course's first dose):
   ``"not retreated: <why>"``; the drug discontinued: ``"discontinued"``;
2. a ``discontinue`` condition: ``"discontinued: <condition>"`` (this and every later dose
   of the drug);
3. the cycle already stopped: ``"cycle stopped"``; a ``stop_cycle`` condition, or
   ``relative_to_stop`` relative criteria at once: ``"cycle stopped: <why>"``;
4. ``max_doses_per_cycle`` doses already given in the cycle: ``"cycle complete: <n> doses"``;
5. a ``hold`` condition, or a relative criterion where ``relative_holds``:
   ``"held: <condition>"``; the hold that makes ``holds_to_stop`` in the cycle also stops it;
6. otherwise the dose is given.

Retreatment on the measured tumour (``shrinkage``, ``response``, ``response_or_stable``)
reads the scans the trial will report: at each scheduled scan day before the course, the
true sum of diameters (:func:`~il2sim.population.population.sum_of_diameters` of the
simulated tumour volume split into the patient's lesions) is measured with the trial's
measurement error (:func:`~il2sim.assessment.response.measure`, drawn from the patient's scan
stream, so the very numbers of the trial's scan table) and classified by RECIST 1.1
against the baseline and the nadir (:func:`~il2sim.assessment.response.classify_scans`). A PD
at any scan ends treatment; no scan before the course: not retreated. Without scan days
(a single simulation), the patient is restaged at the course's first dose instead, and
each such measurement is kept in :attr:`ProtocolDecider.restaging`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from il2sim.assessment.response import RECIST, RESPONSE_CATEGORIES, classify_scans, measure
from il2sim.engine.decisions import Decision, Observe
from il2sim.population.population import sum_of_diameters
from il2sim.population.streams import patient_rng
from il2sim.protocol.protocol import TUMOUR_RULES, Protocol

__all__ = ["ProtocolDecider", "Scans"]


@dataclass(frozen=True)
class Scans:
    """The trial's scans of the patients of one simulation: their ids, lesion counts, the
    trial's seed and the scan times (model time unit; each an output time)."""

    patients: NDArray[np.int64]
    n_lesions: NDArray[np.int64]
    seed: int = 0
    times: NDArray[np.float64] | None = None


class ProtocolDecider:
    """A :class:`~il2sim.engine.decisions.DoseDecider` that follows a :class:`Protocol`.

    ``scans``: who the patients are and when they are scanned (default: patients 0..N-1,
    one lesion each, seed 0, restaged at each course's first dose)."""

    def __init__(self, protocol: Protocol, *, scans: Scans | None = None) -> None:
        self.protocol = protocol
        self.scans = scans
        self.rules = {d.name: d for d in protocol.drugs}

    def start(self, n_patients: int) -> None:
        n = self.n = n_patients
        s = self.scans
        self.ids = s.patients if s is not None else np.arange(n)
        self.lesions = s.n_lesions if s is not None else np.ones(n, dtype=np.int64)
        if len(self.ids) != n or len(self.lesions) != n:
            raise ValueError(f"protocol: scans describe {len(self.ids)} patients, not {n}")
        self.holds: dict[tuple[str, int, int], NDArray[np.int64]] = {}
        self.given: dict[tuple[str, int, int], NDArray[np.int64]] = {}
        self.stopped: dict[tuple[str, int, int], NDArray[np.bool_]] = {}
        self.discontinued = {d: np.zeros(n, dtype=bool) for d in self.rules}
        self.treated: dict[int, NDArray[np.bool_]] = {}
        self.allowed: dict[int, tuple[NDArray[np.bool_], NDArray[np.object_]]] = {}
        self.baseline: NDArray[np.float64] | None = None
        self.measured: list[NDArray[np.float64]] = []   # restaging without scan days
        self.restaging: list[dict[str, object]] = []

    # -- retreatment ---------------------------------------------------------------------
    def _true_sod(self, volume_ml: NDArray[np.float64]) -> NDArray[np.float64]:
        lesions = self.lesions if volume_ml.ndim == 1 else self.lesions[:, None]
        return sum_of_diameters(volume_ml * 1e9, lesions)

    def _tumour_calls(self, t: float, course: int, observe: Observe
                      ) -> tuple[NDArray[np.bool_], NDArray[np.object_]]:
        """Per patient: may course ``course`` follow on the measured tumour, and why not."""
        assert self.baseline is not None
        n, rule = self.n, self.protocol.retreat_if
        s = self.scans
        if s is not None and s.times is not None:
            before = s.times[s.times < t]
            true = (self._true_sod(observe.past(self.protocol.tumour, before))
                    if before.size else np.zeros((n, 0)))
            series = [measure(true[i], int(self.lesions[i]),
                              patient_rng(s.seed, int(self.ids[i]), 0)) for i in range(n)]
        else:
            now = self._true_sod(observe(self.protocol.tumour))
            rows = [measure(now[i:i + 1], int(self.lesions[i]),
                            patient_rng(0 if s is None else s.seed, int(self.ids[i]), 2,
                                        course))[0]
                    for i in range(n)]
            self.measured.append(np.array(rows))
            for i in range(n):
                self.restaging.append({"patient": int(self.ids[i]), "time": t,
                                       "course": course, "sod_mm": float(rows[i])})
            series = [np.array([m[i] for m in self.measured]) for i in range(n)]
        ok = np.zeros(n, dtype=bool)
        why = np.full(n, "", dtype=object)
        for i in range(n):
            if series[i].size == 0 or not np.isfinite(series[i]).all():
                why[i] = "not retreated: no scan before the course"
                continue
            calls = classify_scans(np.concatenate([[self.baseline[i]], series[i]]),
                                   int(self.lesions[i]), RECIST)
            last = calls[-1]
            if (calls == "PD").any():
                why[i] = "not retreated: progression"
            elif rule == "shrinkage":
                ok[i] = series[i][-1] < self.baseline[i]
                why[i] = "" if ok[i] else "not retreated: no shrinkage"
            elif rule == "response":
                ok[i] = last in RESPONSE_CATEGORIES
                why[i] = "" if ok[i] else f"not retreated: {last}, no response"
            else:
                ok[i] = True
        return ok, why

    def _course_allowed(self, t: float, course: int, observe: Observe
                        ) -> tuple[NDArray[np.bool_], NDArray[np.object_]]:
        if course not in self.allowed:
            n, p = self.n, self.protocol
            previous = self.treated.get(course - 1, np.zeros(n, dtype=bool))
            if course > p.courses:
                ok, why = np.zeros(n, dtype=bool), np.full(n, "not retreated", dtype=object)
            elif p.retreat_if in TUMOUR_RULES:
                ok, why = self._tumour_calls(t, course, observe)
            elif p.retreat_if == "always":
                ok, why = np.ones(n, dtype=bool), np.full(n, "", dtype=object)
            else:
                condition = p.retreat_condition
                assert condition is not None
                ok = condition(observe)
                why = np.where(ok, "", f"not retreated: not {condition.name}").astype(object)
            why = np.where(previous, why, "not retreated: course before not given")
            self.allowed[course] = (ok & previous, why.astype(object))
        return self.allowed[course]

    # -- the decision --------------------------------------------------------------------
    def decide(self, t: float, doses: pd.DataFrame, observe: Observe) -> Decision:
        n = self.n
        if self.baseline is None:
            self.baseline = self._true_sod(observe(self.protocol.tumour)) \
                if self._reads_tumour() else np.zeros(n)
        given = np.ones((len(doses), n), dtype=bool)
        reason = np.full((len(doses), n), "", dtype=object)
        seen: dict[str, dict[str, NDArray[np.bool_]]] = {}
        hits: dict[str, NDArray[np.bool_]] = {}
        for row, (drug, course, cycle) in enumerate(zip(
                doses["drug"].to_numpy(), doses["course"].to_numpy(), doses["cycle"].to_numpy())):
            drug, course, cycle = str(drug), int(course), int(cycle)
            rules = self.rules[drug].holds
            key = (drug, course, cycle)
            holds = self.holds.setdefault(key, np.zeros(n, dtype=np.int64))
            count = self.given.setdefault(key, np.zeros(n, dtype=np.int64))
            stopped = self.stopped.setdefault(key, np.zeros(n, dtype=bool))
            gone = self.discontinued[drug]
            why = np.full(n, "", dtype=object)
            if course > 1:
                ok, no = self._course_allowed(t, course, observe)
                why[~ok] = no[~ok]
            why[gone & (why == "")] = "discontinued"
            if rules is not None:
                if drug not in seen:
                    seen[drug] = {c.name: c(observe) for c in rules.conditions()}
                hits = seen[drug]
                for c in rules.discontinue:
                    new = hits[c.name] & (why == "")
                    why[new] = f"discontinued: {c.name}"
                    gone |= new
                why[stopped & (why == "")] = "cycle stopped"
                for c in rules.stop_cycle:
                    new = hits[c.name] & (why == "")
                    why[new] = f"cycle stopped: {c.name}"
                    stopped |= new
                if rules.relative:
                    assert rules.relative_to_stop is not None
                    many = (np.sum([hits[c.name] for c in rules.relative], axis=0)
                            >= rules.relative_to_stop) & (why == "")
                    why[many] = (f"cycle stopped: {rules.relative_to_stop} or more relative "
                                 "criteria")
                    stopped |= many
            cap = self.rules[drug].max_doses_per_cycle
            if cap is not None:
                why[(count >= cap) & (why == "")] = f"cycle complete: {cap} doses"
            if rules is not None:
                for c in (*rules.hold, *(rules.relative if rules.relative_holds else ())):
                    why[hits[c.name] & (why == "")] = f"held: {c.name}"
                held_now = np.array([str(w).startswith("held") for w in why])
                holds += held_now
                if rules.holds_to_stop is not None:
                    limit = held_now & (holds >= rules.holds_to_stop) & ~stopped
                    stopped |= limit
                    why[limit] = why[limit] + rules.third_hold(rules.holds_to_stop)
            given[row] = why == ""
            reason[row] = why
            count += given[row]
            self.treated.setdefault(course, np.zeros(n, dtype=bool))
            self.treated[course] |= given[row]
        return Decision(given, reason)

    def _reads_tumour(self) -> bool:
        p = self.protocol
        return p.courses > 1 and p.retreat_if in TUMOUR_RULES
