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

from il2sim.model.compile import CompiledModel

__all__ = ["AbstractBackend", "RootFindingBackend", "RootSegment", "SegmentOutput",
           "SolverFailure", "StepCarryingBackend"]


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
