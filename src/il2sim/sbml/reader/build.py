"""Stage 8 of the SBML reader: the il2sim :class:`Model` (states, parameters, intermediates
and observables in dependency order, events, metadata)."""

from __future__ import annotations

import math
from collections.abc import Iterable

import sympy

from il2sim.model.spec import (
    Event,
    Input,
    Intermediate,
    Model,
    ModelError,
    Observable,
    Param,
    State,
)
from il2sim.model.spec import delay as delay_fn
from il2sim.sbml.mathml import TIME, SbmlError, to_text
from il2sim.sbml.reader import describe
from il2sim.sbml.reader.common import (
    EMPTY_STATE_MEANING,
    UNDECLARED,
    Expr,
    exact_value,
    il2sim_annotation,
    legal_name,
    tag,
    toposort,
)
from il2sim.sbml.reader.dynamics import Dynamics
from il2sim.sbml.reader.initial import InitialValues
from il2sim.sbml.reader.maths import Maths
from il2sim.sbml.reader.roles import Roles, constant_in_time
from il2sim.sbml.reader.source import Elements, Names, Source

__all__ = ["build_model"]


def build_model(src: Source, el: Elements, names: Names, maths: Maths, roles: Roles,
                dyn: Dynamics, value: InitialValues) -> Model:
    """Stage 8: the model. Parameters nobody uses and that have no value are left out (their
    names dropped from ``names``); a constant non-finite parameter becomes a rule."""
    equations = dyn.equations
    rules = {sid: dyn.rate_of(e, equations, sid) for sid, e in maths.rules.items()}
    for sid in [s for s, role in roles.role.items() if role == "param"]:
        # the spec's parameters are finite: a constant inf or NaN is an intermediate
        node = src.meta.get(sid)
        if sid in el.event_targets or (node is not None and tag(node) == "input"):
            continue
        try:
            number = value(sid)
        except SbmlError:
            continue
        if not math.isfinite(number):
            rules[sid] = sympy.nan if math.isnan(number) else \
                (sympy.oo if number > 0 else -sympy.oo)
            roles.role[sid] = "rule"
    amount_states: list[State] = []
    amount_text: dict[str, str] = {}
    for sid, name in roles.amounts.items():  # concentration = amount / size
        cid = el.species[sid].getCompartment()
        rules[sid] = sympy.Symbol(name, real=True) / sympy.Symbol(names.names[cid], real=True)
        amount = value(sid) * value(cid)
        if not math.isfinite(amount):
            raise src.fail(f"initial amount of {sid!r} is {amount:g}: il2sim states must "
                           "start finite", "non-finite value")
        amount_states.append(State(name, amount, describe.amount_unit(src, el, sid),
                                   f"amount of SBML species {sid!r} (its compartment "
                                   f"{cid!r} changes size; {names.names[sid]} = {name}/"
                                   f"{names.names[cid]})", signed=amount < 0))
        amount_text[name] = to_text(dyn.amount_equations[sid])
    # which symbols the dynamics use
    used: set[str] = set()
    event_exprs = [e for _, trigger, lag, priority, assignments in maths.event_math
                   for e in (trigger, lag, priority, *(v for _, v in assignments))
                   if e is not None]
    _check_delays(src, el, names, maths, dyn, value,
                  (*equations.values(), *rules.values(), *dyn.amount_equations.values(),
                   *event_exprs))
    for expr in (*equations.values(), *rules.values(), *dyn.amount_equations.values(),
                 *event_exprs):
        used |= {str(s) for s in expr.free_symbols}
    referenced_rules = {sid for sid in rules if names.names[sid] in used}
    deps = {sid: {dyn.by_name[str(s)] for s in e.free_symbols
                  if str(s) in dyn.by_name and dyn.by_name[str(s)] in rules}
            for sid, e in rules.items()}
    order = toposort(deps, "assignment rules and reaction rates")
    kinds = {sid: tag(node) for sid, node in src.meta.items() if sid}
    observables = [sid for sid in order if sid not in el.reactions
                   and (kinds.get(sid) == "observable"
                        or (sid not in referenced_rules and kinds.get(sid) is None))]
    intermediates = [sid for sid in order if sid not in observables]

    states: list[State] = []
    for sid in roles.role:
        if roles.role[sid] != "state":
            continue
        number = value(sid)
        if not math.isfinite(number):
            raise src.fail(f"initial value of {sid!r} is not finite ({number})",
                           "non-finite value")
        node = src.meta.get(sid)
        log = node is not None and tag(node) == "state" and node.get("log") == "true"
        # a species may be negative only if it starts so; other SBML quantities freely
        signed = (node.get("signed") == "true" if node is not None and
                  tag(node) == "state" else number < 0 or sid not in el.species)
        if node is not None and tag(node) == "state":
            number = exact_value(node, number)
        states.append(State(names.names[sid], number, describe.unit(src, el, sid),
                            describe.meaning(src, el, sid), log=log, signed=signed))
    params: list[Param] = []
    inputs: list[Input] = []
    dropped: list[str] = []
    for sid in roles.role:
        if roles.role[sid] != "param":
            continue
        node = src.meta.get(sid)
        if node is not None and tag(node) == "input":
            inputs.append(Input(names.names[sid], node.get("unit", UNDECLARED),
                                node.get("meaning", "input")))
            continue
        if node is not None and tag(node) == "container" and names.names[sid] not in used:
            dropped.append(sid)
            continue
        try:
            number = value(sid)
        except SbmlError:
            if names.names[sid] in used or value.defining.get(sid) is not None:
                raise
            dropped.append(sid)
            continue
        if not math.isfinite(number):
            raise src.fail(f"value of {sid!r} is not finite ({number})", "non-finite value")
        params.append(describe.param(src, el, names, sid, number))
    for name, (lid, number, _) in maths.local.items():
        if not math.isfinite(number):
            raise src.fail(f"local parameter {lid!r} is not finite", "non-finite value")
        params.append(Param(name, number, UNDECLARED,
                            f"local parameter {lid!r} of a reaction", describe.source(src),
                            (-math.inf, math.inf)))
    names.drop(dropped)
    states += amount_states
    if dyn.moieties:  # the equilibrium must be unique where the run starts
        check = dyn.fast_check.xreplace(
            {x: sympy.Float(value(dyn.by_name[str(x)]))
             for x in dyn.fast_check.free_symbols if x != TIME}).xreplace(
            {TIME: sympy.Integer(0)})
        if not (check.is_number and check != 0 and check.is_finite):
            raise src.fail("fast reactions: their equilibrium is not unique at the start "
                           f"(Jacobian determinant {check})", "fast reactions")
    for name, (rate, _) in dyn.moieties.items():
        states.append(State(name, value(name), UNDECLARED,
                            "conserved moiety of fast reactions (their species are at "
                            "equilibrium)", signed=True))
        amount_text[name] = to_text(dyn.rate_of(rate, equations, name))
    if not states:  # the spec needs a state; a constant one changes nothing
        name = names.unique_local("no_state")
        states.append(State(name, 0.0, "1", EMPTY_STATE_MEANING))
        equations_text = {name: "0"}
    else:
        equations_text = {}
    equations_text.update({names.names[sid]: to_text(e) for sid, e in equations.items()})
    equations_text.update(amount_text)
    items = {
        sid: (names.names[sid], to_text(rules[sid]), describe.unit(src, el, sid),
              describe.meaning(src, el, sid))
        for sid in order
    }
    meta_model = src.meta.get("")
    model_name = (meta_model.get("name") if meta_model is not None else None) \
        or legal_name(src.sbml.getId() or src.path.stem)
    declared_time = meta_model.get("time_unit") if meta_model is not None else None
    time_unit, time_note = (declared_time, "") if declared_time else describe.time_unit(src)
    try:
        return Model(
            name=model_name,
            title=describe.title(src, meta_model),
            citation=(meta_model.get("citation") if meta_model is not None else None)
            or describe.citation(src),
            time_unit=time_unit,
            states=tuple(states),
            params=tuple(params),
            equations=equations_text,
            inputs=tuple(inputs),
            intermediates=tuple(Intermediate(*items[sid]) for sid in intermediates),
            observables=tuple(Observable(*items[sid]) for sid in observables),
            routes=describe.routes(src, names, meta_model, inputs),
            notes=describe.notes(src, names, meta_model, dropped, time_note),
            events=_events(src, el, names, maths, roles, dyn),
        )
    except ModelError as exc:
        raise src.fail(f"cannot build an il2sim model: {exc}", "model spec") from None


def _check_delays(src: Source, el: Elements, names: Names, maths: Maths, dyn: Dynamics,
                  value: InitialValues, exprs: Iterable[Expr]) -> None:
    """Refuse a delayed variable whose initial assignment depends on time: SBML takes
    that assignment as its history before t = 0 (Test Suite case 00938), il2sim the
    initial value; and delays in a model with fast reactions (case 01539)."""
    for expr in exprs:
        for term in expr.atoms(delay_fn):
            if term.args[0].has(delay_fn) or term.args[1].has(delay_fn):
                raise src.fail(f"{term}: a nested delay is not supported", "delay")
            if not constant_in_time(term.args[1], el, names, maths) or \
                    term.args[1].free_symbols & {sympy.Symbol(names.names[sid], real=True)
                                                 for sid in el.event_targets
                                                 if sid in names.names}:
                raise src.fail(f"{term}: the delay must be constant (il2sim simulates "
                               "delays of numbers and parameters only)", "delay")
            if dyn.moieties:
                raise src.fail(f"{term} in a model with fast reactions: SBML's history "
                               "before t = 0 is the state before their equilibrium, "
                               "which il2sim does not keep", "delay")
            for symbol in value.expand_rules(term.args[0]).free_symbols:
                sid = dyn.by_name.get(str(symbol))
                if sid in maths.initial_math and maths.initial_math[sid].has(TIME):
                    raise src.fail(f"{term}: {sid!r} has an initial assignment of time, "
                                   "which SBML takes as its history before t = 0; il2sim "
                                   "holds the initial value there", "delay")


def _events(src: Source, el: Elements, names: Names, maths: Maths, roles: Roles,
            dyn: Dynamics) -> tuple[Event, ...]:
    """The model's events: targets mapped to states and parameters (a concentration
    integrated as an amount is set through ``amount = value * size``)."""
    events = []
    taken: set[str] = set()
    for event, trigger, delay, priority, assignments in maths.event_math:
        eid = event.getId() or "event"
        node = il2sim_annotation(event)
        meta = node if node is not None and tag(node) == "event" else None
        name = str(meta.get("name")) if meta is not None and meta.get("name") else \
            legal_name(eid)
        while name in taken:
            name += "_"
        taken.add(name)
        where = f"event {eid!r}"
        pairs = []
        new_size = {var: v for var, v in assignments if var in el.compartments}
        for var, v in assignments:
            role = roles.role.get(var)
            v = dyn.rate_of(v, dyn.equations, where)
            # SBML: an assigned concentration is an amount at the size before the
            # event; a size the event changes keeps amounts (test suite 01506, 01779)
            cid = el.species[var].getCompartment() if var in el.species else ""
            if role == "amount":
                size = sympy.Symbol(names.names[cid], real=True)
                pairs.append((roles.amounts[var], to_text(v * size)))
            elif role == "state" and cid in new_size and not el.only_substance[var]:
                size = sympy.Symbol(names.names[cid], real=True)
                pairs.append((names.names[var], to_text(v * size / new_size[cid])))
            elif role in ("state", "param"):
                pairs.append((names.names[var], to_text(v)))
            else:
                raise src.fail(f"{where} assigns {var!r}, which a rule defines",
                               "invalid SBML")
        assigned = {var for var, _ in assignments}
        for sid, species in el.species.items():  # amounts stay when a size changes
            cid = species.getCompartment()
            if cid in new_size and sid not in assigned and roles.role[sid] == "state" \
                    and not el.only_substance[sid]:
                symbol, size = (sympy.Symbol(names.names[x], real=True) for x in (sid, cid))
                pairs.append((names.names[sid], to_text(symbol * size / new_size[cid])))
        trigger = dyn.rate_of(trigger, dyn.equations, where)
        if src.level[0] >= 3:
            persistent = bool(event.getTrigger().getPersistent())
            initial_value = bool(event.getTrigger().getInitialValue())
        else:  # Level 2: a trigger true at the start does not fire; never cancelled
            persistent = initial_value = True
        use_trigger = (bool(event.getUseValuesFromTriggerTime())
                       if event.isSetUseValuesFromTriggerTime() or src.level[0] < 3
                       else True)
        events.append(Event(
            name, to_text(trigger), tuple(pairs),
            delay=None if delay is None else
            to_text(dyn.rate_of(delay, dyn.equations, where)),
            priority=None if priority is None else
            to_text(dyn.rate_of(priority, dyn.equations, where)),
            persistent=persistent, initial_value=initial_value,
            use_values_from_trigger_time=use_trigger,
            meaning=str(meta.get("meaning", "")) if meta is not None else
            f"SBML event {eid!r}"))
    return tuple(events)
