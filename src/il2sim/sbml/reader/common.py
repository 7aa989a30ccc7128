"""What every stage of the SBML reader shares: the naming rule, the annotation helpers, the
``rateOf`` placeholder and the dependency sort."""

from __future__ import annotations

import keyword
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from typing import Any

import libsbml
import sympy

from il2sim.model.spec import ALLOWED_FUNCTIONS
from il2sim.sbml.mathml import IL2SIM_NS, SbmlError

__all__ = ["EMPTY_STATE_MEANING", "RATE_OF", "UNDECLARED", "Expr", "exact_value",
           "il2sim_annotation", "legal_name", "references", "tag", "toposort"]

Expr = Any
_RESERVED = {"t", *ALLOWED_FUNCTIONS, "Symbol", "Integer", "Float", "Rational", "Function"}
RATE_OF = sympy.Function("rateOf_")
"""``rateOf(x)`` as read, until the dynamics stage replaces it by ``x``'s right-hand side."""
UNDECLARED = "arb"
"""Unit text of a quantity whose SBML element declares no unit."""
EMPTY_STATE_MEANING = ("constant 0: the SBML model has no state, and an il2sim "
                       "model needs one")


def legal_name(sbml_id: str) -> str:
    """``sbml_id`` made a legal il2sim name (before uniqueness): see
    :mod:`il2sim.sbml.read`."""
    name = sbml_id.lstrip("_") or "x"
    if not name[0].isalpha():
        name = "x" + name
    name = re.sub(r"\W", "_", name)
    while keyword.iskeyword(name) or name in _RESERVED:
        name += "_"
    return name


def references(r: libsbml.Reaction) -> Iterable[libsbml.SpeciesReference]:
    """A reaction's reactants, then its products."""
    yield from r.getListOfReactants()
    yield from r.getListOfProducts()


def il2sim_annotation(element: libsbml.SBase) -> ET.Element | None:
    """The ``il2sim:*`` element of an SBML element's annotation, if any."""
    if not element.isSetAnnotation():
        return None
    text = element.getAnnotationString()
    if IL2SIM_NS not in text:
        return None
    try:
        root = ET.fromstring(text)
    except ET.ParseError:
        return None
    for child in root:
        if child.tag.startswith("{" + IL2SIM_NS + "}"):
            return child
    return None


def tag(node: ET.Element) -> str:
    return node.tag.split("}", 1)[1]


def exact_value(node: ET.Element, value: float) -> float:
    """The annotation's 17-digit value where it rounds to the file's (15-digit) value;
    the file's value where someone has changed it."""
    try:
        exact = float(node.get("value", "nan"))
    except ValueError:
        return value
    return exact if math.isclose(exact, value, rel_tol=1e-13, abs_tol=1e-300) else value


def toposort(items: Mapping[str, set[str]], what: str) -> list[str]:
    """Names in an order where each comes after those it depends on (stable)."""
    order: list[str] = []
    state: dict[str, int] = {}
    position = {name: i for i, name in enumerate(items)}

    def visit(name: str, path: tuple[str, ...]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            cycle = " -> ".join(path[path.index(name):] + (name,))
            raise SbmlError(f"{what} form a cycle ({cycle}): an algebraic loop il2sim cannot "
                            "represent", "algebraic loop")
        state[name] = 1
        for dep in sorted(items[name] & items.keys(), key=position.__getitem__):
            visit(dep, path + (name,))
        state[name] = 2
        order.append(name)

    for name in items:
        visit(name, ())
    return order
