"""Global sensitivity analysis: Morris screening and Sobol' indices, via SALib.

The estimators are SALib's; this module adds a frozen :class:`Problem`, seeded and
reproducible sampling, one batched evaluation of the model per analysis, a
convergence table, an adapter that turns an il2sim model into a batched function
of its parameters, and a tornado plot.

A function under analysis has the signature ``func(X) -> y`` with ``X`` of shape
``(N, d)`` (one parameter set per row, columns in ``problem.names`` order) and
``y`` of shape ``(N,)``; it is called once per analysis, so a whole design is
simulated as one batch of N virtual patients.

References:
    Morris MD. Factorial sampling plans for preliminary computational experiments.
    Technometrics 33:161-174 (1991); Campolongo F, Cariboni J, Saltelli A. An
    effective screening design for sensitivity analysis of large models. Environ
    Model Softw 22:1509-1518 (2007).
    Sobol' IM. Global sensitivity indices for nonlinear mathematical models and their
    Monte Carlo estimates. Math Comput Simul 55:271-280 (2001); Saltelli A et al.
    Variance based sensitivity analysis of model output. Design and estimator for the
    total sensitivity index. Comput Phys Commun 181:259-270 (2010).
    Herman J, Usher W. SALib: an open-source Python library for sensitivity analysis.
    J Open Source Softw 2(9):97 (2017).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeAlias

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from SALib.analyze import morris as morris_analyze
from SALib.analyze import sobol as sobol_analyze
from SALib.sample import morris as morris_sample
from SALib.sample import sobol as sobol_sample

from il2sim.analysis.errors import AnalysisError
from il2sim.dosing.regimen import Regimen
from il2sim.engine.simulate import simulate
from il2sim.model.library import get_model
from il2sim.model.spec import Model
from il2sim.trial.runner import TrialSpec, simulate_chunk
from il2sim.trial.statistics import held_doses, is_responder

__all__ = [
    "ModelOutput",
    "Problem",
    "SensitivityError",
    "TrialOutput",
    "convergence_change",
    "model_output",
    "morris",
    "plot_sensitivity",
    "sobol",
    "sobol_convergence",
    "trial_output",
]

Func: TypeAlias = Callable[[NDArray[np.float64]], ArrayLike]
Reducer: TypeAlias = Callable[[NDArray[np.float64], NDArray[np.float64]], ArrayLike]
Seed: TypeAlias = int | np.random.Generator
Progress: TypeAlias = Callable[[int, int], None]
"""Called as ``progress(done, total)`` with model evaluations (rows of ``X``) done and due."""
TRIAL_BATCH = 64
"""Rows of ``X`` a :class:`TrialOutput` simulates at a time (results do not depend on it:
every patient's random draws are seeded by (trial seed, row))."""

#: SALib's distributions and the number of values each takes in ``bounds``:
#: unif (low, high); triang (low, high, peak as a fraction of the range);
#: norm (mean, sd); truncnorm (low, high, mean, sd); lognorm (mean, sd of ln x).
DISTS: dict[str, int] = {"unif": 2, "triang": 3, "norm": 2, "truncnorm": 4, "lognorm": 2}
REDUCERS = ("max", "min", "final", "auc")
COVARIATES = ("weight", "height", "bsa")
"""Patient covariates an analysis may vary next to model parameters (kg, cm, m**2): per-kg
and per-m**2 doses are resolved per row, and a model's ``body_weight`` follows ``weight``."""


class SensitivityError(AnalysisError, RuntimeError):
    """A sensitivity analysis cannot go on (too many failed evaluations, bad output). Also a
    ``RuntimeError``, as it was before :class:`AnalysisError`."""


@dataclass(frozen=True)
class Problem:
    """The inputs of a sensitivity analysis: names, ranges and distributions.

    Main arguments:
        names: input names (for an il2sim model, its parameter names).
        bounds: per input, the values its distribution takes (see ``DISTS``); for the
            default uniform distribution ``(low, high)``.

    Other arguments:
        dists: per input, one of ``unif``, ``triang``, ``norm``, ``truncnorm``,
            ``lognorm``; ``None`` for all uniform.

    Raises:
        ValueError: no inputs, repeated names, lengths that disagree, an unknown
            distribution, or bounds that do not fit it (e.g. low >= high).
    """

    names: tuple[str, ...]
    bounds: tuple[tuple[float, ...], ...]
    dists: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        names = tuple(str(n) for n in self.names)
        bounds = tuple(tuple(float(v) for v in b) for b in self.bounds)
        dists = None if self.dists is None else tuple(str(d) for d in self.dists)
        object.__setattr__(self, "names", names)
        object.__setattr__(self, "bounds", bounds)
        object.__setattr__(self, "dists", dists)
        if not names:
            raise AnalysisError("Problem: no inputs: give at least one name")
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise AnalysisError(f"Problem: repeated input names {repeated}")
        if len(bounds) != len(names):
            raise AnalysisError(f"Problem: {len(names)} names but {len(bounds)} bounds")
        if dists is not None and len(dists) != len(names):
            raise AnalysisError(f"Problem: {len(names)} names but {len(dists)} dists")
        for name, b, dist in zip(names, bounds, dists or ("unif",) * len(names)):
            self._check(name, b, dist)

    @staticmethod
    def _check(name: str, b: tuple[float, ...], dist: str) -> None:
        if dist not in DISTS:
            raise AnalysisError(f"Problem: input {name!r}: unknown distribution {dist!r}; "
                                f"known: {', '.join(DISTS)}")
        if len(b) != DISTS[dist]:
            raise AnalysisError(f"Problem: input {name!r}: distribution {dist!r} takes "
                                f"{DISTS[dist]} bound values, not {len(b)}")
        if not all(np.isfinite(b)):
            raise AnalysisError(f"Problem: input {name!r}: non-finite bound {b}")
        if dist in ("unif", "triang", "truncnorm") and not b[0] < b[1]:
            raise AnalysisError(f"Problem: input {name!r}: low {b[0]:g} must be below "
                                f"high {b[1]:g}")
        if dist in ("norm", "lognorm") and not b[1] > 0:
            raise AnalysisError(f"Problem: input {name!r}: sd {b[1]:g} must be positive")
        if dist == "truncnorm" and not b[3] > 0:
            raise AnalysisError(f"Problem: input {name!r}: sd {b[3]:g} must be positive")
        if dist == "triang" and not 0 <= b[2] <= 1:
            raise AnalysisError(f"Problem: input {name!r}: triangular peak {b[2]:g} must be "
                                "a fraction of the range in [0, 1]")

    @classmethod
    def uniform(cls, ranges: Mapping[str, tuple[float, float]]) -> Problem:
        """Uniform inputs from a mapping name -> (low, high)."""
        return cls(tuple(ranges), tuple(ranges.values()))

    @property
    def num_vars(self) -> int:
        return len(self.names)

    def to_salib(self) -> dict[str, Any]:
        """SALib's problem dictionary (``num_vars``, ``names``, ``bounds``, ``dists``)."""
        d: dict[str, Any] = {"num_vars": self.num_vars, "names": list(self.names),
                             "bounds": [list(b) for b in self.bounds]}
        if self.dists is not None:
            d["dists"] = list(self.dists)
        return d


# ------------------------------------------------------------------ estimators

def morris(func: Func, problem: Problem, *, trajectories: int = 20, levels: int = 4,
           seed: Seed, optimal_trajectories: int | None = None,
           num_resamples: int = 1000, conf_level: float = 0.95,
           progress: Progress | None = None) -> pd.DataFrame:
    """Morris elementary-effects screening.

    For trajectory r and input i, the elementary effect is
    ``EE_i = (f(x + delta e_i) - f(x)) / delta`` with ``delta = levels / (2 (levels - 1))``
    measured as a fraction of the input's range (SALib's convention): an effect is the
    output change per whole range of the input, so inputs of different units compare.
    ``mu`` is the mean of ``EE_i``, ``mu_star`` the mean of ``|EE_i|``
    (Campolongo 2007), ``sigma`` their standard deviation (interactions and
    nonlinearity), ``mu_star_conf`` a bootstrap confidence half-width of ``mu_star``.

    Main arguments:
        func: batched function ``(N, d) -> (N,)``, called once on
            ``trajectories * (d + 1)`` rows.
        problem: the inputs.

    Other arguments:
        trajectories: number of trajectories r.
        levels: number of grid levels p (even).
        seed: an int or a ``numpy.random.Generator``; the same int gives the same frame.
        optimal_trajectories: if given, pick this many of ``trajectories`` for spread.
        num_resamples, conf_level: bootstrap of the confidence interval.
        progress: called as ``progress(done, total)`` as rows are evaluated; ``total`` is
            the design's ``trajectories * (d + 1)`` rows (fewer with
            ``optimal_trajectories``). Per batch for the il2sim adapters, else at the
            start and the end of the one call of ``func``.

    Returns:
        A DataFrame indexed by input with columns ``mu``, ``mu_star``, ``sigma``,
        ``mu_star_conf``; ``attrs`` holds ``n_evaluations`` and ``dropped`` (trajectories
        left out because ``func`` returned NaN in them).

    Raises:
        ValueError: bad design sizes. SensitivityError: ``func`` returned the wrong shape,
        or NaN in every trajectory.
    """
    if trajectories < 2 or levels < 2 or levels % 2:
        raise AnalysisError(f"morris: need trajectories >= 2 and an even levels >= 2, not "
                            f"{trajectories} and {levels}")
    sample_seed, analyze_seed = _seeds(seed)
    spec = problem.to_salib()
    x = morris_sample.sample(spec, trajectories, num_levels=levels,
                             optimal_trajectories=optimal_trajectories, seed=sample_seed)
    y = _evaluate(func, x, progress)
    step = problem.num_vars + 1
    keep = _complete_blocks(y, step, "morris")
    rows = np.repeat(keep, step)
    res = morris_analyze.analyze(spec, x[rows], y[rows], num_resamples=num_resamples,
                                 conf_level=conf_level, num_levels=levels, seed=analyze_seed)
    frame = pd.DataFrame({k: np.asarray(res[k], dtype=float)
                          for k in ("mu", "mu_star", "sigma", "mu_star_conf")},
                         index=pd.Index(problem.names, name="input"))
    frame.attrs.update(n_evaluations=len(y), dropped=int((~keep).sum()), method="morris")
    return frame


def sobol(func: Func, problem: Problem, *, n: int = 1024, seed: Seed,
          calc_second_order: bool = False, num_resamples: int = 200,
          conf_level: float = 0.95, progress: Progress | None = None) -> pd.DataFrame:
    """Sobol' first-order and total indices (Saltelli 2010 estimators, SALib).

    With ``V = Var(Y)``: ``S1_i = Var(E[Y | X_i]) / V`` and
    ``ST_i = E[Var(Y | X_~i)] / V``; ``*_conf`` are bootstrap confidence half-widths.

    Main arguments:
        func: batched function ``(N, d) -> (N,)``, called once on
            ``n * (d + 2)`` rows (``n * (2 d + 2)`` with second order).
        problem: the inputs.

    Other arguments:
        n: base sample size, a power of 2 (the Sobol' sequence is balanced then).
        seed: an int or a ``numpy.random.Generator``; the same int gives the same frame.
        calc_second_order: also estimate ``S2`` (in ``frame.attrs["S2"]`` and
            ``frame.attrs["S2_conf"]``, input x input frames).
        num_resamples, conf_level: bootstrap of the confidence intervals.
        progress: called as ``progress(done, total)`` as rows are evaluated, ``total =
            n (d + 2)`` (``n (2 d + 2)`` with second order); see :func:`morris`.

    Returns:
        A DataFrame indexed by input with columns ``S1``, ``S1_conf``, ``ST``, ``ST_conf``;
        ``attrs`` holds ``n``, ``n_evaluations`` and ``dropped`` (base samples left out
        because ``func`` returned NaN in their block).

    Raises:
        ValueError: ``n`` not a power of 2. SensitivityError: bad output of ``func``.
    """
    _check_power_of_two(n)
    sample_seed, analyze_seed = _seeds(seed)
    x = sobol_sample.sample(problem.to_salib(), n, calc_second_order=calc_second_order,
                            seed=sample_seed)
    y = _evaluate(func, x, progress)
    return _sobol_frame(problem, y, n, calc_second_order, analyze_seed,
                        num_resamples=num_resamples, conf_level=conf_level)


def sobol_convergence(func: Func, problem: Problem, ns: Sequence[int] = (256, 512, 1024, 2048),
                      *, seed: Seed, num_resamples: int = 200,
                      conf_level: float = 0.95,
                      progress: Progress | None = None) -> pd.DataFrame:
    """Sobol' indices at increasing base sample sizes, to see them settle.

    The Saltelli design for ``n`` is the first ``n (d + 2)`` rows of the design for a
    larger power of 2 with the same seed, so ``func`` is called once, on the largest
    design, and each smaller ``n`` reuses the prefix (nested estimates).

    Main arguments:
        func: batched function ``(N, d) -> (N,)``.
        problem: the inputs.
        ns: base sample sizes, powers of 2.

    Other arguments:
        seed, num_resamples, conf_level: as in :func:`sobol`.
        progress: as in :func:`sobol`; ``total = max(ns) (d + 2)``, the one design that
            every estimate shares.

    Returns:
        A long DataFrame with columns ``n``, ``input``, ``S1``, ``S1_conf``, ``ST``,
        ``ST_conf``, ordered by ``n`` then input. Convergence shows as the indices
        changing less than their ``*_conf`` between successive ``n``.
    """
    sizes = sorted({int(k) for k in ns})
    if not sizes:
        raise AnalysisError("sobol_convergence: ns is empty")
    for k in sizes:
        _check_power_of_two(k)
    sample_seed, analyze_seed = _seeds(seed)
    x = sobol_sample.sample(problem.to_salib(), sizes[-1], calc_second_order=False,
                            seed=sample_seed)
    y = _evaluate(func, x, progress)
    step = problem.num_vars + 2
    frames = []
    for k in sizes:
        f = _sobol_frame(problem, y[: k * step], k, False, analyze_seed,
                         num_resamples=num_resamples, conf_level=conf_level)
        frames.append(f.reset_index().assign(n=k))
    out = pd.concat(frames, ignore_index=True)
    return out[["n", "input", "S1", "S1_conf", "ST", "ST_conf"]]


def convergence_change(long: pd.DataFrame, n: int) -> pd.DataFrame:
    """Indices at N/2 and N from :func:`sobol_convergence`'s table (with both sizes), and
    how much they moved against their confidence half-widths.

    Returns:
        One row per input: ``S1 (N/2)``, ``S1 (N)``, ``ST (N/2)``, ``ST (N)``,
        ``|dST| = |ST(N) - ST(N/2)|``, ``ST_conf (N)``, and ``settled`` (``|dST| <=
        ST_conf (N)``).
    """
    half = long[long["n"] == n // 2].set_index("input")
    full = long[long["n"] == n].set_index("input")
    return pd.DataFrame({"S1 (N/2)": half["S1"], "S1 (N)": full["S1"],
                         "ST (N/2)": half["ST"], "ST (N)": full["ST"],
                         "|dST|": (full["ST"] - half["ST"]).abs(), "ST_conf (N)": full["ST_conf"],
                         "settled": (full["ST"] - half["ST"]).abs() <= full["ST_conf"]})


def _sobol_frame(problem: Problem, y: NDArray[np.float64], n: int, second: bool,
                 analyze_seed: int, *, num_resamples: int, conf_level: float) -> pd.DataFrame:
    step = problem.num_vars * (2 if second else 1) + 2
    keep = _complete_blocks(y, step, "sobol")
    yk = y.reshape(-1, step)[keep].ravel()
    res = sobol_analyze.analyze(problem.to_salib(), yk, calc_second_order=second,
                                num_resamples=num_resamples, conf_level=conf_level,
                                seed=analyze_seed)
    index = pd.Index(problem.names, name="input")
    frame = pd.DataFrame({k: np.asarray(res[k], dtype=float)
                          for k in ("S1", "S1_conf", "ST", "ST_conf")}, index=index)
    frame.attrs.update(n=n, n_evaluations=len(y), dropped=int((~keep).sum()), method="sobol")
    if second:
        frame.attrs["S2"] = pd.DataFrame(res["S2"], index=index, columns=index)
        frame.attrs["S2_conf"] = pd.DataFrame(res["S2_conf"], index=index, columns=index)
    return frame


def _seeds(seed: Seed) -> tuple[int, int]:
    """Two positive ints (sampling, bootstrap) from one seed (SALib ignores seed 0)."""
    if isinstance(seed, np.random.Generator):
        a, b = seed.integers(1, 2**31 - 1, size=2)
        return int(a), int(b)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int or a numpy.random.Generator, not {seed!r}")
    a, b = (int(s.generate_state(1)[0]) % (2**31 - 2) + 1
            for s in np.random.SeedSequence(int(seed)).spawn(2))
    return a, b


def _check_power_of_two(n: int) -> None:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2 or n & (n - 1):
        raise AnalysisError(f"sobol: n = {n!r} must be a power of 2 (>= 2), e.g. 512 or 1024, "
                            "to keep the Sobol' sequence balanced")


def _evaluate(func: Func, x: NDArray[np.float64],
              progress: Progress | None = None) -> NDArray[np.float64]:
    """``func(x)``, checked; the il2sim adapters report progress per batch of rows."""
    total = len(x)
    if progress is None:
        y = np.asarray(func(np.array(x, dtype=float)), dtype=float)
    else:
        report = progress
        report(0, total)
        raw: ArrayLike
        if isinstance(func, (ModelOutput, TrialOutput)):
            raw = func(np.array(x, dtype=float), progress=lambda done: report(done, total))
        else:
            raw = func(np.array(x, dtype=float))
        y = np.asarray(raw, dtype=float)
        report(total, total)
    if y.shape != (len(x),):
        raise SensitivityError(f"func returned shape {y.shape}; expected ({len(x)},): one "
                               "value per row of X")
    if np.any(np.isinf(y)):
        raise SensitivityError("func returned infinite values")
    return y


def _complete_blocks(y: NDArray[np.float64], step: int, what: str) -> NDArray[np.bool_]:
    """Blocks (trajectories, Saltelli groups) of ``step`` rows without NaN."""
    keep = ~np.isnan(y.reshape(-1, step)).any(axis=1)
    if not keep.any():
        raise SensitivityError(f"{what}: func returned NaN in every block; nothing to analyse")
    if not keep.all():
        warnings.warn(f"{what}: left out {int((~keep).sum())} of {keep.size} blocks where func "
                      "returned NaN", stacklevel=3)
    return np.asarray(keep)


# ------------------------------------------------------------------ il2sim adapter

def _auc(t: NDArray[np.float64], v: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.asarray(np.trapezoid(v, t, axis=1), dtype=float)


_REDUCE: dict[str, Reducer] = {
    "max": lambda t, v: np.max(v, axis=1),
    "min": lambda t, v: np.min(v, axis=1),
    "final": lambda t, v: v[:, -1],
    "auc": _auc,
}


MODEL_BATCH = 256
"""Rows of ``X`` a :class:`ModelOutput` simulates at a time (rows are independent
patients, so results do not depend on it)."""


def _offset(progress: Callable[[int], None], start: int, n: int) -> Callable[[float], None]:
    """``simulate``'s increments of patient-equivalents as rows done of all ``n``."""
    advanced = [float(start)]

    def step(increment: float) -> None:
        advanced[0] += increment
        progress(min(int(advanced[0] + 1e-9), n))
    return step


@dataclass(frozen=True)
class ModelOutput:
    """A batched function ``X (N, d) -> y (N,)``: simulate each row, reduce ``output``.

    Built by :func:`model_output`; see there for the arguments. Call it with a design
    matrix whose columns follow ``params_names``.
    """

    model: Model
    regimen: Regimen | None
    output: str
    reduce: str | Reducer
    params_names: tuple[str, ...]
    times: NDArray[np.float64] = field(repr=False)
    covariates: Mapping[str, float] | None = None
    backend: str = "native"
    max_failed: float = 0.05
    rtol: float = 1e-6
    atol: float = 1e-9

    def _batch(self, x: NDArray[np.float64], progress: Callable[[float], None] | None
               ) -> tuple[NDArray[np.float64], NDArray[np.bool_], list[str]]:
        """Reduced outputs, success flags and messages of one batch of rows."""
        params = {name: x[:, j] for j, name in enumerate(self.params_names)
                  if name not in COVARIATES}
        covariates: dict[str, Any] = dict(self.covariates or {})
        for j, name in enumerate(self.params_names):
            if name in COVARIATES:
                covariates[name] = x[:, j]
                if name == "weight" and "body_weight" in self.model.param_names \
                        and "body_weight" not in self.params_names:
                    params["body_weight"] = x[:, j]
        res = simulate(self.model, self.regimen, params, self.times,
                       covariates=covariates or None,
                       backend=self.backend, rtol=self.rtol, atol=self.atol,
                       on_failure="record", progress=progress)
        values = res[self.output]
        fn = _REDUCE[self.reduce] if isinstance(self.reduce, str) else self.reduce
        with np.errstate(invalid="ignore"):
            y = np.array(fn(self.times, values), dtype=float)
        if y.shape != (len(x),):
            raise SensitivityError(f"reduce returned shape {y.shape}; expected ({len(x)},)")
        return y, np.asarray(res.ok, dtype=bool), list(res.message)

    def __call__(self, x: NDArray[np.float64], *,
                 progress: Callable[[int], None] | None = None) -> NDArray[np.float64]:
        """``y`` per row, simulated :data:`MODEL_BATCH` rows at a time; ``progress(done)``
        with the rows done as each batch advances."""
        x = np.atleast_2d(np.asarray(x, dtype=float))
        if x.ndim != 2 or x.shape[1] != len(self.params_names):
            raise AnalysisError(f"{self.model.name}: X has shape {x.shape}; expected "
                                f"(N, {len(self.params_names)}) for {list(self.params_names)}")
        y = np.empty(len(x))
        ok = np.empty(len(x), dtype=bool)
        message: list[str] = []
        for start in range(0, len(x), MODEL_BATCH):
            rows = x[start:start + MODEL_BATCH]
            y[start:start + len(rows)], ok[start:start + len(rows)], texts = self._batch(
                rows, None if progress is None else _offset(progress, start, len(x)))
            message += texts
        failed = ~ok | ~np.isfinite(y)
        y[failed] = np.nan
        if failed.sum() > self.max_failed * len(x):
            first = int(np.flatnonzero(failed)[0])
            why = message[first] or "non-finite output"
            raise SensitivityError(
                f"{self.model.name}: {int(failed.sum())} of {len(x)} parameter sets failed "
                f"(more than {self.max_failed:.0%}); first, row {first} "
                f"({dict(zip(self.params_names, x[first].tolist()))}): {why}. Narrow the "
                "bounds or loosen the tolerances.")
        return y


def model_output(model: Model | str, regimen: Regimen | None, output: str,
                 reduce: str | Reducer, *, params_names: Sequence[str], times: ArrayLike,
                 covariates: Mapping[str, float] | None = None, backend: str = "native",
                 max_failed: float = 0.05, rtol: float = 1e-6,
                 atol: float = 1e-9) -> ModelOutput:
    """A batched function of model parameters for :func:`morris` and :func:`sobol`.

    Row k of ``X`` is one virtual patient: ``simulate(model, regimen,
    {name: X[:, j]}, times)`` runs all rows as one batch, and the trajectory of
    ``output`` is reduced to one number per patient.

    Main arguments:
        model: a Model or a registry name (``"aldesleukin_pk"``).
        regimen: the doses; ``None`` for no treatment.
        output: a state or observable name.
        reduce: ``"max"``, ``"min"``, ``"final"``, ``"auc"`` (trapezoid over ``times``,
            in output unit x model time unit), or a callable ``(times (nt,),
            values (N, nt)) -> (N,)``.

    Other arguments:
        params_names: model parameters or covariates (:data:`COVARIATES`: ``weight`` in kg,
            ``height`` in cm, ``bsa`` in m**2), in the column order of ``X``.
        times: output times in the model's time unit (the reduction's grid).
        covariates: scalar covariates for every patient (weight, height, bsa).
        backend: ``"native"`` (fast, default) or ``"scipy"``.
        max_failed: the largest fraction of failed rows tolerated; failed rows give NaN
            (the estimators then leave out their blocks).
        rtol, atol: solver tolerances.

    Raises:
        ValueError: unknown output, parameter or reducer; too few times for ``"auc"``.
        SensitivityError (when called): more than ``max_failed`` of the rows failed.
    """
    m = get_model(model) if isinstance(model, str) else model
    if not isinstance(m, Model):
        raise AnalysisError(f"model_output: {model!r} is not a Model or a model name")
    known = m.state_names + m.observable_names
    if output not in known:
        raise AnalysisError(f"model_output: {output!r} is neither a state nor an observable of "
                            f"{m.name!r}; known: {', '.join(known)}")
    names = tuple(params_names)
    unknown = [p for p in names if p not in m.param_names and p not in COVARIATES]
    if unknown or not names:
        raise AnalysisError(f"model_output: unknown parameters {unknown} of {m.name!r}; known: "
                            f"{', '.join(m.param_names)} and the covariates "
                            f"{', '.join(COVARIATES)}" if unknown else
                            "model_output: give at least one parameter name")
    if isinstance(reduce, str) and reduce not in _REDUCE:
        raise AnalysisError(f"model_output: unknown reduce {reduce!r}; known: "
                            f"{', '.join(REDUCERS)} or a callable")
    if not isinstance(reduce, str) and not callable(reduce):
        raise AnalysisError(f"model_output: reduce must be a name or a callable, not {reduce!r}")
    t = np.atleast_1d(np.asarray(times, dtype=float))
    if t.ndim != 1 or t.size < (2 if reduce == "auc" else 1):
        raise AnalysisError("model_output: give at least two output times for 'auc' "
                            "(one for the other reducers)")
    if not 0 < max_failed < 1:
        raise AnalysisError(f"model_output: max_failed must be in (0, 1), not {max_failed!r}")
    return ModelOutput(m, regimen, output, reduce, names, t, covariates, backend,
                       max_failed, rtol, atol)


# ------------------------------------------------------------------ trial adapter

TRIAL_DERIVED = ("responder", "held_fraction")
"""Per-patient trial outputs computed here: ``responder`` (1 for a best overall response CR
or PR, RECIST) and ``held_fraction`` (fraction of the patient's scheduled doses withheld)."""


@dataclass(frozen=True)
class TrialOutput:
    """A batched function ``X (N, d) -> y (N,)``: row k is one virtual patient of a trial.

    Built by :func:`trial_output`; see there for the arguments.
    """

    spec: TrialSpec
    output: str
    params_names: tuple[str, ...]
    base: pd.DataFrame = field(repr=False)
    max_failed: float = 0.05

    def __call__(self, x: NDArray[np.float64], *,
                 progress: Callable[[int], None] | None = None) -> NDArray[np.float64]:
        """``y`` per row, simulated :data:`TRIAL_BATCH` rows at a time; ``progress(done)``
        after each batch."""
        x = np.atleast_2d(np.asarray(x, dtype=float))
        if x.ndim != 2 or x.shape[1] != len(self.params_names):
            raise AnalysisError(f"{self.spec.name}: X has shape {x.shape}; expected "
                                f"(N, {len(self.params_names)}) for {list(self.params_names)}")
        n = len(x)
        patients = self.base.loc[np.zeros(n, dtype=int)].reset_index(drop=True)
        patients["patient"] = np.arange(n)
        for j, name in enumerate(self.params_names):
            patients[name] = x[:, j]
        model = get_model(self.spec.model)
        parts = []
        for start in range(0, n, TRIAL_BATCH):
            chunk = patients.iloc[start:start + TRIAL_BATCH]
            parts.append(simulate_chunk(self.spec, model, chunk))
            if progress is not None:
                progress(min(start + TRIAL_BATCH, n))
        frames = {key: pd.concat([p[key] for p in parts], ignore_index=True)
                  for key in ("patients", "endpoints", "doses")}
        ok = (frames["patients"]["status"] == "ok").to_numpy()
        ends = frames["endpoints"].set_index("patient").reindex(np.arange(n))
        if self.output == "responder":
            y = np.where(ends["bor"].isna(), np.nan, is_responder(ends["bor"]).astype(float))
        elif self.output == "held_fraction":
            held = held_doses(frames["doses"])["fraction_held"]
            y = held.reindex(np.arange(n)).to_numpy(float)
        else:
            y = pd.to_numeric(ends[self.output], errors="coerce").to_numpy(float)
        y = np.where(ok & np.isfinite(y), y, np.nan)
        failed = np.isnan(y)
        if failed.sum() > self.max_failed * n:
            first = int(np.flatnonzero(failed)[0])
            raise SensitivityError(
                f"{self.spec.name}: {int(failed.sum())} of {n} virtual patients gave no "
                f"{self.output} (more than {self.max_failed:.0%}); first, row {first} "
                f"({dict(zip(self.params_names, x[first].tolist()))}): "
                f"{frames['patients']['message'].iloc[first] or 'no value'}")
        return np.asarray(y, dtype=float)


def trial_output(spec: TrialSpec, output: str, *, params_names: Sequence[str],
                 base: Mapping[str, float] | None = None, patient: int = 0,
                 max_failed: float = 0.05) -> TrialOutput:
    """A batched function of patient parameters and covariates whose value is a trial output.

    Row k of ``X`` is one virtual patient treated under the trial's protocol (with the
    label's hold, stop and retreatment rules for ``protocol="label"``) and scored as in
    the trial (:func:`~il2sim.trial.runner.simulate_chunk`); ``output`` is one per-patient
    number: an ``endpoints`` column (``best_change_pct``: tumour shrinkage; ``sbp_min``,
    ``creatinine_max``, ``doses_given``, ``os_d``, a ``tox_*_grade``, ...) or one of
    :data:`TRIAL_DERIVED`. Every row starts from the same reference patient, patient
    ``patient`` of ``spec.population.sample(spec.n_patients, spec.seed)`` with ``base``
    applied, and the columns of ``X`` replace its values.

    Scan noise and deaths are drawn per row (seeded by trial seed and row), so outputs
    read from scans (``best_change_pct``, ``responder``) or survival carry a random part
    that shows as variance no input explains; the vital-sign extremes, toxicity grades,
    doses given and ``held_fraction`` are exact functions of the inputs.

    Main arguments:
        spec: the trial (population, protocol, horizon, model, backend).
        output: the per-patient output.

    Other arguments:
        params_names: model parameters or covariates (``weight``, ``height``, ``bsa``;
            a model's ``body_weight`` follows ``weight``), in the column order of ``X``.
        base: values replacing the reference patient's (e.g. a typical ``ant``).
        patient: which sampled patient is the reference.
        max_failed: the largest fraction of rows without a value tolerated.

    Raises:
        ValueError: an unknown output or input, a bad reference patient.
        SensitivityError (when called): more than ``max_failed`` of the rows gave no value.
    """
    model = get_model(spec.model)
    names = tuple(params_names)
    if not names:
        raise AnalysisError("trial_output: give at least one parameter name")
    unknown = [p for p in names if p not in model.param_names and p not in COVARIATES]
    if unknown:
        raise AnalysisError(f"trial_output: unknown inputs {unknown} of {model.name!r}: give "
                            f"model parameters or the covariates {', '.join(COVARIATES)}")
    known = ("best_change_pct", "sbp_min", "urine_min", "creatinine_max", "confusion_max",
             "spo2_min", "weight_gain_pct_max", "doses_given", "doses_scheduled", "courses",
             "os_d", "pfs_d", "time_to_response_d", "tox_hypotension_grade",
             "tox_oliguria_grade", "tox_creatinine_grade", "tox_confusion_grade",
             "tox_hypoxia_grade", "tox_weight_gain_grade", *TRIAL_DERIVED)
    if output not in known:
        raise AnalysisError(f"trial_output: unknown output {output!r}; known: {', '.join(known)}")
    if not 0 <= patient < spec.n_patients:
        raise AnalysisError(f"trial_output: patient must be in [0, {spec.n_patients}), "
                         f"got {patient}")
    sample = spec.population.sample(spec.n_patients, spec.seed)
    reference = sample.iloc[[patient]].reset_index(drop=True)
    for name, value in (base or {}).items():
        if name not in reference.columns and name not in model.param_names:
            raise AnalysisError(f"trial_output: base {name!r} is neither a patient column nor a "
                                f"parameter of {model.name!r}")
        reference[name] = float(value)
    for name in names:
        if name not in reference.columns:
            reference[name] = np.nan
    if not 0 < max_failed < 1:
        raise AnalysisError(f"trial_output: max_failed must be in (0, 1), not {max_failed!r}")
    return TrialOutput(spec, output, names, reference, max_failed)


# ------------------------------------------------------------------ plot

def plot_sensitivity(frame: pd.DataFrame, index: str = "ST", path: str | Path | None = None,
                     *, title: str | None = None) -> Any:
    """A tornado plot: one horizontal bar per input, largest on top, CI as error bars.

    Main arguments:
        frame: the result of :func:`sobol` (``index`` ``"S1"`` or ``"ST"``) or
            :func:`morris` (``"mu_star"``); the column ``f"{index}_conf"`` gives the error
            bars when present.
        index: the column to plot.
        path: where to save the figure (format from the suffix); ``None`` to only return it.

    Other arguments:
        title: the axes title; default the index name.

    Returns:
        The ``matplotlib.figure.Figure`` (Agg canvas, no pyplot state).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if index not in frame.columns:
        raise AnalysisError(f"plot_sensitivity: no column {index!r}; columns: "
                            f"{', '.join(map(str, frame.columns))}")
    data = frame.sort_values(index, ascending=True)
    conf = data[f"{index}_conf"].to_numpy(float) if f"{index}_conf" in data else None
    fig = Figure(figsize=(6.0, 1.0 + 0.4 * len(data)), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    pos = np.arange(len(data))
    ax.barh(pos, data[index].to_numpy(float), xerr=conf, color="tab:blue", capsize=3,
            ecolor="black")
    ax.set_yticks(pos, [str(i) for i in data.index])
    ax.axvline(0.0, color="grey", linewidth=0.8)
    ax.set_xlabel(index)
    ax.set_title(title if title is not None else f"Sensitivity ({index})")
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig
