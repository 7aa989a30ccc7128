"""libRoadRunner backend: il2sim's SBML export integrated by CVODE, one patient at a time.

The model is written as SBML by :func:`il2sim.sbml.write.export_sbml` (species =
states in natural form, constant parameters = parameters, non-constant parameters =
inputs, including each route's implicit ``rate_<route>``) and loaded once per model
and thread into a :class:`roadrunner.RoadRunner` (LLVM-compiled right-hand side,
SUNDIALS CVODE: variable-order BDF with Newton iterations; Hindmarsh et al., ACM TOMS
31, 2005; Somogyi et al., Bioinformatics 31, 2015). The SBML carries no events: the
engine's event loop (:mod:`il2sim.engine.loop`) cuts the time axis at doses and hold
decisions exactly as for the other backends, and this backend integrates each smooth
segment.

Coordinates. il2sim integrates states declared ``log=True`` as ``y = log(x)``; CVODE
integrates ``x`` itself. States are mapped in (``x = exp(y)``) and out (``y = log(x)``)
at every segment. The tolerances are translated so that they mean the same thing:
``rtol`` is passed through; a linear state keeps its ``atol``. For a log state il2sim's
weight ``atol + rtol*|log x|`` bounds the error of ``log(x)``, i.e. the *relative* error
of ``x`` at every size, so CVODE gets the absolute tolerance ``atol * floor`` with
``floor`` = 1e-200 by default: relative control down to ``x`` of about 1e-200. With a
species-sized absolute tolerance instead (say ``atol * x(0)``), CVODE stops
controlling a collapsing tumour once it is below that size, steps it through zero,
and models with ``T`` in a denominator (de Pillis 2006: ``(L/T)**l``) fail with
repeated corrector convergence failures (measured: every tolerance from 1e-6 to 1e-10,
at t = 15-71 days, while ``T`` falls from 1e6 through 1e-20 to 1e-77). A
non-positive value of a log state (CVODE overshooting zero) is clipped to the smallest
normal double (counted in ``stats.clipped``) or, with ``negative="fail"``, fails the
patient.
"""

from __future__ import annotations

import sys
import threading
import time
import weakref
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from il2sim.engine.backend import SegmentOutput
from il2sim.engine.events import EngineError
from il2sim.engine.scipy_backend import METHODS
from il2sim.model.compile import CompiledModel
from il2sim.model.spec import Model

__all__ = ["RoadRunnerBackend", "RoadRunnerStats", "roadrunner_for"]

_TINY = sys.float_info.min  # smallest normal double: log() of it is -708.4
_LOCAL = threading.local()


def _cache() -> weakref.WeakKeyDictionary[Model, Any]:
    cache = getattr(_LOCAL, "instances", None)
    if cache is None:
        cache = weakref.WeakKeyDictionary()
        _LOCAL.instances = cache
    return cache


def roadrunner_for(model: Model) -> Any:
    """A :class:`roadrunner.RoadRunner` of ``model``'s SBML export (one per model and thread).

    Raises:
        EngineError: libroadrunner is not installed, or the export did not load.
    """
    cache = _cache()
    rr = cache.get(model)
    if rr is not None:
        return rr
    try:
        import roadrunner
    except ImportError:
        raise EngineError("the roadrunner backend needs libroadrunner ('pip install "
                          "libroadrunner'); or use backend='scipy' or 'native'") from None
    from il2sim.sbml.write import export_sbml

    try:
        rr = roadrunner.RoadRunner(export_sbml(model))
    except RuntimeError as exc:
        raise EngineError(f"libRoadRunner could not load the SBML export of "
                          f"{model.name!r}: {exc}") from None
    cache[model] = rr
    return rr


def _output_grid(t0: float, t1: float,
                 t_eval: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.intp]]:
    """CVODE's output times ``t0 < ... < t1`` and the row of each ``t_eval`` in them.

    Points closer than 1e-9 (relative to ``max(1, |t|)``) to the previous one are merged
    into it: CVODE refuses an output "too close to t0" (a grid of ``k/24`` days in hours
    puts ``7.999999999999999`` next to a dose at ``8``); the states differ by about the
    derivative times 1e-15.
    """
    candidates = np.unique(np.concatenate([[t0], t_eval, [t1]]))
    keep = [t0]
    for t in candidates[1:]:
        if t - keep[-1] > 1e-9 * max(1.0, abs(t)):
            keep.append(float(t))
    keep[-1] = t1 if len(keep) > 1 else keep[-1]
    if len(keep) == 1:
        keep.append(t1)
    grid = np.array(keep)
    right = np.clip(np.searchsorted(grid, t_eval), 0, len(grid) - 1)
    left = np.clip(right - 1, 0, len(grid) - 1)
    rows = np.where(np.abs(grid[left] - t_eval) < np.abs(grid[right] - t_eval), left, right)
    return grid, rows


@dataclass
class RoadRunnerStats:
    """Work counters summed over the calls of one backend object."""

    calls: int = 0
    patient_segments: int = 0
    clipped: int = 0
    seconds: float = 0.0


@dataclass
class RoadRunnerBackend:
    """libRoadRunner (CVODE, stiff BDF) per patient on il2sim's SBML export.

    Main arguments:
        method: ``"CVODE"`` (the default), or any SciPy backend method name, accepted and
            ignored so that a scenario's method works with this backend too.

    Other arguments:
        negative: what to do when CVODE returns a non-positive value for a state il2sim
            integrates as a logarithm: ``"clip"`` (to the smallest normal double) or
            ``"fail"`` (the patient fails).
        max_steps: CVODE's ``maximum_num_steps`` (between two output times).
        log_floor: CVODE's absolute tolerance for a log state is ``atol * log_floor``.
    """

    method: str = "CVODE"
    negative: str = "clip"
    max_steps: int = 500_000
    log_floor: float = 1e-200
    name: str = "roadrunner"
    stats: RoadRunnerStats = field(default_factory=RoadRunnerStats)

    def __post_init__(self) -> None:
        if self.method not in (*METHODS, "CVODE"):
            raise EngineError(f"unknown method {self.method!r} for the roadrunner backend; it "
                              f"always uses CVODE and accepts: {', '.join(METHODS)}, CVODE")
        if self.negative not in ("clip", "fail"):
            raise EngineError(f"negative must be 'clip' or 'fail', not {self.negative!r}")
        if self.max_steps < 1:
            raise EngineError("roadrunner backend: max_steps must be >= 1")
        if not 0.0 < self.log_floor <= 1.0:
            raise EngineError(f"log_floor must be in (0, 1], not {self.log_floor!r}")

    def integrate(
        self,
        compiled: CompiledModel,
        t0: float,
        t1: float,
        y: NDArray[np.float64],
        p: NDArray[np.float64],
        u: NDArray[np.float64],
        t_eval: NDArray[np.float64],
        *,
        rtol: float,
        atol: float | NDArray[np.float64],
    ) -> SegmentOutput:
        start = time.perf_counter()
        model = compiled.model
        rr = roadrunner_for(model)
        n, ns = y.shape
        log = compiled.log_mask
        species = list(rr.model.getFloatingSpeciesIds())
        if species != list(model.state_names):
            raise EngineError(f"SBML export of {model.name!r} has species {species}, the "
                              f"model states {list(model.state_names)}")
        globals_ = list(rr.model.getGlobalParameterIds())
        p_index = [globals_.index(name) for name in model.param_names]
        u_index = [globals_.index(name) for name in compiled.input_names]
        s_index = list(range(ns))
        integrator = rr.integrator
        integrator.relative_tolerance = float(rtol)
        integrator.maximum_num_steps = int(self.max_steps)
        atol_vec = np.broadcast_to(np.asarray(atol, dtype=np.float64), (ns,))
        grid, rows = _output_grid(t0, t1, t_eval)
        y_eval = np.full((n, len(t_eval), ns), np.nan)
        y_end = np.full((n, ns), np.nan)
        ok = np.zeros(n, dtype=bool)
        message = [""] * n
        x0 = compiled.to_natural(y)
        tol = np.where(log, atol_vec * self.log_floor, atol_vec).tolist()
        integrator.absolute_tolerance = tol
        rounding = t1 - t0 <= 64 * np.finfo(float).eps * max(abs(t0), abs(t1))
        for i in range(n):
            if rounding:  # two breakpoints a rounding error apart: nothing to integrate
                y_eval[i], y_end[i], ok[i] = y[i], y[i], True
                continue
            rr.model.setGlobalParameterValues(p_index, p[i])
            if u_index:
                rr.model.setGlobalParameterValues(u_index, u[i])
            rr.model.setFloatingSpeciesAmounts(s_index, x0[i])
            try:
                x = np.asarray(rr.simulate(times=grid, selections=species), dtype=np.float64)
            except RuntimeError as exc:  # CVODE failure: recorded per patient
                message[i] = f"libRoadRunner failed between t={t0:g} and t={t1:g}: " + \
                    str(exc).split("\n")[0]
                continue
            if x.shape != (len(grid), ns) or not np.all(np.isfinite(x)):
                message[i] = f"non-finite state between t={t0:g} and t={t1:g}"
                continue
            bad = log & (x <= 0.0)
            if bad.any():
                if self.negative == "fail":
                    k, j = np.argwhere(bad)[0]
                    message[i] = (f"state {model.state_names[j]!r} (integrated as a log in "
                                  f"il2sim) is {x[k, j]:g} <= 0 at t={grid[k]:g} in CVODE")
                    continue
                self.stats.clipped += int(bad.sum())
                x = np.where(bad, _TINY, x)
            yy = compiled.to_internal(x)
            y_eval[i] = yy[rows]
            y_end[i] = yy[-1]
            ok[i] = True
        s = self.stats
        s.calls += 1
        s.patient_segments += n
        s.seconds += time.perf_counter() - start
        return SegmentOutput(y_eval, y_end, ok, message)
