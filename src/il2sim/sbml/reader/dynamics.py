"""Stage 6 of the SBML reader: d(value)/dt of every state (rate rules, reactions, fast
reactions at equilibrium with their conserved moieties), ``rateOf`` replaced."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import libsbml
import sympy

from il2sim.model.spec import delay as delay_fn
from il2sim.sbml.mathml import TIME
from il2sim.sbml.reader.common import RATE_OF, Expr, references
from il2sim.sbml.reader.maths import Maths, initial_expr
from il2sim.sbml.reader.roles import Roles
from il2sim.sbml.reader.source import Elements, Names, Source

__all__ = ["Dynamics", "RateOf", "dynamics", "stoichiometry"]


@dataclass(frozen=True)
class RateOf:
    """``rateOf(x)`` replaced by the right-hand side of state ``x`` (0 for a parameter);
    refused for an assigned variable and for a concentration integrated as an amount."""

    src: Source
    by_name: Mapping[str, str]
    local: Mapping[str, object]
    roles: Roles

    def __call__(self, expr: Expr, equations: Mapping[str, Expr], where: str) -> Expr:
        if not expr.has(RATE_OF):
            return expr
        if expr.has(delay_fn):  # before t = 0 the history is constant: every rate is 0
            def delayed(term: Expr) -> Expr:
                arg, lag = term.args
                if not arg.has(RATE_OF):
                    return term
                before = arg.replace(lambda e: isinstance(e, RATE_OF),
                                     lambda e: sympy.Integer(0))
                after = self(arg, equations, where)
                return sympy.Piecewise((delay_fn(after, lag), lag <= TIME),
                                       (delay_fn(before, lag), True))
            expr = expr.replace(lambda e: isinstance(e, delay_fn), delayed)

        def rate(symbol: Expr) -> Expr:
            sid = self.by_name[str(symbol)]
            if sid in equations:
                inner = equations[sid]
                if inner.has(RATE_OF):
                    raise self.src.fail(f"rateOf({sid}) in {where!r} refers to another "
                                        "rateOf()", "rateOf")
                return inner
            if sid in self.local or self.roles.role.get(sid) == "param":
                return sympy.Integer(0)
            if sid in self.roles.amounts:
                raise self.src.fail(f"rateOf({sid}) in {where!r}: the rate of a concentration "
                                    "in a compartment whose size changes is not supported",
                                    "rateOf")
            raise self.src.fail(f"rateOf({sid}) in {where!r}: the rate of an assigned "
                                "variable is not supported", "rateOf")

        return expr.replace(lambda e: isinstance(e, RATE_OF), lambda e: rate(e.args[0]))


@dataclass
class Dynamics:
    """The states' equations over il2sim names, ``rateOf`` replaced.

    ``equations``: SBML id -> d(value)/dt of each state; ``amount_equations``: species id ->
    d(amount)/dt of each amount state; ``by_name``: il2sim name -> SBML id, local parameter
    or moiety name; ``moieties``: name -> (d/dt, initial value) of the conserved moieties of
    fast reactions, whose Jacobian determinant ``fast_check`` must not vanish at the start.
    """

    equations: dict[str, Expr]
    amount_equations: dict[str, Expr]
    by_name: dict[str, str]
    rate_of: RateOf
    moieties: dict[str, tuple[Expr, Expr]] = field(default_factory=dict)
    fast_check: Expr = sympy.Integer(1)


def dynamics(src: Source, el: Elements, names: Names, maths: Maths, roles: Roles) -> Dynamics:
    """Stage 6: d(value)/dt of every state: its rate rule, or its reactions. Species that
    fast reactions hold at equilibrium become rules (in ``maths.rules``, role ``"rule"``)."""
    sym = {sid: sympy.Symbol(n, real=True) for sid, n in names.names.items()}
    equations: dict[str, Expr] = {}
    for sid, role in roles.role.items():
        if role != "state":
            continue
        equations[sid] = maths.rates[sid] if sid in maths.rates else sympy.Integer(0)
    amount_equations: dict[str, Expr] = {sid: sympy.Integer(0) for sid in roles.amounts}
    for rid, r in el.reactions.items():
        if rid in el.fast:
            continue  # at equilibrium: see _fast_equilibrium
        for sign, refs in ((-1, r.getListOfReactants()), (1, r.getListOfProducts())):
            for sr in refs:
                sid = sr.getSpecies()
                species = el.species[sid]
                amount = sid in roles.amounts and not (species.getBoundaryCondition()
                                                       or species.getConstant())
                if not amount and (roles.role.get(sid) != "state" or sid in maths.rates):
                    continue  # boundary, constant or rule-driven species
                stoich = stoichiometry(src, el, names, maths, sr, rid)
                term = sign * stoich * sym[rid]
                factor = _conversion_factor(src, el, sid)
                if factor is not None:
                    term = term * sym[factor]
                if amount:
                    amount_equations[sid] += term
                    continue
                if not el.only_substance[sid]:
                    term = term / sym[el.species[sid].getCompartment()]
                equations[sid] = equations[sid] + term
    by_name = {name: sid for sid, name in names.names.items()}
    for name in maths.local:
        by_name[name] = name
    out = Dynamics({}, {}, by_name, RateOf(src, by_name, maths.local, roles))
    if el.fast:
        _fast_equilibrium(src, el, names, maths, roles, equations, out)
    out.equations = {sid: out.rate_of(e, equations, sid) for sid, e in equations.items()}
    out.amount_equations = {sid: out.rate_of(e, out.equations, sid)
                            for sid, e in amount_equations.items()}
    return out


def _fast_equilibrium(src: Source, el: Elements, names: Names, maths: Maths, roles: Roles,
                      equations: dict[str, Expr], out: Dynamics) -> None:
    """Fast reactions at equilibrium (SBML Level 2: they act instantaneously).

    With ``N`` the fast reactions' stoichiometry over the species they change, each
    row ``l`` of the left null space of ``N`` is a conserved moiety ``M = sum l_i a_i``
    of amounts ``a_i`` that only slow reactions and rules change: it becomes a state,
    ``dM/dt = sum l_i da_i/dt`` (slow terms). The species are then the solution of
    ``kinetic law = 0`` for every fast reaction together with the moieties, where SymPy
    finds it exactly and uniquely; otherwise the model is refused. Writes the moieties and
    the check to ``out``, the species' solutions to ``maths.rules`` (role ``"rule"``, their
    equations removed).
    """
    fail = "fast reactions"
    species: list[str] = []
    for rid in el.fast:
        for sr in references(el.reactions[rid]):
            sid = sr.getSpecies()
            if roles.role.get(sid) == "state" and sid not in maths.rates \
                    and sid not in species:
                species.append(sid)
            elif roles.role.get(sid) not in ("param", "state"):
                raise src.fail(f"fast reaction {rid!r}: species {sid!r} is not a plain "
                               "state (rule, or a compartment that changes size)", fail)
    matrix = sympy.zeros(len(species), len(el.fast))
    for j, rid in enumerate(el.fast):
        r = el.reactions[rid]
        for sign, refs in ((-1, r.getListOfReactants()), (1, r.getListOfProducts())):
            for sr in refs:
                if sr.getSpecies() in species:
                    stoich = stoichiometry(src, el, names, maths, sr, rid)
                    if not stoich.is_number:
                        raise src.fail(f"fast reaction {rid!r}: variable stoichiometry",
                                       fail)
                    factor = _conversion_factor(src, el, sr.getSpecies())
                    if factor is not None:
                        stoich = stoich * sympy.Symbol(names.names[factor], real=True)
                    matrix[species.index(sr.getSpecies()), j] += sign * stoich
    changed = {names.names[t] for t in el.event_targets if t in names.names}
    for rid in el.fast:
        if {str(x) for x in maths.rules[rid].free_symbols} & changed:
            raise src.fail(f"fast reaction {rid!r}: an event changes its kinetic law, "
                           "which may leave its equilibrium undetermined", fail)
    if matrix.rank() != len(el.fast):
        raise src.fail("fast reactions whose stoichiometries are dependent", fail)
    sym = {sid: sympy.Symbol(names.names[sid], real=True) for sid in species}

    def amount(sid: str, value: Expr) -> Expr:
        if el.only_substance[sid]:
            return value
        return value * sympy.Symbol(names.names[el.species[sid].getCompartment()],
                                    real=True)

    constraints = [maths.rules[rid] for rid in el.fast]
    for row in matrix.T.nullspace():
        name = names.unique_local("moiety")
        moiety = sympy.Symbol(name, real=True)
        rate = sum((row[i] * amount(sid, equations[sid]) for i, sid in enumerate(species)),
                   sympy.Integer(0))
        start = {sid: initial_expr(src, el, names, maths, sid) for sid in species}
        initial = sum((row[i] * amount(sid, sympy.nan if start[sid] is None else start[sid])
                       for i, sid in enumerate(species)), sympy.Integer(0))
        out.moieties[name] = (rate, initial)
        constraints.append(sum((row[i] * amount(sid, sym[sid])
                                for i, sid in enumerate(species)), sympy.Integer(0))
                           - moiety)
        out.by_name[name] = name
    unknowns = [sym[sid] for sid in species]
    groups: list[tuple[list[Expr], set[Expr]]] = []  # constraints coupled by unknowns
    for c in constraints:
        own = c.free_symbols & set(unknowns)
        coupled = [g for g in groups if g[1] & own]
        merged = ([c] + [x for g in coupled for x in g[0]],
                  own.union(*(g[1] for g in coupled)))
        groups = [g for g in groups if not g[1] & own] + [merged]
    solution: dict[Expr, Expr] = {}
    out.fast_check = sympy.Integer(1)
    for group, own in groups:
        variables = sorted(own, key=str)
        try:
            found = sympy.solve(group, variables, dict=True)
        except (NotImplementedError, ValueError, TypeError):
            found = []
        if len(group) != len(variables) or len(found) != 1 or set(found[0]) != own:
            shown = (", ".join(map(str, variables[:6])) + (", ..." if len(variables) > 6
                                                            else "")
                     or "a kinetic law without its reaction's species")
            raise src.fail(f"fast reactions ({len(el.fast)}): SymPy finds no unique "
                           f"exact equilibrium for {shown}", fail)
        solution.update(found[0])
        out.fast_check *= sympy.Matrix(group).jacobian(variables).det()
    for sid in species:
        maths.rules[sid] = solution[sym[sid]]
        roles.role[sid] = "rule"
        del equations[sid]


def stoichiometry(src: Source, el: Elements, names: Names, maths: Maths,
                  sr: libsbml.SpeciesReference, rid: str) -> Expr:
    """A species reference's stoichiometry: its symbol (Level 3 id), its Level 2
    ``stoichiometryMath``, or its number."""
    if sr.isSetId() and sr.getId() in names.names:
        return sympy.Symbol(names.names[sr.getId()], real=True)
    if sr.isSetStoichiometryMath():  # Level 2: the stoichiometry at each time
        return maths.reader.number(sr.getStoichiometryMath().getMath(),
                                   f"stoichiometry math of {sr.getSpecies()!r} in {rid!r}")
    if src.level[0] < 3 or sr.isSetStoichiometry():
        value = float(sr.getStoichiometry())
        if not math.isfinite(value):
            raise src.fail(f"stoichiometry of {sr.getSpecies()!r} in reaction {rid!r} is "
                           f"not a finite number ({value})", "non-finite value")
        return sympy.Integer(int(value)) if value == int(value) else sympy.Float(value)
    raise src.fail(f"stoichiometry of {sr.getSpecies()!r} in reaction {rid!r} is not set",
                   "undefined value")


def _conversion_factor(src: Source, el: Elements, sid: str) -> str | None:
    s = el.species[sid]
    if src.level[0] >= 3:
        if s.isSetConversionFactor():
            return str(s.getConversionFactor())
        if src.sbml.isSetConversionFactor():
            return str(src.sbml.getConversionFactor())
    return None
