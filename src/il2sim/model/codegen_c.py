"""Generate C source for a model's right-hand side and Jacobian in internal coordinates.

The expressions are those of :mod:`il2sim.model.compile`: intermediates
substituted, log states transformed (``dy_i/dt = f_i(x)/x_i`` with
``x_j = exp(y_j)``), the exponentials of each term merged into one
(:mod:`il2sim.model.internal`), the analytic Jacobian
``J_ij = d(dy_i/dt)/dy_j`` by symbolic differentiation, common subexpressions
eliminated with :func:`sympy.cse`, and every ``exp`` argument capped at 709.
Only the printer differs: C99 instead of Python.

The generated translation unit defines, for ``NS`` states, ``NP`` parameters
and ``NU`` inputs (the order of :class:`~il2sim.model.compile.CompiledModel`)::

    #define IL2_NS ...  IL2_NP ...  IL2_NU ...  IL2_TIME_DEPENDENT 0|1
    static void il2_rhs(double t, const double *y, const double *p, const double *u,
                        double *f);                      /* f = dy/dt            */
    static void il2_rhs_jac(double t, const double *y, const double *p,
                            const double *u, double *f, double *J);  /* J row-major */
    static void il2_dfdt(double t, const double *y, const double *p,
                         const double *u, double *ft);   /* d(dy/dt)/dt          */
    #define IL2_NO ...                                   /* observables          */
    static void il2_observe_one(double t, const double *x, const double *p,
                                const double *u, double *o);  /* natural x       */

``il2_rhs_jac`` shares subexpressions between the right-hand side and the
Jacobian at one point (a Rosenbrock step needs both there). The engine's
native backend appends its integrator to this source.
"""

from __future__ import annotations

from collections.abc import Sequence

import sympy
from sympy.printing.c import C99CodePrinter
from sympy.printing.precedence import precedence

from il2sim.model.internal import EXP_CAP as _EXP_CAP
from il2sim.model.internal import InternalForm, internal_form, observables_natural
from il2sim.model.spec import Model

__all__ = ["c_source"]


class _CPrinter(C99CodePrinter):  # type: ignore[misc]  # SymPy is untyped
    """C99 printer: capped exp (as compile.py), small integer powers as products, and
    a product of inputs and exponentials skipped while an input is 0."""

    def _print_exp(self, expr: sympy.exp) -> str:
        return f"il2_exp({self._print(expr.args[0])})"

    def _print_Mul(self, expr: sympy.Mul) -> str:
        """``u*exp(a)`` as ``(u != 0.0 ? u*exp(a) : 0.0)``: a dose rate is 0 most of the
        time (KP98 untreated: 2 of the 7 exponentials of each evaluation; 15% faster on
        10,000 KP98 runs over 1000 days, ``benchmarks/run.py``). The value is the same (the
        capped exp is finite), except that a NaN argument gives 0 instead of NaN while the
        input is 0."""
        text = str(super()._print_Mul(expr))
        inputs = sorted(f.name for f in expr.args
                        if isinstance(f, sympy.Symbol) and f.name.startswith("_u"))
        if not inputs or not expr.has(sympy.exp):
            return text
        guard = " && ".join(f"{u} != 0.0" for u in inputs)
        return f"(({guard}) ? {text} : 0.0)"

    def _print_Pow(self, expr: sympy.Pow) -> str:
        base, exponent = expr.args
        if exponent.is_Integer and 2 <= abs(int(exponent)) <= 4:
            b = self.parenthesize(base, precedence(expr))
            product = "*".join([b] * abs(int(exponent)))
            return f"({product})" if exponent > 0 else f"(1.0/({product}))"
        return str(super()._print_Pow(expr))


_PRELUDE = f"""\
#include <math.h>
#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif
/* exp() with its argument capped at {_EXP_CAP} (as il2sim.model.compile): a trial step far
   outside the solution gives a large finite derivative that the integrator rejects.
   A NaN argument stays NaN. */
static inline double il2_exp(double a) {{ return exp(a > {_EXP_CAP} ? {_EXP_CAP} : a); }}
"""


def _c_function(
    name: str,
    outputs: Sequence[tuple[str, Sequence[sympy.Expr]]],
    form: InternalForm,
    states: Sequence[sympy.Symbol] | None = None,
) -> str:
    """One C function writing each output array, subexpressions shared by one CSE; the
    state argument ``_v`` holds ``states`` (default: the internal coordinates)."""
    printer = _CPrinter()
    flat = [(array, k, e) for array, exprs in outputs for k, e in enumerate(exprs)]
    nonzero = [(array, k, e) for array, k, e in flat if e != 0]
    replacements, reduced = sympy.cse([e for _, _, e in nonzero],
                                      symbols=sympy.numbered_symbols("_c"))
    used: set[sympy.Basic] = set().union(*(e.free_symbols for e in reduced),
                                         *(e.free_symbols for _, e in replacements))
    args = ", ".join(f"double *restrict {array}" for array, _ in outputs)
    lines = [f"static void {name}(double _t, const double *restrict _v, "
             "const double *restrict _p, const double *restrict _u, " + args + ") {",
             "    (void)_t; (void)_v; (void)_p; (void)_u;"]
    for prefix, symbols in (("_v", form.ys if states is None else states), ("_p", form.ps),
                            ("_u", form.us)):
        for j, s in enumerate(symbols):
            if s in used:
                lines.append(f"    const double {s} = {prefix}[{j}];")
    for s, e in replacements:
        lines.append(f"    const double {s} = {printer.doprint(e)};")
    for array, k, e in flat:
        if e == 0:
            lines.append(f"    {array}[{k}] = 0.0;")
    for (array, k, _), e in zip(nonzero, reduced):
        lines.append(f"    {array}[{k}] = {printer.doprint(e)};")
    lines.append("}")
    return "\n".join(lines)


def c_source(model: Model) -> str:
    """C source of the model functions (see the module docstring for the interface)."""
    form = internal_form(model)
    n = len(form.ys)
    xs, observables = observables_natural(model, form)
    parts = [
        f"/* il2sim model {model.name!r}: generated by il2sim.model.codegen_c; do not edit. */",
        _PRELUDE,
        f"#define IL2_NS {n}",
        f"#define IL2_NP {len(form.ps)}",
        f"#define IL2_NU {len(form.us)}",
        f"#define IL2_TIME_DEPENDENT {1 if form.dfdt else 0}",
        "",
        _c_function("il2_rhs", [("_f", form.rhs)], form),
        "",
        _c_function("il2_rhs_jac", [("_f", form.rhs), ("_J", form.jac)], form),
        "",
        _c_function("il2_dfdt", [("_ft", form.dfdt or (sympy.Integer(0),) * n)], form),
        "",
        f"#define IL2_NO {len(observables)}",
        _c_function("il2_observe_one", [("_o", observables or (sympy.Integer(0),))], form,
                    states=xs),
        "",
    ]
    return "\n".join(parts)
