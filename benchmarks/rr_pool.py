"""libRoadRunner peers over several worker processes, for ``benchmarks/run.py``.

A RoadRunner object cannot be pickled, so each worker of a ``spawn``-context pool builds
its own in an initializer (W1: from the SBML string; W2: the roadrunner backend's cached
instance for the model) and is warmed with one small simulation before any timing. The
parent splits the patients into contiguous chunks, one per worker, and times the map alone
(wall time in the parent; CPU time = the parent's plus the sum of the workers'
``time.process_time`` over their chunks). The per-patient loop of W1 is here too, so the
single-process row and the workers run the same code.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Sequence
from types import TracebackType
from typing import Any

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]

_BARRIER_SECONDS = 600.0  # how long a warm-up waits for the other workers
_STATE: dict[str, Any] = {}  # per worker process: what its initializer built


# ------------------------------------------------------------ W1: RoadRunner on the SBML
def rr_ids(rr: Any) -> list[str]:
    """The selections E, T, IL in the model's names (il2sim export or BIOMD0000000732)."""
    ids = [s for s in ("E", "T", "IL") if s in rr.model.getFloatingSpeciesIds()]
    return ids or ["Immune_cells", "Tumor", "IL2"]


def rr_configure(rr: Any, tol: float, log_floor: float | None) -> None:
    """CVODE settings of a W1 row: rtol = atol = ``tol``, or the cell states' atol mapped
    from il2sim's tolerance on log(cells) (``tol * log_floor``) when ``log_floor`` is set."""
    rr.integrator.relative_tolerance = tol
    rr.integrator.absolute_tolerance = tol
    if log_floor is not None:
        rr.integrator.absolute_tolerance = [tol * log_floor] * 3  # E, T, IL: all log states
    rr.integrator.maximum_num_steps = 500_000


def rr_loop(rr: Any, ids: list[str], cs: Array, grid: list[float]) -> tuple[Array, list[str]]:
    """One simulation per antigenicity ``c``; a CVODE failure gives NaN and a message."""
    out = np.empty((len(cs), len(grid), 3))
    errors: list[str] = []
    for i, c in enumerate(cs):
        rr.resetAll()
        rr["c"] = float(c)
        try:
            out[i] = rr.simulate(times=grid, selections=ids)
        except RuntimeError as exc:  # CVODE failure: recorded, as il2sim does
            out[i] = np.nan
            errors.append(str(exc).split(";")[0])
    return out, errors


def _init_w1(sbml: str, grid: list[float]) -> None:
    import roadrunner

    rr = roadrunner.RoadRunner(sbml)
    _STATE.update(rr=rr, ids=rr_ids(rr), grid=grid)


def _warm_w1(c: float) -> None:
    rr_configure(_STATE["rr"], 1e-6, None)
    rr_loop(_STATE["rr"], _STATE["ids"], np.array([c]), _STATE["grid"])


def w1_chunk(task: tuple[Array, float, float | None]) -> tuple[Array, list[str], float]:
    """Worker: the loop over one chunk of antigenicities; its states, failures, CPU time."""
    cs, tol, log_floor = task
    start = time.process_time()
    rr_configure(_STATE["rr"], tol, log_floor)
    out, errors = rr_loop(_STATE["rr"], _STATE["ids"], cs, _STATE["grid"])
    return out, errors, time.process_time() - start


# ----------------------------------------------------- W2: simulate(backend="roadrunner")
def _init_w2(model_name: str, regimen: Any, times: Array, cycles: Any,
             args: dict[str, dict[str, Array]]) -> None:
    _STATE.update(model_name=model_name, regimen=regimen, times=times, cycles=cycles,
                  args=args)


def _w2_simulate(lo: int, hi: int, rtol: float, atol: float) -> Any:
    from il2sim import get_model, simulate
    from il2sim.protocol import ProtocolDecider

    args: dict[str, Any] = {k: {name: v[lo:hi] for name, v in part.items()}
                            for k, part in _STATE["args"].items()}
    return simulate(get_model(_STATE["model_name"]), _STATE["regimen"], times=_STATE["times"],
                    backend="roadrunner", rtol=rtol, atol=atol, on_failure="record",
                    decider=ProtocolDecider(_STATE["cycles"]), **args)


def _warm_w2(_: Any) -> None:
    _w2_simulate(0, 1, 1e-6, 1e-8)  # loads the RoadRunner instance (SBML export + JIT)


def w2_chunk(task: tuple[int, int, float, float]) -> tuple[Array, Array, Array, float]:
    """Worker: the roadrunner backend on patients ``lo:hi`` of the subsample; states and
    observables, status, dose-log status, CPU time."""
    lo, hi, rtol, atol = task
    start = time.process_time()
    r = _w2_simulate(lo, hi, rtol, atol)
    cpu = time.process_time() - start
    values = np.concatenate([r.states, r.observables], axis=2)
    return values, np.asarray(r.status), r.dose_log["status"].to_numpy(), cpu


# --------------------------------------------------------------------------------- pool
_WARM = {"w1": _warm_w1, "w2": _warm_w2}


def _init(kind: str, barrier: Any, payload: tuple[Any, ...]) -> None:
    _STATE.clear()
    _STATE.update(kind=kind, barrier=barrier)
    try:
        (_init_w1 if kind == "w1" else _init_w2)(*payload)
    except Exception as exc:  # raised by the warm-up task: a pool whose initializer
        _STATE["error"] = exc  # raises would restart its workers forever


def _warm(arg: Any) -> None:
    """One per worker: a small simulation, then wait until every worker has done its own
    (the barrier makes each worker take exactly one of these tasks)."""
    try:
        if "error" in _STATE:
            raise _STATE["error"]
        _WARM[_STATE["kind"]](arg)
    except BaseException:
        _STATE["barrier"].abort()  # the other workers stop waiting too
        raise
    _STATE["barrier"].wait(_BARRIER_SECONDS)


def chunks(n: int, parts: int) -> list[tuple[int, int]]:
    """``parts`` contiguous ranges ``(lo, hi)`` covering ``range(n)``, sizes within one."""
    edges = np.linspace(0, n, max(1, min(parts, n)) + 1).round().astype(int)
    return [(int(lo), int(hi)) for lo, hi in zip(edges[:-1], edges[1:])]


class PeerPool:
    """``processes`` spawn-context workers for W1 (``kind="w1"``, payload: SBML string,
    output times) or W2 (``"w2"``, payload: model name, regimen, output times, label protocol,
    the subsample's ``params``/``initial``/``covariates`` arrays), each warmed on entry."""

    def __init__(self, processes: int, kind: str, payload: tuple[Any, ...],
                 warm_arg: Any = None) -> None:
        if kind not in _WARM:
            raise ValueError(f"kind must be 'w1' or 'w2', not {kind!r}")
        self.processes = processes
        self._kind = kind
        self._payload = payload
        self._warm_arg = warm_arg
        self._pool: Any = None

    def __enter__(self) -> PeerPool:
        ctx = multiprocessing.get_context("spawn")
        barrier = ctx.Barrier(self.processes)
        self._pool = ctx.Pool(self.processes, _init, (self._kind, barrier, self._payload))
        try:
            self._pool.map(_warm, [self._warm_arg] * self.processes, chunksize=1)
        except BaseException:
            self._pool.terminate()
            self._pool.join()
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None:
            self._pool.close()
        else:
            self._pool.terminate()
        self._pool.join()

    def run(self, fn: Any, tasks: Sequence[Any], repeats: int = 1
            ) -> tuple[float, float, list[Any]]:
        """Best wall and CPU time (parent + workers) of ``repeats`` maps of ``fn`` over
        ``tasks`` (one task per worker at a time, in order), and the last map's results;
        ``fn`` returns its worker CPU time last."""
        wall = cpu = float("inf")
        out: list[Any] = []
        for _ in range(repeats):
            start, start_cpu = time.perf_counter(), time.process_time()
            out = self._pool.map(fn, tasks, chunksize=1)
            wall = min(wall, time.perf_counter() - start)
            parent = time.process_time() - start_cpu
            cpu = min(cpu, parent + sum(float(o[-1]) for o in out))
        return wall, cpu, out
