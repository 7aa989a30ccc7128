"""The search for the best regimen under toxicity ceilings.

:func:`optimize` searches a :class:`~il2sim.analysis.optimize.space.SearchSpace` with a
scrambled Sobol' sequence or a Latin hypercube (SciPy's ``qmc``), or by differential
evolution (``scipy.optimize.differential_evolution`` with the toxicity ceilings as
constraints; Storn & Price, J Glob Optim 11:341, 1997), always including the label regimen
so it is placed on (or off) the front, keeping every evaluated candidate for the front, and
picks the best candidate under ceilings on any toxicity metrics.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.optimize import NonlinearConstraint, OptimizeResult, differential_evolution
from scipy.stats import qmc

from il2sim.analysis.errors import AnalysisError
from il2sim.analysis.optimize.candidates import LABEL, Candidate
from il2sim.analysis.optimize.metrics import (
    EFFICACY,
    TOXICITY,
    Evaluator,
    Progress,
    Scorer,
    table_row,
)
from il2sim.analysis.optimize.pareto import pareto_front
from il2sim.analysis.optimize.space import DIMENSIONS, SearchSpace
from il2sim.population.population import Population
from il2sim.trial.endpoints import MortalityModel

__all__ = ["SEARCH_METHODS", "OptimizationResult", "optimize"]

SEARCH_METHODS = ("sobol", "lhs", "de")
"""Search methods of :func:`optimize`: scrambled Sobol', Latin hypercube, differential
evolution."""


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
        raise AnalysisError(f"optimize: unknown metric {efficacy!r} for efficacy; known: "
                            f"{', '.join(EFFICACY)}")
    ceilings = dict(constraints or {})
    if max_toxicity is not None:
        ceilings[toxicity] = max_toxicity
    for metric in (toxicity, *ceilings):
        if metric not in TOXICITY:
            raise AnalysisError(f"optimize: unknown metric {metric!r} for toxicity; known: "
                                f"{', '.join(TOXICITY)}")
    for metric, ceiling in ceilings.items():
        if isinstance(ceiling, bool) or not 0.0 <= float(ceiling) <= 1.0:
            raise AnalysisError(f"optimize: the ceiling on {metric} is a fraction in [0, 1], "
                                f"got {ceiling}")
    if n_candidates < 1:
        raise AnalysisError(f"optimize: n_candidates must be >= 1, got {n_candidates}")
    if method not in SEARCH_METHODS:
        raise AnalysisError(f"optimize: method must be one of {', '.join(SEARCH_METHODS)}, "
                            f"got {method!r}")
    if isinstance(refine, bool) or not isinstance(refine, int) or refine < 0:
        raise AnalysisError(f"optimize: refine must be a whole number >= 0, got {refine!r}")
    if method == "de" and refine:
        raise AnalysisError("optimize: refine is for the quasi-random searches ('sobol', "
                            "'lhs'); differential evolution spends the whole budget itself")
    if not 0.0 < shrink < 1.0:
        raise AnalysisError(f"optimize: shrink must be in (0, 1), got {shrink}")
    limits = {k: float(v) for k, v in ceilings.items()}
    if evaluator is None:
        if population is None or n_patients is None:
            raise AnalysisError("optimize: give population and n_patients (or an evaluator)")
        evaluator = Scorer(population=population, n_patients=n_patients, seed=seed,
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
        row = table_row(cand, self.evaluator(cand))
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
