"""The backend contract: integrate a batch of patients over one smooth segment.

The engine's event loop (:mod:`il2sim.engine.loop`) cuts the time axis at
every dose event; between two cuts the right-hand side is smooth and the inputs
are constant. A backend only has to integrate N independent systems over such a
segment, each with its own adaptive step size, and say which ones failed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import brentq

from il2sim.model.compile import CompiledModel

__all__ = ["AbstractBackend", "RootFindingBackend", "RootSegment", "SegmentOutput",
           "SolverFailure", "StepCarryingBackend", "first_root"]


class SolverFailure(RuntimeError):
    """The integrator could not complete a segment for a patient."""


@dataclass(frozen=True)
class SegmentOutput:
    """Result of one segment for N patients (internal coordinates).

    Attributes:
        y_eval: states at the requested times, ``(N, n_eval, n_states)``.
        y_end: states at the end of the segment, ``(N, n_states)``.
        ok: True where the patient's integration succeeded.
        message: the reason per failed patient (empty string when ok).
        next_step: the step size each patient's integrator would take next (0 when
            unknown or failed), for a :class:`StepCarryingBackend`; ``None`` otherwise.
    """

    y_eval: NDArray[np.float64]
    y_end: NDArray[np.float64]
    ok: NDArray[np.bool_]
    message: list[str]
    next_step: NDArray[np.float64] | None = None


class AbstractBackend(Protocol):
    """Integrates ``dy/dt = rhs(t, y, p, u)`` for N patients from ``t0`` to ``t1``."""

    name: str

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
        """Integrate each row of ``y`` (with its row of ``p`` and ``u``) over ``[t0, t1]``,
        reporting the states at ``t_eval`` (sorted, within ``[t0, t1)``)."""
        ...


class StepCarryingBackend(AbstractBackend, Protocol):
    """A backend that can start a segment from the step size the previous one ended with.

    Across a dose the solution is continuous and only the inputs change, so the last step
    size is a better start than an estimate from scratch (which, for a compartment that
    starts at 0 under a large infusion rate, is near the rounding level of t and costs a
    dozen growing steps per dose). The adaptive controller still rejects a start that is too
    large, so accuracy is unchanged. Optional: the event loop uses it when present."""

    def integrate_from(
        self,
        compiled: CompiledModel,
        t0: float,
        t1: float,
        y: NDArray[np.float64],
        p: NDArray[np.float64],
        u: NDArray[np.float64],
        t_eval: NDArray[np.float64],
        first_step: NDArray[np.float64],
        *,
        rtol: float,
        atol: float | NDArray[np.float64],
    ) -> SegmentOutput:
        """As :meth:`AbstractBackend.integrate`, starting patient ``i`` with step
        ``first_step[i]`` (0: estimate one); ``next_step`` of the result is set."""
        ...


@dataclass(frozen=True)
class RootSegment:
    """Result of integrating one patient until a root (or the end of the segment).

    Attributes:
        t: where the integration stopped: the first root, or ``t1``.
        y: the state there (internal coordinates).
        y_eval: states at the requested times before ``t``, ``(n_eval_before_t, n_states)``.
        hit: index of the root function that stopped it; -1 when it reached ``t1``.
        also: other root functions that cross at the same time (to rounding).
    """

    t: float
    y: NDArray[np.float64]
    y_eval: NDArray[np.float64]
    hit: int
    also: tuple[int, ...] = ()


RootFunction = Callable[[float, NDArray[np.float64]], float]


class RootFindingBackend(AbstractBackend, Protocol):
    """A backend that can also stop at the first sign change of a root function: what
    model events (:class:`~il2sim.model.spec.Event`) need. Optional: a backend without
    ``integrate_to_root`` simulates models without events only."""

    def integrate_to_root(
        self,
        compiled: CompiledModel,
        t0: float,
        t1: float,
        y: NDArray[np.float64],
        p: NDArray[np.float64],
        u: NDArray[np.float64],
        t_eval: NDArray[np.float64],
        roots: Sequence[RootFunction],
        directions: Sequence[float],
        *,
        rtol: float,
        atol: float | NDArray[np.float64],
    ) -> RootSegment:
        """Integrate one patient from ``t0`` towards ``t1``, stopping at the first root of
        ``roots[k](t, y)`` crossed in ``directions[k]`` (+1 upwards, -1 downwards, 0 either);
        raises :class:`SolverFailure` when the integration fails."""
        ...


Dense = Callable[[float], NDArray[np.float64]]


def _locate(root: RootFunction, dense: Dense, a: float, b: float) -> float:
    """The root of ``root`` along the dense output between ``a`` and ``b`` (Brent's
    method); ``b`` when the interpolant does not bracket it (a rounding-level change)."""
    def f(tt: float) -> float:
        return root(tt, dense(tt))
    fa, fb = f(a), f(b)
    if not (np.isfinite(fa) and np.isfinite(fb)) or fa * fb > 0:
        return b
    if fb == 0:
        return b if fa != 0 else a
    return float(brentq(f, a, b, xtol=1e-15 * max(1.0, abs(b)), rtol=4 * np.finfo(float).eps))


def first_root(roots: Sequence[RootFunction], directions: Sequence[float],
               g_old: NDArray[np.float64], g_new: NDArray[np.float64], dense: Dense,
               t_old: float, t_new: float) -> tuple[float, int, tuple[int, ...]]:
    """The first root crossed over one accepted step from ``t_old`` to ``t_new``, as every
    :class:`RootFindingBackend` decides it: root function ``k`` crosses when its values at
    the step's ends (``g_old``, ``g_new``) change sign in ``directions[k]`` (a value of
    exactly 0 at the start does not count), and is located on the step's ``dense`` output.
    Returns ``(t_hit, hit, also)``: ``hit`` -1 (and ``t_hit = t_new``) when none crosses,
    ``also`` the others crossing within 64 ulp of ``t_hit``."""
    found: list[tuple[float, int]] = []
    for k, direction in enumerate(directions):
        a, b = g_old[k], g_new[k]
        up = direction >= 0 and a < 0 <= b
        down = direction <= 0 and a > 0 >= b
        if up or down:
            found.append((_locate(roots[k], dense, t_old, t_new), k))
    if not found:
        return t_new, -1, ()
    t_hit, hit = min(found)
    close = 64 * np.finfo(float).eps * max(1.0, abs(t_hit))
    return t_hit, hit, tuple(k for at, k in found if k != hit and at - t_hit <= close)
