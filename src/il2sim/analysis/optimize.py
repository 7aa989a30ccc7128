"""Regimen optimisation for the therapeutic index: efficacy against toxicity.

A :class:`Candidate` is an IL-2 regimen of two-week cycles: ``doses_per_cycle`` doses of
``dose_iu_per_kg`` every ``interval_h`` within days 1-5 of each cycle, by one route (IV
infusion over ``infusion_min`` minutes, IV bolus, SC depot or intratumoral injection),
optionally combined with interferon-alpha (``ifn_miu`` MIU SC three times a week for the
cycles' weeks; the flagship model ``il2_qsp`` has the ``ifn_sc`` route). :func:`evaluate`
runs candidates on the *same* virtual patients (common random numbers: one population
sample, and the per-patient random streams of scans and deaths seeded by ``(seed,
patient)``), so differences between candidates are differences of the regimen, not of the
sample. :func:`pareto_front` marks the non-dominated candidates (maximise efficacy,
minimise toxicity) and :func:`optimize` searches a :class:`SearchSpace` with a scrambled
Sobol' sequence or a Latin hypercube (SciPy's ``qmc``), or by differential evolution
(``scipy.optimize.differential_evolution`` with the toxicity ceilings as constraints;
Storn & Price, J Glob Optim 11:341, 1997), always including the label regimen so it is
placed on (or off) the front, keeping every evaluated candidate for the front, and picks
the best candidate under ceilings on any toxicity metrics.

Protocol: by default every scheduled dose is given (``holds=False``: the intrinsic
therapeutic index of the schedule). With ``holds=True`` the label's withhold and
cycle-stop rules (:class:`~il2sim.trial.protocol.LabelProtocol`: SBP < 90, SpO2 < 90%,
confusion, tachycardia, relative and absolute criteria, three holds stop the cycle) are
applied to the IL-2 doses of every candidate, so "doses withheld" is a real constraint;
interferon doses are given as scheduled. The label regimen with holds is exactly the
label trial arm with one course (tested).

Metrics per candidate (over the patients whose simulation succeeded):

* efficacy (:data:`EFFICACY`): ``orr`` (best overall response CR or PR, RECIST), ``cr``
  (complete response), ``dor_median`` (Kaplan-Meier median duration of response among
  responders, days; ``inf`` when not reached, NaN without responders);
* toxicity (:data:`TOXICITY`): ``hypotension`` (systolic BP below 90 mmHg at any time,
  CTCAE grade >= 2), ``hypotension_g34`` (below 80 mmHg, grade 3-4), ``trd``
  (treatment-related death), ``held`` (mean over patients of the fraction of their
  scheduled IL-2 doses withheld; 0 without holds).

Each metric ``x`` comes with ``x_n``, ``x_lo``/``x_hi`` and ``x_se``. For the rates,
``x_n`` is the count and ``x_lo``/``x_hi`` the exact Clopper-Pearson interval (Clopper &
Pearson, Biometrika 26:404, 1934); for ``held``, ``held_n`` is the number of doses
withheld and for ``dor_median`` the number of responders, both with bootstrap percentile
intervals. ``x_se`` is the bootstrap standard error over patients, with the same resampled
patients for every candidate so paired comparisons stay paired (Efron & Tibshirani, An
Introduction to the Bootstrap, 1993).

Pareto optimality: candidate ``a`` dominates ``b`` when ``eff_a >= eff_b`` and
``tox_a <= tox_b`` with at least one strict inequality; the front is the set of
candidates no other candidate dominates (Miettinen, Nonlinear Multiobjective
Optimization, 1999).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from numpy.typing import NDArray
from scipy.optimize import NonlinearConstraint, OptimizeResult, differential_evolution
from scipy.stats import qmc

from il2sim.dosing.doses import Bolus, Depot, Infusion, Intratumoral
from il2sim.dosing.regimen import Administration, Regimen
from il2sim.dosing.schedule import Schedule
from il2sim.model.library import get_model
from il2sim.population.population import Population
from il2sim.protocol import LABEL_HOLDS, Drug, Protocol
from il2sim.trial.endpoints import MortalityModel
from il2sim.trial.runner import TrialSpec, simulate_chunk
from il2sim.trial.statistics import clopper_pearson, held_doses, is_responder, km_median
from il2sim.units import header

__all__ = ["EFFICACY", "LABEL", "METRICS", "ROUTES", "SEARCH_METHODS", "TOXICITY", "Candidate",
           "OptimizationResult", "SearchSpace", "evaluate", "for_file", "format_metric",
           "in_units", "optimize", "pareto_front", "plot_pareto"]

DOSE_RANGE = (1.0e3, 2.0e6)
"""Allowed IL-2 dose per administration, IU/kg (the label dose is 600,000 IU/kg)."""
INTERVAL_RANGE = (1.0, 48.0)
"""Allowed dosing interval, h."""
IFN_RANGE = (0.0, 50.0)
"""Allowed interferon-alpha dose per SC injection, MIU (0: no interferon)."""
IFN_WEEKDAYS = (1, 3, 5)
"""Interferon-alpha days of each week (three times a week: Negrier et al. 1998, N Engl J Med
338:1272)."""
IFN_TIME = "8 h"
"""Time of day of the interferon injections."""
CYCLE_WINDOW_H = 120.0
"""Doses of one cycle start within days 1-5 of the cycle (before 120 h)."""
CYCLE_PERIOD_DAYS = 14
"""Cycle ``k`` starts on day ``1 + 14 (k - 1)``: cycle 2 on day 15, as on the label."""
MAX_CYCLES = 6
ROUTES = ("iv", "sc", "it")
"""IL-2 routes of the flagship model: IV (infusion, or bolus with ``infusion_min=0``),
SC depot, intratumoral injection."""
PARTNER_LABEL = "interferon"
"""The administration label of the combination partner's doses."""
PARTNER_DRUG = "IFN-alpha"
"""The drug name of the combination partner's doses (the dose log's ``drug``)."""
RATES = ("orr", "cr", "hypotension", "hypotension_g34", "trd")
"""The metrics that are proportions of patients (exact intervals)."""
EFFICACY = ("orr", "cr", "dor_median")
"""Efficacy metrics (larger is better)."""
TOXICITY = ("hypotension", "hypotension_g34", "trd", "held")
"""Toxicity metrics (smaller is better); each can carry a ceiling in :func:`optimize`."""
METRICS = ("orr", "cr", "hypotension", "hypotension_g34", "trd", "held", "dor_median")
"""The per-candidate metrics :func:`evaluate` reports."""

Progress = Callable[[int, int, "Candidate"], None]
"""Called as ``progress(done, total, candidate)`` after each evaluated candidate."""
Evaluator = Callable[["Candidate"], Mapping[str, object]]
"""The metrics of one candidate, ``evaluator(candidate) -> {"orr": ..., ...}``."""
SEARCH_METHODS = ("sobol", "lhs", "de")
"""Search methods of :func:`optimize`: scrambled Sobol', Latin hypercube, differential
evolution."""


def _number(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) \
            or not math.isfinite(float(value)):
        raise ValueError(f"candidate {name}: must be a finite number, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class Candidate:
    """An IL-2 regimen: ``doses_per_cycle`` doses every ``interval_h`` in each of ``cycles``.

    Cycle ``k`` (``k = 1..cycles``) starts on day ``1 + 14 (k - 1)`` at 00:00; its doses
    are at ``start + i * interval_h`` for ``i < doses_per_cycle``, all within the cycle's
    days 1-5. Each dose is ``dose_iu_per_kg`` IU/kg by ``route``: ``"iv"`` infused over
    ``infusion_min`` minutes (``0``: an IV bolus), ``"sc"`` (depot, the model's
    bioavailability applies) or ``"it"`` (into the tumour), the last two with
    ``infusion_min = 0``. With ``ifn_miu > 0`` interferon-alpha is added: ``ifn_miu`` MIU
    SC on days 1, 3 and 5 of every week from day 1 through the last cycle's two weeks.
    The label regimen is :data:`LABEL`, ``Candidate(600000, 8, 14, 15)`` (Proleukin label,
    section 2.1).

    Raises:
        ValueError: a value out of range, doses that do not fit in days 1-5, an
            infusion longer than the interval or shorter than 1 min, an infusion by a
            route other than IV, or an unknown route.
    """

    dose_iu_per_kg: float
    interval_h: float
    doses_per_cycle: int
    infusion_min: float
    cycles: int = 2
    route: str = "iv"
    ifn_miu: float = 0.0

    def __post_init__(self) -> None:
        for name in ("dose_iu_per_kg", "interval_h", "infusion_min", "ifn_miu"):
            object.__setattr__(self, name, _number(name, getattr(self, name)))
        for name in ("doses_per_cycle", "cycles"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"candidate {name}: must be a positive whole number, "
                                 f"got {value!r}")
            object.__setattr__(self, name, int(value))
        if self.cycles > MAX_CYCLES:
            raise ValueError(f"candidate cycles: at most {MAX_CYCLES}, got {self.cycles}")
        lo, hi = DOSE_RANGE
        if not lo <= self.dose_iu_per_kg <= hi:
            raise ValueError(f"candidate dose_iu_per_kg: {self.dose_iu_per_kg:g} IU/kg is "
                             f"outside {lo:g}-{hi:g} IU/kg")
        lo, hi = INTERVAL_RANGE
        if not lo <= self.interval_h <= hi:
            raise ValueError(f"candidate interval_h: {self.interval_h:g} h is outside "
                             f"{lo:g}-{hi:g} h")
        if self.route not in ROUTES:
            raise ValueError(f"candidate route: {self.route!r} is not one of "
                             f"{', '.join(ROUTES)}")
        if self.route != "iv" and self.infusion_min != 0.0:
            raise ValueError(f"candidate infusion_min: a {self.route.upper()} dose is an "
                             f"injection, give infusion_min=0 (got {self.infusion_min:g})")
        if 0.0 < self.infusion_min < 1.0 or self.infusion_min < 0.0:
            raise ValueError(f"candidate infusion_min: {self.infusion_min:g} min is shorter "
                             "than 1 min (use at least 1 min, or 0 for an IV bolus)")
        if self.infusion_min > 60.0 * self.interval_h:
            raise ValueError(f"candidate infusion_min: a {self.infusion_min:g}-min infusion "
                             f"does not end before the next dose {self.interval_h:g} h later")
        if self.doses_per_cycle > max_doses_per_cycle(self.interval_h):
            raise ValueError(f"candidate doses_per_cycle: {self.doses_per_cycle} doses every "
                             f"{self.interval_h:g} h do not fit in days 1-5 (at most "
                             f"{max_doses_per_cycle(self.interval_h)})")
        lo, hi = IFN_RANGE
        if not lo <= self.ifn_miu <= hi:
            raise ValueError(f"candidate ifn_miu: {self.ifn_miu:g} MIU is outside "
                             f"{lo:g}-{hi:g} MIU")

    @property
    def name(self) -> str:
        """A short label, e.g. ``"600k IU/kg q8h x14, 15 min"`` or
        ``"150k IU/kg SC q24h x5 + IFN 6 MIU tiw"``."""
        if self.route == "iv":
            how = f"{self.infusion_min:g} min" if self.infusion_min else "IV bolus"
            text = (f"{self.dose_iu_per_kg / 1e3:g}k IU/kg q{self.interval_h:g}h "
                    f"x{self.doses_per_cycle}, {how}")
        else:
            text = (f"{self.dose_iu_per_kg / 1e3:g}k IU/kg {self.route.upper()} "
                    f"q{self.interval_h:g}h x{self.doses_per_cycle}")
        if self.cycles != 2:
            text += f", {self.cycles} cycles"
        if self.ifn_miu:
            text += f" + IFN {self.ifn_miu:g} MIU tiw"
        return text

    @property
    def total_dose_iu_per_kg(self) -> float:
        """Total scheduled IL-2 dose over all cycles, IU/kg."""
        return self.dose_iu_per_kg * self.doses_per_cycle * self.cycles

    def times_h(self) -> NDArray[np.float64]:
        """Scheduled IL-2 dose times, hours from the start of treatment."""
        one = self.interval_h * np.arange(self.doses_per_cycle)
        starts = 24.0 * CYCLE_PERIOD_DAYS * np.arange(self.cycles)
        return np.asarray((starts[:, None] + one[None, :]).ravel(), dtype=np.float64)

    def regimen(self) -> Regimen:
        """The il2sim :class:`~il2sim.dosing.Regimen`: one administration per cycle
        (labelled ``"cycle k"``), and the interferon doses (labelled ``"interferon"``)."""
        amount = f"{self.dose_iu_per_kg:.17g} IU/kg"
        drug: Infusion | Bolus | Depot | Intratumoral
        if self.route == "iv" and self.infusion_min > 0:
            drug = Infusion(amount=amount, duration=f"{self.infusion_min:.17g} min",
                            route="iv")
        elif self.route == "iv":
            drug = Bolus(amount=amount, route="iv")
        elif self.route == "sc":
            drug = Depot(amount=amount, route="sc")
        else:
            drug = Intratumoral(amount=amount, route="it")
        items = [Administration(drug, Schedule(
            every=f"{self.interval_h:.17g} h", count=self.doses_per_cycle,
            start=f"{24.0 * CYCLE_PERIOD_DAYS * k:.17g} h"), f"cycle {k + 1}", drug="IL-2",
            cycle=k + 1) for k in range(self.cycles)]
        if self.ifn_miu > 0:
            weeks = self.cycles * CYCLE_PERIOD_DAYS // 7
            items.append(Administration(
                Depot(amount=f"{self.ifn_miu:.17g} MIU", route="ifn_sc"),
                Schedule(weekdays=IFN_WEEKDAYS, weeks=weeks, times=(IFN_TIME,)),
                PARTNER_LABEL, drug=PARTNER_DRUG))
        return Regimen(tuple(items), name=self.name)

    def protocol(self, holds: bool) -> Protocol:
        """One course of :meth:`regimen`: the IL-2 doses under the label's hold rules
        (``holds``) or all given, the interferon doses as scheduled."""
        regimen = self.regimen()
        drugs = []
        for name, rules in (("IL-2", LABEL_HOLDS if holds else None), (PARTNER_DRUG, None)):
            mine = tuple(a for a in regimen.administrations if a.drug == name)
            if mine:
                drugs.append(Drug.of(name, Regimen(mine, name=self.name), holds=rules))
        return Protocol(tuple(drugs), name=self.name)

    def as_dict(self) -> dict[str, object]:
        return {"dose_iu_per_kg": self.dose_iu_per_kg, "interval_h": self.interval_h,
                "doses_per_cycle": self.doses_per_cycle, "infusion_min": self.infusion_min,
                "cycles": self.cycles, "route": self.route, "ifn_miu": self.ifn_miu}


def max_doses_per_cycle(interval_h: float) -> int:
    """The most doses ``interval_h`` apart that start within days 1-5 (before 120 h)."""
    return int(math.ceil(CYCLE_WINDOW_H / interval_h - 1e-9))


LABEL = Candidate(600000.0, 8.0, 14, 15.0)
"""The label regimen: 600,000 IU/kg over 15 min every 8 h, at most 14 doses, days 1-5 and
15-19 (Proleukin label, section 2.1)."""


# --------------------------------------------------------------------------- protocol


# --------------------------------------------------------------------------- evaluation


def _indicators(endpoints: pd.DataFrame, doses: pd.DataFrame,
                ids: NDArray[np.int64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Per-patient values of the rates and of ``held``, shape (len(RATES) + 1, n), NaN for
    a failed patient; and per patient the doses held and scheduled, shape (2, n)."""
    e = endpoints.set_index("patient").reindex(ids)
    ok = e["bor"].notna().to_numpy()
    bor = e["bor"].to_numpy(object)
    grade = pd.to_numeric(e["tox_hypotension_grade"], errors="coerce").to_numpy(float)
    counts = held_doses(doses[doses["drug"] != PARTNER_DRUG]).reindex(ids).fillna(0.0)
    held, scheduled = counts["held"].to_numpy(float), counts["listed"].to_numpy(float)
    values = np.vstack([
        is_responder(bor).to_numpy(),
        bor == "CR",
        e["sbp_min"].to_numpy(float) < 90.0,
        grade >= 3,
        (e["death_cause"].fillna("") == "treatment").to_numpy(),
        counts["fraction_held"].to_numpy(float),
    ]).astype(float)
    values[:, ~ok] = np.nan
    return values, np.vstack([held, scheduled])


def _dor(endpoints: pd.DataFrame, ids: NDArray[np.int64]) -> tuple[NDArray[np.float64],
                                                                    NDArray[np.bool_]]:
    """Per patient: duration of response (NaN for non-responders and failures) and event."""
    e = endpoints.set_index("patient").reindex(ids)
    responder = is_responder(e["bor"]).to_numpy()
    dor = np.where(responder, pd.to_numeric(e["dor_d"], errors="coerce").to_numpy(float),
                   np.nan)
    event = e["dor_event"].fillna(False).to_numpy(bool)
    return dor, event


def _percentile(values: NDArray[np.float64], confidence: float) -> tuple[float, float]:
    """Bootstrap percentile interval; infinities count as large values, NaN are left out."""
    finite = values[~np.isnan(values)]
    if finite.size < 2:
        return math.nan, math.nan
    alpha = (1.0 - confidence) / 2.0
    lo, hi = np.quantile(finite, [alpha, 1.0 - alpha], method="inverted_cdf")
    return float(lo), float(hi)


def evaluate(candidates: Sequence[Candidate], *, population: Population, n_patients: int,
             seed: int, mortality: MortalityModel | None = None, horizon_days: float = 365.0,
             backend: str = "native", model: str = "il2_qsp", holds: bool = False,
             n_boot: int = 200, confidence: float = 0.95, chunk_size: int | None = None,
             progress: Progress | None = None) -> pd.DataFrame:
    """Simulate each candidate on the same virtual patients and tabulate efficacy and toxicity.

    Main arguments:
        candidates: the regimens to compare.
        population: the virtual population, sampled once (``population.sample(n_patients,
            seed)``) and reused for every candidate.
        n_patients: patients per candidate.
        seed: seed of the population sample, of the per-patient scan and death streams and
            of the bootstrap.

    Other arguments:
        mortality: disease and treatment-related death model (default
            :class:`~il2sim.trial.endpoints.MortalityModel`; use
            :func:`~il2sim.trial.calibrated_mortality` with a calibrated population).
        horizon_days: follow-up, days.
        backend: simulation backend (``"native"`` or ``"scipy"``).
        model: model name (the flagship ``"il2_qsp"`` by default).
        holds: apply the label's withhold and cycle-stop rules to the IL-2 doses (see the
            module notes); ``False``: every scheduled dose is given.
        n_boot: bootstrap resamples of the patients (the same resamples for every candidate).
        confidence: level of the intervals.
        chunk_size: patients per simulation chunk (default all at once; results do not
            depend on it).
        progress: called as ``progress(done, total, candidate)`` after each candidate.

    Returns:
        One row per candidate, in the order given: ``name``, the candidate's fields,
        ``total_dose_iu_per_kg``, ``is_label``, ``n`` (patients scored), ``n_failed``
        (simulations that failed, left out of the metrics), then for each metric in
        :data:`METRICS` the columns ``x_n``, ``x``, ``x_lo``, ``x_hi``, ``x_se``; and
        ``candidate`` (the :class:`Candidate`).

    Raises:
        ValueError: no candidates, ``n_patients < 1`` or ``n_boot < 2``.
    """
    candidates = list(candidates)
    if not candidates:
        raise ValueError("evaluate: no candidates")
    for c in candidates:
        if not isinstance(c, Candidate):
            raise TypeError(f"evaluate: {c!r} is not a Candidate")
    score = _Evaluator(population=population, n_patients=n_patients, seed=seed,
                       mortality=mortality, horizon_days=horizon_days, backend=backend,
                       model=model, holds=holds, n_boot=n_boot, confidence=confidence,
                       chunk_size=chunk_size)
    rows = []
    for done, cand in enumerate(candidates, start=1):
        rows.append(_row(cand, score(cand)))
        if progress is not None:
            progress(done, len(candidates), cand)
    return pd.DataFrame(rows)


def _row(cand: Candidate, metrics: Mapping[str, object]) -> dict[str, object]:
    """A table row: the candidate's name and fields, its metrics, the candidate itself."""
    return {"name": cand.name, **cand.as_dict(),
            "total_dose_iu_per_kg": cand.total_dose_iu_per_kg, "is_label": cand == LABEL,
            **metrics, "candidate": cand}


class _Evaluator:
    """The metrics of one candidate on patients sampled once (common random numbers)."""

    def __init__(self, *, population: Population, n_patients: int, seed: int,
                 mortality: MortalityModel | None, horizon_days: float, backend: str,
                 model: str, holds: bool, n_boot: int, confidence: float,
                 chunk_size: int | None) -> None:
        if n_patients < 1:
            raise ValueError(f"evaluate: n_patients must be >= 1, got {n_patients}")
        if n_boot < 2:
            raise ValueError(f"evaluate: n_boot must be >= 2, got {n_boot}")
        self.n_patients, self.seed, self.population = n_patients, seed, population
        self.model_name, self.horizon_days, self.backend = model, horizon_days, backend
        self.mortality = mortality if mortality is not None else MortalityModel()
        self.holds = holds
        self.model = get_model(model)
        patients = population.sample(n_patients, seed)
        self.ids = patients["patient"].to_numpy(np.int64)
        self.size = chunk_size or n_patients
        self.chunks = [patients.iloc[i: i + self.size] for i in range(0, n_patients, self.size)]
        self.boot = np.random.default_rng([seed, 0xB007]).integers(0, n_patients,
                                                                  (n_boot, n_patients))
        self.confidence = confidence

    def __call__(self, cand: Candidate) -> dict[str, object]:
        n_patients = self.n_patients
        spec = TrialSpec(name=cand.name, n_patients=n_patients, seed=self.seed,
                         population=self.population, model=self.model_name,
                         protocol="regimen", regimen=cand.regimen(),
                         plan=cand.protocol(self.holds), horizon_days=self.horizon_days,
                         mortality=self.mortality, backend=self.backend, chunk_size=self.size)
        frames = [simulate_chunk(spec, self.model, chunk) for chunk in self.chunks]
        endpoints = pd.concat([f["endpoints"] for f in frames], ignore_index=True)
        doses = pd.concat([f["doses"] for f in frames], ignore_index=True)
        values, held_counts = _indicators(endpoints, doses, self.ids)
        ok = ~np.isnan(values[0])
        n = int(ok.sum())
        row: dict[str, object] = {"n": n, "n_failed": n_patients - n}
        boot, confidence = self.boot, self.confidence
        resampled = values[:, boot]                    # (metric, boot, patient)
        weight = (~np.isnan(resampled)).sum(axis=2)
        with np.errstate(invalid="ignore", divide="ignore"):
            boot_rates = np.nansum(resampled, axis=2) / weight
        for m, metric in enumerate((*RATES, "held")):
            finite = boot_rates[m][np.isfinite(boot_rates[m])]
            se = float(np.std(finite, ddof=1)) if len(finite) > 1 else math.nan
            if metric == "held":
                k = int(held_counts[0][ok].sum())
                value = float(np.nanmean(values[m])) if n else math.nan
                lo, hi = _percentile(boot_rates[m], confidence)
            else:
                k = int(np.nansum(values[m]))
                value = k / n if n else math.nan
                lo, hi = (clopper_pearson(k, n, confidence=confidence) if n
                          else (math.nan, math.nan))
            row.update({f"{metric}_n": k, metric: value, f"{metric}_lo": lo,
                        f"{metric}_hi": hi, f"{metric}_se": se})
        dor, event = _dor(endpoints, self.ids)
        responders = ~np.isnan(dor)
        medians = np.array([km_median(dor[b][responders[b]], event[b][responders[b]])
                            for b in boot])
        finite = medians[np.isfinite(medians)]
        lo, hi = _percentile(medians, confidence)
        row.update({"dor_median_n": int(responders.sum()),
                    "dor_median": km_median(dor[responders], event[responders]),
                    "dor_median_lo": lo, "dor_median_hi": hi,
                    "dor_median_se": float(np.std(finite, ddof=1)) if len(finite) > 1
                    else math.nan})
        return row


# --------------------------------------------------------------------------- Pareto front


def pareto_front(frame: pd.DataFrame, efficacy: str = "orr",
                 toxicity: str = "hypotension") -> pd.DataFrame:
    """Mark the non-dominated rows: maximise ``efficacy``, minimise ``toxicity``.

    Row ``a`` dominates row ``b`` when ``eff_a >= eff_b`` and ``tox_a <= tox_b``, one of
    them strictly. Rows with equal values do not dominate each other (both can be on the
    front); ``inf`` compares as a value (a median duration not reached); a row with a
    missing value is not compared: it is never on the front, dominates
    nothing and has ``dominated_by`` 0.

    Returns:
        a copy of ``frame`` with ``pareto`` (bool: on the front) and ``dominated_by`` (how
        many rows dominate it).

    Raises:
        ValueError: a missing column.
    """
    for col in (efficacy, toxicity):
        if col not in frame.columns:
            raise ValueError(f"pareto_front: missing column {col!r}")
    eff = pd.to_numeric(frame[efficacy], errors="coerce").to_numpy(float)
    tox = pd.to_numeric(frame[toxicity], errors="coerce").to_numpy(float)
    valid = ~np.isnan(eff) & ~np.isnan(tox)  # inf is a value (a median not reached)
    e, t = np.where(valid, eff, -np.inf), np.where(valid, tox, np.inf)
    # dom[i, j]: row j dominates row i
    dom = ((e[None, :] >= e[:, None]) & (t[None, :] <= t[:, None])
           & ((e[None, :] > e[:, None]) | (t[None, :] < t[:, None])) & valid[None, :])
    out = frame.copy()
    out["dominated_by"] = np.where(valid, dom.sum(axis=1), 0).astype(np.int64)
    out["pareto"] = valid & (out["dominated_by"].to_numpy() == 0)
    return out


# --------------------------------------------------------------------------- search


def _bounds(value: tuple[float, float], what: str, lo: float, hi: float) -> tuple[float, float]:
    a, b = (float(v) for v in value)
    if not (math.isfinite(a) and math.isfinite(b)) or a > b:
        raise ValueError(f"search space {what}: give (low, high) with low <= high, got {value!r}")
    if a < lo or b > hi:
        raise ValueError(f"search space {what}: {value!r} is outside {lo:g}-{hi:g}")
    return a, b


SPACE_ROUTES = ("iv", "iv_bolus", "sc", "it")
"""Route options of a :class:`SearchSpace`: IV infusion (duration searched), IV bolus, SC, IT."""
DIMENSIONS = 6
"""Coordinates of a point of the search space's unit hypercube."""


@dataclass(frozen=True)
class SearchSpace:
    """Ranges of the searched regimen parameters (each ``(low, high)``, inclusive) and options.

    A point ``u`` of the 6-dimensional unit hypercube maps to a candidate: dose linear in its
    range (rounded to ``dose_step`` IU/kg), interval and doses per cycle uniform over the
    whole numbers of their ranges, infusion duration linear (rounded to whole minutes), the
    route uniform over ``routes`` and the interferon dose uniform over ``ifn_miu``. Doses
    per cycle are capped to those that fit in days 1-5 at the drawn interval, and the
    infusion to the interval; a route other than ``"iv"`` has no infusion.

    Other arguments:
        routes: route options from :data:`SPACE_ROUTES` (``"iv_bolus"``: IV push).
        ifn_miu: interferon-alpha doses per injection to choose from, MIU (0: none).
    """

    dose_iu_per_kg: tuple[float, float] = (2.0e5, 9.0e5)
    interval_h: tuple[float, float] = (6.0, 12.0)
    doses_per_cycle: tuple[int, int] = (6, 15)
    infusion_min: tuple[float, float] = (15.0, 120.0)
    cycles: int = 2
    dose_step: float = 1.0e4
    routes: tuple[str, ...] = ("iv",)
    ifn_miu: tuple[float, ...] = (0.0,)

    def __post_init__(self) -> None:
        object.__setattr__(self, "dose_iu_per_kg",
                           _bounds(self.dose_iu_per_kg, "dose_iu_per_kg", *DOSE_RANGE))
        object.__setattr__(self, "interval_h",
                           _bounds(self.interval_h, "interval_h", *INTERVAL_RANGE))
        n_lo, n_hi = _bounds(self.doses_per_cycle, "doses_per_cycle", 1, 1000)
        if n_lo != int(n_lo) or n_hi != int(n_hi):
            raise ValueError("search space doses_per_cycle: give whole numbers")
        object.__setattr__(self, "doses_per_cycle", (int(n_lo), int(n_hi)))
        object.__setattr__(self, "infusion_min",
                           _bounds(self.infusion_min, "infusion_min", 1.0, 60 * INTERVAL_RANGE[1]))
        if self.infusion_min[0] > 60.0 * self.interval_h[0]:
            raise ValueError("search space: the shortest infusion is longer than the shortest "
                             "interval")
        if isinstance(self.cycles, bool) or not 1 <= self.cycles <= MAX_CYCLES:
            raise ValueError(f"search space cycles: must be 1..{MAX_CYCLES}, got {self.cycles}")
        if not self.dose_step > 0:
            raise ValueError(f"search space dose_step: must be positive, got {self.dose_step}")
        routes = tuple(self.routes)
        bad = [r for r in routes if r not in SPACE_ROUTES]
        if not routes or bad or len(set(routes)) != len(routes):
            raise ValueError(f"search space routes: give distinct routes from "
                             f"{', '.join(SPACE_ROUTES)}, got {self.routes!r}")
        object.__setattr__(self, "routes", routes)
        ifn = tuple(float(v) for v in self.ifn_miu)
        if not ifn or len(set(ifn)) != len(ifn) or not all(
                IFN_RANGE[0] <= v <= IFN_RANGE[1] for v in ifn):
            raise ValueError(f"search space ifn_miu: give distinct doses in "
                             f"{IFN_RANGE[0]:g}-{IFN_RANGE[1]:g} MIU, got {self.ifn_miu!r}")
        object.__setattr__(self, "ifn_miu", ifn)

    def candidate(self, u: Sequence[float] | NDArray[np.float64]) -> Candidate:
        """The candidate at the point ``u`` of the unit hypercube (6 coordinates in [0, 1]:
        dose, interval, doses per cycle, infusion, route, interferon)."""
        point = np.asarray(u, dtype=float)
        if point.shape != (DIMENSIONS,):
            raise ValueError(f"search space: a point has {DIMENSIONS} coordinates, got shape "
                             f"{point.shape}")
        u = np.clip(point, 0.0, 1.0 - 1e-12)
        d_lo, d_hi = self.dose_iu_per_kg
        dose = float(np.clip(round((d_lo + u[0] * (d_hi - d_lo)) / self.dose_step)
                             * self.dose_step, d_lo, d_hi))
        i_lo, i_hi = math.ceil(self.interval_h[0]), math.floor(self.interval_h[1])
        interval = (float(i_lo + math.floor(u[1] * (i_hi - i_lo + 1))) if i_lo <= i_hi
                    else self.interval_h[0] + u[1] * (self.interval_h[1] - self.interval_h[0]))
        n_lo, n_hi = self.doses_per_cycle
        n = min(n_lo + math.floor(u[2] * (n_hi - n_lo + 1)), max_doses_per_cycle(interval))
        f_lo, f_hi = self.infusion_min
        infusion = max(min(float(round(f_lo + u[3] * (f_hi - f_lo))), 60.0 * interval), 1.0)
        route = self.routes[math.floor(u[4] * len(self.routes))]
        ifn = self.ifn_miu[math.floor(u[5] * len(self.ifn_miu))]
        if route != "iv":
            infusion = 0.0
        return Candidate(dose, interval, max(n, 1), infusion, cycles=self.cycles,
                         route="iv" if route == "iv_bolus" else route, ifn_miu=ifn)

    def grid(self) -> tuple[int | None, ...]:
        """Per coordinate of :meth:`candidate`: the number of values it takes when it is
        discrete (interval in whole hours, doses per cycle, route, interferon dose), ``None``
        when it is continuous (dose, infusion duration; an interval range without a whole
        hour), 1 when it is fixed (a zero-width range, or infusions without IV routes)."""
        d_lo, d_hi = self.dose_iu_per_kg
        i_lo, i_hi = math.ceil(self.interval_h[0]), math.floor(self.interval_h[1])
        interval = (i_hi - i_lo + 1 if i_lo <= i_hi
                    else None if self.interval_h[0] < self.interval_h[1] else 1)
        f_lo, f_hi = self.infusion_min
        return (None if d_lo < d_hi else 1, interval,
                self.doses_per_cycle[1] - self.doses_per_cycle[0] + 1,
                None if f_lo < f_hi and "iv" in self.routes else 1,
                len(self.routes), len(self.ifn_miu))

    def sample(self, n: int, seed: int, *, method: str = "sobol") -> list[Candidate]:
        """``n`` distinct candidates from a scrambled Sobol' sequence or a Latin hypercube.

        Points mapping to a candidate already drawn are skipped, so fewer than ``n`` come
        back only if the space holds fewer distinct candidates.
        """
        return [c for _, c in self.sample_points(n, seed, method=method)]

    def sample_points(self, n: int, seed: int | Sequence[int], *, method: str = "sobol",
                      centre: Sequence[float] | NDArray[np.float64] | None = None,
                      width: float = 1.0, exclude: Sequence[Candidate] = (),
                      ) -> list[tuple[NDArray[np.float64], Candidate]]:
        """Up to ``n`` distinct candidates with their points of the unit hypercube.

        Points are drawn in the box ``centre +- width / 2`` (clipped to the unit cube;
        default the whole cube) and mapped by :meth:`candidate`; candidates in ``exclude``
        or drawn before are skipped.

        Raises:
            ValueError: ``n < 1``, an unknown method, a width outside (0, 1], or a centre
                without 6 coordinates in [0, 1].
        """
        if n < 1:
            raise ValueError(f"search space: n must be >= 1, got {n}")
        if not 0.0 < width <= 1.0:
            raise ValueError(f"search space: width must be in (0, 1], got {width}")
        mid = np.full(DIMENSIONS, 0.5) if centre is None else np.asarray(centre, dtype=float)
        if mid.shape != (DIMENSIONS,) or np.any((mid < 0) | (mid > 1)):
            raise ValueError(f"search space: the centre is a point of the unit cube with "
                             f"{DIMENSIONS} coordinates, got {centre!r}")
        lo = np.clip(mid - width / 2.0, 0.0, 1.0)
        hi = np.clip(mid + width / 2.0, 0.0, 1.0)
        if method == "sobol":
            engine: qmc.QMCEngine = qmc.Sobol(DIMENSIONS, scramble=True,
                                              rng=np.random.default_rng(seed))
        elif method == "lhs":
            engine = qmc.LatinHypercube(DIMENSIONS, rng=np.random.default_rng(seed))
        else:
            raise ValueError(f"search space: method must be 'sobol' or 'lhs', got {method!r}")
        out: list[tuple[NDArray[np.float64], Candidate]] = []
        seen: set[Candidate] = set(exclude)
        for _ in range(8):
            m = max(1, math.ceil(math.log2(max(n, 2))))
            points = engine.random_base2(m) if method == "sobol" else engine.random(2 * n)
            for point in points:
                u = np.asarray(lo + point * (hi - lo), dtype=np.float64)
                c = self.candidate(u)
                if c not in seen:
                    seen.add(c)
                    out.append((u, c))
                if len(out) == n:
                    return out
        return out

    def as_dict(self) -> dict[str, object]:
        """The space as plain values (for storing with the results)."""
        return {"dose_iu_per_kg": list(self.dose_iu_per_kg),
                "interval_h": list(self.interval_h),
                "doses_per_cycle": list(self.doses_per_cycle),
                "infusion_min": list(self.infusion_min), "cycles": self.cycles,
                "dose_step": self.dose_step, "routes": list(self.routes),
                "ifn_miu": list(self.ifn_miu)}


@dataclass(frozen=True)
class OptimizationResult:
    """What :func:`optimize` found.

    Attributes:
        table: every evaluated candidate (as :func:`evaluate`) with ``pareto``,
            ``dominated_by`` and ``feasible`` (every toxicity within its ceiling).
        best: the most effective feasible candidate (ties: less toxic, then lower total
            dose), or ``None`` when none is feasible.
        efficacy, toxicity: the columns of the Pareto front.
        constraints: toxicity metric -> ceiling (a fraction).
        conservative: ceilings were applied to the upper confidence limits.
        method: the search method (:data:`SEARCH_METHODS`).
    """

    table: pd.DataFrame
    best: Candidate | None
    efficacy: str
    toxicity: str
    constraints: dict[str, float] = field(default_factory=dict)
    conservative: bool = False
    method: str = "sobol"

    @property
    def max_toxicity(self) -> float | None:
        """The ceiling on the front's toxicity metric, if any."""
        return self.constraints.get(self.toxicity)

    @property
    def front(self) -> pd.DataFrame:
        """The non-dominated candidates, by increasing toxicity."""
        return self.table[self.table["pareto"]].sort_values([self.toxicity, self.efficacy])

    @property
    def label(self) -> pd.Series:
        """The label regimen's row."""
        return self.table[self.table["is_label"]].iloc[0]

    @property
    def dominating_label(self) -> pd.DataFrame:
        """Candidates that dominate the label regimen (empty if it is on the front)."""
        lab = self.label
        e, t = self.table[self.efficacy], self.table[self.toxicity]
        e0, t0 = lab[self.efficacy], lab[self.toxicity]
        return self.table[(e >= e0) & (t <= t0) & ((e > e0) | (t < t0))]

    @property
    def matching_label(self) -> pd.DataFrame:
        """Other candidates with the label's efficacy and toxicity exactly (ties)."""
        lab = self.label
        same = ((self.table[self.efficacy] == lab[self.efficacy])
                & (self.table[self.toxicity] == lab[self.toxicity]))
        return self.table[same & ~self.table["is_label"]]

    def summary(self) -> pd.DataFrame:
        """The front, the label and the best candidate, one row each (a compact table)."""
        cols = ["name", self.efficacy, f"{self.efficacy}_lo", f"{self.efficacy}_hi",
                self.toxicity, f"{self.toxicity}_lo", f"{self.toxicity}_hi",
                *[c for c in self.constraints if c != self.toxicity],
                "is_label", "pareto", "feasible"]
        cols = list(dict.fromkeys(c for c in cols if c in self.table))
        keep = self.table["pareto"] | self.table["is_label"]
        if self.best is not None:
            keep |= self.table["candidate"] == self.best
        return self.table.loc[keep, cols].sort_values([self.toxicity, self.efficacy])


def optimize(space: SearchSpace, *, seed: int, n_candidates: int,
             population: Population | None = None, n_patients: int | None = None,
             max_toxicity: float | None = None, efficacy: str = "orr",
             toxicity: str = "hypotension", constraints: Mapping[str, float] | None = None,
             holds: bool = False, method: str = "sobol", conservative: bool = False,
             refine: int = 0, shrink: float = 0.5, include: Sequence[Candidate] = (LABEL,),
             mortality: MortalityModel | None = None, horizon_days: float = 365.0,
             backend: str = "native", model: str = "il2_qsp", n_boot: int = 200,
             evaluator: Evaluator | None = None,
             progress: Progress | None = None) -> OptimizationResult:
    """Search ``space`` for the most effective regimen under toxicity ceilings.

    Evaluates ``include`` (the label regimen always, even if ``include`` omits it) and up to
    ``n_candidates`` candidates of ``space`` on the same patients (:func:`evaluate`), marks
    the Pareto front of ``efficacy`` against ``toxicity`` over *every* evaluated candidate
    and picks the best feasible one: the highest ``efficacy`` among those with every
    constrained metric at or below its ceiling (never an infeasible one; ``None`` when
    none is feasible).

    Methods:

    * ``"sobol"``, ``"lhs"``: ``n_candidates`` points of a seeded scrambled Sobol' sequence
      or Latin hypercube. With ``refine = k``, k more rounds follow (a zooming
      quasi-random search): round r draws ``n_candidates`` new candidates in a box of
      width ``shrink**r`` of the unit hypercube centred on the best feasible drawn
      candidate so far.
    * ``"de"``: differential evolution (Storn & Price, J Glob Optim 11:341, 1997;
      ``scipy.optimize.differential_evolution``, strategy best1bin, seeded, ``polish=False``)
      maximising ``efficacy`` under the ceilings, which are passed as a
      ``NonlinearConstraint`` (Lampinen's feasibility rules: a feasible candidate beats an
      infeasible one, two infeasible ones compare by their constraint violation). The
      discrete coordinates of the space (whole-hour interval, doses per cycle, route,
      interferon dose) are integer variables (``integrality``), the dose and infusion
      duration continuous. The energy minimised is ``-efficacy + 1e-4 * toxicity`` (the
      small term breaks ties of the efficacy rate, a multiple of ``1/n``, towards less
      toxicity; an unestimable efficacy scores as the worst). The initial population
      is a seeded Latin hypercube of ``m = min(max(5, round(2 sqrt(n_candidates))), 10 d)``
      points (``d`` the free coordinates); ``n_candidates`` is the budget of *distinct*
      candidates simulated (points mapping to a candidate already evaluated are looked
      up, not simulated again), and the search stops when it is spent, after 1000
      generations, or after 50 generations without a new candidate.

    Common random numbers hold across all candidates, rounds and generations. The
    table's ``round`` says which round (or DE generation; 0 for the initial design)
    first evaluated each candidate and ``u`` its point of the unit hypercube (``None``
    for included candidates no search drew).

    Main arguments:
        space: the searched ranges.
        seed: seeds the virtual patients (as :func:`evaluate`) and the search.
        n_candidates: candidates drawn from ``space`` (with ``"de"``: the most simulated).

    Other arguments:
        population, n_patients: the virtual patients (as :func:`evaluate`); required
            unless ``evaluator`` is given.
        max_toxicity: ceiling on the ``toxicity`` rate (a fraction), added to ``constraints``.
        efficacy: one of :data:`EFFICACY`; toxicity: one of :data:`TOXICITY`.
        constraints: toxicity metric -> ceiling, e.g. ``{"hypotension_g34": 0.5,
            "held": 0.3, "trd": 0.05}``.
        holds: apply the label's hold rules (needed for a ``held`` ceiling to bind).
        method: ``"sobol"``, ``"lhs"`` or ``"de"``.
        conservative: apply the ceilings to the upper confidence limits ``<metric>_hi``
            instead of the point estimates.
        refine, shrink: local refinement rounds and the box's shrink factor per round
            (``"sobol"`` and ``"lhs"`` only).
        include: candidates evaluated in addition to the drawn ones.
        mortality, horizon_days, backend, model, n_boot: as :func:`evaluate`.
        evaluator: replaces the simulation: ``evaluator(candidate)`` returns the metrics of
            one candidate (at least ``efficacy``, ``toxicity`` and the constrained metrics,
            with ``<metric>_hi`` when ``conservative``), e.g. a synthetic objective.
        progress: called as ``progress(done, total, candidate)`` after each candidate;
            with ``"de"`` ``total`` is the budget plus the included candidates until the
            search ends, then the number evaluated.

    Raises:
        ValueError: an unknown metric or method, a ceiling outside [0, 1],
            ``n_candidates < 1``, a negative ``refine`` (or any with ``"de"``), ``shrink``
            outside (0, 1), or neither ``evaluator`` nor ``population`` and ``n_patients``.
    """
    if efficacy not in EFFICACY:
        raise ValueError(f"optimize: unknown metric {efficacy!r} for efficacy; known: "
                         f"{', '.join(EFFICACY)}")
    ceilings = dict(constraints or {})
    if max_toxicity is not None:
        ceilings[toxicity] = max_toxicity
    for metric in (toxicity, *ceilings):
        if metric not in TOXICITY:
            raise ValueError(f"optimize: unknown metric {metric!r} for toxicity; known: "
                             f"{', '.join(TOXICITY)}")
    for metric, ceiling in ceilings.items():
        if isinstance(ceiling, bool) or not 0.0 <= float(ceiling) <= 1.0:
            raise ValueError(f"optimize: the ceiling on {metric} is a fraction in [0, 1], "
                             f"got {ceiling}")
    if n_candidates < 1:
        raise ValueError(f"optimize: n_candidates must be >= 1, got {n_candidates}")
    if method not in SEARCH_METHODS:
        raise ValueError(f"optimize: method must be one of {', '.join(SEARCH_METHODS)}, "
                         f"got {method!r}")
    if isinstance(refine, bool) or not isinstance(refine, int) or refine < 0:
        raise ValueError(f"optimize: refine must be a whole number >= 0, got {refine!r}")
    if method == "de" and refine:
        raise ValueError("optimize: refine is for the quasi-random searches ('sobol', "
                         "'lhs'); differential evolution spends the whole budget itself")
    if not 0.0 < shrink < 1.0:
        raise ValueError(f"optimize: shrink must be in (0, 1), got {shrink}")
    limits = {k: float(v) for k, v in ceilings.items()}
    if evaluator is None:
        if population is None or n_patients is None:
            raise ValueError("optimize: give population and n_patients (or an evaluator)")
        evaluator = _Evaluator(population=population, n_patients=n_patients, seed=seed,
                               mortality=mortality, horizon_days=horizon_days,
                               backend=backend, model=model, holds=holds, n_boot=n_boot,
                               confidence=0.95, chunk_size=None)
    included = list(dict.fromkeys([LABEL, *include]))
    log = _Log(evaluator, progress)
    if method == "de":
        log.total = len(included) + n_candidates
        for cand in included:
            log.add(cand, 0)
        _evolve(space, log, n_candidates, seed, efficacy, toxicity, limits, conservative)
        log.finish()
    else:
        drawn = space.sample_points(n_candidates, seed, method=method)
        log.total = len(dict.fromkeys([*included, *(c for _, c in drawn)]))
        for cand in included:
            log.add(cand, 0)
        for u, cand in drawn:
            log.add(cand, 0, u)
        for r in range(1, refine + 1):
            ranked, _ = _select(log.table(), efficacy, toxicity, limits, conservative)
            centre = next((log.points[c] for c in ranked if c in log.points), None)
            if centre is None:  # nothing feasible drawn: no box to refine in
                break
            new = space.sample_points(n_candidates, [seed, r], method=method, centre=centre,
                                      width=shrink ** r, exclude=list(log.rows))
            if not new:
                break
            log.total = len(log.rows) + len(new)
            for u, cand in new:
                log.add(cand, r, u)
    table = pareto_front(log.table(), efficacy, toxicity)
    ranked, table["feasible"] = _select(table, efficacy, toxicity, limits, conservative)
    best = ranked[0] if ranked else None
    return OptimizationResult(table, best, efficacy, toxicity, limits, conservative, method)


class _Log:
    """Every evaluated candidate once, in order, with its round and point."""

    def __init__(self, evaluator: Evaluator, progress: Progress | None) -> None:
        self.evaluator, self.progress = evaluator, progress
        self.rows: dict[Candidate, dict[str, object]] = {}
        self.points: dict[Candidate, NDArray[np.float64]] = {}
        self.total = 0

    def add(self, cand: Candidate, round_: int,
            u: NDArray[np.float64] | None = None) -> dict[str, object]:
        """The candidate's row, evaluated on first sight."""
        if u is not None and cand not in self.points:
            self.points[cand] = np.asarray(u, dtype=np.float64)
        if cand in self.rows:
            return self.rows[cand]
        row = _row(cand, self.evaluator(cand))
        row["round"] = round_
        self.rows[cand] = row
        if self.progress is not None:
            self.progress(len(self.rows), max(self.total, len(self.rows)), cand)
        return row

    def finish(self) -> None:
        """A search that ended below its budget: the last report says it is complete."""
        if self.progress is not None and self.rows and len(self.rows) < self.total:
            last = next(reversed(self.rows))
            self.progress(len(self.rows), len(self.rows), last)
        self.total = len(self.rows)

    def table(self) -> pd.DataFrame:
        table = pd.DataFrame(list(self.rows.values()))
        table["u"] = [None if c not in self.points else [float(v) for v in self.points[c]]
                      for c in table["candidate"]]
        return table


class _Spent(Exception):
    """The differential evolution's budget of new candidates is spent."""


DE_TIE = 1.0e-4
"""Weight of the toxicity tie-breaker in the differential evolution's energy."""
DE_MAX_GENERATIONS = 1000
DE_STALL = 50
"""Generations without a new candidate after which the differential evolution stops."""


def _evolve(space: SearchSpace, log: _Log, budget: int, seed: int, efficacy: str,
            toxicity: str, limits: Mapping[str, float], conservative: bool) -> None:
    """Differential evolution over ``space`` (see :func:`optimize`), filling ``log``."""
    grid = space.grid()
    free = [j for j, k in enumerate(grid) if k != 1]
    if not free:  # a single candidate: nothing to search
        log.add(space.candidate(np.full(DIMENSIONS, 0.5)), 0, np.full(DIMENSIONS, 0.5))
        return
    levels = [grid[j] or 0 for j in free]
    integer = np.array([k > 0 for k in levels])
    bounds = [(0.0, float(k - 1)) if k else (0.0, 1.0) for k in levels]
    drawn = [0]
    generation = [0, 0]  # generations done, the last one with a new candidate
    started = [False]    # the initial design is done: new candidates are of a generation

    def point(x: NDArray[np.float64]) -> NDArray[np.float64]:
        u = np.full(DIMENSIONS, 0.5)
        for j, k, v in zip(free, levels, x):
            u[j] = float(np.clip(v, 0.0, 1.0)) if not k else (
                float(np.clip(np.round(v), 0, k - 1)) + 0.5) / k
        return u

    def row(x: NDArray[np.float64]) -> dict[str, object]:
        u = point(np.asarray(x, dtype=float))
        cand = space.candidate(u)
        if cand not in log.rows:
            if drawn[0] >= budget:
                raise _Spent
            drawn[0] += 1
            generation[1] = generation[0]
        return log.add(cand, generation[0] + 1 if started[0] else 0, u)

    def energy(x: NDArray[np.float64]) -> float:
        r = row(x)
        e, t = float(r[efficacy]), float(r[toxicity])  # type: ignore[arg-type]
        base = 1.0 if math.isnan(e) else (-1.0e12 if math.isinf(e) else -e)
        return base + DE_TIE * (0.0 if math.isnan(t) else t)

    names = [f"{m}_hi" if conservative else m for m in limits]

    def violation(x: NDArray[np.float64]) -> NDArray[np.float64]:
        r = row(x)
        values = np.array([float(r[n]) for n in names])  # type: ignore[arg-type]
        return np.where(np.isnan(values), 2.0, values)

    def after(intermediate_result: OptimizeResult) -> bool:
        generation[0] += 1
        return generation[0] - generation[1] >= DE_STALL

    m = min(max(5, round(2.0 * math.sqrt(budget))), 10 * len(free))
    unit = qmc.LatinHypercube(len(free), rng=np.random.default_rng([seed, 0xDE])).random(m)
    init = np.array([[min(math.floor(v * k), k - 1) if k else v for v, k in zip(row_, levels)]
                     for row_ in unit], dtype=float)
    constraint = [NonlinearConstraint(violation, -np.inf, np.array(list(limits.values()))
                                      + 1e-12)] if limits else []
    try:
        for x in init:  # the initial design, round 0
            energy(x)
            if limits:
                violation(x)
        started[0] = True
        differential_evolution(energy, bounds, init=init, polish=False, tol=0.0, atol=0.0,
                               maxiter=DE_MAX_GENERATIONS, constraints=constraint,
                               integrality=integer, callback=after,
                               rng=np.random.default_rng([seed, 0xDE, 1]))
    except _Spent:
        pass


def _select(table: pd.DataFrame, efficacy: str, toxicity: str, limits: Mapping[str, float],
            conservative: bool) -> tuple[list[Candidate], NDArray[np.bool_]]:
    """Feasible candidates from best to worst (efficacy, then less toxic, then lower total
    dose), and the feasibility mask."""
    feasible = np.ones(len(table), dtype=bool)
    for metric, ceiling in limits.items():
        limit = table[f"{metric}_hi" if conservative else metric].to_numpy(float)
        feasible &= limit <= ceiling + 1e-12
    ok = table[feasible & table[efficacy].notna().to_numpy()]
    order = ok.sort_values([efficacy, toxicity, "total_dose_iu_per_kg"],
                           ascending=[False, True, True], kind="stable")
    return list(order["candidate"]), feasible


# --------------------------------------------------------------------------- plot


def plot_pareto(frame: pd.DataFrame, path: str | PathLike[str] | None = None, *,
                efficacy: str = "orr", toxicity: str = "hypotension",
                max_toxicity: float | None = None, title: str | None = None,
                figsize: tuple[float, float] = (6.5, 5.0), dpi: float = 120) -> Figure:
    """Efficacy against toxicity per candidate, with confidence intervals and the front.

    Error bars are the intervals ``x_lo``/``x_hi`` when present (Clopper-Pearson for
    rates, bootstrap percentiles otherwise), else +-1 bootstrap SE (``x_se``). Rates are
    drawn in %, ``dor_median`` in months (a median not reached above the others). The
    front (computed if ``frame`` has no ``pareto`` column) is joined by a step line; the
    label regimen is annotated.

    Returns:
        the figure; saved to ``path`` when given (format from the suffix).
    """
    if "pareto" not in frame.columns:
        frame = pareto_front(frame, efficacy, toxicity)
    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    ax: Axes = fig.add_subplot()
    (fx, xunit), (fy, yunit) = _scale(toxicity), _scale(efficacy)
    x, y = fx * frame[toxicity].to_numpy(float), fy * frame[efficacy].to_numpy(float)
    xerr, yerr = _err(frame, toxicity), _err(frame, efficacy)
    xerr = None if xerr is None else np.nan_to_num(fx * xerr, posinf=0.0)
    yerr = None if yerr is None else np.nan_to_num(fy * yerr, posinf=0.0)
    not_reached = np.isposinf(y)
    if not_reached.any():  # a median not reached: drawn above the largest finite value
        top = np.nanmax(np.where(np.isfinite(y), y, np.nan)) if np.isfinite(y).any() else 1.0
        y = np.where(not_reached, 1.1 * top + 1e-9, y)
        if yerr is not None:
            yerr[:, not_reached] = 0.0
        ax.axhline(1.1 * top + 1e-9, color="grey", linestyle=":", linewidth=0.8,
                   label="not reached")
    front = frame["pareto"].to_numpy(bool)
    for mask, style in ((~front, {"color": "tab:grey", "alpha": 0.6, "label": "dominated"}),
                        (front, {"color": "tab:red", "label": "Pareto front"})):
        if mask.any():
            ax.errorbar(x[mask], y[mask],
                        xerr=None if xerr is None else xerr[:, mask],
                        yerr=None if yerr is None else yerr[:, mask],
                        fmt="o", markersize=5, elinewidth=0.7, capsize=2, **style)
    if front.any():
        order = np.argsort(x[front], kind="stable")
        ax.step(x[front][order], y[front][order], where="post", color="tab:red",
                linewidth=1.0)
    if "is_label" in frame.columns and frame["is_label"].any():
        i = int(np.flatnonzero(frame["is_label"].to_numpy(bool))[0])
        ax.plot(x[i], y[i], marker="*", markersize=14, color="tab:blue",
                linestyle="none", label="label regimen")
        ax.annotate("label", (x[i], y[i]), xytext=(8, -12),
                    textcoords="offset points", color="tab:blue")
    if max_toxicity is not None:
        ax.axvline(fx * max_toxicity, color="black", linestyle="--", linewidth=0.8,
                   label="toxicity ceiling")
    ax.set(xlabel=f"{toxicity} ({xunit})", ylabel=f"{efficacy} ({yunit})",
           title=title or f"{efficacy} vs {toxicity}: {len(frame)} regimens")
    ax.legend(loc="best", frameon=False, fontsize="small")
    if path is not None:
        fig.savefig(Path(path), dpi=dpi)
    return fig


def _scale(metric: str) -> tuple[float, str]:
    """Display factor and unit: rates in %, a median duration in months (30.4375 d)."""
    return (1.0 / 30.4375, "months") if metric == "dor_median" else (100.0, "%")


def format_metric(metric: str, value: float) -> str:
    """A metric as printed: a fraction 0.075 as ``7.5%``, a median duration in months."""
    factor, unit = _scale(metric)
    return f"{value * factor:.1f}{unit}" if unit == "%" else f"{value * factor:.1f} {unit}"


def for_file(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` as written to a file: values as computed (rates as proportions, which
    have no unit), the unit in the header of a column that has one: ``dor_median (day)``
    (with ``_lo``, ``_hi``, ``_se``)."""
    return frame.rename(columns={c: header(c, "day") for c in frame.columns
                                 if c in ("dor_median", "dor_median_lo", "dor_median_hi",
                                          "dor_median_se")})


def in_units(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its metric columns (:data:`METRICS`, with ``_lo``/``_hi``/``_se``) in
    display units, one decimal, the unit in the header: ``orr`` 0.075 -> ``orr (%)`` 7.5."""
    renamed: dict[str, str] = {}
    out = frame.copy()
    for column in frame.columns:
        metric = next((m for m in METRICS
                       if column in (m, f"{m}_lo", f"{m}_hi", f"{m}_se")), None)
        if metric is None or not pd.api.types.is_numeric_dtype(frame[column]):
            continue
        factor, unit = _scale(metric)
        out[column] = (frame[column] * factor).round(1)
        renamed[column] = header(column, unit)
    return out.rename(columns=renamed)


def _err(frame: pd.DataFrame, col: str) -> NDArray[np.float64] | None:
    """Asymmetric error bars (2, n) from ``col_lo``/``col_hi``, else ``col_se``, else None."""
    v = frame[col].to_numpy(float)
    if f"{col}_lo" in frame.columns and f"{col}_hi" in frame.columns:
        lo, hi = frame[f"{col}_lo"].to_numpy(float), frame[f"{col}_hi"].to_numpy(float)
        return np.vstack([np.maximum(v - lo, 0.0), np.maximum(hi - v, 0.0)])
    if f"{col}_se" in frame.columns:
        se = np.nan_to_num(frame[f"{col}_se"].to_numpy(float))
        return np.vstack([se, se])
    return None
