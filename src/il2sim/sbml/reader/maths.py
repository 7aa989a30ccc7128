"""Stage 4 of the SBML reader: the SymPy form of every rule, kinetic law, event and initial
assignment, algebraic rules solved into assignment rules."""

from __future__ import annotations

from dataclasses import dataclass

import libsbml
import sympy

from il2sim.sbml.mathml import MathReader, SbmlError
from il2sim.sbml.reader.common import RATE_OF, Expr, references
from il2sim.sbml.reader.source import Elements, Names, Source

__all__ = ["EventMath", "Maths", "convert_math", "initial_expr"]

EventMath = tuple[libsbml.Event, Expr, Expr | None, Expr | None, list[tuple[str, Expr]]]
"""An event with its trigger, delay, priority and assignments (variable, value)."""


@dataclass
class Maths:
    """The model's math over il2sim names.

    ``rules``: SBML id -> expression of every intermediate: assignment rules, algebraic
    rules solved for their variable, kinetic laws (by reaction id); the dynamics stage adds
    the species that fast reactions hold at equilibrium. ``ruled``: the SBML ids a rule
    defines (assignment and solved algebraic rules). ``local``: il2sim name of a local
    parameter -> (its id, value, element)."""

    reader: MathReader
    rules: dict[str, Expr]
    ruled: set[str]
    rates: dict[str, Expr]
    local: dict[str, tuple[str, float, libsbml.SBase]]
    event_math: list[EventMath]
    initial_math: dict[str, Expr]


def convert_math(src: Source, el: Elements, names: Names) -> Maths:
    """Stage 4: SymPy form of every rule, kinetic law and initial assignment."""
    def symbol(sbml_id: str) -> Expr:
        if sbml_id in names.names:
            return sympy.Symbol(names.names[sbml_id], real=True)
        if sbml_id in el.functions:
            raise SbmlError(f"function {sbml_id!r} used as a value", "invalid SBML")
        raise SbmlError(f"unknown symbol {sbml_id!r}", "invalid SBML")

    def known(var: str, what: str) -> None:
        if var not in names.names:
            raise src.fail(f"{what} for unknown symbol {var!r}", "invalid SBML")

    reader = MathReader(el.functions, symbol, rate_of=lambda x, where: RATE_OF(x))
    read = reader.number
    rules: dict[str, Expr] = {}  # intermediates: assignment rules and reaction rates
    for var, rule in el.assign_rules.items():
        known(var, "assignment rule")
        rules[var] = read(rule.getMath(), f"assignment rule for {var!r}")
    ruled = set(el.assign_rules) | _solve_algebraic(src, el, names, reader, rules)
    rates: dict[str, Expr] = {}
    for var, rule in el.rate_rules.items():
        known(var, "rate rule")
        rates[var] = read(rule.getMath(), f"rate rule for {var!r}")
    local: dict[str, tuple[str, float, libsbml.SBase]] = {}  # il2sim name -> value
    for rid, r in el.reactions.items():
        kl = r.getKineticLaw()
        env: dict[str, Expr] = {}
        locals_ = ([kl.getLocalParameter(i) for i in range(kl.getNumLocalParameters())]
                   if src.level[0] >= 3 else
                   [kl.getParameter(i) for i in range(kl.getNumParameters())])
        for lp in locals_:
            if not lp.isSetValue():
                raise src.fail(f"local parameter {lp.getId()!r} of reaction {rid!r} has "
                               "no value", "undefined value")
            name = names.unique_local(f"{rid}_{lp.getId()}")
            local[name] = (lp.getId(), float(lp.getValue()), lp)
            env[lp.getId()] = sympy.Symbol(name, real=True)
        rules[rid] = read(kl.getMath(), f"kinetic law of reaction {rid!r}", env)
    event_math: list[EventMath] = []
    for event in el.events:
        where = f"event {event.getId() or '(no id)'!r}"
        trigger = reader.condition(event.getTrigger().getMath(), f"trigger of {where}")
        delay = priority = None
        if event.isSetDelay() and event.getDelay().isSetMath():
            delay = read(event.getDelay().getMath(), f"delay of {where}")
        if event.isSetPriority() and event.getPriority().isSetMath():
            priority = read(event.getPriority().getMath(), f"priority of {where}")
        assignments = []
        for ea in event.getListOfEventAssignments():
            if ea.isSetMath():
                var = ea.getVariable()
                known(var, f"assignment of {where}")
                assignments.append((var, read(ea.getMath(), f"assignment to {var!r} in "
                                              f"{where}")))
        event_math.append((event, trigger, delay, priority, assignments))
    initial_math: dict[str, Expr] = {}
    for var, ia in el.initial.items():
        known(var, "initial assignment")
        initial_math[var] = read(ia.getMath(), f"initial assignment for {var!r}")
    return Maths(reader, rules, ruled, rates, local, event_math, initial_math)


def _solve_algebraic(src: Source, el: Elements, names: Names, reader: MathReader,
                     rules: dict[str, Expr]) -> set[str]:
    """Algebraic rules ``0 = f(...)`` as assignment rules (added to ``rules``), where SymPy
    solves them exactly and uniquely for the variables they determine; refused otherwise.
    Returns the variables solved for.

    The variable a rule determines is one SBML leaves free: not constant, without
    another rule, and not a species that reactions change. Rules with a single such
    variable are solved one at a time; the rest together (as many variables as
    rules), and only a unique solution is accepted.
    """
    if not el.algebraic:
        return set()
    read = reader.number
    by_reactions = {sr.getSpecies() for r in el.reactions.values()
                    for sr in references(r)
                    if not el.species[sr.getSpecies()].getBoundaryCondition()}
    solved: set[str] = set()
    pending: list[tuple[Expr, set[str]]] = []
    for k, rule in enumerate(el.algebraic, 1):
        expr = read(rule.getMath(), f"algebraic rule {k}")
        free = {names.by_id_name[str(s)] for s in expr.free_symbols
                if str(s) in names.by_id_name}
        free = {sid for sid in free if sid not in el.rate_rules
                and sid not in el.assign_rules and sid not in el.reactions
                and sid not in by_reactions and not _constant(el, sid)}
        pending.append((expr, free))
    while pending:  # rules left with one free variable first
        single = next((item for item in pending if len(item[1]) == 1), None)
        if single is None:
            break
        pending.remove(single)
        (sid,) = single[1]
        _assign_solution(src, names, rules, [single[0]], [sid])
        solved.add(sid)
        pending = [(e, free - {sid}) for e, free in pending]
    if pending:
        variables = sorted(set().union(*(free for _, free in pending)))
        if len(variables) != len(pending):
            raise src.fail(f"{len(pending)} algebraic rules do not determine "
                           f"{len(pending)} variables (free: {', '.join(variables) or '-'})"
                           "; il2sim needs rules it can solve exactly", "algebraic rules")
        _assign_solution(src, names, rules, [e for e, _ in pending], variables)
        solved.update(variables)
    return solved


def _constant(el: Elements, sid: str) -> bool:
    element = el.parameters.get(sid) or el.compartments.get(sid) or el.species.get(sid)
    if element is not None:
        return bool(element.getConstant())
    return sid in el.refs and bool(el.refs[sid].getConstant())


def _assign_solution(src: Source, names: Names, rules: dict[str, Expr], exprs: list[Expr],
                     sids: list[str]) -> None:
    symbols = [sympy.Symbol(names.names[sid], real=True) for sid in sids]
    try:
        solutions = sympy.solve(exprs, symbols, dict=True)
    except (NotImplementedError, ValueError, TypeError):
        solutions = []
    if len(solutions) != 1 or set(solutions[0]) != set(symbols):
        found = "no" if not solutions else "more than one" if len(solutions) > 1 else \
            "no complete"
        raise src.fail(f"algebraic rules for {', '.join(sids)}: SymPy finds {found} "
                       "exact solution; il2sim models are explicit ODEs",
                       "algebraic rules")
    for sid, symbol in zip(sids, symbols):
        rules[sid] = solutions[0][symbol]


def initial_expr(src: Source, el: Elements, names: Names, maths: Maths,
                 sid: str) -> Expr | None:
    """The expression of ``sid``'s value at t = 0: its initial assignment, its rule, or the
    value, size, amount or concentration the file declares (None: none)."""
    if sid in maths.initial_math:
        return maths.initial_math[sid]
    if sid in maths.rules:
        return maths.rules[sid]
    if sid in el.compartments:
        c = el.compartments[sid]
        if c.isSetSize():
            return sympy.Float(c.getSize())
        return sympy.Integer(1) if src.level[0] < 3 else None
    if sid in el.parameters:
        p = el.parameters[sid]
        return sympy.Float(p.getValue()) if p.isSetValue() else None
    if sid in el.species:
        s = el.species[sid]
        size = sympy.Symbol(names.names[s.getCompartment()], real=True)
        if s.isSetInitialAmount():
            amount = sympy.Float(s.getInitialAmount())
            return amount if el.only_substance[sid] else amount / size
        if s.isSetInitialConcentration():
            conc = sympy.Float(s.getInitialConcentration())
            return conc * size if el.only_substance[sid] else conc
        return None
    if sid in el.refs:
        sr = el.refs[sid]
        return sympy.Float(sr.getStoichiometry()) if sr.isSetStoichiometry() else None
    return None
