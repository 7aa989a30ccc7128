"""A model's equations as MathML, for the model page.

Each equation is parsed as written (``evaluate=False``: no reordering, intermediates kept
by name) with the model-language functions (:data:`il2sim.model.spec.ALLOWED_FUNCTIONS`)
and printed with SymPy's presentation-MathML printer, which browsers render natively
(MathML Core). Products are written with a middle dot (``access · ant``, not ``accessant``);
a name whose stem is longer than one letter (``access``, ``Cr_renal``,
``killed_occ_int_site``) is one upright identifier, spelled as in the parameter table; a
one-letter or Greek stem keeps its subscript (``k_el`` as k with subscript el, ``V1`` as V
with subscript 1, ``mu2`` as mu with subscript 2). Results are cached per model name and
equation text.
"""

from __future__ import annotations

import html
from functools import lru_cache

import sympy
from sympy.printing.mathml import MathMLPresentationPrinter

from il2sim.model.spec import ALLOWED_FUNCTIONS, Model

__all__ = ["equations_mathml"]

_GLOBALS: dict[str, object] = {name: getattr(sympy, name) for name in
                               ("Symbol", "Integer", "Float", "Rational", "Function", "Add",
                                "Mul", "Pow", "Lt", "Le", "Gt", "Ge", "Eq", "Ne", "Not")}


def equations_mathml(model: Model) -> list[str]:
    """One ``<math display="block">`` element per intermediate (``name = expr``) and per
    state (``dx/dt = rhs``), in the model's order."""
    names = ("t", *model.state_names, *model.param_names,
             *(i.name for i in model.inputs), *(i.name for i in model.intermediates))
    lines = [(_name(i.name), i.expr) for i in model.intermediates]
    lines += [(_derivative(s), model.equations[s]) for s in model.state_names]
    return [_line(lhs, text, tuple(names)) for lhs, text in lines]


@lru_cache(maxsize=4096)
def _line(lhs: str, text: str, names: tuple[str, ...]) -> str:
    local = dict(ALLOWED_FUNCTIONS)
    local.update({n: sympy.Symbol(n) for n in names})
    try:
        expr = sympy.parse_expr(text, local_dict=local, global_dict=dict(_GLOBALS),
                                evaluate=False)
        rhs = _mathml(expr)
    except Exception:  # a display problem must not hide the model: show the text
        rhs = f"<mtext>{html.escape(text)}</mtext>"
    return f'<math display="block"><mrow>{lhs}<mo>=</mo>{rhs}</mrow></math>'


class _Printer(MathMLPresentationPrinter):  # type: ignore[misc]
    """SymPy's presentation printer with explicit products and upright multi-letter names."""

    def _print_Symbol(self, sym: sympy.Symbol, style: str = "plain") -> object:
        stem = sym.name.split("_", 1)[0].rstrip("0123456789")
        if len(stem) == 1 or stem in _GREEK:
            return super()._print_Symbol(sym, style)
        node = self.dom.createElement("mi")
        node.setAttribute("mathvariant", "normal")
        node.appendChild(self.dom.createTextNode(sym.name))
        return node


_GREEK = frozenset({"alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta",
                    "iota", "kappa", "lambda", "mu", "nu", "xi", "omicron", "pi", "rho",
                    "sigma", "tau", "upsilon", "phi", "chi", "psi", "omega"})


def _mathml(expr: sympy.Basic) -> str:
    return str(_Printer({"mul_symbol": "dot"}).doprint(expr))


def _name(name: str) -> str:
    return _mathml(sympy.Symbol(name))


def _derivative(state: str) -> str:
    return (f"<mfrac><mrow><mi>d</mi>{_name(state)}</mrow><mrow><mi>d</mi><mi>t</mi></mrow>"
            "</mfrac>")
