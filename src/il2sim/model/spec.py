"""Model specification: states, parameters, inputs, dose routes and equations as data.

A :class:`Model` is an immutable description of an ODE system

    dx_i/dt = f_i(t, x, p, u)        i = 1..n_states

where ``x`` are the states, ``p`` the parameters (each with value, unit, bounds,
meaning and literature source) and ``u`` the treatment inputs (rates that dose
events switch on and off). Equations are strings parsed with SymPy, so they can
be differentiated (analytic Jacobian), exported and compiled. Construction
validates everything and names the offending symbol in its error message.
"""

from __future__ import annotations

import keyword
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property

import sympy
import sympy.parsing.sympy_parser

__all__ = [
    "DoseRoute",
    "Event",
    "Input",
    "Model",
    "ModelError",
    "Observable",
    "Param",
    "State",
    "Intermediate",
    "delay",
]

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


class delay(sympy.Function):  # type: ignore[misc]  # noqa: N801  # SymPy is untyped
    """``delay(x, d)``: the value of the expression ``x`` at time ``t - d`` (SBML's delay
    csymbol, SBML Level 3 Version 2 section 3.4.7). Before the start ``t0`` the states,
    parameters and inputs keep their values at ``t0`` and time is ``t - d`` itself, so an
    expression of time alone (an SBML assignment rule ``P = time``) is that expression at
    ``t - d``. ``d`` must be constant: a number or parameters no event sets. Simulated by
    the SciPy backend only (:mod:`il2sim.engine.delays`)."""

    nargs = 2

    def _eval_is_real(self) -> bool:
        return True


# Functions and constants allowed in equations, by their name in an equation string.
ALLOWED_FUNCTIONS: dict[str, object] = {
    "delay": delay,
    "pi": sympy.pi,
    "exp": sympy.exp,
    "log": sympy.log,
    "sqrt": sympy.sqrt,
    "tanh": sympy.tanh,
    "sin": sympy.sin,
    "cos": sympy.cos,
    "tan": sympy.tan,
    "asin": sympy.asin,
    "acos": sympy.acos,
    "atan": sympy.atan,
    "floor": sympy.floor,
    "ceiling": sympy.ceiling,
    "factorial": sympy.factorial,
    "Max": sympy.Max,
    "Min": sympy.Min,
    "Abs": sympy.Abs,
    "Piecewise": sympy.Piecewise,
    "Heaviside": sympy.Heaviside,
}
# Time, the allowed functions and the parser's own names cannot name a model symbol.
_RESERVED = {"t", *ALLOWED_FUNCTIONS, "Symbol", "Integer", "Float", "Rational", "Function"}
# The parser sees only these globals: any other name becomes a Symbol (or an undefined
# Function) and is reported as unknown, so "E" is never silently read as Euler's number.
_PARSER_GLOBALS: dict[str, object] = {
    name: getattr(sympy, name) for name in ("Symbol", "Integer", "Float", "Rational", "Function")
}
# SymPy's standard transformations without ``x!`` (factorial is written ``factorial(x)``).
_TRANSFORMATIONS = tuple(
    t for t in sympy.parsing.sympy_parser.standard_transformations
    if t is not sympy.parsing.sympy_parser.factorial_notation)


class ModelError(ValueError):
    """A model specification is invalid; the message names the offending symbol."""


def _check_name(name: str, kind: str) -> None:
    if not isinstance(name, str) or not _NAME.match(name):
        raise ModelError(f"{kind} name {name!r} is not a valid identifier")
    if keyword.iskeyword(name) or name in _RESERVED:
        raise ModelError(f"{kind} name {name!r} is reserved; choose another name")


def _check_text(value: object, where: str, what: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ModelError(f"{where}: missing {what}")


@dataclass(frozen=True)
class Param:
    """A model parameter: one value with its unit, bounds, meaning and source.

    ``source`` is a literature reference, or starts with ``"assumption"`` for a
    choice no source fixes (then say how it was chosen or calibrated).
    """

    name: str
    value: float
    unit: str
    meaning: str
    source: str
    bounds: tuple[float, float] = (0.0, math.inf)

    def __post_init__(self) -> None:
        _check_name(self.name, "parameter")
        if (isinstance(self.value, bool) or not isinstance(self.value, (int, float))
                or not math.isfinite(self.value)):
            raise ModelError(f"parameter {self.name!r}: value {self.value!r} is not finite")
        if not self.unit or not self.unit.strip():
            raise ModelError(f"parameter {self.name!r}: missing unit (use '1' if dimensionless)")
        if not self.meaning.strip():
            raise ModelError(f"parameter {self.name!r}: missing meaning")
        if not self.source.strip():
            raise ModelError(f"parameter {self.name!r}: missing source (or 'assumption: ...')")
        lo, hi = self.bounds
        if not lo <= hi:
            raise ModelError(f"parameter {self.name!r}: bounds {self.bounds} are empty")
        if not lo <= self.value <= hi:
            raise ModelError(
                f"parameter {self.name!r}: value {self.value} lies outside its bounds {self.bounds}"
            )

    @property
    def is_assumption(self) -> bool:
        """True when no source fixes the value."""
        return self.source.lower().startswith("assumption")


@dataclass(frozen=True)
class State:
    """A state variable with its initial value and unit.

    ``log=True`` integrates ``z = log(x)`` instead of ``x``: the state stays
    positive by construction across dozens of orders of magnitude (cell counts).
    Its initial value must then be positive. Other states start non-negative unless
    ``signed=True`` (a quantity that may be negative, e.g. an SBML parameter with a
    rate rule).
    """

    name: str
    initial: float
    unit: str
    meaning: str
    log: bool = False
    signed: bool = False

    def __post_init__(self) -> None:
        _check_name(self.name, "state")
        if (isinstance(self.initial, bool) or not isinstance(self.initial, (int, float))
                or not math.isfinite(self.initial)):
            raise ModelError(f"state {self.name!r}: initial value {self.initial!r} is not finite")
        _check_text(self.unit, f"state {self.name!r}", "unit")
        _check_text(self.meaning, f"state {self.name!r}", "meaning")
        if self.log and self.initial <= 0:
            raise ModelError(
                f"state {self.name!r}: integrated as log(state), so its initial value must be "
                f"positive, not {self.initial}"
            )
        if self.log and self.signed:
            raise ModelError(f"state {self.name!r}: a log state cannot be signed")
        if self.initial < 0 and not self.signed:
            raise ModelError(f"state {self.name!r}: negative initial value {self.initial} "
                             "(declare signed=True for a quantity that may be negative)")


@dataclass(frozen=True)
class Input:
    """A treatment input: a rate, zero unless an infusion on a route drives it."""

    name: str
    unit: str
    meaning: str

    def __post_init__(self) -> None:
        _check_name(self.name, "input")
        _check_text(self.unit, f"input {self.name!r}", "unit")
        _check_text(self.meaning, f"input {self.name!r}", "meaning")


@dataclass(frozen=True)
class Intermediate:
    """A named sub-expression usable in equations and observables."""

    name: str
    expr: str
    unit: str
    meaning: str

    def __post_init__(self) -> None:
        _check_name(self.name, "intermediate")
        _check_text(self.unit, f"intermediate {self.name!r}", "unit")
        _check_text(self.meaning, f"intermediate {self.name!r}", "meaning")


@dataclass(frozen=True)
class Observable:
    """A quantity computed from states, parameters and intermediates for output."""

    name: str
    expr: str
    unit: str
    meaning: str

    def __post_init__(self) -> None:
        _check_name(self.name, "observable")
        _check_text(self.unit, f"observable {self.name!r}", "unit")
        _check_text(self.meaning, f"observable {self.name!r}", "meaning")


@dataclass(frozen=True)
class DoseRoute:
    """Where a dose enters the model.

    A bolus on this route adds ``amount * fraction`` to ``state``; an infusion
    adds its rate ``* fraction`` either to the named ``input`` (which the
    equations use, e.g. KP98's s2) or, when ``input`` is None, directly to
    d(state)/dt. ``unit`` is the unit of amounts in ``state`` (e.g. ``IU``).
    """

    name: str
    state: str
    unit: str
    meaning: str
    input: str | None = None
    fraction: str | None = None

    def __post_init__(self) -> None:
        _check_name(self.name, "route")
        _check_text(self.unit, f"route {self.name!r}", "unit")


@dataclass(frozen=True)
class Event:
    """A discrete event with SBML semantics (SBML Level 3 Version 2, section 4.12).

    When ``trigger`` turns from false to true (at time ``t_e``), the event is *triggered*;
    it is *executed* at ``t_e + delay`` (``delay`` evaluated at ``t_e``), setting each
    target (a state or a parameter) to its expression's value, computed at ``t_e`` when
    ``use_values_from_trigger_time`` and at execution otherwise. Among events due at one
    time the one of highest ``priority`` (evaluated then) goes first; after each execution
    every trigger is evaluated again. A non-``persistent`` event whose trigger turns false
    before its execution is cancelled. ``initial_value`` is the trigger's value just before
    t = 0: ``False`` lets a trigger already true at t = 0 fire then.

    Main arguments:
        name: identifier of the event.
        trigger: a boolean expression: relations (``<``, ``<=``, ``>``, ``>=``) combined
            with ``&``, ``|`` and ``~``.
        assignments: target name -> expression (a mapping, or pairs).

    Other arguments:
        delay, priority: expressions, or ``None`` (no delay; no priority, executed after
            the events with one).
        persistent, initial_value, use_values_from_trigger_time: as above (SBML defaults).
        meaning: one line.
    """

    name: str
    trigger: str
    assignments: tuple[tuple[str, str], ...]
    delay: str | None = None
    priority: str | None = None
    persistent: bool = True
    initial_value: bool = True
    use_values_from_trigger_time: bool = True
    meaning: str = ""

    def __post_init__(self) -> None:
        _check_name(self.name, "event")
        pairs = (tuple(self.assignments.items()) if isinstance(self.assignments, Mapping)
                 else tuple(tuple(a) for a in self.assignments))
        if any(len(pair) != 2 for pair in pairs):
            raise ModelError(f"event {self.name!r}: give assignments as target -> expression")
        object.__setattr__(self, "assignments", pairs)
        targets = [target for target, _ in pairs]
        if len(set(targets)) != len(targets):
            raise ModelError(f"event {self.name!r}: a target is assigned twice")
        _check_text(self.trigger, f"event {self.name!r}", "trigger")
        for flag in ("persistent", "initial_value", "use_values_from_trigger_time"):
            if not isinstance(getattr(self, flag), bool):
                raise ModelError(f"event {self.name!r}: {flag} must be True or False")


def _unique(kind: str, names: Iterable[str], taken: set[str]) -> None:
    for name in names:
        if name in taken:
            raise ModelError(f"duplicate name {name!r} ({kind} clashes with an earlier symbol)")
        taken.add(name)


@dataclass(frozen=True, eq=False)
class Model:
    """An ODE model as data. Construction validates every symbol and equation.

    Main arguments:
        name: registry name (``kp1998``).
        title: one line.
        citation: the paper the equations come from.
        time_unit: unit of the model's time axis (``day``, ``min``).
        states, params: declarations; ``equations`` maps every state name to
            the expression of its time derivative.

    Other arguments:
        inputs: treatment inputs (rates) the equations may use.
        intermediates: named sub-expressions, evaluated in declaration order.
        observables: derived outputs.
        routes: dose routes by name.
        notes: departures from the source, assumptions.
        events: discrete events (:class:`Event`) that set states and parameters.
    """

    name: str
    title: str
    citation: str
    time_unit: str
    states: tuple[State, ...]
    params: tuple[Param, ...]
    equations: Mapping[str, str]
    inputs: tuple[Input, ...] = ()
    intermediates: tuple[Intermediate, ...] = ()
    observables: tuple[Observable, ...] = ()
    routes: tuple[DoseRoute, ...] = ()
    notes: str = ""
    events: tuple[Event, ...] = ()

    def __post_init__(self) -> None:
        _check_name(self.name, "model")
        for attr in ("states", "params", "inputs", "intermediates", "observables", "routes",
                     "events"):
            object.__setattr__(self, attr, tuple(getattr(self, attr)))
        object.__setattr__(self, "equations", dict(self.equations))
        if not self.citation.strip():
            raise ModelError(f"model {self.name!r}: missing citation")
        if not self.states:
            raise ModelError(f"model {self.name!r}: no states")
        taken: set[str] = set()
        _unique("state", (s.name for s in self.states), taken)
        _unique("parameter", (p.name for p in self.params), taken)
        _unique("input", (i.name for i in self.inputs), taken)
        _unique("intermediate", (i.name for i in self.intermediates), taken)
        _unique("observable", (o.name for o in self.observables), taken)
        route_names: set[str] = set()
        _unique("route", (r.name for r in self.routes), route_names)
        missing = [s.name for s in self.states if s.name not in self.equations]
        if missing:
            raise ModelError(f"model {self.name!r}: no equation for state {missing[0]!r}")
        extra = [k for k in self.equations if k not in self.state_names]
        if extra:
            raise ModelError(f"model {self.name!r}: equation for unknown state {extra[0]!r}")
        for route in self.routes:
            if route.state not in self.state_names:
                raise ModelError(f"route {route.name!r}: unknown state {route.state!r}")
            if route.input is not None and route.input not in self.input_names:
                raise ModelError(f"route {route.name!r}: unknown input {route.input!r}")
            if route.fraction is not None and route.fraction not in self.param_names:
                raise ModelError(f"route {route.name!r}: unknown fraction parameter "
                                 f"{route.fraction!r}")
        event_names: set[str] = set()
        _unique("event", (e.name for e in self.events), event_names)
        for event in self.events:
            for target, _ in event.assignments:
                if target not in self.state_names and target not in self.param_names:
                    raise ModelError(f"event {event.name!r}: target {target!r} is neither a "
                                     "state nor a parameter")
        # Parse everything now so errors surface at construction.
        _ = self.symbolic

    # -- names ------------------------------------------------------------
    @property
    def has_delays(self) -> bool:
        """Whether an equation, observable or event uses ``delay(x, d)``."""
        return bool(self.symbolic.delays)

    @property
    def state_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.states)

    @property
    def param_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params)

    @property
    def input_names(self) -> tuple[str, ...]:
        return tuple(i.name for i in self.inputs)

    @property
    def observable_names(self) -> tuple[str, ...]:
        return tuple(o.name for o in self.observables)

    def param(self, name: str) -> Param:
        """The parameter called ``name``; a clear error for an unknown name."""
        for p in self.params:
            if p.name == name:
                return p
        raise ModelError(f"model {self.name!r} has no parameter {name!r}; "
                         f"known: {', '.join(self.param_names)}")

    def state(self, name: str) -> State:
        for s in self.states:
            if s.name == name:
                return s
        raise ModelError(f"model {self.name!r} has no state {name!r}")

    def route(self, name: str) -> DoseRoute:
        for r in self.routes:
            if r.name == name:
                return r
        known = ", ".join(r.name for r in self.routes) or "none"
        raise ModelError(f"model {self.name!r} has no dose route {name!r}; known: {known}")

    @property
    def default_params(self) -> dict[str, float]:
        return {p.name: float(p.value) for p in self.params}

    @property
    def initial_state(self) -> dict[str, float]:
        return {s.name: float(s.initial) for s in self.states}

    # -- symbolic form ------------------------------------------------------
    @cached_property
    def symbolic(self) -> SymbolicForm:
        """Equations, intermediates and observables parsed to SymPy."""
        return SymbolicForm.from_model(self)

    def with_params(self, **values: float) -> Model:
        """A copy with new default parameter values (validated against bounds)."""
        for key in values:
            self.param(key)
        params = tuple(
            Param(p.name, float(values[p.name]), p.unit, p.meaning, p.source, p.bounds)
            if p.name in values else p
            for p in self.params
        )
        return Model(self.name, self.title, self.citation, self.time_unit, self.states, params,
                     self.equations, self.inputs, self.intermediates, self.observables,
                     self.routes, self.notes, self.events)


@dataclass(frozen=True)
class SymbolicForm:
    """SymPy form of a model: symbols, expanded right-hand sides and observables."""

    t: sympy.Symbol
    states: tuple[sympy.Symbol, ...]
    params: tuple[sympy.Symbol, ...]
    inputs: tuple[sympy.Symbol, ...]
    rhs: tuple[sympy.Expr, ...]
    intermediates: dict[str, sympy.Expr]
    observables: tuple[sympy.Expr, ...]
    events: tuple[SymbolicEvent, ...] = ()
    delays: tuple[delay, ...] = ()

    @staticmethod
    def from_model(model: Model) -> SymbolicForm:
        t = sympy.Symbol("t", real=True)
        states = tuple(sympy.Symbol(s.name, real=True) for s in model.states)
        params = tuple(sympy.Symbol(p.name, real=True) for p in model.params)
        inputs = tuple(sympy.Symbol(i.name, real=True) for i in model.inputs)
        namespace: dict[str, object] = dict(ALLOWED_FUNCTIONS)
        namespace.update({"t": t})
        namespace.update({s.name: s for s in states + params + inputs})

        def parse(text: str, where: str, known: Mapping[str, object],
                  boolean: bool = False) -> sympy.Expr:
            if not isinstance(text, str) or not text.strip():
                raise ModelError(f"{where}: empty expression")
            try:
                expr = sympy.parse_expr(text, local_dict=dict(known),
                                      global_dict=dict(_PARSER_GLOBALS), evaluate=True,
                                      transformations=_TRANSFORMATIONS)
            except Exception as exc:  # SymPy raises many types for bad syntax
                raise ModelError(f"{where}: cannot parse {text!r}: {exc}") from None
            if boolean:
                if isinstance(expr, bool):
                    expr = sympy.true if expr else sympy.false
                if not isinstance(expr, sympy.logic.boolalg.Boolean) or \
                        isinstance(expr, sympy.Symbol):
                    raise ModelError(f"{where}: {text!r} is not a condition (use <, <=, >, >= "
                                     "combined with &, |, ~)")
                if any(isinstance(a, (sympy.Eq, sympy.Ne))
                       for a in expr.atoms(sympy.core.relational.Relational)):
                    raise ModelError(f"{where}: {text!r}: write a == b as (a >= b) & (a <= b)")
            elif not isinstance(expr, sympy.Expr):
                raise ModelError(f"{where}: {text!r} is not an arithmetic expression")
            unknown = sorted(str(s) for s in expr.free_symbols if str(s) not in known)
            if unknown:
                raise ModelError(f"{where}: unknown symbol {unknown[0]!r} in {text!r}")
            bad = sorted({type(f).__name__ for f in expr.atoms(sympy.Function)
                          if isinstance(f, sympy.core.function.AppliedUndef)})
            if bad:
                raise ModelError(f"{where}: unknown function {bad[0]!r} in {text!r}")
            return expr

        # Intermediates are substituted so compiled code sees states/params only.
        intermediates: dict[str, sympy.Expr] = {}
        substitutions: dict[sympy.Symbol, sympy.Expr] = {}
        inter_ns: dict[str, object] = dict(namespace)
        for item in model.intermediates:
            expr = parse(item.expr, f"intermediate {item.name!r}", inter_ns).xreplace(substitutions)
            intermediates[item.name] = expr
            symbol = sympy.Symbol(item.name, real=True)
            substitutions[symbol] = expr
            inter_ns[item.name] = symbol
        rhs = tuple(
            parse(model.equations[s.name], f"equation of {s.name!r}", inter_ns)
            .xreplace(substitutions)
            for s in model.states
        )
        observables = tuple(
            parse(o.expr, f"observable {o.name!r}", inter_ns).xreplace(substitutions)
            for o in model.observables
        )
        events = []
        for event in model.events:
            where = f"event {event.name!r}"
            trigger = parse(event.trigger, f"trigger of {where}", inter_ns, boolean=True)
            events.append(SymbolicEvent(
                trigger=trigger.xreplace(substitutions),
                targets=tuple(target for target, _ in event.assignments),
                values=tuple(parse(text, f"assignment to {target!r} in {where}", inter_ns)
                             .xreplace(substitutions) for target, text in event.assignments),
                delay=None if event.delay is None else
                parse(event.delay, f"delay of {where}", inter_ns).xreplace(substitutions),
                priority=None if event.priority is None else
                parse(event.priority, f"priority of {where}", inter_ns).xreplace(substitutions),
            ))
        delays = _check_delays(model, t, (*rhs, *observables, *(
            e for ev in events for e in (ev.trigger, *ev.values, ev.delay, ev.priority)
            if e is not None)))
        return SymbolicForm(t, states, params, inputs, rhs, intermediates, observables,
                            tuple(events), delays)


def _check_delays(model: Model, t: sympy.Symbol, exprs: Iterable[sympy.Basic],
                  ) -> tuple[delay, ...]:
    """The distinct ``delay(x, d)`` terms of ``exprs``, checked: ``x`` holds no delay and
    ``d`` is constant (numbers and parameters no event sets)."""
    found: set[delay] = set()
    for expr in exprs:
        found |= expr.atoms(delay)
    set_by_events = {target for e in model.events for target, _ in e.assignments}
    params = set(model.param_names) - set_by_events
    for term in found:
        arg, lag = term.args
        if arg.has(delay) or lag.has(delay):
            raise ModelError(f"model {model.name!r}: nested delay {term} is not supported")
        bad = sorted(str(s) for s in lag.free_symbols if str(s) not in params)
        if bad:
            raise ModelError(f"model {model.name!r}: delay {term}: the delay must be constant "
                             f"(numbers and parameters no event sets), not depend on {bad[0]!r}")
    return tuple(sorted(found, key=str))


@dataclass(frozen=True)
class SymbolicEvent:
    """SymPy form of an :class:`Event` (intermediates substituted)."""

    trigger: sympy.logic.boolalg.Boolean
    targets: tuple[str, ...]
    values: tuple[sympy.Expr, ...]
    delay: sympy.Expr | None
    priority: sympy.Expr | None
