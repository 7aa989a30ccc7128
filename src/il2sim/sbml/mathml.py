"""SBML math and units, both ways: libSBML ASTs to SymPy and back, SBML units to text.

Reading (:class:`MathReader`) turns a libSBML ``ASTNode`` into a SymPy expression over
il2sim symbol names, inlining function definitions. Everything the il2sim model spec
cannot express exactly is refused with an :class:`SbmlError` naming the construct
(``rateOf`` of an expression, ...); nothing is approximated. ``delay(x, d)`` is the
spec's :class:`~il2sim.model.spec.delay`. Functions
that have an exact form in the spec's function set are rewritten:

    sinh(x) = (exp(x) - exp(-x))/2          arcsinh(x) = log(x + sqrt(x^2 + 1))
    root(n, x) = x^(1/n)                    log(b, x) = log(x)/log(b)
    a == b  ->  (a >= b) & (a <= b)          xor(a, b) -> (a & ~b) | (~a & b)
    sec(x) = 1/cos(x)                       arccot(x) = atan(1/x)
    quotient(a, b) = floor(a/b) if a/b >= 0 else ceiling(a/b)
    rem(a, b) = a - b*quotient(a, b)

and a boolean used as a number is ``Piecewise((1, b), (0, True))``; a number used as
a boolean is ``x != 0``. Writing (:func:`to_ast`) turns SymPy back into a libSBML
AST, ``t`` becoming the ``time`` csymbol. :func:`to_text` prints SymPy in the form the
model spec parses back (exact floats, no ``Eq``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any

import libsbml
import sympy
from sympy.core.relational import Relational
from sympy.logic.boolalg import BooleanAtom, BooleanFunction
from sympy.printing.str import StrPrinter

from il2sim.model.spec import delay

__all__ = [
    "AVOGADRO",
    "IL2SIM_NS",
    "MathReader",
    "SbmlError",
    "TIME",
    "to_ast",
    "to_text",
    "unit_definition_text",
]

IL2SIM_NS = "https://il2sim.invalid/sbml-annotation/1"
"""XML namespace of il2sim's own annotations (metadata the SBML core cannot hold)."""
AVOGADRO = 6.02214179e23
"""Value of the ``avogadro`` csymbol fixed by SBML Level 3 (both versions)."""
TIME = sympy.Symbol("t", real=True)
"""Model time, ``t`` in il2sim equations and the ``time`` csymbol in SBML."""


class SbmlError(ValueError):
    """An SBML file cannot be read, or uses a construct il2sim cannot represent exactly;
    or a model cannot be written as SBML. The message names the construct.

    ``construct`` is a short label of the refused construct (``"events"``,
    ``"function sin"``, ...) for tallies; empty for other errors.
    """

    def __init__(self, message: str, construct: str = "") -> None:
        super().__init__(message)
        self.construct = construct


Expr = Any  # sympy.Expr or a sympy boolean; SymPy is untyped


def _is_bool(x: Expr) -> bool:
    return isinstance(x, (Relational, BooleanFunction, BooleanAtom))


def as_number(x: Expr) -> Expr:
    """A boolean used as a number: 1 when true, 0 when false."""
    if isinstance(x, BooleanAtom):
        return sympy.Integer(1 if bool(x) else 0)
    if _is_bool(x):
        return sympy.Piecewise((1, x), (0, True))
    return x


def as_bool(x: Expr) -> Expr:
    """A number used as a boolean: true when nonzero."""
    if _is_bool(x):
        return x
    return sympy.Or(sympy.Lt(x, 0), sympy.Gt(x, 0))


def _equal(a: Expr, b: Expr) -> Expr:
    if _is_bool(a) or _is_bool(b):
        a, b = as_bool(a), as_bool(b)
        return sympy.Or(sympy.And(a, b), sympy.And(sympy.Not(a), sympy.Not(b)))
    return sympy.And(sympy.Ge(a, b), sympy.Le(a, b))


def _chain(op: Callable[[Expr, Expr], Expr], args: list[Expr]) -> Expr:
    """n-ary relation ``a op b op c`` as ``(a op b) & (b op c)``."""
    return sympy.And(*[op(a, b) for a, b in zip(args, args[1:])])


# Functions evaluated numerically when their arguments are constants (NaN outside their
# domain, as simulators give); of variables, those in _SYMBOLIC are kept, others refused.
_NUMERIC_ONLY: dict[int, tuple[str, Callable[..., float]]] = {
    libsbml.AST_FUNCTION_SIN: ("sin", math.sin),
    libsbml.AST_FUNCTION_COS: ("cos", math.cos),
    libsbml.AST_FUNCTION_TAN: ("tan", math.tan),
    libsbml.AST_FUNCTION_SEC: ("sec", lambda x: 1 / math.cos(x)),
    libsbml.AST_FUNCTION_CSC: ("csc", lambda x: 1 / math.sin(x)),
    libsbml.AST_FUNCTION_COT: ("cot", lambda x: 1 / math.tan(x)),
    libsbml.AST_FUNCTION_ARCSIN: ("arcsin", math.asin),
    libsbml.AST_FUNCTION_ARCCOS: ("arccos", math.acos),
    libsbml.AST_FUNCTION_ARCTAN: ("arctan", math.atan),
    libsbml.AST_FUNCTION_ARCSEC: ("arcsec", lambda x: math.acos(1 / x)),
    libsbml.AST_FUNCTION_ARCCSC: ("arccsc", lambda x: math.asin(1 / x)),
    libsbml.AST_FUNCTION_ARCCOT: ("arccot", lambda x: math.atan(1 / x)),
    libsbml.AST_FUNCTION_FLOOR: ("floor", math.floor),
    libsbml.AST_FUNCTION_CEILING: ("ceiling", math.ceil),
    libsbml.AST_FUNCTION_FACTORIAL: ("factorial", lambda x: math.gamma(x + 1)),
    libsbml.AST_FUNCTION_REM: ("rem", math.fmod),
    libsbml.AST_FUNCTION_QUOTIENT: ("quotient", lambda a, b: float(math.trunc(a / b))),
}


def _quotient(a: Expr, b: Expr) -> Expr:
    """SBML ``quotient(a, b)``: ``a/b`` truncated towards zero."""
    q = a / b
    return sympy.Piecewise((sympy.floor(q), sympy.Ge(q, 0)), (sympy.ceiling(q), True))


# The same functions of variables, in the model spec's function set (exact forms).
_SYMBOLIC: dict[int, Callable[..., Expr]] = {
    libsbml.AST_FUNCTION_SIN: sympy.sin,
    libsbml.AST_FUNCTION_COS: sympy.cos,
    libsbml.AST_FUNCTION_TAN: sympy.tan,
    libsbml.AST_FUNCTION_SEC: lambda x: 1 / sympy.cos(x),
    libsbml.AST_FUNCTION_CSC: lambda x: 1 / sympy.sin(x),
    libsbml.AST_FUNCTION_COT: lambda x: 1 / sympy.tan(x),
    libsbml.AST_FUNCTION_ARCSIN: sympy.asin,
    libsbml.AST_FUNCTION_ARCCOS: sympy.acos,
    libsbml.AST_FUNCTION_ARCTAN: sympy.atan,
    libsbml.AST_FUNCTION_ARCSEC: lambda x: sympy.acos(1 / x),
    libsbml.AST_FUNCTION_ARCCSC: lambda x: sympy.asin(1 / x),
    libsbml.AST_FUNCTION_ARCCOT: lambda x: sympy.atan(1 / x),
    libsbml.AST_FUNCTION_FLOOR: sympy.floor,
    libsbml.AST_FUNCTION_CEILING: sympy.ceiling,
    libsbml.AST_FUNCTION_QUOTIENT: _quotient,
    libsbml.AST_FUNCTION_FACTORIAL: sympy.factorial,
    libsbml.AST_FUNCTION_REM: lambda a, b: a - b * _quotient(a, b),
}


def _exp_forms(x: Expr) -> dict[int, Expr]:
    """Hyperbolic functions and their inverses through exp, log and sqrt (exact)."""
    e, m = sympy.exp(x), sympy.exp(-x)
    return {
        libsbml.AST_FUNCTION_SINH: (e - m) / 2,
        libsbml.AST_FUNCTION_COSH: (e + m) / 2,
        libsbml.AST_FUNCTION_SECH: 2 / (e + m),
        libsbml.AST_FUNCTION_CSCH: 2 / (e - m),
        libsbml.AST_FUNCTION_COTH: (e + m) / (e - m),
        libsbml.AST_FUNCTION_ARCSINH: sympy.log(x + sympy.sqrt(x**2 + 1)),
        libsbml.AST_FUNCTION_ARCCOSH: sympy.log(x + sympy.sqrt(x**2 - 1)),
        libsbml.AST_FUNCTION_ARCTANH: sympy.log((1 + x) / (1 - x)) / 2,
        libsbml.AST_FUNCTION_ARCSECH: sympy.log((1 + sympy.sqrt(1 - x**2)) / x),
        libsbml.AST_FUNCTION_ARCCSCH: sympy.log(1 / x + sympy.sqrt(1 / x**2 + 1)),
        libsbml.AST_FUNCTION_ARCCOTH: sympy.log((x + 1) / (x - 1)) / 2,
    }


_HYPERBOLIC = set(_exp_forms(sympy.Symbol("x")))


class MathReader:
    """Converts libSBML math to SymPy over il2sim names.

    Main arguments:
        functions: the model's function definitions by id (inlined where called).
        symbol: the SymPy expression of a name that is not a function argument
            (raises :class:`SbmlError` for an unknown one).

    Other arguments:
        rate_of: the expression of ``rateOf(x)``; ``None`` refuses ``rateOf``.
    """

    def __init__(self, functions: Mapping[str, libsbml.FunctionDefinition],
                 symbol: Callable[[str], Expr], *,
                 rate_of: Callable[[Expr, str], Expr] | None = None) -> None:
        self.functions = functions
        self.symbol = symbol
        self.rate_of = rate_of

    def number(self, node: libsbml.ASTNode | None, where: str,
               local: Mapping[str, Expr] | None = None) -> Expr:
        """The numeric value of ``node`` (booleans become 0 or 1)."""
        if node is None:
            raise SbmlError(f"{where}: no math", "invalid SBML")
        return as_number(self._read(node, where, dict(local or {}), ()))

    def condition(self, node: libsbml.ASTNode, where: str,
                  local: Mapping[str, Expr] | None = None) -> Expr:
        """The truth value of ``node`` (numbers are true when nonzero)."""
        return as_bool(self._read(node, where, dict(local or {}), ()))

    # -- the converter -------------------------------------------------------------------
    def _read(self, node: libsbml.ASTNode, where: str, env: dict[str, Expr],
              stack: tuple[str, ...]) -> Expr:
        kind = node.getType()
        args = [node.getChild(i) for i in range(node.getNumChildren())]

        def num(i: int) -> Expr:
            return as_number(self._read(args[i], where, env, stack))

        def nums() -> list[Expr]:
            return [num(i) for i in range(len(args))]

        def cond(i: int) -> Expr:
            return as_bool(self._read(args[i], where, env, stack))

        if kind == libsbml.AST_INTEGER:
            return sympy.Integer(node.getInteger())
        if kind in (libsbml.AST_REAL, libsbml.AST_REAL_E):
            return _float(node.getReal())
        if kind == libsbml.AST_RATIONAL:
            return sympy.Rational(node.getNumerator(), node.getDenominator())
        if kind == libsbml.AST_NAME:
            name = node.getName()
            return env[name] if name in env else self.symbol(name)
        if kind == libsbml.AST_NAME_TIME:
            return TIME
        if kind == libsbml.AST_NAME_AVOGADRO:
            return sympy.Float(AVOGADRO)
        if kind == libsbml.AST_CONSTANT_E:  # doubles, as simulators compare them
            return sympy.Float(math.e)
        if kind == libsbml.AST_CONSTANT_PI:
            return sympy.Float(math.pi)
        if kind == libsbml.AST_CONSTANT_TRUE:
            return sympy.true
        if kind == libsbml.AST_CONSTANT_FALSE:
            return sympy.false
        if kind == libsbml.AST_PLUS:
            return sympy.Add(*nums())
        if kind == libsbml.AST_MINUS:
            return -num(0) if len(args) == 1 else num(0) - num(1)
        if kind == libsbml.AST_TIMES:
            return sympy.Mul(*nums())
        if kind == libsbml.AST_DIVIDE:
            return num(0) / num(1)
        if kind in (libsbml.AST_POWER, libsbml.AST_FUNCTION_POWER):
            return num(0) ** num(1)
        if kind == libsbml.AST_FUNCTION_ROOT:
            if len(args) == 1:
                return sympy.sqrt(num(0))
            degree = num(0)
            return num(1) ** (1 / degree if not degree.is_Integer else
                              sympy.Rational(1, int(degree)))
        if kind == libsbml.AST_FUNCTION_EXP:
            return sympy.exp(num(0))
        if kind == libsbml.AST_FUNCTION_LN:
            return sympy.log(num(0))
        if kind == libsbml.AST_FUNCTION_LOG:
            if len(args) == 1:
                return sympy.log(num(0)) / sympy.log(10)
            return sympy.log(num(1)) / sympy.log(num(0))
        if kind == libsbml.AST_FUNCTION_ABS:
            return sympy.Abs(num(0))
        if kind == libsbml.AST_FUNCTION_TANH:
            return sympy.tanh(num(0))
        if kind in _HYPERBOLIC:
            return _exp_forms(num(0))[kind]
        if kind == libsbml.AST_FUNCTION_MAX:
            return sympy.Max(*nums())
        if kind == libsbml.AST_FUNCTION_MIN:
            return sympy.Min(*nums())
        if kind in _NUMERIC_ONLY:
            name, fn = _NUMERIC_ONLY[kind]
            values = nums()
            if any(not v.is_number for v in values) and kind in _SYMBOLIC:
                return _SYMBOLIC[kind](*values)
            if any(not v.is_number for v in values):
                raise SbmlError(f"{where}: function {name}() of a variable is not supported "
                                "(the il2sim model spec has no such function)", f"function {name}")
            try:
                return _float(fn(*[float(v) for v in values]))
            except (ValueError, ZeroDivisionError, OverflowError):
                return sympy.nan
        if kind == libsbml.AST_FUNCTION_PIECEWISE:
            pieces = [(num(i), cond(i + 1)) for i in range(0, len(args) - 1, 2)]
            otherwise = num(len(args) - 1) if len(args) % 2 else sympy.nan
            return sympy.Piecewise(*pieces, (otherwise, True))
        if kind in _RELATIONS:
            values = nums() if kind != libsbml.AST_RELATIONAL_EQ else [
                self._read(a, where, env, stack) for a in args]
            return _RELATIONS[kind](values)
        if kind == libsbml.AST_LOGICAL_AND:
            return sympy.And(*[cond(i) for i in range(len(args))])
        if kind == libsbml.AST_LOGICAL_OR:
            return sympy.Or(*[cond(i) for i in range(len(args))])
        if kind == libsbml.AST_LOGICAL_NOT:
            return sympy.Not(cond(0))
        if kind == libsbml.AST_LOGICAL_XOR:
            value: Expr = sympy.false
            for i in range(len(args)):
                c = cond(i)
                value = sympy.Or(sympy.And(value, sympy.Not(c)), sympy.And(sympy.Not(value), c))
            return value
        if kind == libsbml.AST_LOGICAL_IMPLIES:
            return sympy.Or(sympy.Not(cond(0)), cond(1))
        if kind == libsbml.AST_FUNCTION:
            return self._call(node.getName(), [num(i) for i in range(len(args))], where, stack)
        if kind == libsbml.AST_FUNCTION_DELAY:
            if len(args) != 2:
                raise SbmlError(f"{where}: delay() takes 2 arguments", "invalid SBML")
            return delay(num(0), num(1))
        if kind == libsbml.AST_FUNCTION_RATE_OF:
            if self.rate_of is None or len(args) != 1 or not args[0].isName():
                raise SbmlError(f"{where}: rateOf() of an expression is not supported",
                                "rateOf")
            name = args[0].getName()
            target = env[name] if name in env else self.symbol(name)
            if not isinstance(target, sympy.Symbol):
                raise SbmlError(f"{where}: rateOf() of an expression is not supported",
                                "rateOf")
            return self.rate_of(target, where)
        label = node.getName() or libsbml.formulaToL3String(node) or f"AST type {kind}"
        raise SbmlError(f"{where}: MathML construct {label!r} is not supported", "MathML")

    def _call(self, name: str, values: list[Expr], where: str, stack: tuple[str, ...]) -> Expr:
        fd = self.functions.get(name)
        if fd is None:
            raise SbmlError(f"{where}: call of undefined function {name!r}", "invalid SBML")
        if name in stack:
            raise SbmlError(f"{where}: function definition {name!r} calls itself", "invalid SBML")
        body = fd.getBody()
        if body is None:
            raise SbmlError(f"function definition {name!r} has no body", "invalid SBML")
        params = [fd.getArgument(i).getName() for i in range(fd.getNumArguments())]
        if len(params) != len(values):
            raise SbmlError(f"{where}: function {name!r} takes {len(params)} arguments, "
                            f"given {len(values)}", "invalid SBML")
        return self._read(body, f"{where} (in function {name!r})", dict(zip(params, values)),
                          stack + (name,))


_RELATIONS: dict[int, Callable[[list[Expr]], Expr]] = {
    libsbml.AST_RELATIONAL_EQ: lambda v: sympy.And(*[_equal(a, b) for a, b in zip(v, v[1:])]),
    libsbml.AST_RELATIONAL_NEQ: lambda v: as_bool(v[0] - v[1]),
    libsbml.AST_RELATIONAL_GT: lambda v: _chain(sympy.Gt, v),
    libsbml.AST_RELATIONAL_GEQ: lambda v: _chain(sympy.Ge, v),
    libsbml.AST_RELATIONAL_LT: lambda v: _chain(sympy.Lt, v),
    libsbml.AST_RELATIONAL_LEQ: lambda v: _chain(sympy.Le, v),
}


def _float(value: float) -> Expr:
    if math.isnan(value):
        return sympy.nan
    if math.isinf(value):
        return sympy.oo if value > 0 else -sympy.oo
    if value == int(value) and abs(value) < 2**53:
        return sympy.Integer(int(value))
    return sympy.Float(value)


# ---------------------------------------------------------------------------- printing


class _SpecPrinter(StrPrinter):  # type: ignore[misc]  # SymPy is untyped
    """Prints what :class:`~il2sim.model.spec.Model` parses back, exactly."""

    def _print_Float(self, expr: Expr) -> str:
        value = float(expr)
        if math.isnan(value):
            return "Float('nan')"
        if math.isinf(value):
            return "Float('inf')" if value > 0 else "(-Float('inf'))"
        return repr(value)

    def _print_NaN(self, expr: Expr) -> str:
        return "Float('nan')"

    def _print_Infinity(self, expr: Expr) -> str:
        return "Float('inf')"

    def _print_NegativeInfinity(self, expr: Expr) -> str:
        return "(-Float('inf'))"

    def _print_ComplexInfinity(self, expr: Expr) -> str:
        return "Float('nan')"

    def _print_Exp1(self, expr: Expr) -> str:
        return "exp(1)"

    def _print_Equality(self, expr: Expr) -> str:
        a, b = (self._print(x) for x in expr.args)
        return f"(({a}) >= ({b})) & (({a}) <= ({b}))"

    def _print_Unequality(self, expr: Expr) -> str:
        a, b = (self._print(x) for x in expr.args)
        return f"(({a}) < ({b})) | (({a}) > ({b}))"

    def _print_Xor(self, expr: Expr) -> str:
        return str(self._print(expr.to_nnf()))

    def _print_ITE(self, expr: Expr) -> str:
        return str(self._print(expr.to_nnf()))


def to_text(expr: Expr) -> str:
    """SymPy expression as an il2sim equation string (exact floats, spec functions only)."""
    return str(_SpecPrinter().doprint(expr))


# ---------------------------------------------------------------------------- writing


def _node(kind: int, *children: libsbml.ASTNode) -> libsbml.ASTNode:
    node = libsbml.ASTNode(kind)
    for child in children:
        node.addChild(child)
    return node


def _number(value: Expr) -> libsbml.ASTNode:
    if value.is_Integer:
        node = libsbml.ASTNode(libsbml.AST_INTEGER)
        node.setValue(int(value))
        return node
    if value.is_Rational:
        return _node(libsbml.AST_DIVIDE, _number(sympy.Integer(value.p)),
                     _number(sympy.Integer(value.q)))
    node = libsbml.ASTNode(libsbml.AST_REAL)
    node.setValue(float(value))
    return node


_WRITE_FUNCTIONS: dict[type, int] = {
    sympy.exp: libsbml.AST_FUNCTION_EXP,
    sympy.log: libsbml.AST_FUNCTION_LN,
    sympy.tanh: libsbml.AST_FUNCTION_TANH,
    sympy.sin: libsbml.AST_FUNCTION_SIN,
    sympy.cos: libsbml.AST_FUNCTION_COS,
    sympy.tan: libsbml.AST_FUNCTION_TAN,
    sympy.asin: libsbml.AST_FUNCTION_ARCSIN,
    sympy.acos: libsbml.AST_FUNCTION_ARCCOS,
    sympy.atan: libsbml.AST_FUNCTION_ARCTAN,
    sympy.floor: libsbml.AST_FUNCTION_FLOOR,
    sympy.factorial: libsbml.AST_FUNCTION_FACTORIAL,
    sympy.ceiling: libsbml.AST_FUNCTION_CEILING,
    sympy.Abs: libsbml.AST_FUNCTION_ABS,
    sympy.Max: libsbml.AST_FUNCTION_MAX,
    sympy.Min: libsbml.AST_FUNCTION_MIN,
    sympy.And: libsbml.AST_LOGICAL_AND,
    sympy.Or: libsbml.AST_LOGICAL_OR,
    sympy.Not: libsbml.AST_LOGICAL_NOT,
    sympy.Gt: libsbml.AST_RELATIONAL_GT,
    sympy.Ge: libsbml.AST_RELATIONAL_GEQ,
    sympy.Lt: libsbml.AST_RELATIONAL_LT,
    sympy.Le: libsbml.AST_RELATIONAL_LEQ,
    sympy.Eq: libsbml.AST_RELATIONAL_EQ,
    sympy.Ne: libsbml.AST_RELATIONAL_NEQ,
}


def to_ast(expr: Expr, where: str) -> libsbml.ASTNode:
    """SymPy expression as a libSBML AST; ``t`` becomes the ``time`` csymbol."""
    if expr == TIME:
        node = libsbml.ASTNode(libsbml.AST_NAME_TIME)
        node.setName("time")
        return node
    if expr.is_Symbol:
        node = libsbml.ASTNode(libsbml.AST_NAME)
        node.setName(str(expr))
        return node
    if expr is sympy.true or expr is sympy.false:
        return libsbml.ASTNode(libsbml.AST_CONSTANT_TRUE if expr is sympy.true
                               else libsbml.AST_CONSTANT_FALSE)
    if expr is sympy.pi:
        return libsbml.ASTNode(libsbml.AST_CONSTANT_PI)
    if expr is sympy.E:
        return libsbml.ASTNode(libsbml.AST_CONSTANT_E)
    if expr.is_Number:
        if not expr.is_finite:
            raise SbmlError(f"{where}: non-finite constant {expr}")
        if expr.is_negative:
            return _node(libsbml.AST_MINUS, _number(-expr))
        return _number(expr)
    if expr.is_Add:
        terms = list(expr.as_ordered_terms())
        node = to_ast(terms[0], where)
        for term in terms[1:]:
            if term.could_extract_minus_sign():
                node = _node(libsbml.AST_MINUS, node, to_ast(-term, where))
            else:
                node = _node(libsbml.AST_PLUS, node, to_ast(term, where))
        return node
    if expr.is_Mul:
        if expr.could_extract_minus_sign():
            return _node(libsbml.AST_MINUS, to_ast(-expr, where))
        numer, denom = [], []
        for factor in expr.as_ordered_factors():
            base, exponent = factor.as_base_exp()
            if exponent.is_number and exponent.is_negative:
                denom.append(base if exponent == -1 else base ** (-exponent))
            elif factor.is_Rational and not factor.is_Integer:
                numer.append(sympy.Integer(factor.p))
                denom.append(sympy.Integer(factor.q))
            else:
                numer.append(factor)
        top = _product(numer, where)
        return top if not denom else _node(libsbml.AST_DIVIDE, top, _product(denom, where))
    if expr.is_Pow:
        base, exponent = expr.args
        if exponent == sympy.Rational(1, 2):
            return _node(libsbml.AST_FUNCTION_ROOT, to_ast(base, where))
        if exponent.is_number and exponent.is_negative:
            return _node(libsbml.AST_DIVIDE, _number(sympy.Integer(1)),
                         to_ast(base ** (-exponent), where))
        return _node(libsbml.AST_POWER, to_ast(base, where), to_ast(exponent, where))
    if isinstance(expr, sympy.Piecewise):
        node = libsbml.ASTNode(libsbml.AST_FUNCTION_PIECEWISE)
        for value, condition in expr.args:
            if condition is sympy.true:
                node.addChild(to_ast(value, where))
                break
            node.addChild(to_ast(value, where))
            node.addChild(to_ast(condition, where))
        return node
    if isinstance(expr, sympy.Heaviside):
        x = expr.args[0]
        half = expr.args[1] if len(expr.args) > 1 else sympy.Rational(1, 2)
        return to_ast(sympy.Piecewise((0, sympy.Lt(x, 0)), (half, sympy.Eq(x, 0)), (1, True)),
                      where)
    kind = _WRITE_FUNCTIONS.get(type(expr))
    if kind is None:
        raise SbmlError(f"{where}: cannot write {type(expr).__name__} as SBML math")
    node = libsbml.ASTNode(kind)
    for arg in expr.args:
        node.addChild(to_ast(arg, where))
    return node


def _product(factors: list[Expr], where: str) -> libsbml.ASTNode:
    if not factors:
        return _number(sympy.Integer(1))
    node = to_ast(factors[0], where)
    for factor in factors[1:]:
        node = _node(libsbml.AST_TIMES, node, to_ast(factor, where))
    return node


# ---------------------------------------------------------------------------- units

_PREFIXES = {-18: "atto", -15: "femto", -12: "pico", -9: "nano", -6: "micro", -3: "milli",
             -2: "centi", -1: "deci", 1: "deca", 2: "hecto", 3: "kilo", 6: "mega", 9: "giga"}
_TIMES = {60.0: "minute", 3600.0: "hour", 86400.0: "day", 604800.0: "week"}
_KIND_TEXT = {"metre": "metre", "litre": "litre", "dimensionless": "", "item": "item",
              "avogadro": "avogadro"}


def unit_definition_text(ud: libsbml.UnitDefinition) -> str:
    """A pint-style unit string for an SBML unit definition, e.g. ``millimole/litre``,
    ``1/day``, ``1/(8640*second)``."""
    top: list[str] = []
    bottom: list[str] = []
    factor = 1.0
    for i in range(ud.getNumUnits()):
        u = ud.getUnit(i)
        kind = libsbml.UnitKind_toString(u.getKind())
        name = _KIND_TEXT.get(kind, kind)
        exponent = u.getExponentAsDouble()
        scaled = u.getMultiplier() * 10.0 ** u.getScale()
        if not name:  # dimensionless: only a factor
            factor *= scaled**exponent
            continue
        decade = round(math.log10(scaled)) if scaled > 0 else 0
        if kind == "second" and scaled in _TIMES:
            token = _TIMES[scaled]
        elif scaled == 1.0:
            token = name
        elif decade in _PREFIXES and abs(scaled / 10.0**decade - 1) < 1e-12:
            token = _PREFIXES[decade] + name
        else:
            token = f"({scaled:.12g}*{name})"
        power = abs(exponent)
        text = token if power == 1 else f"{token}**{power:g}"
        (top if exponent > 0 else bottom).append(text)
    head = "*".join(top) or "1"
    if factor != 1.0:
        head = f"{factor:.12g}*{head}" if top else f"{factor:.12g}"
    if len(bottom) > 1:
        return f"{head}/({'*'.join(bottom)})"
    return head + "".join(f"/{b}" for b in bottom)


def sanitize(text: str) -> str:
    """``text`` reduced to identifier characters."""
    return re.sub(r"\W", "_", text)
