"""Delayed values for the SciPy backend: a dense history of one patient's solution.

A model with ``delay(x, d)`` terms is a delay differential equation

    dy/dt = f(t, y(t), z(t), p, u),     z_k(t) = x_k(t - d_k, y(t - d_k), p, u),

solved by the method of steps with a dense history (Bellen & Zennaro, *Numerical Methods
for Delay Differential Equations*, Oxford University Press 2003, chapters 3-4): every
accepted step of the ODE solver keeps its dense output, and ``z`` is evaluated from them.
Before the start ``t0`` the states, parameters and inputs keep their values at ``t0`` and
time is ``t - d`` itself (an expression of time alone, such as an SBML assignment rule
``P = time``, holds before ``t0`` too: SBML Level 3 Version 2, section 3.4.7, and the
SBML Test Suite's cases 01318 and 01522). Steps never exceed the smallest positive delay,
so a step only reads the history of earlier steps, and the solver is restarted at the
*breakpoints* ``tau + m_1 d_1 + m_2 d_2 + ...`` where the solution's derivatives jump:
``tau`` the start and every jump (a dose, an event), the sums up to order
:data:`BREAKPOINT_ORDER` (each order is one derivative smoother than the one before).
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from il2sim.model.compile import CompiledModel

__all__ = ["BREAKPOINT_ORDER", "DelayHistory"]

BREAKPOINT_ORDER = 12
"""Breakpoints are propagated to ``tau + sum m_k d_k`` with ``sum m_k`` up to this order:
past it the jump is in a derivative beyond the solvers' orders (LSODA: 12)."""

FloatArray = NDArray[np.float64]


class DelayHistory:
    """One patient's solution since ``t0``, piece by piece, with its parameters and inputs.

    Arguments:
        compiled: the model (with ``compiled.delays``).
        t0: the start; ``y0``, ``p0``, ``u0``: states (internal coordinates), parameters
            and inputs there, which hold before ``t0``.
    """

    def __init__(self, compiled: CompiledModel, t0: float, y0: FloatArray, p0: FloatArray,
                 u0: FloatArray) -> None:
        assert compiled.delays is not None
        self.cm = compiled
        self.delays = compiled.delays
        self.t0 = float(t0)
        self.x0 = compiled.to_natural(y0)
        self.p0, self.u0 = p0.copy(), u0.copy()
        self.starts: list[float] = []
        self.ends: list[float] = []
        self.dense: list[Callable[[float], FloatArray]] = []
        self.context: list[tuple[FloatArray, FloatArray]] = []
        self.jumps: list[float] = []
        self._lags: FloatArray | None = None
        self._shifts: list[float] | None = None
        self._breakpoints: list[float] = []
        self._jump(self.t0)

    def lags(self, p: FloatArray, u: FloatArray) -> FloatArray:
        """The delays ``d_k``: constant (of parameters no event sets), so computed once."""
        if self._lags is None:
            lags = np.asarray(self.delays.lags(self.t0, self.x0, self.p0, self.u0),
                              dtype=float)
            if np.any(~(lags >= 0)):
                k = int(np.flatnonzero(~(lags >= 0))[0])
                raise ValueError(f"{self.delays.terms[k]}: the delay is {lags[k]:g}, "
                                 "not >= 0")
            self._lags = lags
        return self._lags

    def max_step(self, p: FloatArray, u: FloatArray) -> float:
        """The largest step that reads only the history: the smallest positive delay
        (unbounded when only observables use delayed values)."""
        if not self.delays.dynamic:
            return np.inf
        lags = self.lags(p, u)
        positive = lags[lags > 0]
        return float(positive.min()) if positive.size else np.inf

    def record(self, t_a: float, t_b: float, dense: Callable[[float], FloatArray],
               p: FloatArray, u: FloatArray) -> None:
        """Keep an accepted step ``[t_a, t_b]`` (``dense``: internal coordinates); a step
        starting where the solution jumped (new states, parameters or inputs) adds a
        breakpoint."""
        if not t_b > t_a:
            return
        if self.starts:
            last_p, last_u = self.context[-1]
            if t_a > self.ends[-1] or not (np.array_equal(last_p, p)
                                           and np.array_equal(last_u, u)
                                           and np.array_equal(self.dense[-1](t_a), dense(t_a))):
                self._jump(t_a)
            context = self.context[-1] if (np.array_equal(last_p, p)
                                           and np.array_equal(last_u, u)) else (p.copy(),
                                                                                u.copy())
        else:
            if not (np.array_equal(self.p0, p) and np.array_equal(self.u0, u)
                    and np.array_equal(self.cm.to_natural(dense(t_a)), self.x0)):
                self._jump(t_a)
            context = (p.copy(), u.copy())
        self.starts.append(float(t_a))
        self.ends.append(float(t_b))
        self.dense.append(dense)
        self.context.append(context)

    def _jump(self, t: float) -> None:
        if (self.jumps and t <= self.jumps[-1]) or not self.delays.dynamic:
            return
        self.jumps.append(float(t))
        for shift in self._shift_set():
            bisect.insort(self._breakpoints, t + shift)

    def _shift_set(self) -> list[float]:
        """``sum m_k d_k`` for ``1 <= sum m_k <= BREAKPOINT_ORDER`` (at most 10,000)."""
        if self._shifts is None:
            lags = sorted(set(float(d) for d in self.lags(self.p0, self.u0) if d > 0))
            shifts: set[float] = set()
            for order in range(1, BREAKPOINT_ORDER + 1 if lags else 1):
                for combo in itertools.combinations_with_replacement(lags, order):
                    shifts.add(sum(combo))
                if len(shifts) > 10_000:
                    break
            self._shifts = sorted(shifts)
        return self._shifts

    def values(self, t: float, y: FloatArray, p: FloatArray, u: FloatArray) -> FloatArray:
        """The delayed values ``z_k(t)``; ``y``, ``p``, ``u``: the state (internal
        coordinates), parameters and inputs at ``t`` (what a delay of 0 reads)."""
        lags = self.lags(p, u)
        z = np.empty(len(lags))
        for k, lag in enumerate(lags):
            s = t - lag
            if lag == 0:
                x_s, p_s, u_s = self.cm.to_natural(y), p, u
            else:
                x_s, p_s, u_s = self._at(s)
            z[k] = float(self.delays.args[k](s, x_s, p_s, u_s)[0])
        return z

    def _at(self, s: float) -> tuple[FloatArray, FloatArray, FloatArray]:
        """States (natural), parameters and inputs at ``s`` (right-continuous at jumps)."""
        if s < self.t0 or not self.starts:
            return self.x0, self.p0, self.u0
        j = max(bisect.bisect_right(self.starts, s) - 1, 0)
        p_s, u_s = self.context[j]
        return self.cm.to_natural(np.asarray(self.dense[j](s), dtype=float)), p_s, u_s

    def breakpoints(self, a: float, b: float, p: FloatArray, u: FloatArray) -> list[float]:
        """The breakpoints in ``(a, b)``, sorted."""
        bps = self._breakpoints
        out = bps[bisect.bisect_right(bps, a):bisect.bisect_left(bps, b)]
        kept: list[float] = []
        for t in out:  # none within rounding of a, b or each other (no pieces of length ~0)
            gap = 1e-12 * max(1.0, abs(t))
            if a + gap < t < b - gap and (not kept or t - kept[-1] > gap):
                kept.append(t)
        return kept

    def wrap(self, fn: Callable[..., Any], p: FloatArray, u: FloatArray,
             ) -> Callable[[float, FloatArray], Any]:
        """``fn(t, y, p, u)`` of a compiled model as ``f(t, y)`` with the delayed values
        appended to ``u``."""
        def f(t: float, y: FloatArray) -> Any:
            return fn(t, y, p, np.concatenate((u, self.values(t, y, p, u))))
        return f
