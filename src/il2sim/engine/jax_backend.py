"""Batch backend on JAX and diffrax: one compiled, vectorised solve per segment (CPU or GPU).

The right-hand side in internal coordinates (:mod:`il2sim.model.internal`: the same
expressions, merged exponentials and exp cap as :mod:`il2sim.model.compile` and the C
generator) is printed as a JAX function of one patient, ``f(t, y, p, u)``, after one
:func:`sympy.cse`. Each segment between dose events is integrated by
:func:`diffrax.diffeqsolve`: by default Kvaerno5, an L-stable ESDIRK method of order 5
with an embedded order-4 error estimate (Kvaerno 2004, BIT 44:489-502), whose chord
iterations use the Jacobian of ``f`` by forward-mode autodiff; PI step-size control
(``rms(err / (atol + rtol*max(|y0|, |y1|)))``, per-state ``atol``); ``jax.vmap`` over
patients (each keeps its own step size) and ``jax.jit`` over the whole segment. States
at the output times come from ``SaveAt(ts=...)`` with quintic Hermite interpolation
(see :func:`_quintic_hermite_solver`), so the steps do not depend on the output grid;
``step_to_outputs=True`` ends a step at every output time instead (more accurate on stiff
models at loose tolerances, see ``docs/design.md``).

- **Shapes.** JAX compiles once per array shape, so the batch is padded to a size bucket
  (8, 16, ..., 256, then multiples of 256; padding rows repeat the first patient) and
  the output times to 16, 64, 256, ... (padding repeats ``t1``, whose value is the
  segment's end state). Segment times, tolerances, doses and parameters are traced
  arguments: only a new model structure, method, ``max_steps`` or bucket compiles again.
- **Float64.** Every trace and call runs inside ``jax.enable_x64(True)``, so il2sim
  computes in double precision without switching the user's global JAX setting.
- **Failures are per patient**: too many steps, a step below ten units in the last place
  of ``t`` (blow-up), or a non-finite state marks that patient failed; the others go on.
  In a vectorised loop every patient waits for the slowest, so a failing patient costs
  the batch up to ``max_steps`` steps (the step floor usually stops it far sooner).
- **Optional.** JAX is imported on first use only; without it, asking for ``"jax"`` says
  how to install it (``pip install 'il2sim[jax]'``).

Reference: P. Kidger, *On Neural Differential Equations*, PhD thesis, Oxford 2021
(diffrax).
"""

from __future__ import annotations

import math
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import numpy as np
import sympy
from numpy.typing import NDArray
from sympy.printing.numpy import JaxPrinter

from il2sim.engine.backend import SegmentOutput
from il2sim.engine.events import EngineError
from il2sim.model.compile import CompiledModel
from il2sim.model.fingerprint import model_fingerprint
from il2sim.model.internal import EXP_CAP, internal_form
from il2sim.model.spec import Model

__all__ = ["SOLVERS", "JaxBackend", "JaxStats", "jax_rhs", "jax_source", "require_jax"]

# Method name -> diffrax solver class. SciPy's names map to the nearest kind (the implicit
# ones to Kvaerno5, the explicit ones to the explicit pair of the same order), so that
# simulate(..., backend="jax", method=...) takes every method the SciPy backend takes.
SOLVERS: dict[str, str] = {
    "Kvaerno5": "Kvaerno5", "Kvaerno4": "Kvaerno4", "Kvaerno3": "Kvaerno3",
    "Tsit5": "Tsit5", "Dopri5": "Dopri5", "Dopri8": "Dopri8", "Bosh3": "Bosh3",
    "LSODA": "Kvaerno5", "BDF": "Kvaerno5", "Radau": "Kvaerno5",
    "RK45": "Dopri5", "RK23": "Bosh3", "DOP853": "Dopri8",
}

_INSTALL = ("the 'jax' backend needs JAX and diffrax, which are not installed here ({error}): "
            "install them with pip install 'il2sim[jax]' (CPU; see the JAX documentation "
            "for GPU wheels), or use backend='native' or 'scipy'")

# Failure messages by the status code of a solve (0 is success).
_STATUS = {
    1: "more than {max_steps} steps between t={t0:g} and t={t1:g} (stiff blow-up or a "
       "singularity?)",
    2: "step size underflow between t={t0:g} and t={t1:g} (blow-up or a singularity?)",
    3: "diffrax could not integrate from t={t0:g} to t={t1:g}",
    0: "non-finite state between t={t0:g} and t={t1:g}",
}
_EPS = float(np.finfo(np.float64).eps)
_DTMIN_ULPS = 10.0  # the step size floor, in units of eps*|t|
_TINY_ULPS = 1000.0  # a segment shorter than this (eps*|t|) is one Euler step
_NEWTON_SLACK = 10.0  # Newton tolerance / step tolerance

_LOCK = threading.Lock()
# Compiled functions are shared by models of identical content (model_fingerprint), so a
# model rebuilt in the same process (a copy, a scenario re-read) does not compile again.
_KEYS: weakref.WeakKeyDictionary[Model, str] = weakref.WeakKeyDictionary()
_RHS: dict[str, Callable[..., Any]] = {}
_SOLVES: dict[tuple[str, str, int, bool], Any] = {}
_IMPLICIT = ("Kvaerno3", "Kvaerno4", "Kvaerno5")


def _x64(jax: ModuleType) -> Any:
    """A context in which JAX computes in float64: ``jax.enable_x64(True)`` in recent JAX,
    else the older ``jax.experimental.enable_x64()``."""
    if callable(getattr(jax, "enable_x64", None)):
        return jax.enable_x64(True)
    from jax.experimental import enable_x64  # type: ignore[attr-defined]  # older JAX

    return enable_x64()


def _key(model: Model) -> str:
    key = _KEYS.get(model)
    if key is None:
        key = _KEYS[model] = model_fingerprint(model)
    return key


def require_jax() -> tuple[ModuleType, ModuleType]:
    """Import ``jax`` and ``diffrax``, or raise an :class:`EngineError` saying how to install.

    Raises:
        EngineError: JAX or diffrax cannot be imported.
    """
    try:
        import diffrax
        import jax
    except ImportError as exc:
        raise EngineError(_INSTALL.format(error=exc)) from exc
    return jax, diffrax


class _JaxRhsPrinter(JaxPrinter):  # type: ignore[misc]  # SymPy is untyped
    """SymPy's JAX printer with il2sim's conventions: exp capped at ``EXP_CAP``,
    ``Heaviside(0) = 1/2`` (SymPy's default), Max/Min folded pairwise, and the special
    functions from ``jax.scipy.special`` (SymPy would print ``math.gamma``)."""

    def _print_exp(self, expr: sympy.exp) -> str:
        return f"jax.numpy.exp(jax.numpy.minimum({self._print(expr.args[0])}, {EXP_CAP}))"

    def _print_Max(self, expr: sympy.Max) -> str:
        return self._fold("jax.numpy.maximum", expr.args)

    def _print_Min(self, expr: sympy.Min) -> str:
        return self._fold("jax.numpy.minimum", expr.args)

    def _fold(self, func: str, args: tuple[sympy.Expr, ...]) -> str:
        out = str(self._print(args[0]))
        for a in args[1:]:
            out = f"{func}({out}, {self._print(a)})"
        return out

    def _print_gamma(self, expr: sympy.gamma) -> str:
        return f"jax.scipy.special.gamma({self._print(expr.args[0])})"

    def _print_loggamma(self, expr: sympy.loggamma) -> str:
        return f"jax.scipy.special.gammaln({self._print(expr.args[0])})"

    def _print_erf(self, expr: sympy.erf) -> str:
        return f"jax.scipy.special.erf({self._print(expr.args[0])})"

    def _print_Heaviside(self, expr: sympy.Heaviside) -> str:
        a = self._print(expr.args[0])
        h0 = self._print(expr.args[1]) if len(expr.args) > 1 else "0.5"
        return (f"jax.numpy.where(({a}) > 0, 1.0, jax.numpy.where(({a}) == 0, {h0}, 0.0))")


def jax_source(model: Model) -> str:
    """Python source of ``rhs(_t, _v, _p, _u)``: ``dy/dt`` of one patient as a JAX array.

    ``_v`` (internal states), ``_p`` (parameters) and ``_u`` (inputs) are 1-D, in the
    order of :class:`~il2sim.model.compile.CompiledModel`; subexpressions are shared
    through one :func:`sympy.cse`.
    """
    form = internal_form(model)
    printer = _JaxRhsPrinter({"fully_qualified_modules": True})
    exprs: Sequence[sympy.Expr] = form.rhs
    replacements, reduced = sympy.cse(list(exprs), symbols=sympy.numbered_symbols("_c"))
    used: set[sympy.Basic] = set().union(*(e.free_symbols for e in reduced),
                                         *(e.free_symbols for _, e in replacements))
    lines = [f"# il2sim model {model.name!r}: generated by il2sim.engine.jax_backend",
             "def rhs(_t, _v, _p, _u):"]
    for prefix, symbols in (("_v", form.ys), ("_p", form.ps), ("_u", form.us)):
        for j, s in enumerate(symbols):
            if s in used:
                lines.append(f"    {s} = {prefix}[{j}]")
    for s, e in replacements:
        lines.append(f"    {s} = {printer.doprint(e)}")
    # 0.0 * _t gives every entry the float dtype of the trace (a constant entry would not).
    items = ", ".join(f"{printer.doprint(e)} + 0.0 * _t" if not e.free_symbols else
                      str(printer.doprint(e)) for e in reduced)
    lines.append(f"    return jax.numpy.stack([{items}])")
    return "\n".join(lines)


def jax_rhs(model: Model) -> Callable[..., Any]:
    """The JAX right-hand side ``f(t, y, p, u)`` of one patient (cached per model content).

    Raises:
        EngineError: JAX or diffrax is not installed, or the model uses a function
            SymPy cannot print for JAX.
    """
    jax, _ = require_jax()
    with _LOCK:
        fn = _RHS.get(_key(model))
        if fn is None:
            try:
                source = jax_source(model)
            except NotImplementedError as exc:  # SymPy: a function without a JAX printer
                raise EngineError(f"the jax backend cannot compile model {model.name!r}: "
                                  f"{str(exc).splitlines()[0]}") from None
            import jax.scipy.special  # noqa: F401  (gamma, erf in printed code)

            namespace: dict[str, Any] = {"jax": jax}
            exec(compile(source, f"<il2sim jax {model.name}>", "exec"), namespace)
            fn = namespace["rhs"]
            _RHS[_key(model)] = fn
        return fn


def _quintic_hermite_solver(jax: ModuleType, diffrax: ModuleType, base: type,
                            field: Callable[[Any, Any], Any]) -> type:
    """``base`` (a diffrax solver class) with quintic Hermite dense output.

    diffrax's implicit solvers interpolate between steps with a cubic Hermite polynomial
    (error O(h^4)), which at tight tolerances is far less accurate than the order-5 step
    itself. Here the output at ``t = t0 + theta*h`` uses ``y``, ``y' = f`` and
    ``y'' = (df/dy) f + df/dt`` (forward-mode autodiff) at both ends of the step:

        p(theta) = H0 y0 + H1 h f0 + H2 h^2 g0 + H3 h^2 g1 + H4 h f1 + H5 y1,
        H0 = 1 - 10th^3 + 15th^4 - 6th^5,   H1 = th - 6th^3 + 8th^4 - 3th^5,
        H2 = (th^2 - 3th^3 + 3th^4 - th^5)/2,   H3 = (th^3 - 2th^4 + th^5)/2,
        H4 = -4th^3 + 7th^4 - 3th^5,   H5 = 10th^3 - 15th^4 + 6th^5,

    with error O(h^6) (Hairer, Norsett & Wanner, Solving ODEs I, 1993, II.6). The
    derivatives are evaluated only when an output time falls in the step.
    """
    jnp = jax.numpy

    def ends(t: Any, y: Any) -> tuple[Any, Any]:
        f = field(t, y)
        _, g = jax.jvp(field, (t, y), (jnp.ones_like(t), f))
        return f, g

    class QuinticHermite(diffrax.AbstractLocalInterpolation):  # type: ignore[misc,name-defined]
        t0: Any
        t1: Any
        y0: Any
        y1: Any

        def evaluate(self, t0: Any, t1: Any = None, left: bool = True) -> Any:
            del left
            if t1 is not None:
                return self.evaluate(t1) - self.evaluate(t0)
            h = self.t1 - self.t0
            th = jnp.where(h > 0, (t0 - self.t0) / jnp.where(h > 0, h, 1.0), 0.0)
            f0, g0 = ends(self.t0, self.y0)
            f1, g1 = ends(self.t1, self.y1)
            t2, t3 = th * th, th * th * th
            t4, t5 = t3 * th, t3 * t2
            return ((1 - 10 * t3 + 15 * t4 - 6 * t5) * self.y0
                    + (th - 6 * t3 + 8 * t4 - 3 * t5) * h * f0
                    + 0.5 * (t2 - 3 * t3 + 3 * t4 - t5) * h * h * g0
                    + 0.5 * (t3 - 2 * t4 + t5) * h * h * g1
                    + (-4 * t3 + 7 * t4 - 3 * t5) * h * f1
                    + (10 * t3 - 15 * t4 + 6 * t5) * self.y1)

    def interpolation(*, t0: Any, t1: Any, y0: Any, y1: Any, k: Any) -> Any:
        del k
        return QuinticHermite(t0=t0, t1=t1, y0=y0, y1=y1)

    class Solver(base):  # type: ignore[misc]
        interpolation_cls = staticmethod(interpolation)

    return Solver


def _solve_function(model: Model, solver_name: str, max_steps: int,
                    step_to_outputs: bool) -> Any:
    """``solve(t0, t1, y, p, u, ts, rtol, atol)`` over a batch: jitted, vmapped diffrax.

    Returns the states at ``ts`` ``(N, K, n)``, a status code per patient (``_STATUS``)
    and the accepted and rejected steps per patient.
    """
    key = (_key(model), solver_name, max_steps, step_to_outputs)
    with _LOCK:
        fn = _SOLVES.get(key)
    if fn is not None:
        return fn
    jax, diffrax = require_jax()
    jnp = jax.numpy
    rhs = jax_rhs(model)
    base = getattr(diffrax, solver_name)
    implicit = solver_name in _IMPLICIT
    codes = [diffrax.RESULTS.successful, diffrax.RESULTS.max_steps_reached,
             diffrax.RESULTS.dt_min_reached]

    def one(t0: Any, t1: Any, y0: Any, p: Any, u: Any, ts: Any, rtol: Any, atol: Any) -> Any:
        def field(t: Any, y: Any) -> Any:
            return rhs(t, y, p, u)

        solver_class = base
        if implicit and not step_to_outputs:
            solver_class = _quintic_hermite_solver(jax, diffrax, base, field)
        if implicit:
            # The chord iterations get 10x the step tolerances (diffrax's default ties the
            # two; with its kappa = 0.01 the iteration error stays below 1/10 of the step
            # tolerance): at rtol 1e-10 a tied iteration stalls at round-off on a state
            # near 0 (depillis2009's M), every step is rejected as divergent and the
            # patient runs out of steps.
            newton = diffrax.VeryChord(rtol=_NEWTON_SLACK * rtol, atol=_NEWTON_SLACK * atol)
            solver = solver_class(root_finder=newton)
        else:
            solver = solver_class()
        # PI control with diffrax's suggested coefficients for stiff problems (its default
        # I-control rejected half of all steps on KP98); a step below ten units in the
        # last place of t ends the patient (as rodas.f's step size underflow).
        dtmin = _DTMIN_ULPS * _EPS * jnp.maximum(jnp.abs(t0), jnp.abs(t1))
        controller = diffrax.PIDController(rtol=rtol, atol=atol, pcoeff=0.3, icoeff=0.4,
                                           dtmin=dtmin, force_dtmin=False)
        if step_to_outputs:  # every output time is the end of a step: no interpolation
            controller = diffrax.ClipStepSizeController(controller, step_ts=ts)
        sol = diffrax.diffeqsolve(
            diffrax.ODETerm(lambda t, y, args: field(t, y)), solver, t0, t1, None, y0,
            saveat=diffrax.SaveAt(ts=ts), stepsize_controller=controller,
            max_steps=max_steps, throw=False, adjoint=diffrax.ForwardMode())
        code = jnp.select([sol.result == c for c in codes], [0, 1, 2], default=3)
        return (sol.ys, code, sol.stats["num_accepted_steps"],
                sol.stats["num_rejected_steps"])

    fn = jax.jit(jax.vmap(one, in_axes=(None, None, 0, 0, 0, None, None, None)))
    with _LOCK:
        _SOLVES[key] = fn
    return fn


def _padded_patients(n: int) -> int:
    """Batch size bucket: 8, 16, ..., 256, then multiples of 256 (at most 255 padding rows;
    below 256 patients a vectorised step costs about the same whatever the batch)."""
    if n > 256:
        return 256 * math.ceil(n / 256)
    return max(8, 1 << (n - 1).bit_length())


def _padded_times(k: int) -> int:
    """Output-time bucket: 16, 64, 256, ... (powers of 4: few shapes, hence few
    compilations; a padded time costs one interpolation, not a step)."""
    size = 16
    while size < k:
        size *= 4
    return size


@dataclass
class JaxStats:
    """Work counters summed over the calls of one backend object.

    ``compiles`` counts calls that traced and compiled a new shape (their time is in
    ``seconds_total``).
    """

    calls: int = 0
    patient_segments: int = 0
    padded_segments: int = 0
    steps: int = 0
    rejected: int = 0
    compiles: int = 0
    seconds_total: float = 0.0


@dataclass
class JaxBackend:
    """diffrax over a batch, vectorised with ``jax.vmap`` and compiled with ``jax.jit``.

    Main arguments:
        method: a diffrax solver (``"Kvaerno5"`` stiff, the default; ``"Kvaerno3"``,
            ``"Kvaerno4"``; explicit ``"Tsit5"``, ``"Dopri5"``, ``"Dopri8"``, ``"Bosh3"``) or a
            SciPy method name: LSODA, BDF and Radau give Kvaerno5, RK45 Dopri5, RK23 Bosh3,
            DOP853 Dopri8 (see ``SOLVERS``).

    Other arguments:
        max_steps: step attempts per patient and segment before the patient fails. It
            is a compile-time constant of the loop (no memory is reserved for it).
        step_to_outputs: end a step at every output time instead of interpolating:
            outputs as accurate as the steps (on stiff KP98 at rtol 1e-6, 10x more
            accurate than the quintic interpolation), at the price of a step grid that
            depends on the outputs (dense outputs force small steps).

    ``stats`` accumulates steps, rejections, padding and compilations.

    Raises:
        EngineError: JAX or diffrax is not installed, or an unknown method.
    """

    method: str = "Kvaerno5"
    max_steps: int = 100_000
    step_to_outputs: bool = False
    name: str = "jax"
    stats: JaxStats = field(default_factory=JaxStats)

    def __post_init__(self) -> None:
        if self.method not in SOLVERS:
            raise EngineError(f"unknown method {self.method!r} for the jax backend; known: "
                              f"{', '.join(SOLVERS)}")
        if isinstance(self.max_steps, bool) or not isinstance(self.max_steps, int) \
                or self.max_steps < 1:
            raise EngineError(f"jax backend: max_steps must be a positive integer, not "
                              f"{self.max_steps!r}")
        require_jax()

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
        n, ns = y.shape
        k = len(t_eval)
        if t1 - t0 <= _TINY_ULPS * _EPS * max(abs(t0), abs(t1)):
            # Two breakpoints a rounding error apart: no step size can resolve the segment,
            # and one Euler step is exact to far below any tolerance.
            with np.errstate(all="ignore"):
                y_end = y + (t1 - t0) * compiled.rhs(t0, y, p, u)
            ys = np.concatenate([np.repeat(y[:, None, :], k, axis=1), y_end[:, None, :]], 1)
            code = np.zeros(n, dtype=int)
            steps, rejected = np.ones(n, dtype=int), np.zeros(n, dtype=int)
            n_pad, compiled_now = n, False
        else:
            ys, code, steps, rejected, n_pad, compiled_now = self._solve(
                compiled, t0, t1, y, p, u, t_eval, rtol, atol)
        good = (code == 0) & np.isfinite(ys).all(axis=(1, 2))
        message = [""] * n
        for i in np.flatnonzero(~good):
            message[i] = _STATUS[int(code[i])].format(max_steps=self.max_steps, t0=t0, t1=t1)
        ys[~good] = np.nan
        s = self.stats
        s.calls += 1
        s.patient_segments += n
        s.padded_segments += n_pad - n
        s.steps += int(steps.sum())
        s.rejected += int(rejected.sum())
        s.compiles += int(compiled_now)
        s.seconds_total += time.perf_counter() - start
        return SegmentOutput(ys[:, :k], ys[:, k].copy(), good, message)

    def _solve(
        self,
        compiled: CompiledModel,
        t0: float,
        t1: float,
        y: NDArray[np.float64],
        p: NDArray[np.float64],
        u: NDArray[np.float64],
        t_eval: NDArray[np.float64],
        rtol: float,
        atol: float | NDArray[np.float64],
    ) -> tuple[NDArray[np.float64], NDArray[np.int_], NDArray[np.int_], NDArray[np.int_], int,
               bool]:
        """One padded, jitted call: states at ``t_eval`` and ``t1``, codes, step counts."""
        jax, _ = require_jax()
        solve = _solve_function(compiled.model, SOLVERS[self.method], self.max_steps,
                                self.step_to_outputs)
        n, ns = y.shape
        k = len(t_eval)
        n_pad = _padded_patients(n)
        rows = np.concatenate([np.arange(n), np.zeros(n_pad - n, dtype=int)])
        ts = np.full(_padded_times(k + 1), float(t1))
        ts[:k] = t_eval
        tol = np.ascontiguousarray(np.broadcast_to(np.asarray(atol, dtype=np.float64), (ns,)))
        cache_size = getattr(solve, "_cache_size", lambda: 0)  # compilations so far
        before = cache_size()
        with _x64(jax):
            out = solve(np.float64(t0), np.float64(t1), np.asarray(y, dtype=np.float64)[rows],
                        np.asarray(p, dtype=np.float64)[rows],
                        np.asarray(u, dtype=np.float64)[rows], ts, np.float64(rtol), tol)
            ys, code, steps, rejected = (np.array(a)[:n] for a in out)
        return (ys[:, :k + 1].astype(np.float64), code, steps, rejected, n_pad,
                cache_size() != before)
