"""Endpoints of published trials, computed on simulated arms exactly as the papers defined them.

Each :class:`Endpoint` turns the simulated arms of one replicate of a trial into one number:
a fraction of patients (shown in %), a time in months, a dose count, a patient count or a
cell count. Inputs are :class:`SimulatedArm` objects: the per-patient endpoints table of a
virtual trial (:func:`il2sim.trial.endpoints.patient_endpoints`) and each patient's doses
given in course 1.

Definitions:

* Response (WHO or RECIST 1.1, as the trial used): best overall response CR or PR, in the
  ``bor_who`` or ``bor`` column; the denominator is every patient of the arm (intention to
  treat, as the pivotal trials reported).
* Duration of response: Kaplan-Meier median among responders of the time from first
  response to progression or death, censored at the end of follow-up (Kaplan & Meier, JASA
  53:457, 1958; lifelines). Response and progression dates are those of RECIST 1.1, which the
  endpoints table records.
* Survival (overall, event-free): Kaplan-Meier median, or the Kaplan-Meier estimate at a
  landmark. Event-free survival counts progression and death as events.
* An adverse event's incidence is the fraction of patients with grade 1 or more of the
  corresponding CTCAE term at any time, as the label's table counts events of any grade.
* Doses delivered: the median number of doses given in course 1 (held doses not counted).

An endpoint that needs something the simulation does not produce (an adverse event the
model lacks, lesion-level data, an HIV arm) raises :class:`NotSimulated` naming what is
missing, so a report can say so instead of inventing a number.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pandas as pd

from il2sim.trial.statistics import DAYS_PER_MONTH, RESPONSE_CATEGORIES, is_responder, km_summary

__all__ = ["ADVERSE_EVENTS", "ENDPOINTS", "Endpoint", "NotSimulated", "SimulatedArm"]


class NotSimulated(Exception):
    """The simulation does not produce what an endpoint needs (the message says what)."""


@dataclass(frozen=True)
class SimulatedArm:
    """One simulated arm of one replicate.

    Attributes:
        endpoints: per-patient endpoints (one row per patient).
        doses_course1: doses given in course 1, one entry per patient (0 for none).
    """

    endpoints: pd.DataFrame
    doses_course1: np.ndarray[Any, np.dtype[np.float64]]

    @staticmethod
    def pooled(arms: list[SimulatedArm]) -> SimulatedArm:
        """All patients of several arms as one."""
        return SimulatedArm(pd.concat([a.endpoints for a in arms], ignore_index=True),
                            np.concatenate([a.doses_course1 for a in arms]))


Arms = Mapping[str, SimulatedArm]
"""Arm name -> simulated arm; ``"all"`` pools every arm of the trial."""


@dataclass(frozen=True)
class Endpoint:
    """A computable endpoint.

    Attributes:
        name: its key in the atlas files.
        label: clinical words, with ``{param}`` fields filled from the outcome.
        unit: ``"%"`` (computed as a fraction), ``"months"``, ``"doses"``, ``"patients"`` or
            ``"cells/uL"``.
        params: the outcome fields it needs besides ``arm`` (e.g. ``years``).
        compute: (arms, arm, params, criteria) -> the value in the endpoint's unit (a
            fraction for ``"%"``); ``inf`` for a median not reached.
    """

    name: str
    label: str
    unit: str
    params: tuple[str, ...]
    compute: Callable[[Arms, str, Mapping[str, Any], str], float]

    def describe(self, params: Mapping[str, Any]) -> str:
        """The endpoint in clinical words for one outcome."""
        return self.label.format(**{k: _words(v) for k, v in params.items()})


ADVERSE_EVENTS: Final = {
    "hypotension": ("hypotension", "Hypotension"),
    "oliguria": ("oliguria", "Oliguria"),
    "creatinine_rise": ("creatinine", "Creatinine rise"),
    "confusion": ("confusion", "Confusion"),
    "dyspnoea": ("hypoxia", "Dyspnoea"),
    "weight_gain": ("weight_gain", "Weight gain"),
    "diarrhoea": ("diarrhoea", "Diarrhoea"),
    "vomiting": ("vomiting", "Vomiting"),
    "chills": ("chills", "Chills"),
    "bilirubin_rise": ("bilirubin", "Bilirubin rise"),
    "thrombocytopenia": ("thrombocytopenia", "Thrombocytopenia"),
    "peripheral_oedema": ("oedema", "Peripheral oedema"),
}
"""Adverse event (label term) -> (the toxicity column ``tox_<name>_grade``, clinical words).
Dyspnoea is read from the model's hypoxaemia grades [assumption: breathlessness of the
capillary leak shows as a fall in SpO2]."""


def _words(value: object) -> str:
    if isinstance(value, str):
        return ADVERSE_EVENTS[value][1] if value in ADVERSE_EVENTS else value
    if isinstance(value, float) and value.is_integer():
        return f"{value:g}"
    return str(value)


def _arm(arms: Arms, arm: str) -> SimulatedArm:
    if arm == "all":
        return SimulatedArm.pooled(list(arms.values()))
    return arms[arm]


def _bor(frame: pd.DataFrame, criteria: str) -> pd.Series:
    column = {"WHO": "bor_who", "RECIST": "bor"}.get(criteria)
    if column is None:
        raise NotSimulated(f"response needs WHO or RECIST criteria, not {criteria!r}")
    return frame[column]


def _fraction(mask: pd.Series | np.ndarray[Any, Any]) -> float:
    values = np.asarray(mask, dtype=bool)
    return float(values.mean()) if len(values) else math.nan


def _response(categories: frozenset[str]) -> Callable[[Arms, str, Mapping[str, Any], str],
                                                      float]:
    def compute(arms: Arms, arm: str, params: Mapping[str, Any], criteria: str) -> float:
        return _fraction(_bor(_arm(arms, arm).endpoints, criteria).isin(categories))
    return compute


def _km_median_months(frame: pd.DataFrame, time: str, event: str) -> float:
    if frame.empty:
        return math.nan
    median = float(km_summary(frame, time, event, by=None, landmarks_y=()).iloc[0]["median_d"])
    return median / DAYS_PER_MONTH


def _duration(categories: frozenset[str]) -> Callable[[Arms, str, Mapping[str, Any], str],
                                                      float]:
    def compute(arms: Arms, arm: str, params: Mapping[str, Any], criteria: str) -> float:
        frame = _arm(arms, arm).endpoints
        return _km_median_months(frame[frame["bor"].isin(categories)], "dor_d", "dor_event")
    return compute


def _os_median(arms: Arms, arm: str, params: Mapping[str, Any], criteria: str) -> float:
    return _km_median_months(_arm(arms, arm).endpoints, "os_d", "os_event")


def _landmark(time: str, event: str) -> Callable[[Arms, str, Mapping[str, Any], str], float]:
    def compute(arms: Arms, arm: str, params: Mapping[str, Any], criteria: str) -> float:
        years = float(params["years"])
        km = km_summary(_arm(arms, arm).endpoints, time, event, by=None, landmarks_y=(years,))
        return float(km.iloc[0][f"surv_{years:g}y"])
    return compute


def _treatment_deaths(arms: Arms, arm: str, params: Mapping[str, Any], criteria: str) -> float:
    return _fraction(_arm(arms, arm).endpoints["death_cause"] == "treatment")


def _doses_course1(arms: Arms, arm: str, params: Mapping[str, Any], criteria: str) -> float:
    return float(np.median(_arm(arms, arm).doses_course1))


def _cr_progression_free(arms: Arms, arm: str, params: Mapping[str, Any],
                         criteria: str) -> float:
    frame = _arm(arms, arm).endpoints
    cr = frame[frame["bor"] == "CR"]
    return _fraction(~cr["dor_event"].astype(bool)) if len(cr) else math.nan


def _late_progression(arms: Arms, arm: str, params: Mapping[str, Any], criteria: str) -> float:
    frame = _arm(arms, arm).endpoints
    responders = frame[is_responder(frame["bor"])]
    late = (responders["dor_d"] > 30 * DAYS_PER_MONTH) & responders["dor_event"].astype(bool)
    return float(late.sum())


def _adverse_event(arms: Arms, arm: str, params: Mapping[str, Any], criteria: str) -> float:
    term = ADVERSE_EVENTS[str(params["event"])][0]
    frame = _arm(arms, arm).endpoints
    column = f"tox_{term}_grade"
    if column not in frame:
        raise NotSimulated(f"the model does not simulate {_words(params['event']).lower()}")
    return _fraction(frame[column] >= 1)


def _severe_adverse_events(arms: Arms, arm: str, params: Mapping[str, Any],
                           criteria: str) -> float:
    frame = _arm(arms, arm).endpoints
    grades = frame[[c for c in frame if c.startswith("tox_") and c.endswith("_grade")]]
    return _fraction((grades >= 3).any(axis=1))


def _needs(*columns: str, what: str) -> Callable[[Arms, str, Mapping[str, Any], str], float]:
    """Endpoints of lesions: a pooled ratio of two per-patient counts, once simulated."""
    def compute(arms: Arms, arm: str, params: Mapping[str, Any], criteria: str) -> float:
        frame = _arm(arms, arm).endpoints
        if any(c not in frame for c in columns):
            raise NotSimulated(f"{what} needs lesions, which the model does not simulate")
        hit, total = (frame[c].to_numpy(float) for c in columns)
        return float(hit.sum() / total.sum()) if total.sum() else math.nan
    return compute


def _cd4_difference(arms: Arms, arm: str, params: Mapping[str, Any], criteria: str) -> float:
    frames = [_arm(arms, arm).endpoints, _arm(arms, str(params["control"])).endpoints]
    if any("cd4_mean" not in f for f in frames):
        raise NotSimulated("the CD4 count over follow-up needs an HIV virtual trial")
    return float(frames[0]["cd4_mean"].mean() - frames[1]["cd4_mean"].mean())


_ENDPOINTS: Final = (
    Endpoint("objective_response", "Objective response (CR + PR)", "%", (),
             _response(RESPONSE_CATEGORIES)),
    Endpoint("complete_response", "Complete response", "%", (), _response(frozenset({"CR"}))),
    Endpoint("partial_response", "Partial response", "%", (), _response(frozenset({"PR"}))),
    Endpoint("response_duration_median", "Median duration of response, all responders",
             "months", (), _duration(RESPONSE_CATEGORIES)),
    Endpoint("response_duration_median_pr", "Median duration of partial response", "months",
             (), _duration(frozenset({"PR"}))),
    Endpoint("response_duration_median_cr", "Median duration of complete response", "months",
             (), _duration(frozenset({"CR"}))),
    Endpoint("complete_responders_progression_free",
             "Complete responders free of progression at the end of follow-up", "%", (),
             _cr_progression_free),
    Endpoint("late_progression_after_30_months",
             "Responders progressing after more than 30 months of response", "patients", (),
             _late_progression),
    Endpoint("overall_survival_median", "Median overall survival", "months", (), _os_median),
    Endpoint("overall_survival_at", "Alive at {years} years", "%", ("years",),
             _landmark("os_d", "os_event")),
    Endpoint("event_free_survival_at", "Event-free survival at {years} year(s)", "%",
             ("years",), _landmark("pfs_d", "pfs_event")),
    Endpoint("treatment_related_death", "Treatment-related death", "%", (),
             _treatment_deaths),
    Endpoint("doses_course1_median", "Doses given in course 1 (median)", "doses", (),
             _doses_course1),
    Endpoint("adverse_event", "{event}, any grade", "%", ("event",), _adverse_event),
    Endpoint("severe_adverse_events", "Patients with a grade 3-4 adverse event", "%", (),
             _severe_adverse_events),
    Endpoint("treated_lesions_complete_response",
             "Complete response of all treated metastases", "%", (),
             _needs("treated_lesions_all_cr", "treated_lesions_patient",
                    what="response of the treated metastases")),
    Endpoint("lesion_complete_response", "Treated metastases in complete response", "%", (),
             _needs("treated_lesions_cr", "treated_lesions",
                    what="response per metastasis")),
    Endpoint("cd4_mean_difference", "CD4 count difference to control, mean over follow-up",
             "cells/uL", ("control",), _cd4_difference),
)

ENDPOINTS: Final[Mapping[str, Endpoint]] = {e.name: e for e in _ENDPOINTS}
"""Every endpoint an atlas outcome may name."""
