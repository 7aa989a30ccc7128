"""Reference backend: SciPy ``solve_ivp``, one patient at a time, per smooth segment.

Default method LSODA (switches to BDF when the problem turns stiff) with the
analytic Jacobian of the compiled model; BDF, Radau and explicit Runge-Kutta
methods are available. This backend is the oracle the faster ones are checked
against. It is also the one that simulates delays (``delay(x, d)``): given a
:class:`~il2sim.engine.delays.DelayHistory` per patient, it steps through the history's
breakpoints with steps no longer than the smallest delay and records every step.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.integrate import BDF, DOP853, LSODA, RK23, RK45, Radau, solve_ivp

from il2sim.engine.backend import (
    RootFunction,
    RootSegment,
    SegmentOutput,
    SolverFailure,
    first_root,
)
from il2sim.engine.delays import DelayHistory
from il2sim.model.compile import CompiledModel

__all__ = ["METHODS", "ScipyBackend"]

METHODS = ("LSODA", "BDF", "Radau", "RK45", "RK23", "DOP853")
_IMPLICIT = ("LSODA", "BDF", "Radau")
_SOLVERS: dict[str, Any] = {"LSODA": LSODA, "BDF": BDF, "Radau": Radau, "RK45": RK45,
                            "RK23": RK23, "DOP853": DOP853}


@dataclass(frozen=True)
class ScipyBackend:
    """SciPy ``solve_ivp`` per patient.

    ``max_evaluations`` bounds the right-hand-side calls per patient and segment:
    SciPy's LSODA otherwise loops forever on a finite-time blow-up.
    """

    method: str = "LSODA"
    max_evaluations: int = 200_000
    name: str = "scipy"
    supports_delays: bool = True

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
        history: Sequence[DelayHistory] | None = None,
    ) -> SegmentOutput:
        """As :meth:`AbstractBackend.integrate`; ``history``: one per patient, for a model
        with delays."""
        n = y.shape[0]
        y_eval = np.full((n, len(t_eval), y.shape[1]), np.nan)
        y_end = np.full_like(y, np.nan)
        ok = np.zeros(n, dtype=bool)
        message = [""] * n
        for i in range(n):
            try:
                # Trial steps far outside the solution may overflow; the integrator then
                # rejects the step, and a non-finite result fails the patient.
                with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                    if history is not None:
                        seg = self.integrate_to_root(compiled, t0, t1, y[i], p[i], u[i],
                                                     t_eval, (), (), rtol=rtol, atol=atol,
                                                     history=history[i])
                        y_eval[i], y_end[i] = seg.y_eval, seg.y
                    else:
                        y_eval[i], y_end[i] = self._one(compiled, t0, t1, y[i], p[i], u[i],
                                                        t_eval, rtol, atol)
                ok[i] = True
            except (SolverFailure, FloatingPointError, ValueError, ZeroDivisionError,
                    OverflowError) as exc:
                message[i] = str(exc) or type(exc).__name__
        return SegmentOutput(y_eval, y_end, ok, message)

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
        history: DelayHistory | None = None,
    ) -> RootSegment:
        """One patient from ``t0`` to the first root of ``roots`` or to ``t1``.

        SciPy's step-by-step solver (the class ``solve_ivp`` uses for ``method``) is driven
        here: after each step, a root function that changed sign in its direction between
        the step's ends (a value of exactly 0 at the start of a step does not count) is
        located by Brent's method on the step's dense output. With a delay ``history``, the
        solver restarts at each of its breakpoints, steps at most the smallest delay, and
        every step is recorded in it.
        """
        options: dict[str, Any] = {}
        pieces = [t0, t1]
        rhs: Callable[[float, NDArray[np.float64]], Any]
        jac: Callable[[float, NDArray[np.float64]], Any]
        if history is not None:
            rhs = history.wrap(compiled.rhs_one, p, u)
            jac = history.wrap(compiled.jac_one, p, u)
            options["max_step"] = history.max_step(p, u)
            pieces = [t0, *history.breakpoints(t0, t1, p, u), t1]
        else:
            def rhs(tt: float, yy: NDArray[np.float64]) -> Any:
                return compiled.rhs_one(tt, yy, p, u)

            def jac(tt: float, yy: NDArray[np.float64]) -> Any:
                return compiled.jac_one(tt, yy, p, u)
        evaluations = 0
        limit = self.max_evaluations

        def fun(tt: float, yy: NDArray[np.float64]) -> NDArray[np.float64]:
            nonlocal evaluations
            evaluations += 1
            if evaluations > limit:
                raise SolverFailure(f"more than {limit} right-hand-side evaluations near "
                                    f"t={tt:g} (stiff blow-up or a singularity?)")
            result: NDArray[np.float64] = rhs(tt, yy)
            return result

        if self.method in _IMPLICIT:
            options["jac"] = jac
        n_eval = len(t_eval)
        y_eval = np.full((n_eval, len(y)), np.nan)
        done = int(np.searchsorted(t_eval, t0, side="right"))
        y_eval[:done] = y
        if t1 <= t0:
            return RootSegment(float(t0), y.copy(), y_eval[:done], -1)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            g_old = np.array([root(t0, y) for root in roots])
            t_old, y_new = t0, y.copy()
            for piece_start, piece_end in zip(pieces[:-1], pieces[1:]):
                solver = _SOLVERS[self.method](fun, piece_start, y_new.copy(), piece_end,
                                               rtol=rtol, atol=atol, **options)
                while True:
                    message = solver.step()
                    if solver.status == "failed":
                        raise SolverFailure(f"at t={t_old:g}: {message}")
                    t_new, y_new = float(solver.t), solver.y
                    dense = solver.dense_output()
                    g_new = np.array([root(t_new, y_new) for root in roots])
                    t_hit, hit, also = first_root(roots, directions, g_old, g_new, dense,
                                                  t_old, t_new)
                    stop = t_hit
                    if history is not None:
                        history.record(t_old, stop, dense, p, u)
                    upto = int(np.searchsorted(t_eval, stop,
                                               side="left" if hit >= 0 else "right"))
                    if upto > done:
                        y_eval[done:upto] = dense(t_eval[done:upto]).T
                        done = upto
                    if hit >= 0 or solver.status == "finished":
                        y_stop = dense(stop) if hit >= 0 else y_new.copy()
                        break
                    g_old, t_old = g_new, t_new
                if hit >= 0:
                    break
                g_old, t_old = g_new, t_new
        y_eval = y_eval[:done]
        if not (np.all(np.isfinite(y_eval)) and np.all(np.isfinite(y_stop))):
            raise SolverFailure(f"non-finite state between t={t0:g} and t={stop:g}")
        return RootSegment(float(stop), np.asarray(y_stop, dtype=float), y_eval, hit, also)

    def _one(
        self,
        cm: CompiledModel,
        t0: float,
        t1: float,
        y: NDArray[np.float64],
        p: NDArray[np.float64],
        u: NDArray[np.float64],
        t_eval: NDArray[np.float64],
        rtol: float,
        atol: float | NDArray[np.float64],
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        rhs, jac = cm.rhs_one, cm.jac_one
        evaluations = 0
        limit = self.max_evaluations

        def fun(tt: float, yy: NDArray[np.float64]) -> NDArray[np.float64]:
            nonlocal evaluations
            evaluations += 1
            if evaluations > limit:
                raise SolverFailure(f"more than {limit} right-hand-side evaluations near "
                                    f"t={tt:g} (stiff blow-up or a singularity?)")
            return rhs(tt, yy, p, u)

        options = {}
        if self.method in _IMPLICIT:
            options["jac"] = lambda tt, yy: jac(tt, yy, p, u)
        sol = solve_ivp(fun, (t0, t1), y, method=self.method, t_eval=np.append(t_eval, t1),
                        rtol=rtol, atol=atol, **options)
        if sol.status != 0:
            raise SolverFailure(f"at t={t0:g}: {sol.message}")
        if not np.all(np.isfinite(sol.y)):
            raise SolverFailure(f"non-finite state between t={t0:g} and t={t1:g}")
        return sol.y[:, :-1].T, sol.y[:, -1].copy()
