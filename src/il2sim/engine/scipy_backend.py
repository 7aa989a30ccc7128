"""Reference backend: SciPy ``solve_ivp``, one patient at a time, per smooth segment.

Default method LSODA (switches to BDF when the problem turns stiff) with the
analytic Jacobian of the compiled model; BDF, Radau and explicit Runge-Kutta
methods are available. This backend is the oracle the faster ones are checked
against.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.integrate import solve_ivp

from il2sim.engine.backend import SegmentOutput, SolverFailure
from il2sim.model.compile import CompiledModel

__all__ = ["METHODS", "ScipyBackend"]

METHODS = ("LSODA", "BDF", "Radau", "RK45", "RK23", "DOP853")
_IMPLICIT = ("LSODA", "BDF", "Radau")


@dataclass(frozen=True)
class ScipyBackend:
    """SciPy ``solve_ivp`` per patient.

    ``max_evaluations`` bounds the right-hand-side calls per patient and segment:
    SciPy's LSODA otherwise loops forever on a finite-time blow-up.
    """

    method: str = "LSODA"
    max_evaluations: int = 200_000
    name: str = "scipy"

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
                    y_eval[i], y_end[i] = self._one(compiled, t0, t1, y[i], p[i], u[i],
                                                    t_eval, rtol, atol)
                ok[i] = True
            except (SolverFailure, FloatingPointError, ValueError, ZeroDivisionError,
                    OverflowError) as exc:
                message[i] = str(exc) or type(exc).__name__
        return SegmentOutput(y_eval, y_end, ok, message)

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
