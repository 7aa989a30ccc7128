"""The event loop: integrate a batch piecewise between dose events.

Breakpoints are the dose times and infusion ends, shared by all patients (the
schedule is common; amounts and decisions are not). At a breakpoint ``t``:

1. doses scheduled at ``t`` are decided per patient (:mod:`~il2sim.engine.decisions`)
   from the states and observables just before ``t``;
2. given doses meet the state in :func:`give_dose`: boluses jump their state (in log
   coordinates ``y <- y + log1p(a*exp(-y))``), infusions start; infusions ending at ``t``
   stop; each patient's input rates are recomputed from its running infusions;
3. the backend integrates every patient still running to the next breakpoint (a
   :class:`~il2sim.engine.backend.StepCarryingBackend` starts each patient with the step
   size it ended the previous segment with).

Outputs at a breakpoint are reported after its doses (right-continuous). A
patient whose integration fails is marked failed and dropped from later
segments; the others continue.

A model with events (:class:`~il2sim.model.spec.Event`) is integrated patient by
patient inside each segment by :class:`~il2sim.engine.model_events.EventRunner` (SBML
Level 3 Version 2 event semantics; see that module).

A model with delays (``delay(x, d)``) needs a backend with ``supports_delays`` (the SciPy
one): each patient gets a :class:`~il2sim.engine.delays.DelayHistory` that the backend
fills step by step, and the delayed values at the output times are returned in
:attr:`BatchOutput.z` for the observables.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

import numpy as np
from numpy.typing import NDArray

from il2sim.engine.backend import (
    AbstractBackend,
    SolverFailure,
    StepCarryingBackend,
)
from il2sim.engine.decisions import DoseDecider
from il2sim.engine.delays import DelayHistory
from il2sim.engine.events import DoseActions
from il2sim.engine.model_events import EventRunner
from il2sim.model.compile import CompiledModel
from il2sim.units import to_magnitude

__all__ = ["BatchOutput", "give_dose", "run_batch"]

_Rows = tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64],
              NDArray[np.float64]]
"""Rows a decider reads: their times, internal states, parameters and inputs."""

_FAILURES = (RuntimeError, ArithmeticError, ValueError)  # SolverFailure, brentq, math


@dataclass(frozen=True)
class BatchOutput:
    """Trajectories (internal coordinates), inputs at output times, status, decisions."""

    y: NDArray[np.float64]        # (N, n_times, n_states)
    u: NDArray[np.float64]        # (N, n_times, n_inputs)
    status: list[str]
    message: list[str]
    given: NDArray[np.bool_]      # (n_events, N)
    reason: NDArray[np.object_]   # (n_events, N)
    p: NDArray[np.float64] | None = None  # (N, n_times, n_params) when events set parameters
    z: NDArray[np.float64] | None = None  # (N, n_times, n_delays): delayed values, if any


def run_batch(
    compiled: CompiledModel,
    backend: AbstractBackend,
    y0: NDArray[np.float64],
    params: NDArray[np.float64],
    actions: DoseActions,
    times: NDArray[np.float64],
    decider: DoseDecider,
    *,
    rtol: float,
    atol: float | NDArray[np.float64],
    progress: Callable[[float], None] | None = None,
    rng: np.random.Generator | None = None,
) -> BatchOutput:
    n, ns = y0.shape
    runner = None
    p_out = np.empty((0, 0, 0))
    histories: list[DelayHistory] | None = None
    if compiled.delays is not None:
        if not getattr(backend, "supports_delays", False):
            raise SolverFailure(f"model {compiled.model.name!r} uses delay(), which backend "
                                f"{backend.name!r} cannot simulate; use backend='scipy'")
        zero_u = np.zeros(len(compiled.input_names))
        histories = [DelayHistory(compiled, 0.0, y0[i], params[i], zero_u) for i in range(n)]
    if compiled.events is not None:
        if not hasattr(backend, "integrate_to_root"):
            raise SolverFailure(f"backend {backend.name!r} cannot simulate model events")
        params = params.copy()  # events may set parameters
        runner = EventRunner(compiled, compiled.events, backend,  # type: ignore[arg-type]
                              params, rtol=rtol, atol=atol,
                              rng=rng if rng is not None else np.random.default_rng(0),
                              histories=histories)
        p_out = np.repeat(params[:, None, :], len(times), axis=1)
    ni = len(compiled.input_names)
    ne = actions.n_events
    y = y0.copy()
    u = np.zeros((n, ni))
    y_out = np.full((n, len(times), ns), np.nan)
    u_out = np.zeros((n, len(times), ni))
    alive = np.ones(n, dtype=bool)
    message = [""] * n
    given = np.zeros((ne, n), dtype=bool)
    reason = np.full((ne, n), "", dtype=object)
    running = np.zeros((ne, n), dtype=bool)
    rate = np.zeros((ne, n))
    infusing = np.flatnonzero(actions.infusion)
    rate[infusing] = actions.amount[infusing] / (actions.end[infusing]
                                                 - actions.time[infusing])[:, None]
    decider.start(n)
    log_mask = compiled.log_mask

    model = compiled.model
    hours_per_unit = to_magnitude(f"1 {model.time_unit}", "h", what="model time unit")

    class _Observer:
        """The decider's view (:class:`~il2sim.engine.decisions.Observe`). Within one
        decision the natural states and observables of a set of rows are computed once
        (``memo``, emptied before each decision), however many conditions read them."""

        def __init__(self) -> None:
            self.memo: dict[object, tuple[_Rows, NDArray[np.float64],
                                          NDArray[np.float64] | None]] = {}

        def _value(self, key: object, name: str, rows: Callable[[], _Rows]
                   ) -> NDArray[np.float64]:
            if name not in model.state_names and name not in model.observable_names:
                raise KeyError(f"{name!r} is neither a state nor an observable of "
                               f"{model.name!r}")
            if key not in self.memo:
                picked = rows()
                self.memo[key] = (picked, compiled.to_natural(picked[1]), None)
            picked, x, obs = self.memo[key]
            if name in model.state_names:
                return x[:, model.state_names.index(name)]
            if obs is None:
                t, _, pp, uu = picked
                with np.errstate(all="ignore"):
                    obs = compiled.observe(t, x, pp, uu)
                self.memo[key] = (picked, x, obs)
            return obs[:, model.observable_names.index(name)]

        def __call__(self, name: str) -> NDArray[np.float64]:
            return self._value("now", name, lambda: (np.full(n, t_now), y, params, u))

        def past(self, name: str, at: NDArray[np.float64]) -> NDArray[np.float64]:
            at = np.asarray(at, dtype=float)
            idx = np.searchsorted(times, at)
            if np.any(idx >= out) or np.any(times[np.minimum(idx, len(times) - 1)] != at):
                raise KeyError(f"{name!r}: past values only at output times before {t_now:g}")
            rows = np.repeat(np.arange(n), len(at))
            cols = np.tile(idx, n)

            def chart() -> _Rows:
                pp = params[rows] if p_out.size == 0 else p_out[rows, cols]
                return times[cols], y_out[rows, cols], pp, u_out[rows, cols]

            return self._value(("past", *idx.tolist()), name, chart).reshape(n, len(at))

        def window(self, name: str, hours: float) -> NDArray[np.float64]:
            span = hours / hours_per_unit
            charted = times[:out][(times[:out] > t_now - span) & (times[:out] < t_now)]
            return np.concatenate([self.past(name, charted), self(name)[:, None]], axis=1)

    observe = _Observer()

    def apply(at: float) -> None:
        starting = np.flatnonzero(actions.time == at)
        if starting.size:
            observe.memo.clear()
            decision = decider.decide(at, actions.table.iloc[starting], observe)
            given[starting] = decision.given & alive
            reason[starting] = np.where(alive, decision.reason, "patient failed")
            for k in starting:
                give_dose(actions, int(k), given[k], y, running, log_mask)
        running[(actions.end == at) & actions.infusion] = False
        u[:] = 0.0
        for k in infusing:
            if running[k].any():
                u[:, actions.input[k]] += rate[k] * running[k]

    def fail(i: int, exc: Exception, lo: int) -> None:
        alive[i] = False
        message[i] = str(exc) or type(exc).__name__
        y_out[i, lo:] = np.nan

    def jump(at: float, start: bool = False) -> None:  # the events' view of a dose, t0
        assert runner is not None
        for i in map(int, np.flatnonzero(alive)):
            try:
                y[i] = (runner.start if start else runner.jump)(i, at, y[i], u[i])
            except _FAILURES as exc:
                fail(i, exc, out)

    # the step size each patient's integrator ended the last segment with (0: none yet)
    carrier = (cast(StepCarryingBackend, backend)
               if hasattr(backend, "integrate_from") and histories is None else None)
    next_step = np.zeros(n)
    t_end = float(times[-1])
    t_now = 0.0
    out = 0
    apply(0.0)
    if runner is not None:
        jump(0.0, start=True)
    stops = list(actions.breakpoints(t_end))
    if not stops or stops[-1] < t_end:
        stops.append(t_end)
    for t_next in stops:
        hi = int(np.searchsorted(times, t_next, side="left"))
        if runner is not None and t_next > t_now:
            for i in map(int, np.flatnonzero(alive)):
                try:
                    y_out[i, out:hi], p_out[i, out:hi], y[i] = runner.advance(
                        i, t_now, t_next, y[i], u[i], times[out:hi])
                    u_out[i, out:hi] = u[i]
                except _FAILURES as exc:
                    fail(i, exc, out)
            if progress is not None:
                progress(n * (t_next - t_now) / t_end)
        elif t_next > t_now and alive.any():
            idx = np.flatnonzero(alive)
            if carrier is not None:
                seg = carrier.integrate_from(compiled, t_now, t_next, y[idx], params[idx],
                                             u[idx], times[out:hi], next_step[idx],
                                             rtol=rtol, atol=atol)
                if seg.next_step is not None:
                    next_step[idx] = seg.next_step
            elif histories is not None:
                seg = backend.integrate(  # type: ignore[call-arg]  # supports_delays
                    compiled, t_now, t_next, y[idx], params[idx], u[idx], times[out:hi],
                    rtol=rtol, atol=atol, history=[histories[i] for i in idx])
            else:
                seg = backend.integrate(compiled, t_now, t_next, y[idx], params[idx], u[idx],
                                        times[out:hi], rtol=rtol, atol=atol)
            y_out[idx, out:hi] = seg.y_eval
            u_out[idx, out:hi] = u[idx][:, None, :]
            y[idx] = seg.y_end
            for j in np.flatnonzero(~seg.ok):
                alive[idx[j]] = False
                message[idx[j]] = seg.message[j]
                y_out[idx[j], out:hi] = np.nan
            if progress is not None:
                progress(n * (t_next - t_now) / t_end)
        out = hi
        t_now = t_next
        if t_next > 0:  # doses at 0 were applied before the first segment
            apply(t_next)
            if runner is not None and (np.any(actions.time == t_next)
                                       or np.any(actions.end == t_next)):
                jump(t_next)
    y_out[alive, out:] = y[alive][:, None, :]
    u_out[alive, out:] = u[alive][:, None, :]
    status = ["ok" if a else "failed" for a in alive]
    if runner is not None:
        p_out[alive, out:] = params[alive][:, None, :]
        p_out[~alive] = np.nan
    z_out = None
    if histories is not None:
        z_out = _delayed_outputs(histories, times, y_out, params if runner is None else p_out,
                                 u_out, alive)
    return BatchOutput(y_out, u_out, status, message, given, reason,
                       None if runner is None else p_out, z_out)


def _delayed_outputs(histories: list[DelayHistory], times: NDArray[np.float64],
                     y_out: NDArray[np.float64], p: NDArray[np.float64],
                     u_out: NDArray[np.float64], alive: NDArray[np.bool_],
                     ) -> NDArray[np.float64]:
    """The delayed values at the output times, per patient (``p``: ``(N, n_params)`` or
    ``(N, n_times, n_params)``); NaN for a failed patient."""
    n, nt = y_out.shape[:2]
    z = np.full((n, nt, histories[0].delays.n), np.nan)
    for i in map(int, np.flatnonzero(alive)):
        for j, t in enumerate(times):
            p_ij = p[i, j] if p.ndim == 3 else p[i]
            z[i, j] = histories[i].values(float(t), y_out[i, j], p_ij, u_out[i, j])
    return z


def give_dose(actions: DoseActions, k: int, given: NDArray[np.bool_], y: NDArray[np.float64],
              running: NDArray[np.bool_], log_mask: NDArray[np.bool_]) -> None:
    """The one place where a dose meets the state: dose ``k`` for the patients ``given``.

    An infusion starts (``running[k]``; the loop turns it into a rate input until its end);
    an instantaneous dose of amount ``a`` jumps its state, ``x <- x + a``, written in log
    coordinates as ``y <- y + log1p(a * exp(-y))`` for a state integrated as its logarithm.
    """
    if actions.infusion[k]:
        running[k] = given
        return
    s = actions.state[k]
    a = actions.amount[k]
    if log_mask[s]:
        y[given, s] = y[given, s] + np.log1p(a[given] * np.exp(-y[given, s]))
    else:
        y[given, s] = y[given, s] + a[given]

