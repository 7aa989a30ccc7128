"""The event loop: integrate a batch piecewise between dose events.

Breakpoints are the dose times and infusion ends, shared by all patients (the
schedule is common; amounts and decisions are not). At a breakpoint ``t``:

1. doses scheduled at ``t`` are decided per patient (:mod:`~il2sim.engine.decisions`)
   from the states and observables just before ``t``;
2. given boluses jump their state (in log coordinates ``y <- y + log1p(a*exp(-y))``),
   given infusions start; infusions ending at ``t`` stop; each patient's input
   rates are recomputed from its running infusions;
3. the backend integrates every patient still running to the next breakpoint.

Outputs at a breakpoint are reported after its doses (right-continuous). A
patient whose integration fails is marked failed and dropped from later
segments; the others continue.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from il2sim.engine.backend import AbstractBackend
from il2sim.engine.decisions import DoseDecider
from il2sim.engine.events import DoseActions
from il2sim.model.compile import CompiledModel

__all__ = ["BatchOutput", "run_batch"]


@dataclass(frozen=True)
class BatchOutput:
    """Trajectories (internal coordinates), inputs at output times, status, decisions."""

    y: NDArray[np.float64]        # (N, n_times, n_states)
    u: NDArray[np.float64]        # (N, n_times, n_inputs)
    status: list[str]
    message: list[str]
    given: NDArray[np.bool_]      # (n_events, N)
    reason: NDArray[np.object_]   # (n_events, N)


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
) -> BatchOutput:
    n, ns = y0.shape
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

    def observe(name: str) -> NDArray[np.float64]:
        x = compiled.to_natural(y)
        model = compiled.model
        if name in model.state_names:
            return x[:, model.state_names.index(name)]
        if name in model.observable_names:
            with np.errstate(all="ignore"):
                obs = compiled.observe(np.full(n, t_now), x, params, u)
            return obs[:, model.observable_names.index(name)]
        raise KeyError(f"{name!r} is neither a state nor an observable of {model.name!r}")

    def apply(at: float) -> None:
        starting = np.flatnonzero(actions.time == at)
        if starting.size:
            decision = decider.decide(at, actions.table.iloc[starting], observe)
            given[starting] = decision.given & alive
            reason[starting] = np.where(alive, decision.reason, "patient failed")
            for k in starting:
                g = given[k]
                if actions.infusion[k]:
                    running[k] = g
                else:
                    s = actions.state[k]
                    a = actions.amount[k]
                    if log_mask[s]:
                        y[g, s] = y[g, s] + np.log1p(a[g] * np.exp(-y[g, s]))
                    else:
                        y[g, s] = y[g, s] + a[g]
        running[(actions.end == at) & actions.infusion] = False
        u[:] = 0.0
        for k in infusing:
            if running[k].any():
                u[:, actions.input[k]] += rate[k] * running[k]

    t_end = float(times[-1])
    t_now = 0.0
    apply(0.0)
    stops = list(actions.breakpoints(t_end))
    if not stops or stops[-1] < t_end:
        stops.append(t_end)
    out = 0
    for t_next in stops:
        hi = int(np.searchsorted(times, t_next, side="left"))
        if t_next > t_now and alive.any():
            idx = np.flatnonzero(alive)
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
    y_out[alive, out:] = y[alive][:, None, :]
    u_out[alive, out:] = u[alive][:, None, :]
    status = ["ok" if a else "failed" for a in alive]
    return BatchOutput(y_out, u_out, status, message, given, reason)
