"""Trial statistics: response rates, survival, durability, toxicity and dose delivery.

The functions read the per-patient *endpoints* table of a virtual trial (one row per patient;
columns ``patient``, ``arm``, ``bor``, ``best_change_pct``, ``time_to_response_d``, ``dor_d``,
``dor_event``, ``pfs_d``, ``pfs_event``, ``os_d``, ``os_event``, ``death_cause``,
``doses_given``, ``doses_scheduled``, ``courses`` and ``tox_<name>_grade``) and the dose log
(``patient``, ``dose_id``, ``course``, ``time_h``, ``status``, ``reason``). Each one checks the
columns it needs and raises :class:`ValueError` naming a missing or malformed column.

Conventions:

* Rates are fractions in [0, 1] (``summary_table`` formats them as percentages).
* Times are in days (``*_d`` columns); a median that is not reached is ``inf``.
* ``by`` names a grouping column (one output row per group, in order of first appearance);
  ``by=None`` pools all patients under the label ``"all"``.

Methods:

* Exact (Clopper-Pearson) binomial intervals, the inversion of two one-sided binomial tests:
  ``lo = B(a/2; k, n-k+1)``, ``hi = B(1-a/2; k+1, n-k)`` with ``B`` the beta quantile
  (Clopper & Pearson, Biometrika 26:404, 1934).
* Kaplan-Meier product-limit survival ``S(t) = prod_{t_i <= t} (1 - d_i / n_i)`` (Kaplan &
  Meier, JASA 53:457, 1958) via :class:`lifelines.KaplanMeierFitter`, with the exponential
  Greenwood (log-log) pointwise interval; the median is the first time with ``S(t) <= 0.5``
  and its interval is where the interval bands cross 0.5 (Brookmeyer & Crowley, Biometrics
  38:29, 1982).
* Toxicity grades follow CTCAE: grade 3-4 is severe or life-threatening; a death attributed
  to treatment (grade 5) is reported on its own row.

Calibration targets (ORR, CR, PR, median CR duration, toxicity, treatment-related deaths) come
from the pivotal trials (Fyfe et al. 1995, J Clin Oncol 13:688; Atkins et al. 1999, J Clin
Oncol 17:2105) and the Proleukin label; the validation atlas
(``il2sim/validation/atlas/``) holds them with their citations (see docs/sources.md).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from lifelines import KaplanMeierFitter
from lifelines.utils import median_survival_times
from numpy.typing import ArrayLike
from scipy.stats import binomtest

from il2sim.trial.errors import TrialError
from il2sim.trial.response import RESPONSE_CATEGORIES, is_responder

__all__ = [
    "BOR_CATEGORIES",
    "DAYS_PER_MONTH",
    "DAYS_PER_YEAR",
    "RESPONSE_CATEGORIES",
    "TOXICITIES",
    "recorded_toxicities",
    "TREATMENT_DEATH",
    "DoseDelivery",
    "clopper_pearson",
    "dor_summary",
    "dose_delivery",
    "held_doses",
    "is_responder",
    "km_median",
    "km_summary",
    "response_rates",
    "summary_table",
    "summary_values",
    "time_to_response",
    "toxicity_table",
]

BOR_CATEGORIES: tuple[str, ...] = ("CR", "PR", "SD", "PD", "NE")
"""Best overall response categories (RECIST 1.1; NE = not evaluable)."""

TOXICITIES: tuple[str, ...] = (
    "hypotension", "oliguria", "creatinine", "confusion", "hypoxia", "weight_gain", "oedema",
    "chills", "diarrhoea", "vomiting", "bilirubin", "thrombocytopenia",
)
"""Toxicities graded per patient, read from the columns ``tox_<name>_grade`` (0-4)."""

DEATH_CAUSES: frozenset[str] = frozenset({"", "disease", "treatment"})
DOSE_STATUSES: frozenset[str] = frozenset({"given", "held"})

DAYS_PER_YEAR = 365.25
DAYS_PER_MONTH = DAYS_PER_YEAR / 12.0

ALL = "all"
"""Group label when ``by=None``."""

TREATMENT_DEATH = "treatment_related_death"
"""Row label of treatment-related deaths in :func:`toxicity_table`."""


# --------------------------------------------------------------------------- validation


def _require(frame: object, columns: Iterable[str], what: str) -> pd.DataFrame:
    """Check that ``frame`` is a non-empty DataFrame holding ``columns``."""
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"{what}: expected a pandas DataFrame, got {type(frame).__name__}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        names = ", ".join(repr(c) for c in missing)
        raise TrialError(f"{what}: missing column{'s' if len(missing) > 1 else ''} {names}")
    if frame.empty:
        raise TrialError(f"{what}: no rows")
    return frame


def _check_values(frame: pd.DataFrame, column: str, allowed: Iterable[str], what: str) -> None:
    ok = set(allowed)
    bad = sorted({repr(v) for v in frame[column] if v not in ok})
    if bad:
        raise TrialError(
            f"{what}: column {column!r} has values {', '.join(bad)}; "
            f"allowed: {', '.join(repr(a) for a in sorted(allowed))}"
        )


def _durations(frame: pd.DataFrame, time: str, event: str, what: str) -> tuple[
        np.ndarray[Any, np.dtype[np.float64]], np.ndarray[Any, np.dtype[np.bool_]]]:
    """Finite non-negative durations and boolean events of ``frame``'s rows."""
    t = pd.to_numeric(frame[time], errors="coerce").to_numpy(dtype=float)
    if not np.all(np.isfinite(t)):
        raise TrialError(f"{what}: column {time!r} has missing or non-finite values")
    if np.any(t < 0):
        raise TrialError(f"{what}: column {time!r} has negative durations")
    e = frame[event]
    if e.isna().any():
        raise TrialError(f"{what}: column {event!r} has missing values")
    if not set(pd.unique(e)) <= {True, False}:  # 0 and 1 compare equal to these
        raise TrialError(f"{what}: column {event!r} must be boolean")
    return t, e.to_numpy(dtype=bool)


def _groups(frame: pd.DataFrame, by: str | None, what: str) -> list[tuple[Any, pd.DataFrame]]:
    """``(label, rows)`` per group, in order of first appearance."""
    if by is None:
        return [(ALL, frame)]
    _require(frame, [by], what)
    if frame[by].isna().any():
        raise TrialError(f"{what}: column {by!r} has missing values")
    return [(key, rows) for key, rows in frame.groupby(by, sort=False)]


def _index_name(by: str | None) -> str:
    return by if by is not None else "group"


# --------------------------------------------------------------------------- response rates


def clopper_pearson(k: int, n: int, *, confidence: float = 0.95) -> tuple[float, float]:
    """Exact (Clopper-Pearson) confidence interval of a binomial proportion ``k / n``.

    ``lo = Beta.ppf(a/2, k, n-k+1)`` (0 if ``k = 0``), ``hi = Beta.ppf(1-a/2, k+1, n-k)``
    (1 if ``k = n``), ``a = 1 - confidence``; computed by :func:`scipy.stats.binomtest`.

    Raises:
        ValueError: ``n < 1``, ``k`` outside ``0..n`` or ``confidence`` outside (0, 1).

    Clopper CJ, Pearson ES (1934). Biometrika 26:404-413.
    """
    if not 0.0 < confidence < 1.0:
        raise TrialError(f"confidence must be in (0, 1), got {confidence}")
    if int(n) != n or n < 1:
        raise TrialError(f"n must be a positive integer, got {n}")
    if int(k) != k or not 0 <= k <= n:
        raise TrialError(f"k must be an integer in 0..{n}, got {k}")
    ci = binomtest(int(k), int(n)).proportion_ci(confidence_level=confidence, method="exact")
    return float(ci.low), float(ci.high)


def response_rates(endpoints: pd.DataFrame, by: str | None = "arm", *,
                   confidence: float = 0.95) -> pd.DataFrame:
    """Objective, complete and partial response rates with exact confidence intervals.

    Main arguments:
        endpoints: per-patient endpoints; uses ``bor``.
        by: grouping column, or ``None`` to pool all patients.

    Other arguments:
        confidence: level of the Clopper-Pearson intervals.

    Returns:
        One row per group with ``n``; ``orr_n, orr, orr_lo, orr_hi`` (CR + PR), the same for
        ``cr`` and ``pr`` (rates as fractions); and the counts ``sd_n``, ``pd_n``, ``ne_n``.

    Raises:
        ValueError: a missing column or a ``bor`` outside CR/PR/SD/PD/NE.
    """
    what = "response_rates"
    _require(endpoints, ["bor"], what)
    _check_values(endpoints, "bor", BOR_CATEGORIES, what)
    rows: dict[Any, dict[str, float]] = {}
    for label, grp in _groups(endpoints, by, what):
        n = len(grp)
        counts = grp["bor"].value_counts()
        row: dict[str, float] = {"n": n}
        k_cr, k_pr = int(counts.get("CR", 0)), int(counts.get("PR", 0))
        for name, k in (("orr", k_cr + k_pr), ("cr", k_cr), ("pr", k_pr)):
            lo, hi = clopper_pearson(k, n, confidence=confidence)
            row.update({f"{name}_n": k, name: k / n, f"{name}_lo": lo, f"{name}_hi": hi})
        for cat in ("SD", "PD", "NE"):
            row[f"{cat.lower()}_n"] = int(counts.get(cat, 0))
        rows[label] = row
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = _index_name(by)
    int_cols = ["n", "orr_n", "cr_n", "pr_n", "sd_n", "pd_n", "ne_n"]
    return out.astype({c: "int64" for c in int_cols})


# --------------------------------------------------------------------------- survival


def km_median(t: ArrayLike, event: ArrayLike) -> float:
    """Kaplan-Meier median of durations ``t`` with events ``event`` (else censored): the first
    time with ``S(t) <= 0.5`` on the curve of :class:`lifelines.KaplanMeierFitter`; ``inf``
    when the curve stays above 0.5, NaN for no patients (Kaplan & Meier, JASA 53:457, 1958).

    A curve that reaches 0.5 exactly (e.g. 4 events among 8) can land a rounding error above
    it (``7/8 * 6/7 * 5/6 * 4/5``); 0.5 + 1e-12 counts as reached, where lifelines'
    ``median_survival_time_`` would take the next event time or ``inf``.
    """
    t = np.asarray(t, dtype=float)
    if t.size == 0:
        return math.nan
    kmf = KaplanMeierFitter().fit(t, event_observed=np.asarray(event, dtype=bool))
    surv = kmf.survival_function_.iloc[:, 0]
    reached = surv.index[surv.to_numpy() <= 0.5 + 1e-12]
    return float(reached[0]) if len(reached) else math.inf


def _km_row(t: np.ndarray[Any, np.dtype[np.float64]], e: np.ndarray[Any, np.dtype[np.bool_]],
            *, confidence: float, landmarks_y: Sequence[float]) -> dict[str, float]:
    """Kaplan-Meier median (with interval) and landmark survival of one group."""
    row: dict[str, float] = {"n": len(t), "events": int(e.sum())}
    if len(t) == 0:
        row.update({"median_d": math.nan, "median_lo_d": math.nan, "median_hi_d": math.nan})
        for y in landmarks_y:
            row.update({f"surv_{y:g}y": math.nan, f"surv_{y:g}y_lo": math.nan,
                        f"surv_{y:g}y_hi": math.nan})
        return row
    kmf = KaplanMeierFitter(alpha=1.0 - confidence).fit(t, event_observed=e)
    ci = kmf.confidence_interval_survival_function_
    row["median_d"] = float(kmf.median_survival_time_)
    lo_hi = median_survival_times(ci)
    row["median_lo_d"] = float(lo_hi.iloc[0, 0])
    row["median_hi_d"] = float(lo_hi.iloc[0, 1])
    s_last = float(kmf.survival_function_.iloc[-1, 0])
    for y in landmarks_y:
        at = y * DAYS_PER_YEAR
        if at > t.max() and s_last > 0.0:  # beyond follow-up: not estimable
            s, lo, hi = math.nan, math.nan, math.nan
        else:
            s = float(kmf.survival_function_at_times(at).iloc[0])
            band = ci.loc[ci.index <= at].iloc[-1]
            lo, hi = float(band.iloc[0]), float(band.iloc[1])
        row.update({f"surv_{y:g}y": s, f"surv_{y:g}y_lo": lo, f"surv_{y:g}y_hi": hi})
    return row


def km_summary(endpoints: pd.DataFrame, time: str = "os_d", event: str = "os_event",
               by: str | None = "arm", *, confidence: float = 0.95,
               landmarks_y: Sequence[float] = (1.0, 2.0, 5.0)) -> pd.DataFrame:
    """Kaplan-Meier median survival with its interval and survival at landmark times.

    ``S(t) = prod_{t_i <= t} (1 - d_i / n_i)`` over distinct event times ``t_i`` with ``d_i``
    events among ``n_i`` patients at risk; the median is ``min{t : S(t) <= 0.5}``.

    Main arguments:
        endpoints: per-patient endpoints.
        time, event: duration column (days) and event column (``True`` = event,
            ``False`` = censored); ``("pfs_d", "pfs_event")`` for progression-free survival.
        by: grouping column, or ``None`` to pool all patients.

    Other arguments:
        confidence: level of the intervals (exponential Greenwood).
        landmarks_y: landmark times in years (365.25 d).

    Returns:
        One row per group: ``n``, ``events``, ``median_d``, ``median_lo_d``, ``median_hi_d``
        (``inf`` when not reached), and per landmark ``y`` the columns ``surv_{y}y``,
        ``surv_{y}y_lo``, ``surv_{y}y_hi`` (``NaN`` beyond the last follow-up unless the curve
        has reached 0).

    Raises:
        ValueError: a missing column, missing or negative durations, missing events.

    Kaplan EL, Meier P (1958). JASA 53:457-481.
    """
    what = "km_summary"
    _require(endpoints, [time, event], what)
    rows = {}
    for label, grp in _groups(endpoints, by, what):
        t, e = _durations(grp, time, event, what)
        rows[label] = _km_row(t, e, confidence=confidence, landmarks_y=landmarks_y)
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = _index_name(by)
    return out.astype({"n": "int64", "events": "int64"})


def dor_summary(endpoints: pd.DataFrame, by: str | None = "arm", *,
                confidence: float = 0.95) -> pd.DataFrame:
    """Duration of response (Kaplan-Meier) among all responders and among complete responders.

    The pivotal HD IL-2 trials report a median CR duration of 6.7+ years (7 months to 10+
    years) in renal cell carcinoma and 4.9 years (3 months to 10+ years) in melanoma
    (Proleukin label, clinical studies).

    Main arguments:
        endpoints: per-patient endpoints; uses ``bor``, ``dor_d``, ``dor_event``.
        by: grouping column, or ``None`` to pool all patients.

    Other arguments:
        confidence: level of the median's interval.

    Returns:
        Rows indexed by ``(group, subset)`` with ``subset`` in ``"responders"`` (CR or PR) and
        ``"CR"``; columns ``n``, ``events``, ``median_d``, ``median_lo_d``, ``median_hi_d``
        (``inf`` when not reached; ``NaN`` when ``n = 0``), the range ``min_d``, ``max_d``
        and ``max_censored`` (the longest response is ongoing, printed "10+ years").

    Raises:
        ValueError: a missing column, a bad ``bor``, or a responder without a duration.
    """
    what = "dor_summary"
    _require(endpoints, ["bor", "dor_d", "dor_event"], what)
    _check_values(endpoints, "bor", BOR_CATEGORIES, what)
    rows: dict[tuple[Any, str], dict[str, float]] = {}
    for label, grp in _groups(endpoints, by, what):
        for subset, cats in (("responders", RESPONSE_CATEGORIES), ("CR", frozenset({"CR"}))):
            sel = grp[grp["bor"].isin(cats)]
            t, e = _durations(sel, "dor_d", "dor_event", f"{what} ({subset})")
            row = _km_row(t, e, confidence=confidence, landmarks_y=())
            if len(t):
                i_max = int(np.argmax(t))
                row.update({"min_d": float(t.min()), "max_d": float(t[i_max]),
                            "max_censored": bool(not e[i_max])})
            else:
                row.update({"min_d": math.nan, "max_d": math.nan, "max_censored": False})
            rows[(label, subset)] = row
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index = pd.MultiIndex.from_tuples(list(rows), names=[_index_name(by), "subset"])
    return out.astype({"n": "int64", "events": "int64", "max_censored": "bool"})


def time_to_response(endpoints: pd.DataFrame, by: str | None = "arm") -> pd.DataFrame:
    """When responders' responses were first seen: days from the first dose to the scan that
    first showed the response, among responders (CR or PR).

    In the pivotal high-dose trials at least 90% of responders responded after their first
    course (manufacturer's summary of the pivotal trials, proleukin.com, "Proleukin
    results" [secondary source; the primary tables not checked]); a model whose responses
    build up over courses rewards regimens by their cumulative exposure.

    Main arguments:
        endpoints: per-patient endpoints; uses ``bor`` and ``time_to_response_d``.
        by: grouping column, or ``None`` to pool all patients.

    Returns:
        One row per group: ``n`` (responders), ``median_d``, ``min_d``, ``max_d`` (NaN when
        ``n = 0``).

    Raises:
        ValueError: a missing column, a bad ``bor``, or a responder without a time.
    """
    what = "time_to_response"
    _require(endpoints, ["bor", "time_to_response_d"], what)
    _check_values(endpoints, "bor", BOR_CATEGORIES, what)
    rows: dict[Any, dict[str, float]] = {}
    for label, grp in _groups(endpoints, by, what):
        t = pd.to_numeric(grp.loc[grp["bor"].isin(RESPONSE_CATEGORIES), "time_to_response_d"],
                          errors="coerce").to_numpy(dtype=float)
        if np.isnan(t).any():
            raise ValueError(f"{what}: a responder has no time_to_response_d")
        rows[label] = ({"n": len(t), "median_d": float(np.median(t)), "min_d": float(t.min()),
                        "max_d": float(t.max())} if len(t) else
                       {"n": 0, "median_d": math.nan, "min_d": math.nan, "max_d": math.nan})
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = _index_name(by)
    return out.astype({"n": "int64"})


# --------------------------------------------------------------------------- toxicity


def _tox_rows(grp: pd.DataFrame, toxicities: Sequence[str], what: str) -> pd.DataFrame:
    n = len(grp)
    rows: dict[str, dict[str, Any]] = {}
    for name in toxicities:
        col = f"tox_{name}_grade"
        g = pd.to_numeric(grp[col], errors="coerce")
        if g.isna().any() or not g.isin([0, 1, 2, 3, 4]).all():
            raise TrialError(f"{what}: column {col!r} must hold integer grades 0-4")
        any_n, severe_n = int((g >= 1).sum()), int((g >= 3).sum())
        rows[name] = {"n": n, "any_grade_n": any_n, "any_grade": any_n / n,
                      "grade3_4_n": severe_n, "grade3_4": severe_n / n}
    deaths = int((grp["death_cause"] == "treatment").sum())
    rows[TREATMENT_DEATH] = {"n": n, "any_grade_n": deaths, "any_grade": deaths / n,
                             "grade3_4_n": pd.NA, "grade3_4": math.nan}
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "toxicity"
    return out.astype({"n": "int64", "any_grade_n": "int64", "grade3_4_n": "Int64",
                       "any_grade": "float64", "grade3_4": "float64"})


def recorded_toxicities(endpoints: pd.DataFrame) -> tuple[str, ...]:
    """The :data:`TOXICITIES` whose ``tox_<name>_grade`` column ``endpoints`` holds: all of
    them for a run of this version, fewer for a run stored before a term was modelled."""
    return tuple(t for t in TOXICITIES if f"tox_{t}_grade" in endpoints)


def toxicity_table(endpoints: pd.DataFrame, *, toxicities: Sequence[str] = TOXICITIES,
                   by: str | None = None) -> pd.DataFrame:
    """Incidence of each toxicity at any grade and at grade 3-4, and treatment-related deaths.

    Main arguments:
        endpoints: per-patient endpoints; uses ``tox_<name>_grade`` (worst grade 0-4 over the
            treatment) and ``death_cause``.

    Other arguments:
        toxicities: the ``<name>`` parts to tabulate (default :data:`TOXICITIES`).
        by: grouping column; ``None`` (default) pools all patients.

    Returns:
        One row per toxicity (index ``toxicity``; with ``by``, a ``(group, toxicity)``
        MultiIndex) with ``n``, ``any_grade_n``, ``any_grade`` (grade >= 1), ``grade3_4_n``,
        ``grade3_4`` (grade >= 3); then a row ``"treatment_related_death"`` whose
        ``any_grade`` is the fraction of patients with ``death_cause == "treatment"``
        (grade 5) and whose grade 3-4 columns are missing.

    Raises:
        ValueError: a missing column, a grade outside 0-4, an unknown death cause.
    """
    what = "toxicity_table"
    if isinstance(toxicities, str):
        raise TypeError("toxicity_table: toxicities must be a sequence of names, not a string")
    _require(endpoints, [*(f"tox_{t}_grade" for t in toxicities), "death_cause"], what)
    causes = endpoints["death_cause"].fillna("")
    _check_values(endpoints.assign(death_cause=causes), "death_cause", DEATH_CAUSES, what)
    frame = endpoints.assign(death_cause=causes)
    if by is None:
        return _tox_rows(frame, toxicities, what)
    parts = {label: _tox_rows(grp, toxicities, what) for label, grp in _groups(frame, by, what)}
    out = pd.concat(parts, names=[by])
    return out


# --------------------------------------------------------------------------- dose delivery


@dataclass(frozen=True)
class DoseDelivery:
    """Doses given and held per patient and course (or cycle), and why doses were held.

    Attributes:
        counts: indexed by ``(patient, course)`` (``(patient, course, cycle)`` when counted
            per cycle): ``given``, ``held`` and ``listed`` (given + held) dose counts.
        reasons: indexed by ``reason`` (``"unspecified"`` when blank), most frequent first:
            ``n`` held doses, ``of_held`` and ``of_listed`` fractions.
        n_listed, n_given, n_held: totals over the tabulated doses.
    """

    counts: pd.DataFrame
    reasons: pd.DataFrame
    n_listed: int
    n_given: int
    n_held: int

    @classmethod
    def from_counts(cls, counts: pd.DataFrame, held_reasons: pd.Series) -> DoseDelivery:
        """From ``given`` and ``held`` dose counts per key and the number of held doses
        per reason (most frequent first): adds ``listed``, the totals and the fractions."""
        counts = counts.assign(listed=counts["given"] + counts["held"])
        n_listed, n_held = int(counts["listed"].sum()), int(counts["held"].sum())
        reasons = pd.DataFrame({
            "n": held_reasons.astype("int64"),
            "of_held": held_reasons / max(n_held, 1),
            "of_listed": held_reasons / max(n_listed, 1),
        })
        reasons.index.name = "reason"
        return cls(counts=counts, reasons=reasons, n_listed=n_listed,
                   n_given=n_listed - n_held, n_held=n_held)

    @property
    def held_fraction(self) -> float:
        """Fraction of the tabulated doses that were held."""
        return self.n_held / self.n_listed if self.n_listed else math.nan

    @property
    def given(self) -> pd.Series:
        """Doses given in each (patient, course) or (patient, course, cycle)."""
        return self.counts["given"]


def dose_delivery(doses: pd.DataFrame, *, per: str = "course",
                  started_only: bool = True) -> DoseDelivery:
    """Tabulate the dose log: doses given per patient and course, held doses and reasons.

    Main arguments:
        doses: the dose log, one row per scheduled dose and patient, with ``patient``,
            ``course``, ``status`` (``"given"`` or ``"held"``) and ``reason``; and ``cycle``
            when ``per="cycle"``. The label allows 14 doses per cycle, 28 per course.

    Other arguments:
        per: count doses per ``"course"`` or per ``"cycle"``.
        started_only: tabulate only courses in which the patient got at least one dose. The
            dose log lists every scheduled dose, so without this the courses a patient was
            never retreated with ("not retreated") count as fully held.

    Raises:
        ValueError: a missing column, ``per`` not course/cycle, a status other than
            given/held.
    """
    what = "dose_delivery"
    if per not in ("course", "cycle"):
        raise TrialError(f"{what}: per must be 'course' or 'cycle', got {per!r}")
    keys = ["patient", "course"] if per == "course" else ["patient", "course", "cycle"]
    _require(doses, [*keys, "status", "reason"], what)
    _check_values(doses, "status", DOSE_STATUSES, what)
    frame = doses.assign(given=doses["status"] == "given", held=doses["status"] == "held")
    if started_only:
        started = frame.groupby(["patient", "course"])["given"].transform("any")
        frame = frame[started.to_numpy(dtype=bool)]
    counts = frame.groupby(keys, sort=True)[["given", "held"]].sum().astype("int64")
    held = frame.loc[frame["held"], "reason"].fillna("").astype(str).str.strip()
    held = held.where(held != "", "unspecified")
    return DoseDelivery.from_counts(counts, held.value_counts())


def held_doses(doses: pd.DataFrame) -> pd.DataFrame:
    """Per patient (the index, sorted), the doses of the log ``doses`` that were ``held``
    (status other than ``"given"``), ``listed`` (every row) and ``fraction_held`` =
    held / listed. Unlike :func:`dose_delivery`, every listed dose counts, courses never
    started included."""
    counts = (doses.assign(held=(doses["status"] != "given").astype(float), listed=1.0)
              .groupby("patient")[["held", "listed"]].sum())
    return counts.assign(fraction_held=counts["held"] / counts["listed"])


# --------------------------------------------------------------------------- summary


def _pct(x: float, digits: int = 1) -> str:
    return "-" if not math.isfinite(x) else f"{100.0 * x:.{digits}f}"


def _time(x: float, scale: float) -> str:
    if math.isinf(x):
        return "NR"
    return "-" if not math.isfinite(x) else f"{x / scale:.1f}"


def _median_text(row: pd.Series, scale: float) -> str:
    return (f"{_time(row['median_d'], scale)} "
            f"({_time(row['median_lo_d'], scale)}-{_time(row['median_hi_d'], scale)})")


def _dor_text(row: pd.Series, scale: float) -> str:
    """``median (min-max[+]), n=k``: a duration's (``max_censored``: the longest ongoing) or
    a time to response's row."""
    if row["n"] == 0:
        return "- (n=0)"
    plus = "+" if row.get("max_censored", False) else ""
    return (f"{_time(row['median_d'], scale)} ({_time(row['min_d'], scale)}-"
            f"{_time(row['max_d'], scale)}{plus}), n={int(row['n'])}")


def summary_table(endpoints: pd.DataFrame, doses: pd.DataFrame | DoseDelivery | None = None,
                  by: str | None = "arm", *, confidence: float = 0.95) -> pd.DataFrame:
    """The headline numbers of a virtual trial, formatted for printing (one column per group).

    Rows: patients; ORR, CR and PR in % with exact intervals; median OS and PFS in months
    with intervals and OS at 1, 2 and 5 years; median duration of response (months) and of
    complete response (years) with their range ("+" = ongoing); the responders' median time
    to response (months, range; :func:`time_to_response`); treatment-related deaths;
    each toxicity as "% any grade / % grade 3-4"; and, given the dose log, the median (range)
    of doses given per course and the % of doses held. Compare with the pivotal trials
    (e.g. RCC: ORR 15%, CR 7%, PR 8%, median CR duration 6.7+ y, 4% treatment deaths;
    Fyfe et al. 1995, J Clin Oncol 13:688 and the Proleukin label).

    Main arguments:
        endpoints: per-patient endpoints.
        doses: the dose log, or its :class:`DoseDelivery` per course, optional; patients
            are mapped to groups through ``endpoints``.
        by: grouping column, or ``None`` to pool all patients.

    Other arguments:
        confidence: level of all intervals.

    Returns:
        A DataFrame of strings indexed by ``measure``, one column per group (the numbers
        unformatted: :func:`summary_values`).

    Raises:
        ValueError: as the underlying functions.
    """
    return _summary(endpoints, doses, by, confidence)[0]


SUMMARY_VALUE_COLUMNS = ("measure", "estimate", "lower", "upper", "interval")
"""Columns of :func:`summary_values` after the group column."""


def summary_values(endpoints: pd.DataFrame, doses: pd.DataFrame | DoseDelivery | None = None,
                   by: str | None = "arm", *, confidence: float = 0.95) -> pd.DataFrame:
    """The numbers of :func:`summary_table`, unformatted, one row per group and number: a
    tidy table for CSV files and other programs.

    Columns: the group (named ``by``, or ``group``), then :data:`SUMMARY_VALUE_COLUMNS`:
    ``measure`` (its unit in its name: %, months, years, doses per course), ``estimate``,
    ``lower`` and ``upper`` (the bounds of ``interval``: ``"95% CI"``, ``"range"``, or
    ``""`` and NaN for a point value). A median not reached is ``inf``; a percentage of no
    patients is NaN. A row of :func:`summary_table` with several numbers ("OS at 1 / 2 / 5
    years", "% any grade / grade 3-4") is one row per number here. Arguments as
    :func:`summary_table`.
    """
    return _summary(endpoints, doses, by, confidence)[1]


def _summary(endpoints: pd.DataFrame, doses: pd.DataFrame | DoseDelivery | None,
             by: str | None, confidence: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`summary_table` and :func:`summary_values`, from one computation."""
    rr = response_rates(endpoints, by, confidence=confidence)
    os_ = km_summary(endpoints, "os_d", "os_event", by, confidence=confidence)
    pfs = km_summary(endpoints, "pfs_d", "pfs_event", by, confidence=confidence,
                     landmarks_y=())
    dor = dor_summary(endpoints, by, confidence=confidence)
    ttr = (time_to_response(endpoints, by) if "time_to_response_d" in endpoints.columns
           else None)
    recorded = recorded_toxicities(endpoints)
    tox = toxicity_table(endpoints, toxicities=recorded, by=by)
    level = f"{100 * confidence:g}% CI"
    month, year = DAYS_PER_MONTH, DAYS_PER_YEAR
    columns: dict[Any, dict[str, str]] = {}
    values: list[tuple[Any, str, float, float, float, str]] = []

    def put(label: Any, measure: str, estimate: float, lower: float = math.nan,
            upper: float = math.nan, interval: str = "") -> None:
        values.append((label, measure, float(estimate), float(lower), float(upper), interval))

    for label in rr.index:
        r = rr.loc[label]
        col: dict[str, str] = {"patients": str(int(r["n"]))}
        put(label, "patients", r["n"])
        for name in ("orr", "cr", "pr"):
            col[f"{name.upper()}, % ({level})"] = (
                f"{_pct(r[name])} ({_pct(r[f'{name}_lo'])}-{_pct(r[f'{name}_hi'])})"
            )
            put(label, f"{name.upper()}, %", 100 * r[name], 100 * r[f"{name}_lo"],
                100 * r[f"{name}_hi"], level)
        o, p = os_.loc[label], pfs.loc[label]
        col[f"median OS, months ({level})"] = _median_text(o, month)
        col["OS at 1 / 2 / 5 years, %"] = " / ".join(
            _pct(o[f"surv_{y}y"]) for y in ("1", "2", "5"))
        col[f"median PFS, months ({level})"] = _median_text(p, month)
        for what, row in (("OS", o), ("PFS", p)):
            put(label, f"median {what}, months", row["median_d"] / month,
                row["median_lo_d"] / month, row["median_hi_d"] / month, level)
        for y in ("1", "2", "5"):
            put(label, f"OS at {y} year{'s' if y != '1' else ''}, %", 100 * o[f"surv_{y}y"])
        col["median DoR, months (range)"] = _dor_text(dor.loc[(label, "responders")], month)
        col["median CR duration, years (range)"] = _dor_text(dor.loc[(label, "CR")], year)
        for measure, row, scale in (("median DoR, months", dor.loc[(label, "responders")],
                                     month),
                                    ("median CR duration, years", dor.loc[(label, "CR")],
                                     year)):
            if row["n"] > 0:
                put(label, measure, row["median_d"] / scale, row["min_d"] / scale,
                    row["max_d"] / scale, "range")
        if ttr is not None:
            r_t = ttr.loc[label]
            col["median time to response, months (range)"] = _dor_text(r_t, month)
            if r_t["n"] > 0:
                put(label, "median time to response, months", r_t["median_d"] / month,
                    r_t["min_d"] / month, r_t["max_d"] / month, "range")
        t = tox.loc[label] if by is not None else tox
        col["treatment-related deaths, %"] = _pct(t.loc[TREATMENT_DEATH, "any_grade"])
        put(label, "treatment-related deaths, %", 100 * t.loc[TREATMENT_DEATH, "any_grade"])
        for name in recorded:
            col[f"{name.replace('_', ' ')}, % any grade / grade 3-4"] = (
                f"{_pct(t.loc[name, 'any_grade'], 0)} / {_pct(t.loc[name, 'grade3_4'], 0)}"
            )
            put(label, f"{name.replace('_', ' ')}, % any grade", 100 * t.loc[name, "any_grade"])
            put(label, f"{name.replace('_', ' ')}, % grade 3-4", 100 * t.loc[name, "grade3_4"])
        columns[label] = col
    if doses is not None:
        if not isinstance(doses, DoseDelivery):
            _require(doses, ["patient"], "summary_table")
        counted = (doses if isinstance(doses, DoseDelivery) else dose_delivery(doses)).counts
        groups = (
            {ALL: set(endpoints["patient"])} if by is None else
            {label: set(grp["patient"]) for label, grp in _groups(endpoints, by, "summary_table")}
        )
        for label, patients in groups.items():
            counts = counted[counted.index.get_level_values("patient").isin(patients)]
            col = columns[label]
            if counts.empty:
                col["doses given per course, median (range)"] = "-"
                col["doses held, %"] = "-"
                continue
            g = counts["given"]
            col["doses given per course, median (range)"] = (
                f"{g.median():g} ({g.min()}-{g.max()})")
            col["doses held, %"] = _pct(counts["held"].sum() / counts["listed"].sum())
            put(label, "doses given per course", g.median(), g.min(), g.max(), "range")
            put(label, "doses held, %", 100 * counts["held"].sum() / counts["listed"].sum())
    out = pd.DataFrame(columns)
    out.index.name = "measure"
    out.columns.name = _index_name(by)
    numbers = pd.DataFrame(values, columns=[_index_name(by), *SUMMARY_VALUE_COLUMNS])
    return out, numbers
