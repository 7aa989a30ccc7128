"""Stage 5 of the SBML reader: the role of every SBML symbol (parameter, state, amount
state or rule), see :mod:`il2sim.sbml.read` for what decides it."""

from __future__ import annotations

from dataclasses import dataclass

from il2sim.sbml.mathml import TIME
from il2sim.sbml.reader.common import RATE_OF, Expr, references
from il2sim.sbml.reader.maths import Maths
from il2sim.sbml.reader.source import Elements, Names, Source

__all__ = ["Roles", "classify", "constant_in_time"]


@dataclass
class Roles:
    """``role``: SBML id -> ``"param"``, ``"state"``, ``"amount"`` (a concentration in a
    compartment that changes size, integrated as its amount) or ``"rule"``; the dynamics
    stage and the build turn some into ``"rule"`` (species at a fast equilibrium, constant
    non-finite parameters). ``amounts``: species id -> the il2sim name of its amount
    state."""

    role: dict[str, str]
    amounts: dict[str, str]


def classify(src: Source, el: Elements, names: Names, maths: Maths) -> Roles:
    """Stage 5: role of every SBML symbol: param, state or rule (intermediate)."""
    role: dict[str, str] = {}
    amounts: dict[str, str] = {}  # species id -> its amount state
    changed_species = set()
    for r in el.reactions.values():
        for sr in references(r):
            changed_species.add(sr.getSpecies())

    def ruled_role(sbml_id: str) -> str:
        if sbml_id in maths.ruled:
            return "rule"
        if sbml_id in el.rate_rules:
            return "state"
        return "param"

    varying = set()
    for cid in el.compartments:
        if cid in el.rate_rules or cid in el.event_targets or (
                cid in maths.ruled and not constant_in_time(maths.rules[cid], el, names,
                                                            maths)):
            varying.add(cid)
        role[cid] = ruled_role(cid)
    for pid in el.parameters:
        role[pid] = ruled_role(pid)
    for sid, s in el.species.items():
        kind = ruled_role(sid)
        if kind == "param" and not s.getConstant() and not s.getBoundaryCondition() \
                and sid in changed_species:
            kind = "state"
        if kind in ("param", "state") and sid not in el.rate_rules \
                and not el.only_substance[sid] and s.getCompartment() in varying:
            # In a compartment whose size changes, the amount is what reactions change
            # and what stays put without them (also for a constant species): integrate
            # it; the concentration is amount / size.
            kind = "amount"
            amounts[sid] = names.unique_local(f"{names.names[sid]}_amount")
        role[sid] = kind
        c = el.compartments.get(s.getCompartment())
        if c is None:
            raise src.fail(f"species {sid!r}: unknown compartment {s.getCompartment()!r}",
                           "invalid SBML")
    for rid in el.reactions:
        role[rid] = "rule"
    for sid in el.refs:  # stoichiometry: a parameter, or variable through a rule
        role[sid] = ruled_role(sid)
    return Roles(role, amounts)


def constant_in_time(expr: Expr, el: Elements, names: Names, maths: Maths,
                     seen: tuple[str, ...] = ()) -> bool:
    """Whether ``expr`` depends on parameters only (no time, state or reaction)."""
    if expr.has(TIME) or expr.has(RATE_OF):
        return False
    for symbol in expr.free_symbols:
        sid = names.by_id_name.get(str(symbol))
        if sid is None or sid in seen:
            return sid is None  # a local parameter; a cycle is refused elsewhere
        if sid in el.rate_rules or sid in el.reactions or sid in el.event_targets:
            return False
        if sid in maths.ruled:
            if not constant_in_time(maths.rules[sid], el, names, maths, seen + (sid,)):
                return False
        elif sid in el.species and not (el.species[sid].getConstant()
                                        or el.species[sid].getBoundaryCondition()):
            return False
    return True
