"""Model events (:class:`~il2sim.model.spec.Event`) for the dose loop, patient by patient.

SBML Level 3 Version 2 semantics (section 4.12): a trigger fires when it turns from false to
true (found by root finding on the triggers' relations; a relation linear in time alone is
crossed exactly), the execution waits ``delay`` in a queue of pending events, simultaneous
executions go by priority, and every trigger is evaluated again after each execution.
Outputs at an event time are reported after the event. The dose loop
(:func:`il2sim.engine.loop.run_batch`) makes one :class:`EventRunner` per batch and calls
:meth:`EventRunner.start`, :meth:`EventRunner.jump` and :meth:`EventRunner.advance` inside
each segment between doses.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from il2sim.engine.backend import RootFindingBackend, RootFunction, SolverFailure
from il2sim.engine.delays import DelayHistory
from il2sim.model.compile import CompiledEvents, CompiledModel

__all__ = ["EventRunner"]

_MAX_EXECUTIONS = 10_000
"""Event executions per patient and instant before it is failed: a trigger that an
execution makes true again with no delay would loop forever."""
_MAX_STOPS = 1000
"""Root stops in a row at one time before a patient is failed (a chattering trigger)."""


@dataclass
class _Pending:
    """A triggered event waiting for its execution time."""

    time: float
    seq: int
    event: int
    values: NDArray[np.float64] | None


class EventRunner:
    """Model events for one batch, patient by patient (SBML L3V2 section 4.12).

    Each relation of the triggers (an *atom* ``g op 0``) has a logical sign per patient:
    the sign of ``g`` just after the current time. Between stops a root atom keeps its
    sign until the integrator finds ``g`` crossing 0 away from it; a time atom
    ``g = a*t + b`` is crossed exactly at ``-b/a``; a sign of exactly 0 is resolved by
    looking a small step ahead along the solution. A trigger's value is then its boolean
    function of the atoms' truths, so ``x > 1`` and ``x >= 1`` both turn true at the
    crossing itself, as SBML asks.
    """

    def __init__(self, compiled: CompiledModel, events: CompiledEvents,
                 backend: RootFindingBackend, params: NDArray[np.float64], *, rtol: float,
                 atol: float | NDArray[np.float64], rng: np.random.Generator,
                 histories: list[DelayHistory] | None = None) -> None:
        self.cm = compiled
        self.histories = histories
        self.rng = rng
        self.ev = events
        self.backend = backend
        self.params = params
        self.rtol, self.atol = rtol, atol
        n, ne, na = params.shape[0], len(events.names), events.n_atoms
        self.prev = np.tile(np.array(events.initial_value, dtype=bool), (n, 1))
        self.signs = np.zeros((n, na))
        self.pending: list[list[_Pending]] = [[] for _ in range(n)]
        self.seq = 0
        self.kind = np.array(events.kinds)
        self.roots = np.flatnonzero(self.kind == "root")
        self.time_atoms = np.flatnonzero(self.kind == "time")
        self.ne = ne
        self.any_log = bool(np.any(compiled.log_mask))
        self.log_idx = np.flatnonzero(compiled.log_mask)
        ops = np.array(events.ops, dtype=object)
        self.ops = {op: ops == op for op in (">", ">=", "<", "<=")}

    # -- signs and triggers -----------------------------------------------------------------
    def _ux(self, i: int, t: float, y: NDArray[np.float64], u: NDArray[np.float64],
            p: NDArray[np.float64] | None = None) -> NDArray[np.float64]:
        """The inputs followed by the delayed values at ``t`` (``u`` itself without delays)."""
        if self.histories is None:
            return u
        p = self.params[i] if p is None else p
        return np.concatenate((u, self.histories[i].values(t, y, p, u)))

    def _x(self, y: NDArray[np.float64]) -> NDArray[np.float64]:
        """Natural coordinates (``y`` itself, not a copy, when no state is a log; the
        values of ``CompiledModel.to_natural``, without its per-call index search)."""
        if not self.any_log:
            return y
        x = np.array(y, dtype=float)
        x[..., self.log_idx] = np.exp(x[..., self.log_idx])
        return x

    def _signs(self, i: int, t: float, y: NDArray[np.float64], u: NDArray[np.float64],
               keep: NDArray[np.intp] | None = None,
               before: NDArray[np.float64] | None = None,
               exact: bool = False) -> NDArray[np.float64]:
        """Logical signs of every atom at ``t`` (those in ``keep`` left as they are, and
        those whose value equals ``before``, the values before an execution: an atom
        an execution does not change keeps its sign, so a root located a rounding error
        short of the crossing does not fire twice). ``exact``: the signs at ``t`` itself,
        0 where an atom is 0, rather than just after ``t``. Returns the atoms' values."""
        p = self.params[i]
        x = self._x(y)
        ux = self._ux(i, t, y, u)
        g = self.ev.atoms(t, x, p, ux)
        new = np.sign(g)
        if exact:
            self.signs[i] = new
            return np.asarray(g, dtype=float)
        if self.time_atoms.size:
            a = self.ev.slopes(t, x, p, ux)
            for k in self.time_atoms:
                b = g[k] - a[k] * t
                if abs(g[k]) <= 8 * np.finfo(float).eps * max(abs(a[k] * t), abs(b)):
                    new[k] = np.sign(a[k])
        zero = [k for k in self.roots if new[k] == 0]
        if zero:  # look ahead along the solution: the sign just after t
            step = 1e-7 * max(1.0, abs(t))
            ahead = y + step * self.cm.rhs_one(t, y, p, ux)
            g_ahead = self.ev.atoms(t + step, self._x(ahead), p,
                                    self._ux(i, t + step, ahead, u))
            for k in zero:
                new[k] = np.sign(g_ahead[k])
        if keep is not None:
            new[keep] = self.signs[i, keep]
        if before is not None:
            same = g == before
            new[same] = self.signs[i, same]
        self.signs[i] = new
        return np.asarray(g, dtype=float)

    def _truths(self, i: int) -> list[bool]:
        s, op = self.signs[i], self.ops
        truths = ((op[">"] & (s > 0)) | (op[">="] & (s >= 0)) | (op["<"] & (s < 0))
                  | (op["<="] & (s <= 0)))
        return [bool(b) for b in truths]

    def _evaluate(self, fn: Callable[..., NDArray[np.float64]], i: int, t: float,
                  y: NDArray[np.float64], u: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.asarray(fn(t, self._x(y), self.params[i], self._ux(i, t, y, u)), dtype=float)

    def _check_triggers(self, i: int, t: float, y: NDArray[np.float64],
                        u: NDArray[np.float64]) -> None:
        """Schedule events whose trigger turned true; cancel non-persistent ones whose
        trigger turned false."""
        ev = self.ev
        truths = self._truths(i)
        for k in range(self.ne):
            now = ev.triggers[k](truths)
            if now and not self.prev[i, k]:
                delay = 0.0
                fn = ev.delays[k]
                if fn is not None:
                    delay = float(self._evaluate(fn, i, t, y, u)[0])
                    if not delay >= 0:
                        raise SolverFailure(f"event {ev.names[k]!r}: delay {delay:g} at "
                                            f"t={t:g} is not >= 0")
                values = (self._evaluate(ev.values[k], i, t, y, u)
                          if ev.use_trigger_values[k] else None)
                self.seq += 1
                self.pending[i].append(_Pending(t + delay, self.seq, k, values))
            elif not now and not ev.persistent[k]:
                self.pending[i] = [e for e in self.pending[i] if e.event != k]
            self.prev[i, k] = now

    def _execute_due(self, i: int, t: float, y: NDArray[np.float64],
                     u: NDArray[np.float64]) -> NDArray[np.float64]:
        """Execute the events due at ``t``, highest priority first, re-checking triggers
        after each; return the new state."""
        ev = self.ev
        p = self.params[i]
        for _ in range(_MAX_EXECUTIONS):
            self._check_triggers(i, t, y, u)
            due = [e for e in self.pending[i] if e.time <= t]
            if not due:
                return y
            ranked = sorted((self._priority(i, e.event, t, y, u), e.seq, e) for e in due)
            tied = [e for key, _, e in ranked if key == ranked[0][0] and key != math.inf]
            # SBML: events of equal priority go in random order (without: trigger order)
            chosen = tied[int(self.rng.integers(len(tied)))] if len(tied) > 1 \
                else ranked[0][2]
            self.pending[i].remove(chosen)
            k = chosen.event
            values = chosen.values if chosen.values is not None else \
                self._evaluate(ev.values[k], i, t, y, u)
            x = self._x(y).copy()
            before = np.asarray(ev.atoms(t, x, p, self._ux(i, t, y, u)), dtype=float)
            for (is_state, j), value in zip(ev.targets[k], values):
                if is_state:
                    x[j] = value
                else:
                    p[j] = value
            if np.any(x[self.cm.log_mask] <= 0):
                raise SolverFailure(f"event {ev.names[k]!r} at t={t:g} sets a state integrated "
                                    "as a logarithm to a value <= 0")
            y = self.cm.to_internal(x)
            self._signs(i, t, y, u, before=before)
        raise SolverFailure(f"events keep firing at t={t:g} (more than {_MAX_EXECUTIONS} "
                            "executions at one time)")

    def _priority(self, i: int, k: int, t: float, y: NDArray[np.float64],
                  u: NDArray[np.float64]) -> float:
        fn = self.ev.priorities[k]
        if fn is None:
            return math.inf  # after every event with a priority
        value = float(self._evaluate(fn, i, t, y, u)[0])
        return -value if not math.isnan(value) else math.inf

    # -- the engine's calls -----------------------------------------------------------------
    def start(self, i: int, t: float, y: NDArray[np.float64],
              u: NDArray[np.float64]) -> NDArray[np.float64]:
        """At the start ``t0``: triggers are first evaluated at ``t0`` itself, so that a
        trigger true there with ``initial_value`` false fires at ``t0`` even when it turns
        false right after (SBML L3V2 section 4.12.2: the trigger's value before ``t0`` is
        its initialValue, and a transition to true at ``t0`` fires); then as after a dose,
        with the signs just after ``t0``."""
        self._signs(i, t, y, u, exact=True)
        y = self._execute_due(i, t, y, u)
        return self.jump(i, t, y, u)

    def jump(self, i: int, t: float, y: NDArray[np.float64],
             u: NDArray[np.float64]) -> NDArray[np.float64]:
        """After the start or a dose at ``t``: new signs, triggers, due executions."""
        self._signs(i, t, y, u)
        return self._execute_due(i, t, y, u)

    def advance(self, i: int, t0: float, t1: float, y: NDArray[np.float64],
                u: NDArray[np.float64], t_eval: NDArray[np.float64],
                ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        """Integrate patient ``i`` from ``t0`` to ``t1`` through its events; return the
        states and parameters at ``t_eval`` and the state at ``t1`` (after its events)."""
        ev = self.ev
        p = self.params[i]
        y_eval = np.full((len(t_eval), len(y)), np.nan)
        p_eval = np.empty((len(t_eval), len(p)))
        t = t0
        done = 0
        stops_here = 0
        also: tuple[int, ...] = ()
        while True:
            stop, crossing = t1, -1
            for e in self.pending[i]:
                stop = min(stop, e.time)
            if self.time_atoms.size:
                x = self._x(y)
                ux = self._ux(i, t, y, u)
                g, a = ev.atoms(t, x, p, ux), ev.slopes(t, x, p, ux)
                for k in self.time_atoms:
                    if a[k] != 0 and self.signs[i, k] != np.sign(a[k]):
                        at = t - g[k] / a[k]
                        if t < at < stop or (at == stop and crossing < 0 and at > t):
                            stop, crossing = at, int(k)
            upto = done + int(np.searchsorted(t_eval[done:], stop, side="left"))
            hit = -1
            if stop > t:
                roots, directions = self._root_functions(i, t, u)
                history = {} if self.histories is None else {"history": self.histories[i]}
                seg = self.backend.integrate_to_root(
                    self.cm, t, stop, y, p.copy(), u, t_eval[done:upto], roots, directions,
                    rtol=self.rtol, atol=self.atol, **history)
                m = seg.y_eval.shape[0]
                y_eval[done:done + m] = seg.y_eval
                p_eval[done:done + m] = p
                done += m
                stops_here = 0 if seg.t > t else stops_here + 1
                t, y, hit, also = seg.t, seg.y, seg.hit, seg.also
                if hit >= 0:
                    crossing = -1
            else:
                stops_here += 1
            if stops_here > _MAX_STOPS:
                raise SolverFailure(f"event triggers keep switching at t={t:g}")
            keep = self.roots
            if hit >= 0:  # the atoms that crossed take the sign after their crossing
                crossed = self.roots[[hit, *also]]
                previous = self.signs[i, crossed].copy()
                keep = np.setdiff1d(self.roots, crossed)
                self._signs(i, t, y, u, keep=keep)
                self.signs[i, crossed] = np.where(previous != 0, -previous,
                                                  self.signs[i, crossed])
            else:
                self._signs(i, t, y, u, keep=keep)
            if crossing >= 0 and t == stop:
                x = self._x(y)
                self.signs[i, crossing] = np.sign(
                    ev.slopes(t, x, p, self._ux(i, t, y, u))[crossing])
            y = self._execute_due(i, t, y, u)
            if t >= t1:
                break
        p_eval[done:] = p
        return y_eval, p_eval, y

    def _root_functions(self, i: int, t0: float, u: NDArray[np.float64],
                        ) -> tuple[list[RootFunction], list[float]]:
        """Root functions of the state-dependent atoms, each watching for a crossing away
        from its current logical sign. An atom of sign 0 (``g`` stays 0 at ``t0``) is NaN
        at ``t0``, so that its zero there is not a root."""
        atoms, p, natural = self.ev.atoms, self.params[i].copy(), self._x
        extend = self._ux
        roots: list[RootFunction] = []
        directions: list[float] = []
        # the atoms at the last point asked for: the root functions of one step share one
        # evaluation (not with delays, whose history grows between the calls)
        last: dict[tuple[float, bytes], NDArray[np.float64]] = {}
        share = self.histories is None

        def values(t: float, y: NDArray[np.float64]) -> NDArray[np.float64]:
            key = (t, y.tobytes()) if share else None
            if key is not None and key in last:
                return last[key]
            g = np.asarray(atoms(t, natural(y), p, extend(i, t, y, u, p)), dtype=float)
            if key is not None:
                last.clear()
                last[key] = g
            return g

        for k in self.roots:
            zero = bool(self.signs[i, k] == 0)

            def g(t: float, y: NDArray[np.float64], k: int = int(k), zero: bool = zero,
                  ) -> float:
                if zero and t == t0:
                    return math.nan
                return float(values(t, y)[k])
            roots.append(g)
            directions.append(-float(self.signs[i, k]))
        return roots, directions
