"""Write an il2sim :class:`~il2sim.model.spec.Model` as SBML Level 3 Version 2.

Mapping (one compartment ``compartment`` of size 1 holds every species):

- state ``x`` with ``dx/dt = f``: species with ``hasOnlySubstanceUnits`` and the rate rule
  ``f`` in natural form (also for states il2sim integrates as logarithms);
- parameter: constant parameter, meaning and source in notes and annotation;
- input (and a route's implicit infusion rate ``rate_<route>``): non-constant parameter,
  value 0;
- intermediate, observable: non-constant parameter with an assignment rule;
- model event: SBML event (trigger, delay, priority, persistence, initial value,
  values from trigger time, assignments);
- bolus, depot or intratumoral dose of ``a`` at ``T``: event ``time >= T`` doing
  ``x = x + a*F`` (``F`` the route's bioavailability parameter, if any);
- infusion of ``a`` over ``[T0, T1]``: events at ``T0`` and ``T1`` raising and lowering the
  route's rate input by ``a*F/(T1 - T0)``.

Doses at the same time are merged into one event, so simultaneous events never race.
Units are written as unit definitions where the pint unit reduces to SBML base units
(IU and the ``arb`` unit do not: those elements carry no ``units`` attribute). Every element
also carries an ``il2sim`` annotation (unit text, meaning, source, bounds, log flag, role,
and the value to 17 digits: libSBML writes numbers with 15) from which
:func:`~il2sim.sbml.read.import_sbml` restores the model exactly.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import libsbml
import numpy as np
import pandas as pd
import sympy

from il2sim.dosing.regimen import Regimen
from il2sim.model.compile import compile_model
from il2sim.model.spec import (
    ALLOWED_FUNCTIONS,
    Event,
    Intermediate,
    Model,
    ModelError,
    Observable,
)
from il2sim.sbml.mathml import IL2SIM_NS, TIME, SbmlError, sanitize, to_ast
from il2sim.units import UnitError, bsa_mosteller, ureg

__all__ = ["export_sbml"]

_PARSER_GLOBALS: dict[str, object] = {
    name: getattr(sympy, name) for name in ("Symbol", "Integer", "Float", "Rational", "Function")
}
# pint base units -> SBML unit kinds
_BASE_KINDS = {
    "meter": libsbml.UNIT_KIND_METRE,
    "second": libsbml.UNIT_KIND_SECOND,
    "kilogram": libsbml.UNIT_KIND_GRAM,
    "mole": libsbml.UNIT_KIND_MOLE,
    "ampere": libsbml.UNIT_KIND_AMPERE,
    "kelvin": libsbml.UNIT_KIND_KELVIN,
    "candela": libsbml.UNIT_KIND_CANDELA,
    "radian": libsbml.UNIT_KIND_RADIAN,
    "cell": libsbml.UNIT_KIND_ITEM,
}


def export_sbml(
    model: Model,
    path: str | Path | None = None,
    *,
    regimen: Regimen | None = None,
    params: Mapping[str, float] | None = None,
    covariates: Mapping[str, float] | None = None,
) -> str:
    """Write ``model`` as SBML Level 3 Version 2; return the document text.

    Main arguments:
        model: any il2sim model.
        path: file to write as well (``None``: only return the text).

    Other arguments:
        regimen: fixed dosing written as SBML events (see the module docstring).
        params: parameter values replacing the model's defaults in the file.
        covariates: ``weight`` (kg), ``height`` (cm) or ``bsa`` (m2) of the one patient
            whose per-kg or per-m2 doses the events carry.

    Returns:
        The SBML document as XML text (validated: libSBML's consistency checks report
        no errors).

    Raises:
        SbmlError: the model uses math SBML cannot express, a dose cannot be resolved,
            or the document fails validation.
    """
    if not isinstance(model, Model):
        raise SbmlError(f"export_sbml: {model!r} is not a Model")
    writer = _Writer(model, dict(params or {}))
    writer.build()
    if regimen is not None and regimen.administrations:
        writer.events(regimen, dict(covariates or {}))
    text = writer.finish()
    if path is not None:
        Path(path).write_text(text, encoding="utf-8")
    return text


def _annotation(tag: str, **attributes: object) -> str:
    attrs = " ".join(f"{k}={quoteattr(str(v))}" for k, v in attributes.items() if v is not None)
    return (f'<annotation><il2sim:{tag} xmlns:il2sim="{IL2SIM_NS}" {attrs}/></annotation>')


def _notes(*paragraphs: str) -> str:
    body = "".join(f"<p>{escape(p)}</p>" for p in paragraphs if p)
    return f'<body xmlns="http://www.w3.org/1999/xhtml">{body}</body>'


def _check(code: int, what: str) -> None:
    if code != libsbml.LIBSBML_OPERATION_SUCCESS:
        raise SbmlError(f"libSBML refused {what}: {libsbml.OperationReturnValue_toString(code)}")


class _Writer:
    def __init__(self, model: Model, params: dict[str, float]) -> None:
        self.model = model
        try:  # unknown names and values outside the bounds are errors
            self.values = model.with_params(**params).default_params if params else \
                model.default_params
        except ModelError as exc:
            raise SbmlError(str(exc)) from None
        self.doc = libsbml.SBMLDocument(3, 2)
        self.sbml = self.doc.createModel()
        self.input_names, self.route_input = _input_names(model)
        self.units: dict[str, str | None] = {}
        names = set(self.input_names) | set(model.state_names) | set(model.param_names)
        names |= {i.name for i in model.intermediates} | set(model.observable_names)
        symbols = {n: sympy.Symbol(n, real=True) for n in names}
        self.namespace: dict[str, object] = {**ALLOWED_FUNCTIONS, **symbols, "t": TIME}
        self.taken = names
        self.compartment = self._fresh("compartment")

    def _fresh(self, base: str) -> str:
        name, k = base, 1
        while name in self.taken:
            k += 1
            name = f"{base}_{k}"
        self.taken.add(name)
        return name

    def _parse(self, text: str, where: str) -> Any:
        try:
            return sympy.parse_expr(text, local_dict=dict(self.namespace),
                                    global_dict=dict(_PARSER_GLOBALS), evaluate=True)
        except Exception as exc:  # the model validated it already; keep the message
            raise SbmlError(f"{where}: cannot parse {text!r}: {exc}") from None

    def _math(self, expr: Any, where: str) -> libsbml.ASTNode:
        return to_ast(expr, where)

    # -- units ---------------------------------------------------------------------------
    def unit(self, text: str) -> str | None:
        """Id of the unit definition for the pint unit ``text``; None if not expressible."""
        if text in self.units:
            return self.units[text]
        parts = _sbml_units(text)
        uid: str | None = None
        if parts is not None:
            uid = "u_" + sanitize(text.replace("**", "_pow_").replace("/", "_per_")
                                  .replace("*", "_").replace(" ", ""))
            if uid in {self.units[k] for k in self.units}:
                uid = f"{uid}_{len(self.units)}"
            ud = self.sbml.createUnitDefinition()
            _check(ud.setId(uid), f"unit id {uid!r}")
            ud.setName(text)
            for kind, exponent, scale, multiplier in parts:
                u = ud.createUnit()
                u.setKind(kind)
                u.setExponent(float(exponent))
                u.setScale(scale)
                u.setMultiplier(multiplier)
        self.units[text] = uid
        return uid

    # -- the model -------------------------------------------------------------------------
    def build(self) -> None:
        model, sbml = self.model, self.sbml
        _check(sbml.setId(model.name), f"model id {model.name!r}")
        sbml.setName(model.title)
        sbml.setNotes(_notes(model.title, f"Citation: {model.citation}", model.notes))
        time_unit = self.unit(model.time_unit)
        if time_unit is not None:
            sbml.setTimeUnits(time_unit)
        routes = "".join(
            f"<il2sim:route name={quoteattr(r.name)} state={quoteattr(r.state)} "
            f"unit={quoteattr(r.unit)} meaning={quoteattr(r.meaning)}"
            + (f" input={quoteattr(r.input)}" if r.input else "")
            + (f" fraction={quoteattr(r.fraction)}" if r.fraction else "") + "/>"
            for r in model.routes
        )
        sbml.setAnnotation(
            f'<annotation><il2sim:model xmlns:il2sim="{IL2SIM_NS}" name={quoteattr(model.name)} '
            f"title={quoteattr(model.title)} citation={quoteattr(model.citation)} "
            f"time_unit={quoteattr(model.time_unit)} notes={quoteattr(model.notes)}>"
            f"{routes}</il2sim:model></annotation>"
        )
        comp = sbml.createCompartment()
        comp.setId(self.compartment)
        comp.setSize(1.0)
        comp.setConstant(True)
        comp.setSpatialDimensions(3)
        comp.setNotes(_notes("Container of every il2sim state (species amounts; size 1)."))
        comp.setAnnotation(_annotation("container"))
        assigned = {target for e in model.events for target, _ in e.assignments}
        for p in model.params:
            par = sbml.createParameter()
            par.setId(p.name)
            par.setValue(float(self.values[p.name]))
            par.setConstant(p.name not in assigned)  # events may set it
            self._set_units(par, p.unit)
            par.setNotes(_notes(p.meaning, f"Unit: {p.unit}", f"Source: {p.source}",
                                f"Bounds: [{p.bounds[0]:g}, {p.bounds[1]:g}]"))
            par.setAnnotation(_annotation("param", unit=p.unit, meaning=p.meaning,
                                          source=p.source, lower=repr(float(p.bounds[0])),
                                          upper=repr(float(p.bounds[1])),
                                          value=repr(float(self.values[p.name]))))
        declared = {i.name: i for i in model.inputs}
        for name in self.input_names:
            par = sbml.createParameter()
            par.setId(name)
            par.setValue(0.0)
            par.setConstant(False)
            if name in declared:
                given = declared[name]
                self._set_units(par, given.unit)
                par.setNotes(_notes(given.meaning, f"Unit: {given.unit}", "Treatment input: 0 "
                                    "unless an infusion drives it."))
                par.setAnnotation(_annotation("input", unit=given.unit, meaning=given.meaning))
            else:
                route = next(r for r in model.routes if self.route_input[r.name] == name)
                unit = f"{route.unit}/{model.time_unit}"
                self._set_units(par, unit)
                meaning = f"infusion rate on route {route.name!r} (added to d{route.state}/dt)"
                par.setNotes(_notes(meaning, f"Unit: {unit}"))
                par.setAnnotation(_annotation("input", unit=unit, meaning=meaning,
                                              route=route.name))
        for s in model.states:
            sp = sbml.createSpecies()
            sp.setId(s.name)
            sp.setCompartment(self.compartment)
            sp.setInitialAmount(float(s.initial))
            sp.setHasOnlySubstanceUnits(True)
            sp.setBoundaryCondition(False)
            sp.setConstant(False)
            uid = self.unit(s.unit)
            if uid is not None:
                sp.setSubstanceUnits(uid)
            sp.setNotes(_notes(s.meaning, f"Unit: {s.unit}",
                               "Integrated as log(state) in il2sim; written here in natural "
                               "form." if s.log else ""))
            sp.setAnnotation(_annotation("state", unit=s.unit, meaning=s.meaning,
                                         log=str(s.log).lower(), value=repr(float(s.initial)),
                                         signed="true" if s.signed else None))
        roles: list[tuple[str, Intermediate | Observable]] = [
            *(("intermediate", i) for i in model.intermediates),
            *(("observable", o) for o in model.observables)]
        for role, item in roles:
            par = sbml.createParameter()
            par.setId(item.name)
            par.setConstant(False)
            self._set_units(par, item.unit)
            par.setNotes(_notes(item.meaning, f"Unit: {item.unit}"))
            par.setAnnotation(_annotation(role, unit=item.unit, meaning=item.meaning))
            rule = sbml.createAssignmentRule()
            rule.setVariable(item.name)
            where = f"{role} {item.name!r}"
            _check(rule.setMath(self._math(self._parse(item.expr, where), where)), where)
        for s in model.states:
            where = f"equation of {s.name!r}"
            expr = self._parse(model.equations[s.name], where)
            for route in model.routes:  # the compiler's implicit infusion rate of a route
                if route.input is None and route.state == s.name:
                    expr = expr + sympy.Symbol(self.route_input[route.name], real=True)
            rule = sbml.createRateRule()
            rule.setVariable(s.name)
            _check(rule.setMath(self._math(expr, where)), where)
        for event in model.events:
            self._event(event)

    def _event(self, event: Event) -> None:
        """A model event as an SBML event with the same semantics (L3V2 section 4.12)."""
        where = f"event {event.name!r}"
        e = self.sbml.createEvent()
        _check(e.setId(self._fresh(event.name)), where)
        e.setUseValuesFromTriggerTime(event.use_values_from_trigger_time)
        if event.meaning:
            e.setNotes(_notes(event.meaning))
        e.setAnnotation(_annotation("event", name=event.name, meaning=event.meaning))
        trigger = e.createTrigger()
        trigger.setInitialValue(event.initial_value)
        trigger.setPersistent(event.persistent)
        _check(trigger.setMath(self._math(self._parse(event.trigger, where), where)), where)
        if event.delay is not None:
            _check(e.createDelay().setMath(self._math(self._parse(event.delay, where), where)),
                   where)
        if event.priority is not None:
            _check(e.createPriority().setMath(
                self._math(self._parse(event.priority, where), where)), where)
        for target, text in event.assignments:
            ea = e.createEventAssignment()
            ea.setVariable(target)
            _check(ea.setMath(self._math(self._parse(text, where), where)), where)

    def _set_units(self, element: libsbml.SBase, unit: str) -> None:
        uid = self.unit(unit)
        if uid is not None:
            element.setUnits(uid)

    # -- dosing ----------------------------------------------------------------------------
    def events(self, regimen: Regimen, covariates: dict[str, float]) -> None:
        from il2sim.engine.events import EngineError, resolve_events  # the engine's own rule

        model = self.model
        compiled = compile_model(model)
        if compiled.input_names != tuple(self.input_names):  # the rule below went stale
            raise SbmlError(f"inputs of {model.name!r}: the compiler names "
                            f"{compiled.input_names}, the exporter {tuple(self.input_names)}")
        p = np.array([[self.values[name] for name in model.param_names]], dtype=float)
        for route in model.routes:  # amounts without bioavailability: F stays symbolic
            if route.fraction is not None:
                p[0, model.param_names.index(route.fraction)] = 1.0
        try:
            actions = resolve_events(compiled, regimen, p, _covariate_frame(covariates))
        except (EngineError, UnitError) as exc:
            raise SbmlError(f"regimen: {exc}") from None
        changes: dict[float, dict[str, Any]] = {}

        def add(time: float, name: str, value: Any) -> None:
            at = changes.setdefault(float(time), {})
            at[name] = at.get(name, 0) + value

        routes = actions.table["route"].to_numpy()
        for k in range(actions.n_events):
            route = model.route(str(routes[k]))
            fraction = (sympy.Symbol(route.fraction, real=True) if route.fraction else
                        sympy.Integer(1))
            amount = float(actions.amount[k, 0])
            if actions.infusion[k]:
                name = compiled.input_names[int(actions.input[k])]
                rate = sympy.Float(amount / (actions.end[k] - actions.time[k])) * fraction
                add(actions.time[k], name, rate)
                add(actions.end[k], name, -rate)
            else:
                add(actions.time[k], model.state_names[int(actions.state[k])],
                    sympy.Float(amount) * fraction)
        number = 0
        for time in sorted(changes):
            assignments = {n: v for n, v in changes[time].items() if v != 0}
            if not assignments:
                continue
            number += 1
            event = self.sbml.createEvent()
            event.setId(self._fresh(f"dose_{number}"))
            event.setUseValuesFromTriggerTime(True)
            event.setAnnotation(_annotation("dose", time=repr(time)))
            trigger = event.createTrigger()
            trigger.setInitialValue(False)
            trigger.setPersistent(True)
            where = f"dose event at t = {time:g} {model.time_unit}"
            trigger.setMath(self._math(sympy.Ge(TIME, _exact(time)), where))
            for name, increment in assignments.items():
                ea = event.createEventAssignment()
                ea.setVariable(name)
                ea.setMath(self._math(sympy.Symbol(name, real=True) + increment, where))

    # -- validation ------------------------------------------------------------------------
    def finish(self) -> str:
        doc = self.doc
        doc.setConsistencyChecks(libsbml.LIBSBML_CAT_UNITS_CONSISTENCY, False)
        doc.setConsistencyChecks(libsbml.LIBSBML_CAT_MODELING_PRACTICE, False)
        doc.checkConsistency()
        errors = [doc.getError(i) for i in range(doc.getNumErrors())
                  if doc.getError(i).getSeverity() >= libsbml.LIBSBML_SEV_ERROR]
        if errors:
            first = " ".join(errors[0].getMessage().split())
            raise SbmlError(f"the SBML written for {self.model.name!r} fails validation "
                            f"({len(errors)} errors); first: {first}")
        return str(libsbml.writeSBMLToString(doc))


def _input_names(model: Model) -> tuple[list[str], dict[str, str]]:
    """Inputs as the compiler names them: the declared ones, then ``rate_<route>`` for each
    route without a named input (its infusions add to d(state)/dt); and the input each
    route's infusions drive. (Computed here: compiling a large model takes seconds.)"""
    names = list(model.input_names)
    route_input: dict[str, str] = {}
    for route in model.routes:
        if route.input is not None:
            route_input[route.name] = route.input
        else:
            route_input[route.name] = f"rate_{route.name}"
            names.append(f"rate_{route.name}")
    return names, route_input


def _exact(value: float) -> Any:
    return sympy.Integer(int(value)) if value == int(value) else sympy.Float(value)


def _covariate_frame(covariates: dict[str, float]) -> pd.DataFrame:
    known = ("weight", "height", "bsa")
    unknown = sorted(set(covariates) - set(known))
    if unknown:
        raise SbmlError(f"unknown covariate {unknown[0]!r}; known: weight (kg), height (cm), "
                        "bsa (m2)")
    frame = pd.DataFrame(index=range(1))
    for name, value in covariates.items():
        if not (isinstance(value, (int, float)) and value > 0 and math.isfinite(value)):
            raise SbmlError(f"covariate {name!r} must be a positive number, not {value!r}")
        frame[name] = float(value)
    if "bsa" not in frame and {"weight", "height"} <= set(frame.columns):
        frame["bsa"] = bsa_mosteller(frame["weight"].to_numpy(), frame["height"].to_numpy())
    return frame


def _sbml_units(text: str) -> list[tuple[int, float, int, float]] | None:
    """``(kind, exponent, scale, multiplier)`` for the pint unit ``text``; None if SBML has no
    equivalent (IU, ``arb``, an unknown unit). Each factor of ``text`` becomes one SBML unit
    (``mL/min``: litre with scale -3, second with multiplier 60) where kinds do not repeat;
    otherwise the unit is reduced to base units with one overall factor."""
    try:
        container = ureg.parse_units(text)
    except Exception:  # pint raises many types for unknown units
        return None
    out: list[tuple[int, float, int, float]] = []
    for token, power in container._units.items():
        parts = _base_parts(str(token))
        if parts is None:
            return None
        magnitude, kinds = parts
        for i, (kind, exponent) in enumerate(kinds):
            factor = magnitude ** (1.0 / exponent) if i == 0 else 1.0
            out.append((kind, exponent * float(str(power)), *_scale(factor)))
    if len({kind for kind, *_ in out}) == len(out):
        return out or [(libsbml.UNIT_KIND_DIMENSIONLESS, 1.0, 0, 1.0)]
    parts = _base_parts(text)
    if parts is None:
        return None
    magnitude, kinds = parts
    if not kinds:
        return [(libsbml.UNIT_KIND_DIMENSIONLESS, 1.0, *_scale(magnitude))]
    return [(kind, exponent, *_scale(magnitude ** (1.0 / exponent) if i == 0 else 1.0))
            for i, (kind, exponent) in enumerate(kinds)]


def _base_parts(text: str) -> tuple[float, list[tuple[int, float]]] | None:
    """Magnitude and SBML kinds of one pint unit in base units (volumes in litres)."""
    try:
        q = ureg.Quantity(1.0, text).to_base_units()
    except Exception:  # pint raises many types for unknown units
        return None
    magnitude = float(q.magnitude)
    kinds: list[tuple[int, float]] = []
    for name, exponent in q.unit_items():
        if name not in _BASE_KINDS:
            return None
        kind, power = _BASE_KINDS[name], float(str(exponent))
        if name == "meter" and power % 3 == 0:
            kind, power = libsbml.UNIT_KIND_LITRE, power / 3
            magnitude *= 1000.0**power
        elif name == "kilogram":
            magnitude *= 1000.0**power
        kinds.append((kind, power))
    if not (magnitude > 0 and math.isfinite(magnitude)):
        return None
    return magnitude, kinds


def _scale(factor: float) -> tuple[int, float]:
    """``factor`` as (decimal scale, multiplier): 1e-3 -> (-3, 1.0), 60 -> (0, 60.0)."""
    exponent = round(math.log10(factor))
    if abs(factor / 10.0**exponent - 1.0) < 1e-12:
        return exponent, 1.0
    return 0, float(f"{factor:.15g}")
