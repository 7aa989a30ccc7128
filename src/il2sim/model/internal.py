"""A model's equations in internal coordinates: the symbolic half of compilation.

Shared by the Python code generator (:mod:`il2sim.model.compile`) and the C code
generator (:mod:`il2sim.model.codegen_c`), so both compile exactly the same
expressions. Internal coordinates: ``y_i = log(x_i)`` for states declared
``log=True``, ``y_i = x_i`` otherwise; with ``x_j = exp(y_j)``

    dy_i/dt = f_i(t, x, p, u)/x_i   (log states),   dy_i/dt = f_i(t, x, p, u)   (linear)

and the analytic Jacobian ``J_ij = d(dy_i/dt)/dy_j`` by symbolic differentiation.
A delayed value ``delay(x, d)`` (the k-th of the model's, in sorted order) becomes the
input ``_u<n_inputs + k>``, which the SciPy backend fills from the solution's history; the
Jacobian treats it as a constant (it depends on past states only).
Every route without a named input gets an implicit input ``rate_<route>`` added
to d(state)/dt. Symbols are renamed positionally (``_y0``, ``_p0``, ``_u0``,
``_t``) for code generation. Computed once per model object.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import sympy

from il2sim.model.spec import Model

__all__ = ["EXP_CAP", "InternalForm", "delay_symbols", "internal_form", "observables_natural"]

# exp() arguments are capped at 709 (exp(709) = 8.2e307, the largest safe value) so that
# a trial step far outside the solution's range gives a large finite derivative, which the
# integrator rejects, instead of an overflow that aborts the solve.
EXP_CAP = 709.0

_CACHE: weakref.WeakKeyDictionary[Model, InternalForm] = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class InternalForm:
    """The symbolic right-hand side and Jacobian in internal coordinates.

    Symbols: ``_y<j>`` (internal states), ``_p<j>`` (parameters in model order),
    ``_u<j>`` (inputs: the model's, then ``rate_<route>`` per route without one),
    ``_t`` (time).

    Attributes:
        log_mask: True where a state is integrated as its logarithm.
        input_names: the inputs in positional order.
        rhs: ``dy_i/dt``, one expression per state.
        jac: ``J_ij``, row-major (``n_states**2`` expressions).
        dfdt: ``d(dy_i/dt)/dt``; empty when the equations do not involve time.
    """

    log_mask: tuple[bool, ...]
    input_names: tuple[str, ...]
    t: sympy.Symbol
    ys: tuple[sympy.Symbol, ...]
    ps: tuple[sympy.Symbol, ...]
    us: tuple[sympy.Symbol, ...]
    rhs: tuple[sympy.Expr, ...]
    jac: tuple[sympy.Expr, ...]
    dfdt: tuple[sympy.Expr, ...]


def internal_form(model: Model) -> InternalForm:
    """The internal form of ``model`` (cached per model object)."""
    cached = _CACHE.get(model)
    if cached is None:
        cached = _build(model)
        _CACHE[model] = cached
    return cached


def _build(model: Model) -> InternalForm:
    """The model's equations in internal coordinates (see the module docstring): implicit
    route inputs, log transform with merged exponentials, symbolic Jacobian, positional
    renaming. Both code generators (``compile._compile``, Python; :mod:`codegen_c`, C)
    print these expressions, so they cannot drift apart; the native backend's tests
    compare the C against the compiled Python functions on every library model."""
    sym = model.symbolic
    n = len(sym.states)
    log_mask = tuple(bool(s.log) for s in model.states)

    input_names = list(model.input_names)
    extra_rates: dict[str, sympy.Symbol] = {}
    for route in model.routes:
        if route.input is None:
            name = f"rate_{route.name}"
            input_names.append(name)
            extra_rates[route.name] = sympy.Symbol(name, real=True)
    inputs = tuple(sym.inputs) + tuple(extra_rates.values())
    delayed = delay_symbols(model)
    inputs = inputs + tuple(delayed.values())

    rhs_natural = [e.xreplace(delayed) for e in sym.rhs]
    for route in model.routes:
        if route.name in extra_rates:
            i = model.state_names.index(route.state)
            rhs_natural[i] = rhs_natural[i] + extra_rates[route.name]

    ys = tuple(sympy.Symbol(f"_y{j}", real=True) for j in range(n))
    to_y = {x: (sympy.exp(y) if log else y) for x, y, log in zip(sym.states, ys, log_mask)}
    rhs_internal: list[sympy.Expr] = []
    for i, expr in enumerate(rhs_natural):
        e = expr.xreplace(to_y)
        if log_mask[i]:
            e = _divide_by_exp(e, ys[i])
        rhs_internal.append(e)
    jac_internal = [_derivative(e, y) for e in rhs_internal for y in ys]

    ps = tuple(sympy.Symbol(f"_p{j}", real=True) for j in range(len(sym.params)))
    us = tuple(sympy.Symbol(f"_u{j}", real=True) for j in range(len(inputs)))
    tt = sympy.Symbol("_t", real=True)
    rename = {**dict(zip(sym.params, ps)), **dict(zip(inputs, us)), sym.t: tt}
    rhs = tuple(e.xreplace(rename) for e in rhs_internal)
    jac = tuple(e.xreplace(rename) for e in jac_internal)
    dfdt: tuple[sympy.Expr, ...] = ()
    if any(e.has(tt) for e in rhs):
        dfdt = tuple(_derivative(e, tt) for e in rhs)
    return InternalForm(log_mask, tuple(input_names), tt, ys, ps, us, rhs, jac, dfdt)


def delay_symbols(model: Model) -> dict[sympy.Basic, sympy.Symbol]:
    """Each ``delay(x, d)`` term of the model -> the symbol standing for its value."""
    return {term: sympy.Symbol(f"_delay{k}", real=True)
            for k, term in enumerate(model.symbolic.delays)}


def _derivative(expr: sympy.Expr, x: sympy.Symbol) -> sympy.Expr:
    """``d expr / dx``, with the derivative of ``floor`` and ``ceiling`` taken as 0 (their
    value wherever they are differentiable; SymPy leaves them unevaluated)."""
    d = sympy.diff(expr, x)
    if d.has(sympy.Derivative):
        d = d.replace(lambda e: isinstance(e, sympy.Derivative)
                      and isinstance(e.expr, (sympy.floor, sympy.ceiling)),
                      lambda e: sympy.Integer(0))
        d = d.replace(lambda e: isinstance(e, sympy.Subs), lambda e: e.doit())  # chain rule
    return d


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


def observables_natural(model: Model, form: InternalForm
                        ) -> tuple[tuple[sympy.Symbol, ...], tuple[sympy.Expr, ...]]:
    """The observables in natural coordinates ``_x0..`` with the internal form's parameter,
    input and time symbols: what ``CompiledModel.observe`` and the native ``il2_observe``
    both evaluate."""
    sym = model.symbolic
    xs = tuple(sympy.Symbol(f"_x{j}", real=True) for j in range(len(sym.states)))
    delayed = delay_symbols(model)
    rename = {**dict(zip(sym.params, form.ps)), **dict(zip(sym.inputs, form.us)),
              sym.t: form.t, **dict(zip(sym.states, xs)),
              **dict(zip(delayed.values(), form.us[len(form.input_names):]))}
    return xs, tuple(e.xreplace(delayed).xreplace(rename) for e in sym.observables)
