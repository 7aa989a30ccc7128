"""Reference backend: SciPy ``solve_ivp`` per patient, piecewise between dose events.

Between two consecutive breakpoints (dose times, infusion ends) the right-hand
side is smooth, so the integrator never steps over a discontinuity. At a
breakpoint, boluses jump their state (in log coordinates
``y <- y + log1p(a * exp(-y))``) and infusion rates are recomputed from the
set of running infusions. Outputs at a dose time are reported after the dose
(right-continuous). Default method LSODA (switches to BDF when stiff) with the
analytic Jacobian.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.integrate import solve_ivp

from il2sim.engine.events import DoseActions
from il2sim.model.compile import CompiledModel

__all__ = ["BackendOutput", "ScipyBackend"]

Progress = Callable[[int], None]
_IMPLICIT = ("LSODA", "BDF", "Radau")


@dataclass(frozen=True)
class BackendOutput:
    """Internal-coordinate trajectories and per-patient status."""

    y: NDArray[np.float64]        # (N, n_times, n_states), internal coordinates
    u: NDArray[np.float64]        # (N, n_times, n_inputs), inputs at the output times
    status: list[str]
    message: list[str]


class SolverFailure(RuntimeError):
    """The integrator could not complete a segment."""


@dataclass(frozen=True)
class ScipyBackend:
    """SciPy ``solve_ivp`` (LSODA, BDF, Radau, RK45, ...), one patient at a time."""

    method: str = "LSODA"
    max_evaluations: int = 200_000
    name: str = "scipy"

    def solve(
        self,
        compiled: CompiledModel,
        y0: NDArray[np.float64],
        params: NDArray[np.float64],
        actions: DoseActions,
        times: NDArray[np.float64],
        *,
        rtol: float,
        atol: float | NDArray[np.float64],
        progress: Progress | None = None,
    ) -> BackendOutput:
        n, ns = y0.shape
        ni = len(compiled.input_names)
        y_out = np.full((n, len(times), ns), np.nan)
        u_out = np.zeros((n, len(times), ni))
        status: list[str] = []
        message: list[str] = []
        for i in range(n):
            try:
                # Trial steps far outside the solution may overflow; the step is then
                # rejected by the integrator, and a non-finite result fails the patient.
                with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                    self._solve_one(compiled, y0[i], params[i], actions, i, times, rtol, atol,
                                    y_out[i], u_out[i])
                status.append("ok")
                message.append("")
            except (SolverFailure, FloatingPointError, ValueError, ZeroDivisionError,
                    OverflowError) as exc:
                status.append("failed")
                message.append(str(exc) or type(exc).__name__)
            if progress is not None:
                progress(1)
        return BackendOutput(y_out, u_out, status, message)

    def _solve_one(
        self,
        cm: CompiledModel,
        y0: NDArray[np.float64],
        p: NDArray[np.float64],
        actions: DoseActions,
        patient: int,
        times: NDArray[np.float64],
        rtol: float,
        atol: float | NDArray[np.float64],
        y_out: NDArray[np.float64],
        u_out: NDArray[np.float64],
    ) -> None:
        y = y0.copy()
        u = np.zeros(len(cm.input_names))
        t = 0.0
        t_end = float(times[-1])
        running: set[int] = set()
        log_mask = cm.log_mask
        rhs, jac = cm.rhs_one, cm.jac_one
        evaluations = 0
        limit = self.max_evaluations

        def counted_rhs(tt: float, yy: NDArray[np.float64],
                        uu: NDArray[np.float64]) -> NDArray[np.float64]:
            nonlocal evaluations
            evaluations += 1
            if evaluations > limit:
                raise SolverFailure(f"more than {limit} right-hand-side evaluations near "
                                    f"t={tt:g} (stiff blow-up or a singularity?)")
            return rhs(tt, yy, p, uu)

        def apply_actions(at: float) -> None:
            changed = False
            for k in np.flatnonzero(actions.time == at):
                if actions.infusion[k]:
                    running.add(int(k))
                    changed = True
                else:
                    s = actions.state[k]
                    a = actions.amount[k, patient]
                    if log_mask[s]:
                        y[s] = y[s] + np.log1p(a * np.exp(-y[s]))
                    else:
                        y[s] = y[s] + a
            for k in np.flatnonzero(actions.infusion & (actions.end == at)):
                running.discard(int(k))
                changed = True
            if changed:
                u[:] = 0.0
                for r in running:
                    j = int(actions.input[r])
                    u[j] += actions.amount[r, patient] / (actions.end[r] - actions.time[r])

        apply_actions(0.0)
        stops = list(actions.breakpoints(t_end))
        if not stops or stops[-1] < t_end:
            stops.append(t_end)
        out_index = 0
        for t_next in stops:
            hi = int(np.searchsorted(times, t_next, side="left"))
            take = times[out_index:hi]
            if t_next > t:
                u_seg = u.copy()
                options = {}
                if self.method in _IMPLICIT:
                    options["jac"] = lambda tt, yy, uu=u_seg: jac(tt, yy, p, uu)
                sol = solve_ivp(
                    lambda tt, yy, uu=u_seg: counted_rhs(tt, yy, uu),
                    (t, t_next), y, method=self.method, t_eval=np.append(take, t_next),
                    rtol=rtol, atol=atol, **options,
                )
                if sol.status != 0:
                    raise SolverFailure(f"at t={t:g}: {sol.message}")
                if not np.all(np.isfinite(sol.y)):
                    raise SolverFailure(f"non-finite state between t={t:g} and t={t_next:g}")
                y_out[out_index:hi] = sol.y[:, :-1].T
                u_out[out_index:hi] = u_seg
                y = sol.y[:, -1].copy()
            out_index = hi
            if t_next > t:  # doses at 0 were given before the first segment
                apply_actions(t_next)
            t = t_next
        # Output times equal to the end (after any dose given exactly then).
        y_out[out_index:] = y
        u_out[out_index:] = u
