"""The single entry point: ``simulate(model, regimen, params, times, ...)``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeAlias, cast

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from il2sim.dosing.regimen import Regimen
from il2sim.engine.decisions import DoseDecider, GiveAll
from il2sim.engine.events import DoseActions, EngineError, event_times, resolve_events
from il2sim.engine.jax_backend import JaxBackend
from il2sim.engine.loop import BatchOutput, run_batch
from il2sim.engine.native_backend import NativeBackend
from il2sim.engine.native_rodas import METHODS as NATIVE_METHODS
from il2sim.engine.result import SimulationResult
from il2sim.engine.roadrunner_backend import RoadRunnerBackend
from il2sim.engine.scipy_backend import METHODS, ScipyBackend
from il2sim.model.compile import compile_model
from il2sim.model.spec import Model
from il2sim.units import bsa_mosteller

__all__ = ["BACKENDS", "SimulationError", "output_times", "simulate"]

BACKENDS: dict[str, Callable[..., Any]] = {"scipy": ScipyBackend, "native": NativeBackend,
                                           "roadrunner": RoadRunnerBackend, "jax": JaxBackend}

ParamInput: TypeAlias = Mapping[str, ArrayLike] | pd.DataFrame | None


class SimulationError(RuntimeError):
    """A single simulation failed (batches record failures per patient instead)."""


def simulate(
    model: Model,
    regimen: Regimen | None = None,
    params: ParamInput = None,
    times: ArrayLike | None = None,
    *,
    covariates: Mapping[str, ArrayLike] | pd.DataFrame | None = None,
    initial: Mapping[str, ArrayLike] | None = None,
    n: int | None = None,
    backend: str = "scipy",
    method: str | None = None,
    rtol: float = 1e-6,
    atol: float | Mapping[str, float] = 1e-9,
    on_failure: str | None = None,
    decider: DoseDecider | None = None,
    progress: Callable[[float], None] | None = None,
    seed: int | np.random.Generator | None = None,
) -> SimulationResult:
    """Simulate one patient or a batch of N under a regimen.

    Main arguments:
        model: the model specification.
        regimen: dose events; ``None`` for no treatment.
        params: parameter overrides by name: scalars (all patients) or arrays of
            length N, or a DataFrame with one row per patient.
        times: output times in the model's time unit (sorted, >= 0). The
            integration starts at 0 from the initial state.

    Other arguments:
        covariates: ``weight`` (kg), ``height`` (cm), ``bsa`` (m2; Mosteller from
            weight and height when absent), per patient; needed for per-kg and
            per-m2 doses.
        initial: initial-state overrides by name.
        n: number of patients when nothing else fixes it.
        backend, method: integrator; ``backend`` ``scipy`` by default, ``method`` ``None``
            for the backend's own default, each stiff-capable (SciPy LSODA, native Rodas5P,
            JAX Kvaerno5, libRoadRunner CVODE).
        rtol, atol: tolerances; ``atol`` may be a mapping state -> value. For
            log-integrated states atol acts on log(x), i.e. as a relative tolerance.
        on_failure: ``"raise"`` or ``"record"``; default raises for a single
            patient and records for a batch.
        decider: per-patient dose decisions (hold rules); default gives every dose.
        progress: called with increments of patient-equivalents done (N in all).
        seed: random order of simultaneous model events of equal priority (SBML leaves
            it to chance); an integer or a generator, default seed 0 (reproducible).

    Returns:
        A :class:`SimulationResult`.

    Raises:
        EngineError: bad input (unknown parameter, value out of bounds, bad times,
            dose in a unit the route cannot take).
        SimulationError: the integration failed and ``on_failure`` is ``"raise"``.
    """
    if not isinstance(model, Model):
        raise EngineError(f"simulate: {model!r} is not a Model")
    regimen = regimen if regimen is not None else Regimen.none()
    if not isinstance(regimen, Regimen):
        raise EngineError(f"simulate: {regimen!r} is not a Regimen")
    if method is not None and method not in METHODS and not (
            backend == "native" and method in NATIVE_METHODS):
        raise EngineError(f"unknown method {method!r}; known: {', '.join(METHODS)} (and, with "
                          f"backend='native', {', '.join(NATIVE_METHODS)})")
    if not (isinstance(rtol, (int, float)) and 0 < rtol < 1):
        raise EngineError(f"rtol must be in (0, 1), not {rtol!r}")
    t_out = _times(times)
    size = _batch_size(params, covariates, initial, n)
    p = _param_matrix(model, params, size)
    cov = _covariates(covariates, size)
    x0 = _initial(model, initial, size)
    compiled = compile_model(model)
    actions = resolve_events(compiled, regimen, p, cov)
    tol = _atol(model, atol)
    try:
        solver = BACKENDS[backend]() if method is None else BACKENDS[backend](method=method)
    except KeyError:
        raise EngineError(f"unknown backend {backend!r}; known: {', '.join(BACKENDS)}") from None
    if model.events and not hasattr(solver, "integrate_to_root"):
        raise EngineError(f"model {model.name!r} has events, which backend {backend!r} cannot "
                          "simulate; use backend='scipy'")
    if compiled.delays is not None and not getattr(solver, "supports_delays", False):
        raise EngineError(f"model {model.name!r} uses delay(), which backend {backend!r} "
                          "cannot simulate; use backend='scipy'")
    out = run_batch(compiled, solver, compiled.to_internal(x0), p, actions, t_out,
                    decider if decider is not None else GiveAll(), rtol=rtol, atol=tol,
                    progress=progress, rng=np.random.default_rng(0 if seed is None else seed))
    policy = on_failure or ("raise" if size == 1 else "record")
    if policy not in ("raise", "record"):
        raise EngineError(f"on_failure must be 'raise' or 'record', not {on_failure!r}")
    failed = [i for i, s in enumerate(out.status) if s != "ok"]
    if failed and policy == "raise":
        i = failed[0]
        raise SimulationError(f"{model.name}: patient {i} failed: {out.message[i]}")
    states = compiled.to_natural(out.y, copy=False)  # the loop's array, not used again
    nt = len(t_out)
    if isinstance(solver, NativeBackend) and out.p is None:  # in C, on its threads
        observables = solver.observe(compiled, t_out, states, p, out.u)
    else:
        flat_x = states.reshape(size * nt, -1)
        flat_p = (cast(NDArray[np.float64], _RepeatedRows(p, nt)) if out.p is None
                  else out.p.reshape(size * nt, -1))
        flat_u = out.u.reshape(size * nt, -1) if out.z is None else \
            np.concatenate((out.u, out.z), axis=2).reshape(size * nt, -1)
        observables = compiled.observe(np.tile(t_out, size), flat_x, flat_p, flat_u)
        observables = observables.reshape(size, nt, -1)
    return SimulationResult(
        model=model,
        times=t_out,
        states=states,
        observables=observables,
        params=pd.DataFrame(p, columns=list(model.param_names)),
        status=np.array(out.status),
        message=tuple(out.message),
        dose_log=_dose_log(actions, out, float(t_out[-1])),
        param_values=out.p,
        rtol=rtol,
    )


def output_times(model: Model, regimen: Regimen | None, end: float,
                 points: int) -> NDArray[np.float64]:
    """The default output grid: ``points`` times evenly spaced over [0, ``end``] (the model's
    time unit) and every scheduled dose start and infusion end in that span, sorted and
    unique, so that the output holds each bolus' jump and each infusion's peak (an even grid
    alone falls anywhere inside a 15-min infusion)."""
    grid = np.linspace(0.0, end, points)
    if regimen is None:
        return grid
    starts, ends = event_times(regimen.events(), model.time_unit)
    doses = np.concatenate([starts, ends])
    return np.unique(np.concatenate([grid, doses[(doses >= 0.0) & (doses <= end)]]))


class _RepeatedRows:
    """``np.repeat(p, nt, axis=0)`` without the copy of every column.

    The generated observable code reads the parameter columns it uses, one at a time
    (``_p[:, j]``), so only those are repeated: for ``il2_qsp`` a few of ~90 columns. In a
    profile of 200 ``il2_qsp`` melanoma patients on the label course followed for 2 years
    (``benchmarks/run.py``) the full copy took 0.37 s of 3.7 s, and 430 MB for 500
    patients.
    """

    def __init__(self, p: NDArray[np.float64], nt: int) -> None:
        self.p, self.nt = p, nt
        self.shape = (p.shape[0] * nt, p.shape[1])

    def __getitem__(self, key: tuple[slice, int]) -> NDArray[np.float64]:
        rows, column = key
        if rows != slice(None):
            raise IndexError("only whole columns (_p[:, j]) can be read")
        return np.repeat(self.p[:, column], self.nt)


def _times(times: ArrayLike | None) -> NDArray[np.float64]:
    if times is None:
        raise EngineError("simulate: give the output times (empty save times: nothing would be "
                          "saved)")
    t = np.atleast_1d(np.asarray(times, dtype=float))
    if t.ndim != 1 or t.size == 0:
        raise EngineError("simulate: empty save times: nothing would be saved")
    if not np.all(np.isfinite(t)) or t[0] < 0:
        raise EngineError("simulate: output times must be finite and >= 0")
    if np.any(np.diff(t) < 0):
        raise EngineError("simulate: output times must be sorted")
    return t


def _length(value: object) -> int | None:
    arr = np.asarray(value)
    return None if arr.ndim == 0 else int(arr.shape[0])


def _batch_size(params: ParamInput, covariates: object, initial: object, n: int | None) -> int:
    sizes: set[int] = set()
    for source in (params, covariates, initial):
        if isinstance(source, pd.DataFrame):
            sizes.add(len(source))
        elif isinstance(source, Mapping):
            sizes.update(s for s in map(_length, source.values()) if s is not None)
    if n is not None:
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise EngineError(f"simulate: n must be a positive integer, not {n!r}")
        sizes.add(n)
    if len(sizes) > 1:
        raise EngineError(f"simulate: inconsistent batch sizes {sorted(sizes)} in params, "
                          "covariates, initial and n")
    return sizes.pop() if sizes else 1


def _column(name: str, value: object, size: int, what: str) -> NDArray[np.float64]:
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise EngineError(f"{what} {name!r}: {value!r} is not a number") from None
    if arr.ndim > 1:
        raise EngineError(f"{what} {name!r}: give a scalar or one value per patient")
    arr = np.broadcast_to(arr, (size,)).astype(float)
    if not np.all(np.isfinite(arr)):
        raise EngineError(f"{what} {name!r}: non-finite value")
    return arr


def _items(source: Mapping[str, ArrayLike] | pd.DataFrame) -> list[tuple[str, object]]:
    if isinstance(source, pd.DataFrame):
        return [(str(c), source[c].to_numpy()) for c in source.columns]
    return list(source.items())


def _param_matrix(model: Model, params: ParamInput, size: int) -> NDArray[np.float64]:
    p = np.tile(np.array([q.value for q in model.params], dtype=float), (size, 1))
    if params is None:
        return p
    for name, value in _items(params):
        if name not in model.param_names:
            raise EngineError(f"model {model.name!r} has no parameter {name!r}; "
                              f"known: {', '.join(model.param_names)}")
        j = model.param_names.index(name)
        col = _column(name, value, size, "parameter")
        lo, hi = model.params[j].bounds
        bad = np.flatnonzero((col < lo) | (col > hi))
        if bad.size:
            raise EngineError(f"parameter {name!r} = {col[bad[0]]:g} (patient {bad[0]}) lies "
                              f"outside its bounds [{lo:g}, {hi:g}]")
        p[:, j] = col
    return p


def _covariates(covariates: object, size: int) -> pd.DataFrame:
    known = {"weight": "kg", "height": "cm", "bsa": "m2"}
    frame = pd.DataFrame(index=range(size))
    if covariates is None:
        return frame
    if not isinstance(covariates, (Mapping, pd.DataFrame)):
        raise EngineError("covariates: give a mapping or a DataFrame")
    for name, value in _items(covariates):
        if name not in known:
            raise EngineError(f"unknown covariate {name!r}; known: weight (kg), height (cm), "
                              "bsa (m2)")
        col = _column(name, value, size, "covariate")
        if np.any(col <= 0):
            raise EngineError(f"covariate {name!r} must be positive")
        frame[name] = col
    if "bsa" not in frame and {"weight", "height"} <= set(frame.columns):
        frame["bsa"] = bsa_mosteller(frame["weight"].to_numpy(), frame["height"].to_numpy())
    return frame


def _initial(model: Model, initial: Mapping[str, ArrayLike] | None,
             size: int) -> NDArray[np.float64]:
    x0 = np.tile(np.array([s.initial for s in model.states], dtype=float), (size, 1))
    for name, value in (initial or {}).items():
        if name not in model.state_names:
            raise EngineError(f"model {model.name!r} has no state {name!r}")
        j = model.state_names.index(name)
        col = _column(name, value, size, "initial state")
        if model.states[j].log and np.any(col <= 0):
            raise EngineError(f"initial state {name!r} must be positive (integrated as a log)")
        if np.any(col < 0) and not model.states[j].signed:
            raise EngineError(f"initial state {name!r} must be non-negative")
        x0[:, j] = col
    return x0


def _atol(model: Model, atol: float | Mapping[str, float]) -> float | NDArray[np.float64]:
    if isinstance(atol, Mapping):
        vec = np.full(len(model.states), 1e-9)
        for name, value in atol.items():
            if name not in model.state_names:
                raise EngineError(f"atol: model {model.name!r} has no state {name!r}")
            vec[model.state_names.index(name)] = float(value)
        return vec
    if not atol > 0:
        raise EngineError("atol must be positive")
    return float(atol)


def _dose_log(actions: DoseActions, out: BatchOutput, t_end: float) -> pd.DataFrame:
    """One row per patient and scheduled dose up to ``t_end``: given, held, and why."""
    n = actions.amount.shape[1]
    keep = np.flatnonzero(actions.time <= t_end)
    table = actions.table.iloc[keep]
    k, m = len(keep), n
    given = out.given[keep]
    frame = pd.DataFrame({
        "patient": np.repeat(np.arange(m), k),
        "dose_id": np.tile(table["dose_id"].to_numpy(), m),
        "time": np.tile(actions.time[keep], m),
        "time_h": np.tile(table["time_h"].to_numpy(), m),
        "label": np.tile(table["label"].to_numpy(), m),
        "kind": np.tile(table["kind"].to_numpy(), m),
        "route": np.tile(table["route"].to_numpy(), m),
        "amount": actions.amount[keep].T.ravel(),
        "unit": np.tile(np.array(actions.unit, dtype=object)[keep], m),
        "duration_h": np.tile(table["duration_h"].to_numpy(), m),
        "drug": np.tile(table["drug"].to_numpy(), m),
        "course": np.tile(table["course"].to_numpy(), m),
        "cycle": np.tile(table["cycle"].to_numpy(), m),
        "status": np.where(given.T.ravel(), "given", "held"),
        "reason": out.reason[keep].T.ravel(),
    })
    return frame
