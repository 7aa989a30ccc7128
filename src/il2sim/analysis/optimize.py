"""Regimen optimisation for the therapeutic index: efficacy against toxicity.

A :class:`Candidate` is a high-dose IV regimen described by four numbers (dose per
kg, dosing interval, doses per cycle, infusion duration). :func:`evaluate` runs
candidates on the *same* virtual patients (common random numbers: one population
sample, and the per-patient random streams of scans and deaths seeded by
``(seed, patient)``), so differences between candidates are differences of the
regimen, not of the sample. :func:`pareto_front` marks the non-dominated
candidates (maximise efficacy, minimise toxicity) and :func:`optimise` searches a
:class:`SearchSpace` with a scrambled Sobol' sequence or a Latin hypercube,
always including the label regimen so it is placed on (or off) the front.

Protocol: every candidate is simulated with ``protocol="regimen"``, i.e. every
scheduled dose is given; the label's hold and stop rules are *not* applied. The
numbers are the intrinsic therapeutic index of the schedule, before bedside
dose holds (which lower toxicity and efficacy of aggressive schedules alike).

Endpoints per candidate (rates over the patients whose simulation succeeded):

* ``orr``: best overall response CR or PR (RECIST); ``cr``: complete response;
* ``hypotension``: systolic BP below 90 mmHg at any time (CTCAE grade >= 2);
* ``hypotension_g34``: systolic BP below 80 mmHg (grade 3-4);
* ``trd``: treatment-related death.

Each rate ``x`` comes with ``x_n`` (count), ``x_lo``/``x_hi`` (exact Clopper-Pearson
interval; Clopper & Pearson, Biometrika 26:404, 1934) and ``x_se`` (bootstrap
standard error over patients, with the same resampled patients for every candidate,
so paired comparisons stay paired; Efron & Tibshirani, An Introduction to the
Bootstrap, 1993).

Pareto optimality: candidate ``a`` dominates ``b`` when ``eff_a >= eff_b`` and
``tox_a <= tox_b`` with at least one strict inequality; the front is the set of
candidates no other candidate dominates (Miettinen, Nonlinear Multiobjective
Optimization, 1999).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from numpy.typing import NDArray
from scipy.stats import qmc

from il2sim.dosing.doses import Infusion
from il2sim.dosing.regimen import Administration, Regimen
from il2sim.dosing.schedule import Schedule
from il2sim.model.library import get_model
from il2sim.population.population import Population
from il2sim.trial.endpoints import MortalityModel
from il2sim.trial.runner import TrialSpec, simulate_chunk
from il2sim.trial.statistics import clopper_pearson

__all__ = ["LABEL", "METRICS", "Candidate", "OptimisationResult", "SearchSpace", "evaluate",
           "optimise", "pareto_front", "plot_pareto"]

DOSE_RANGE = (1.0e3, 2.0e6)
"""Allowed dose per infusion, IU/kg (the label dose is 600,000 IU/kg)."""
INTERVAL_RANGE = (1.0, 48.0)
"""Allowed dosing interval, h."""
CYCLE_WINDOW_H = 120.0
"""Doses of one cycle start within days 1-5 of the cycle (before 120 h)."""
CYCLE_PERIOD_DAYS = 14
"""Cycle ``k`` starts on day ``1 + 14 (k - 1)``: cycle 2 on day 15, as on the label."""
MAX_CYCLES = 6
METRICS = ("orr", "cr", "hypotension", "hypotension_g34", "trd")
"""The per-candidate rates :func:`evaluate` reports."""
_PARAMS = ("dose_iu_per_kg", "interval_h", "doses_per_cycle", "infusion_min")

Progress = Callable[[int, int, "Candidate"], None]
"""Called as ``progress(done, total, candidate)`` after each evaluated candidate."""


@dataclass(frozen=True)
class Candidate:
    """A high-dose IV regimen: ``doses_per_cycle`` infusions every ``interval_h``, per cycle.

    Cycle ``k`` (``k = 1..cycles``) starts on day ``1 + 14 (k - 1)`` at 00:00; its
    doses are at ``start + i * interval_h`` for ``i < doses_per_cycle``, all within the
    cycle's days 1-5. Each dose is ``dose_iu_per_kg`` IU/kg infused over
    ``infusion_min`` minutes. The label regimen is :data:`LABEL`,
    ``Candidate(600000, 8, 14, 15)`` (Proleukin label, section 2.1).

    Raises:
        ValueError: a value out of range, doses that do not fit in days 1-5, an
            infusion longer than the interval, or a route other than ``"iv"``.
    """

    dose_iu_per_kg: float
    interval_h: float
    doses_per_cycle: int
    infusion_min: float
    cycles: int = 2
    route: str = "iv"

    def __post_init__(self) -> None:
        for name in ("dose_iu_per_kg", "interval_h", "infusion_min"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) \
                    or not math.isfinite(float(value)):
                raise ValueError(f"candidate {name}: must be a finite number, got {value!r}")
            object.__setattr__(self, name, float(value))
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
        if self.infusion_min < 1.0:
            raise ValueError(f"candidate infusion_min: {self.infusion_min:g} min is shorter "
                             "than 1 min (use at least 1 min)")
        if self.infusion_min > 60.0 * self.interval_h:
            raise ValueError(f"candidate infusion_min: a {self.infusion_min:g}-min infusion "
                             f"does not end before the next dose {self.interval_h:g} h later")
        if self.doses_per_cycle > max_doses_per_cycle(self.interval_h):
            raise ValueError(f"candidate doses_per_cycle: {self.doses_per_cycle} doses every "
                             f"{self.interval_h:g} h do not fit in days 1-5 (at most "
                             f"{max_doses_per_cycle(self.interval_h)})")
        if self.route != "iv":
            raise ValueError(f"candidate route: only 'iv' infusions are supported, "
                             f"got {self.route!r}")

    @property
    def name(self) -> str:
        """A short label, e.g. ``"600k IU/kg q8h x14, 15 min"``."""
        cycles = "" if self.cycles == 2 else f", {self.cycles} cycles"
        return (f"{self.dose_iu_per_kg / 1e3:g}k IU/kg q{self.interval_h:g}h "
                f"x{self.doses_per_cycle}, {self.infusion_min:g} min{cycles}")

    @property
    def total_dose_iu_per_kg(self) -> float:
        """Total scheduled dose over all cycles, IU/kg."""
        return self.dose_iu_per_kg * self.doses_per_cycle * self.cycles

    def times_h(self) -> NDArray[np.float64]:
        """Scheduled dose times, hours from the start of treatment."""
        one = self.interval_h * np.arange(self.doses_per_cycle)
        starts = 24.0 * CYCLE_PERIOD_DAYS * np.arange(self.cycles)
        return np.asarray((starts[:, None] + one[None, :]).ravel(), dtype=np.float64)

    def regimen(self) -> Regimen:
        """The il2sim :class:`~il2sim.dosing.Regimen`: one administration per cycle."""
        drug = Infusion(amount=f"{self.dose_iu_per_kg:.17g} IU/kg",
                        duration=f"{self.infusion_min:.17g} min", route=self.route)
        items = tuple(Administration(drug, Schedule(
            every=f"{self.interval_h:.17g} h", count=self.doses_per_cycle,
            start=f"{24.0 * CYCLE_PERIOD_DAYS * k:.17g} h"), f"cycle {k + 1}")
            for k in range(self.cycles))
        return Regimen(items, name=self.name)

    def as_dict(self) -> dict[str, object]:
        return {"dose_iu_per_kg": self.dose_iu_per_kg, "interval_h": self.interval_h,
                "doses_per_cycle": self.doses_per_cycle, "infusion_min": self.infusion_min,
                "cycles": self.cycles, "route": self.route}


def max_doses_per_cycle(interval_h: float) -> int:
    """The most doses ``interval_h`` apart that start within days 1-5 (before 120 h)."""
    return int(math.ceil(CYCLE_WINDOW_H / interval_h - 1e-9))


LABEL = Candidate(600000.0, 8.0, 14, 15.0)
"""The label regimen: 600,000 IU/kg over 15 min every 8 h, at most 14 doses, days 1-5 and
15-19 (Proleukin label, section 2.1)."""


# --------------------------------------------------------------------------- evaluation


def _indicators(endpoints: pd.DataFrame, ids: NDArray[np.int64]) -> NDArray[np.float64]:
    """Per-patient 0/1 of each metric, shape (len(METRICS), n); NaN for a failed patient."""
    e = endpoints.set_index("patient").reindex(ids)
    ok = e["bor"].notna().to_numpy()
    bor = e["bor"].to_numpy(object)
    grade = pd.to_numeric(e["tox_hypotension_grade"], errors="coerce").to_numpy(float)
    values = np.vstack([
        np.isin(bor, ["CR", "PR"]),
        bor == "CR",
        e["sbp_min"].to_numpy(float) < 90.0,
        grade >= 3,
        (e["death_cause"].fillna("") == "treatment").to_numpy(),
    ]).astype(float)
    values[:, ~ok] = np.nan
    return values


def evaluate(candidates: Sequence[Candidate], *, population: Population, n_patients: int,
             seed: int, mortality: MortalityModel | None = None, horizon_days: float = 365.0,
             backend: str = "native", model: str = "il2_qsp", n_boot: int = 200,
             confidence: float = 0.95, chunk_size: int | None = None,
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
        n_boot: bootstrap resamples of the patients (the same resamples for every candidate).
        confidence: level of the Clopper-Pearson intervals.
        chunk_size: patients per simulation chunk (default all at once; results do not
            depend on it).
        progress: called as ``progress(done, total, candidate)`` after each candidate.

    Returns:
        One row per candidate, in the order given: ``name``, the candidate's fields,
        ``total_dose_iu_per_kg``, ``is_label``, ``n`` (patients scored), ``n_failed``
        (simulations that failed, left out of the rates), then for each metric in
        :data:`METRICS` the columns ``x_n``, ``x``, ``x_lo``, ``x_hi``, ``x_se``; and
        ``candidate`` (the :class:`Candidate`).

    Raises:
        ValueError: no candidates, ``n_patients < 1`` or ``n_boot < 2``.
    """
    candidates = list(candidates)
    if not candidates:
        raise ValueError("evaluate: no candidates")
    if n_patients < 1:
        raise ValueError(f"evaluate: n_patients must be >= 1, got {n_patients}")
    if n_boot < 2:
        raise ValueError(f"evaluate: n_boot must be >= 2, got {n_boot}")
    for c in candidates:
        if not isinstance(c, Candidate):
            raise TypeError(f"evaluate: {c!r} is not a Candidate")
    mortality = mortality if mortality is not None else MortalityModel()
    the_model = get_model(model)
    patients = population.sample(n_patients, seed)
    ids = patients["patient"].to_numpy(np.int64)
    size = chunk_size or n_patients
    chunks = [patients.iloc[i: i + size] for i in range(0, n_patients, size)]
    boot = np.random.default_rng([seed, 0xB007]).integers(0, n_patients, (n_boot, n_patients))
    rows = []
    for done, cand in enumerate(candidates, start=1):
        spec = TrialSpec(name=cand.name, n_patients=n_patients, seed=seed,
                         population=population, model=model, protocol="regimen",
                         regimen=cand.regimen(), horizon_days=horizon_days,
                         mortality=mortality, backend=backend, chunk_size=size)
        frames = [simulate_chunk(spec, the_model, chunk) for chunk in chunks]
        endpoints = pd.concat([f["endpoints"] for f in frames], ignore_index=True)
        values = _indicators(endpoints, ids)
        ok = ~np.isnan(values[0])
        n = int(ok.sum())
        row: dict[str, object] = {"name": cand.name, **cand.as_dict(),
                                  "total_dose_iu_per_kg": cand.total_dose_iu_per_kg,
                                  "is_label": cand == LABEL, "n": n,
                                  "n_failed": n_patients - n}
        resampled = values[:, boot]                    # (metric, boot, patient)
        weight = (~np.isnan(resampled)).sum(axis=2)
        with np.errstate(invalid="ignore", divide="ignore"):
            boot_rates = np.nansum(resampled, axis=2) / weight
        for m, metric in enumerate(METRICS):
            k = int(np.nansum(values[m]))
            lo, hi = clopper_pearson(k, n, confidence=confidence) if n else (math.nan, math.nan)
            finite = boot_rates[m][np.isfinite(boot_rates[m])]
            se = float(np.std(finite, ddof=1)) if len(finite) > 1 else math.nan
            row.update({f"{metric}_n": k, metric: k / n if n else math.nan,
                        f"{metric}_lo": lo, f"{metric}_hi": hi, f"{metric}_se": se})
        row["candidate"] = cand
        rows.append(row)
        if progress is not None:
            progress(done, len(candidates), cand)
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- Pareto front


def pareto_front(frame: pd.DataFrame, efficacy: str = "orr",
                 toxicity: str = "hypotension") -> pd.DataFrame:
    """Mark the non-dominated rows: maximise ``efficacy``, minimise ``toxicity``.

    Row ``a`` dominates row ``b`` when ``eff_a >= eff_b`` and ``tox_a <= tox_b``, one of
    them strictly. Rows with equal values do not dominate each other (both can be on the
    front); a row with a missing value is not compared: it is never on the front, dominates
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
    valid = np.isfinite(eff) & np.isfinite(tox)
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


@dataclass(frozen=True)
class SearchSpace:
    """Ranges of the four searched regimen parameters (each ``(low, high)``, inclusive).

    A point ``u`` of the unit hypercube maps to a candidate: dose linear in its range
    (rounded to ``dose_step`` IU/kg), interval and doses per cycle uniform over the
    whole numbers of their ranges, infusion duration linear (rounded to whole minutes).
    Doses per cycle are capped to those that fit in days 1-5 at the drawn interval, and
    the infusion to the interval.
    """

    dose_iu_per_kg: tuple[float, float] = (2.0e5, 9.0e5)
    interval_h: tuple[float, float] = (6.0, 12.0)
    doses_per_cycle: tuple[int, int] = (6, 15)
    infusion_min: tuple[float, float] = (15.0, 120.0)
    cycles: int = 2
    dose_step: float = 1.0e4

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

    def candidate(self, u: Sequence[float] | NDArray[np.float64]) -> Candidate:
        """The candidate at the point ``u`` of the unit hypercube (4 coordinates in [0, 1])."""
        point = np.asarray(u, dtype=float)
        if point.shape != (4,):
            raise ValueError(f"search space: a point has 4 coordinates, got shape {point.shape}")
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
        infusion = min(float(round(f_lo + u[3] * (f_hi - f_lo))), 60.0 * interval)
        return Candidate(dose, interval, max(n, 1), max(infusion, 1.0), cycles=self.cycles)

    def sample(self, n: int, seed: int, *, method: str = "sobol") -> list[Candidate]:
        """``n`` distinct candidates from a scrambled Sobol' sequence or a Latin hypercube.

        Points mapping to a candidate already drawn are skipped, so fewer than ``n`` come
        back only if the space holds fewer distinct candidates.
        """
        if n < 1:
            raise ValueError(f"search space: n must be >= 1, got {n}")
        if method == "sobol":
            engine: qmc.QMCEngine = qmc.Sobol(4, scramble=True, rng=np.random.default_rng(seed))
        elif method == "lhs":
            engine = qmc.LatinHypercube(4, rng=np.random.default_rng(seed))
        else:
            raise ValueError(f"search space: method must be 'sobol' or 'lhs', got {method!r}")
        out: list[Candidate] = []
        seen: set[Candidate] = set()
        for _ in range(8):
            m = max(1, math.ceil(math.log2(max(n, 2))))
            points = engine.random_base2(m) if method == "sobol" else engine.random(2 * n)
            for u in points:
                c = self.candidate(u)
                if c not in seen:
                    seen.add(c)
                    out.append(c)
                if len(out) == n:
                    return out
        return out


@dataclass(frozen=True)
class OptimisationResult:
    """What :func:`optimise` found.

    Attributes:
        table: every evaluated candidate (as :func:`evaluate`) with ``pareto``,
            ``dominated_by`` and ``feasible`` (toxicity within the constraint).
        best: the most effective feasible candidate (ties: less toxic, then lower total
            dose), or ``None`` when none is feasible.
        efficacy, toxicity: the columns optimised.
        max_toxicity: the constraint.
    """

    table: pd.DataFrame
    best: Candidate | None
    efficacy: str
    toxicity: str
    max_toxicity: float

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


def optimise(space: SearchSpace, *, population: Population, n_patients: int, seed: int,
             n_candidates: int, max_toxicity: float, efficacy: str = "orr",
             toxicity: str = "hypotension", method: str = "sobol", conservative: bool = False,
             include: Sequence[Candidate] = (LABEL,), mortality: MortalityModel | None = None,
             horizon_days: float = 365.0, backend: str = "native", model: str = "il2_qsp",
             n_boot: int = 200, progress: Progress | None = None) -> OptimisationResult:
    """Search ``space`` for the regimen with the best efficacy under a toxicity ceiling.

    Draws ``n_candidates`` candidates (seeded Sobol' or Latin hypercube), adds ``include``
    (the label regimen always, even if ``include`` omits it), evaluates all on the same
    patients (:func:`evaluate`), marks the Pareto front and picks the best feasible one.

    Main arguments:
        space: the searched ranges.
        population, n_patients, seed: the virtual patients (as :func:`evaluate`); ``seed``
            also seeds the search.
        n_candidates: candidates drawn from ``space``.
        max_toxicity: ceiling on the ``toxicity`` rate (a fraction).

    Other arguments:
        efficacy, toxicity: metric columns (see :data:`METRICS`).
        method: ``"sobol"`` or ``"lhs"``.
        conservative: apply the ceiling to the upper confidence limit ``<toxicity>_hi``
            instead of the point estimate.
        include: candidates evaluated in addition to the drawn ones.
        mortality, horizon_days, backend, model, n_boot: as :func:`evaluate`.
        progress: called as ``progress(done, total, candidate)`` after each candidate.

    Raises:
        ValueError: an unknown metric, ``max_toxicity`` outside [0, 1], ``n_candidates < 1``.
    """
    for metric in (efficacy, toxicity):
        if metric not in METRICS:
            raise ValueError(f"optimise: unknown metric {metric!r}; known: {', '.join(METRICS)}")
    if not 0.0 <= max_toxicity <= 1.0:
        raise ValueError(f"optimise: max_toxicity is a fraction in [0, 1], got {max_toxicity}")
    if n_candidates < 1:
        raise ValueError(f"optimise: n_candidates must be >= 1, got {n_candidates}")
    candidates = [LABEL, *include]
    candidates += space.sample(n_candidates, seed, method=method)
    candidates = list(dict.fromkeys(candidates))
    table = evaluate(candidates, population=population, n_patients=n_patients, seed=seed,
                     mortality=mortality, horizon_days=horizon_days, backend=backend,
                     model=model, n_boot=n_boot, progress=progress)
    table = pareto_front(table, efficacy, toxicity)
    limit = table[f"{toxicity}_hi" if conservative else toxicity]
    table["feasible"] = (limit <= max_toxicity + 1e-12).to_numpy()
    feasible = table[table["feasible"] & table[efficacy].notna()]
    best = None
    if len(feasible):
        order = feasible.sort_values([efficacy, toxicity, "total_dose_iu_per_kg"],
                                     ascending=[False, True, True], kind="stable")
        best = order["candidate"].iloc[0]
    return OptimisationResult(table, best, efficacy, toxicity, float(max_toxicity))


# --------------------------------------------------------------------------- plot


def plot_pareto(frame: pd.DataFrame, path: str | PathLike[str] | None = None, *,
                efficacy: str = "orr", toxicity: str = "hypotension",
                max_toxicity: float | None = None, title: str | None = None,
                figsize: tuple[float, float] = (6.5, 5.0), dpi: float = 120) -> Figure:
    """Efficacy against toxicity per candidate, with confidence intervals and the front.

    Error bars are the Clopper-Pearson intervals (``x_lo``/``x_hi``) when present,
    otherwise +-1 bootstrap SE (``x_se``). The front (computed if ``frame`` has no
    ``pareto`` column) is joined by a step line; the label regimen is annotated.

    Returns:
        the figure; saved to ``path`` when given (format from the suffix).
    """
    if "pareto" not in frame.columns:
        frame = pareto_front(frame, efficacy, toxicity)
    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    ax: Axes = fig.add_subplot()
    x, y = frame[toxicity].to_numpy(float), frame[efficacy].to_numpy(float)
    xerr, yerr = _err(frame, toxicity), _err(frame, efficacy)
    front = frame["pareto"].to_numpy(bool)
    for mask, style in ((~front, {"color": "tab:grey", "alpha": 0.6, "label": "dominated"}),
                        (front, {"color": "tab:red", "label": "Pareto front"})):
        if mask.any():
            ax.errorbar(100 * x[mask], 100 * y[mask],
                        xerr=None if xerr is None else 100 * xerr[:, mask],
                        yerr=None if yerr is None else 100 * yerr[:, mask],
                        fmt="o", markersize=5, elinewidth=0.7, capsize=2, **style)
    if front.any():
        order = np.argsort(x[front], kind="stable")
        ax.step(100 * x[front][order], 100 * y[front][order], where="post", color="tab:red",
                linewidth=1.0)
    if "is_label" in frame.columns and frame["is_label"].any():
        i = int(np.flatnonzero(frame["is_label"].to_numpy(bool))[0])
        ax.plot(100 * x[i], 100 * y[i], marker="*", markersize=14, color="tab:blue",
                linestyle="none", label="label regimen")
        ax.annotate("label", (100 * x[i], 100 * y[i]), xytext=(8, -12),
                    textcoords="offset points", color="tab:blue")
    if max_toxicity is not None:
        ax.axvline(100 * max_toxicity, color="black", linestyle="--", linewidth=0.8,
                   label="toxicity ceiling")
    ax.set(xlabel=f"{toxicity} (%)", ylabel=f"{efficacy} (%)",
           title=title or f"{efficacy} vs {toxicity}: {len(frame)} regimens")
    ax.legend(loc="best", frameon=False, fontsize="small")
    if path is not None:
        fig.savefig(Path(path), dpi=dpi)
    return fig


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
