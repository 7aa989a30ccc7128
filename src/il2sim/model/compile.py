"""Compile a :class:`~il2sim.model.spec.Model` to numeric functions.

The compiled form integrates in *internal coordinates* ``y``: ``y_i = log(x_i)``
for states declared ``log=True`` and ``y_i = x_i`` otherwise. With
``x_i = exp(y_i)`` the chain rule gives

    dy_i/dt = f_i(t, x, p, u) / x_i          (log states)
    dy_i/dt = f_i(t, x, p, u)                (linear states)

and the analytic Jacobian ``J_ij = d(dy_i/dt)/dy_j`` is obtained by symbolic
differentiation of these expressions. Every route without a named input gets an
implicit input (its infusion rate) added to d(state)/dt, so infusions are
exact rate switches.

Two families of functions are generated from the same expressions (after common
subexpression elimination): batched ones over N parameter sets at once
(NumPy arrays of shape ``(N, n)``), and scalar ones for one patient, which the
SciPy reference backend calls at every step.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy
from numpy.typing import NDArray
from sympy.printing.numpy import NumPyPrinter
from sympy.printing.pycode import PythonCodePrinter

from il2sim.model.spec import Model

__all__ = ["CompiledModel", "compile_model"]

FloatArray = NDArray[np.float64]
BatchFn = Callable[[Any, FloatArray, FloatArray, FloatArray], FloatArray]
ScalarFn = Callable[[float, FloatArray, FloatArray, FloatArray], FloatArray]

_CACHE: weakref.WeakKeyDictionary[Model, CompiledModel] = weakref.WeakKeyDictionary()


@dataclass(frozen=True, eq=False)
class CompiledModel:
    """Numeric form of a model.

    Attributes:
        model: the specification it came from.
        log_mask: True where a state is integrated as its logarithm.
        input_names: the model's inputs followed by one implicit rate per
            route that has no named input (``rate_<route>``).
        route_input: for each route, the index of the input its infusions drive.
        rhs, jac, observe: batched functions ``f(t, y, p, u)`` with ``y`` of
            shape ``(N, n_states)``, ``p`` ``(N, n_params)``, ``u`` ``(N, n_inputs)``;
            ``observe`` takes natural coordinates ``x``.
        rhs_one, jac_one: the same for one patient (1-D arrays).
    """

    model: Model
    log_mask: NDArray[np.bool_]
    input_names: tuple[str, ...]
    route_input: dict[str, int]
    rhs: BatchFn
    jac: BatchFn
    observe: BatchFn
    rhs_one: ScalarFn
    jac_one: ScalarFn
    source: str

    @property
    def n_states(self) -> int:
        return len(self.model.states)

    def to_internal(self, x: FloatArray) -> FloatArray:
        """Natural state values to integration coordinates (log where declared)."""
        y = np.array(x, dtype=float, copy=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            y[..., self.log_mask] = np.log(y[..., self.log_mask])
        return y

    def to_natural(self, y: FloatArray) -> FloatArray:
        """Integration coordinates back to natural state values."""
        x = np.array(y, dtype=float, copy=True)
        x[..., self.log_mask] = np.exp(x[..., self.log_mask])
        return x


def compile_model(model: Model) -> CompiledModel:
    """Compile (once per model object) to batched and scalar numeric functions."""
    cached = _CACHE.get(model)
    if cached is None:
        cached = _compile(model)
        _CACHE[model] = cached
    return cached


def _compile(model: Model) -> CompiledModel:
    sym = model.symbolic
    n = len(sym.states)
    log_mask = np.array([s.log for s in model.states], dtype=bool)

    # Inputs: declared ones, then an implicit rate per route without a named input.
    input_names = list(model.input_names)
    route_input: dict[str, int] = {}
    extra_rates: dict[str, sympy.Symbol] = {}
    for route in model.routes:
        if route.input is not None:
            route_input[route.name] = input_names.index(route.input)
        else:
            name = f"rate_{route.name}"
            route_input[route.name] = len(input_names)
            input_names.append(name)
            extra_rates[route.name] = sympy.Symbol(name, real=True)
    inputs = tuple(sym.inputs) + tuple(extra_rates.values())

    rhs_natural = list(sym.rhs)
    for route in model.routes:
        if route.name in extra_rates:
            i = model.state_names.index(route.state)
            rhs_natural[i] = rhs_natural[i] + extra_rates[route.name]

    # Internal coordinates y: x_j = exp(y_j) for log states.
    ys = tuple(sympy.Symbol(f"_y{j}", real=True) for j in range(n))
    to_y = {x: (sympy.exp(y) if log else y) for x, y, log in zip(sym.states, ys, log_mask)}
    rhs_internal: list[sympy.Expr] = []
    for i, expr in enumerate(rhs_natural):
        e = expr.xreplace(to_y)
        if log_mask[i]:
            e = _divide_by_exp(e, ys[i])
        rhs_internal.append(e)
    jac_internal = [[sympy.diff(e, y) for y in ys] for e in rhs_internal]

    # Rename parameters and inputs to positional symbols for code generation.
    ps = tuple(sympy.Symbol(f"_p{j}", real=True) for j in range(len(sym.params)))
    us = tuple(sympy.Symbol(f"_u{j}", real=True) for j in range(len(inputs)))
    xs = tuple(sympy.Symbol(f"_x{j}", real=True) for j in range(n))
    tt = sympy.Symbol("_t", real=True)
    rename = {**dict(zip(sym.params, ps)), **dict(zip(inputs, us)), sym.t: tt}
    rhs_internal = [e.xreplace(rename) for e in rhs_internal]
    jac_flat = [e.xreplace(rename) for row in jac_internal for e in row]
    obs = [e.xreplace({**rename, **dict(zip(sym.states, xs))}) for e in sym.observables]

    sources = [
        _function_source("rhs", rhs_internal, (n,), ys, ps, us, tt, batched=True),
        _function_source("jac", jac_flat, (n, n), ys, ps, us, tt, batched=True),
        _function_source("observe", obs, (len(obs),), xs, ps, us, tt, batched=True),
        _function_source("rhs_one", rhs_internal, (n,), ys, ps, us, tt, batched=False),
        _function_source("jac_one", jac_flat, (n, n), ys, ps, us, tt, batched=False),
    ]
    source = "\n\n".join(sources)
    namespace: dict[str, Any] = {"numpy": np, "math": __import__("math")}
    exec(compile(source, f"<il2sim compiled {model.name}>", "exec"), namespace)
    return CompiledModel(
        model=model,
        log_mask=log_mask,
        input_names=tuple(input_names),
        route_input=route_input,
        rhs=namespace["rhs"],
        jac=namespace["jac"],
        observe=namespace["observe"],
        rhs_one=namespace["rhs_one"],
        jac_one=namespace["jac_one"],
        source=source,
    )


def _divide_by_exp(expr: sympy.Expr, y: sympy.Symbol) -> sympy.Expr:
    """``expr * exp(-y)`` with the exponentials of each term merged into one.

    ``p*exp(a)*exp(b)/(g + exp(b)) * exp(-y)`` becomes ``p*exp(a + b - y)/(g + exp(b))``:
    a product of separate exponentials would overflow to inf*0 = nan when a state
    has fallen to 1e-300 (its log to -700) while another term keeps it finite.
    """
    terms = []
    for term in sympy.Add.make_args(sympy.expand_mul(expr)):
        exponent: sympy.Expr = -y
        rest = []
        for factor in sympy.Mul.make_args(term):
            if isinstance(factor, sympy.exp):
                exponent = exponent + factor.args[0]
            else:
                rest.append(factor)
        terms.append(sympy.Mul(*rest) * sympy.exp(exponent))
    return sympy.Add(*terms)


# exp() arguments are capped at 709 (exp(709) = 8.2e307, the largest safe value) so that
# a trial step far outside the solution's range gives a large finite derivative, which the
# integrator rejects, instead of an overflow that aborts the solve.
_EXP_CAP = 709.0


class _BatchPrinter(NumPyPrinter):  # type: ignore[misc]  # SymPy is untyped
    """NumPy printer; capped exp; Heaviside(0) = 1/2 as in SymPy."""

    def _print_exp(self, expr: sympy.exp) -> str:
        return f"numpy.exp(numpy.minimum({self._print(expr.args[0])}, {_EXP_CAP}))"

    def _print_Max(self, expr: sympy.Max) -> str:
        return self._fold("numpy.maximum", expr.args)

    def _print_Min(self, expr: sympy.Min) -> str:
        return self._fold("numpy.minimum", expr.args)

    def _fold(self, func: str, args: tuple[sympy.Expr, ...]) -> str:
        out = str(self._print(args[0]))
        for a in args[1:]:
            out = f"{func}({out}, {self._print(a)})"
        return out

    def _print_Heaviside(self, expr: sympy.Heaviside) -> str:
        return f"numpy.heaviside({self._print(expr.args[0])}, 0.5)"


class _ScalarPrinter(PythonCodePrinter):  # type: ignore[misc]  # SymPy is untyped
    def _print_exp(self, expr: sympy.exp) -> str:
        return f"math.exp(min({self._print(expr.args[0])}, {_EXP_CAP}))"

    def _print_Heaviside(self, expr: sympy.Heaviside) -> str:
        a = self._print(expr.args[0])
        return f"(1.0 if ({a}) > 0 else (0.5 if ({a}) == 0 else 0.0))"


def _function_source(
    name: str,
    exprs: Sequence[sympy.Expr],
    shape: tuple[int, ...],
    vars_: Sequence[sympy.Symbol],
    ps: Sequence[sympy.Symbol],
    us: Sequence[sympy.Symbol],
    tt: sympy.Symbol,
    *,
    batched: bool,
) -> str:
    """Python source of one generated function, with common subexpressions shared."""
    printer: PythonCodePrinter = (
        _BatchPrinter({"fully_qualified_modules": True}) if batched
        else _ScalarPrinter({"fully_qualified_modules": True})
    )
    nonzero = [(k, e) for k, e in enumerate(exprs) if e != 0]
    replacements, reduced = sympy.cse(
        [e for _, e in nonzero], symbols=sympy.numbered_symbols("_c")
    )
    used = set().union(*(e.free_symbols for e in reduced),
                       *(e.free_symbols for _, e in replacements))
    col = "[:, {}]" if batched else "[{}]"
    lines = [f"def {name}(_t, _v, _p, _u):"]
    for j, s in enumerate(vars_):
        if s in used:
            lines.append(f"    {s} = _v{col.format(j)}")
    for j, s in enumerate(ps):
        if s in used:
            lines.append(f"    {s} = _p{col.format(j)}")
    for j, s in enumerate(us):
        if s in used:
            lines.append(f"    {s} = _u{col.format(j)}")
    for sym, expr in replacements:
        lines.append(f"    {sym} = {printer.doprint(expr)}")
    if batched:
        lines.append(f"    _out = numpy.zeros((_v.shape[0], {int(np.prod(shape))}))")
        for (k, _), expr in zip(nonzero, reduced):
            lines.append(f"    _out[:, {k}] = {printer.doprint(expr)}")
        lines.append(f"    return _out.reshape((_v.shape[0],) + {shape!r})")
    else:
        lines.append(f"    _out = numpy.zeros({int(np.prod(shape))})")
        for (k, _), expr in zip(nonzero, reduced):
            lines.append(f"    _out[{k}] = {printer.doprint(expr)}")
        lines.append(f"    return _out.reshape({shape!r})")
    return "\n".join(lines)
