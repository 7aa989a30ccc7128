"""The ``[protocol]`` table of a trial file: a :class:`~il2sim.protocol.Protocol` in TOML.

The label, as shipped (``kind = "label"``; every key optional)::

    [protocol]
    kind = "label"
    dose = "600000 IU/kg"
    max_courses = 5
    course_interval = "12 week"
    retreat_if = "shrinkage"          # shrinkage | response | response_or_stable | always |
                                      # a condition such as "cd4 < 500"
    antibiotic_prophylaxis = false    # true: no catheter-related sepsis (any kind of protocol;
                                      # il2sim.trial.endpoints, "catheter-related sepsis")

Any regimen (``kind = "regimen"``): one drug given by ``regimen`` (its presets' cycles kept)
or by ``cycles`` (an array of regimens, one per cycle, timed from the course's start), or
several drugs in ``[[protocol.drugs]]``, each with the keys of the one-drug form::

    [protocol]
    kind = "regimen"
    max_courses = 5                   # courses at most (default 1)
    course_interval = "3 week"        # from one course's start to the next
    first_retreatment = "7 week"      # course 2's start (default: course_interval)
    retreat_if = "response_or_stable"

    [[protocol.drugs]]
    name = "IL-2"
    cycles = [ { kind = "infusion", rate = "18 MIU/m**2/day", duration = "5 day",
                 schedule = { at = ["0 day"] } }, ... ]
    maintenance_cycles = [ ... ]      # the cycles of courses 2 and later (default: as course 1)
    max_doses_per_cycle = 15
    split_infusions = "8 h"           # an infusion is given (or interrupted) in 8-h segments
    holds = "label"                   # the label's rules (default), "none", or a table:
    # holds = { hold_if = ["lowest(sbp, 8 h) < 90"], stop_cycle_if = ["creatinine >= 3"],
    #           relative = ["weight_gain_pct > 15"], relative_to_stop = 3, holds_to_stop = 3,
    #           relative_holds = true, discontinue_if = ["confusion >= 3"] }
    # (relative_holds: each relative criterion also withholds the dose, as the label's rules)
    # (a condition reads the value at the dose, "sbp < 90", or the chart of the hours
    # before it: "lowest(sbp, 8 h) < 90", "highest(...)", "mean(urine_8h, 8 h) < 80")

No study drug (``kind = "none"``, a control arm on background therapy alone, e.g.
antiretroviral therapy in an HIV trial): no other key::

    [protocol]
    kind = "none"

A rule names a state or observable of the trial's model; every problem (an observable the
model lacks, a cap below 1, a drug without a regimen, an unknown key) is one
:class:`~il2sim.config.scenario.ConfigError` naming the file and key.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from il2sim.config.scenario import ConfigError, Spec, _strip, regimen_from_toml
from il2sim.dosing import DoseError, Regimen
from il2sim.dosing.presets import label_high_dose
from il2sim.model.spec import Model
from il2sim.protocol import (
    LABEL_HOLDS,
    Condition,
    Drug,
    HoldRules,
    Protocol,
    ProtocolError,
    label_protocol,
    no_drug_protocol,
)
from il2sim.units import UnitError, parse_quantity

__all__ = ["ProtocolSpec", "protocol_from_spec"]


class HoldsSpec(Spec):
    hold_if: list[str] = Field(default_factory=list)
    stop_cycle_if: list[str] = Field(default_factory=list)
    relative: list[str] = Field(default_factory=list)
    relative_to_stop: int | None = Field(default=None, ge=1)
    holds_to_stop: int | None = Field(default=None, ge=1)
    discontinue_if: list[str] = Field(default_factory=list)
    relative_holds: bool = False


class DrugSpec(Spec):
    name: str = Field(min_length=1)
    regimen: Any = None
    cycles: list[Any] | None = Field(default=None, min_length=1)
    maintenance_cycles: list[Any] | None = Field(default=None, min_length=1)
    holds: Literal["label", "none"] | HoldsSpec = "label"
    max_doses_per_cycle: int | None = Field(default=None, ge=1)
    split_infusions: str | None = None


class ProtocolSpec(Spec):
    kind: Literal["label", "regimen", "none"] = "label"
    dose: str | None = None
    max_courses: int | None = Field(default=None, ge=1, le=20)
    course_interval: str = "12 week"
    first_retreatment: str | None = None
    retreat_if: str | None = None
    regimen: Any = None
    cycles: list[Any] | None = Field(default=None, min_length=1)
    maintenance_cycles: list[Any] | None = Field(default=None, min_length=1)
    holds: Literal["label", "none"] | HoldsSpec | None = None
    max_doses_per_cycle: int | None = Field(default=None, ge=1)
    split_infusions: str | None = None
    drugs: list[DrugSpec] | None = Field(default=None, min_length=1)
    antibiotic_prophylaxis: bool = False


_DRUG_KEYS = ("regimen", "cycles", "maintenance_cycles", "holds", "max_doses_per_cycle",
              "split_infusions")


def _hours(text: str, source: str, key: str) -> float:
    try:
        q = parse_quantity(text, what=key)
    except UnitError as exc:
        raise ConfigError(source, key, str(exc)) from None
    if not q.check("[time]") or not float(q.magnitude) > 0:
        raise ConfigError(source, key, f"{text!r} is not a positive time")
    return float(q.to("h").magnitude)


def _holds(spec: Literal["label", "none"] | HoldsSpec, source: str, key: str
           ) -> HoldRules | None:
    if spec == "none":
        return None
    if spec == "label":
        return LABEL_HOLDS
    assert isinstance(spec, HoldsSpec)
    lists: dict[str, tuple[Condition, ...]] = {}
    for field, name in (("hold_if", "hold"), ("stop_cycle_if", "stop_cycle"),
                        ("relative", "relative"), ("discontinue_if", "discontinue")):
        items = []
        for i, text in enumerate(getattr(spec, field)):
            try:
                items.append(Condition.parse(text))
            except ProtocolError as exc:
                raise ConfigError(source, f"{key}.{field}[{i}]", str(exc)) from None
        lists[name] = tuple(items)
    try:
        return HoldRules(**lists, relative_to_stop=spec.relative_to_stop,
                         holds_to_stop=spec.holds_to_stop, relative_holds=spec.relative_holds)
    except ProtocolError as exc:
        raise ConfigError(source, key, str(exc)) from None


def _cycles(values: list[Any], source: str, key: str) -> tuple[Regimen, ...]:
    return tuple(regimen_from_toml(v, f"{key}[{i}]", source=source)
                 for i, v in enumerate(values))


def _drug(spec: DrugSpec | ProtocolSpec, name: str, source: str, key: str) -> Drug:
    """One drug from its keys (under ``key``, e.g. ``protocol.drugs[1]``)."""
    where = f"{key}." if key else ""
    if (spec.regimen is None) == (spec.cycles is None):
        raise ConfigError(source, f"{where}regimen", "give the drug's regimen (or its cycles), "
                          "one of the two" if spec.regimen is None else
                          "give regimen or cycles, not both")
    if spec.regimen is not None:
        regimen = regimen_from_toml(spec.regimen, f"{where}regimen", source=source)
        cycles = Drug.of(name, regimen, holds=None).cycles
    else:
        assert spec.cycles is not None
        cycles = _cycles(spec.cycles, source, f"{where}cycles")
    maintenance = (_cycles(spec.maintenance_cycles, source, f"{where}maintenance_cycles")
                   if spec.maintenance_cycles is not None else ())
    segment = (_hours(spec.split_infusions, source, f"{where}split_infusions")
               if spec.split_infusions is not None else None)
    holds = _holds(spec.holds if spec.holds is not None else "label", source, f"{where}holds")
    try:
        return Drug(name, cycles, maintenance, holds=holds,
                    max_doses_per_cycle=spec.max_doses_per_cycle, segment_h=segment)
    except ProtocolError as exc:
        raise ConfigError(source, key or "protocol", str(exc)) from None


def protocol_from_spec(spec: ProtocolSpec, model: Model, *, source: str = "<trial>",
                       where: str = "protocol") -> Protocol:
    """The protocol of a validated ``[protocol]`` table, checked against ``model``.

    Raises:
        ConfigError: naming ``source`` and the key under ``where``.
    """
    if spec.kind == "none":
        given = sorted(spec.model_fields_set - {"kind"})
        if given:
            raise ConfigError(source, f"{where}.{given[0]}", "kind = 'none' gives no study "
                              "drug: no other key")
        return no_drug_protocol()
    course_every = _hours(spec.course_interval, source, f"{where}.course_interval") / 24
    if spec.kind == "label":
        extra = [k for k in (*_DRUG_KEYS, "drugs", "first_retreatment")
                 if getattr(spec, k) is not None]
        if extra:
            raise ConfigError(source, f"{where}.{extra[0]}", "only for kind = 'regimen'")
        dose = spec.dose or "600000 IU/kg"
        try:  # the label course's infusion, as the trial will build it
            label_high_dose(dose)
        except DoseError as exc:
            raise ConfigError(source, f"{where}.dose",
                              _strip(str(exc), "infusion amount")) from None
        try:
            protocol = label_protocol(dose, spec.max_courses or 5, course_every,
                                      retreat_if=spec.retreat_if or "shrinkage")
        except ProtocolError as exc:
            raise ConfigError(source, f"{where}.retreat_if", str(exc)) from None
    else:
        if spec.dose is not None:
            raise ConfigError(source, f"{where}.dose", "only for kind = 'label' (give the "
                              "dose in the regimen)")
        if spec.drugs is not None:
            mixed = [k for k in _DRUG_KEYS if getattr(spec, k) is not None]
            if mixed:
                raise ConfigError(source, f"{where}.{mixed[0]}", "give it under each of "
                                  "[[protocol.drugs]]")
            drugs = tuple(_drug(d, d.name, source, f"{where}.drugs[{i}]")
                          for i, d in enumerate(spec.drugs))
        else:
            drugs = (_drug(spec, "IL-2", source, where),)
        first = (_hours(spec.first_retreatment, source, f"{where}.first_retreatment") / 24
                 if spec.first_retreatment is not None else None)
        try:
            protocol = Protocol(drugs, courses=spec.max_courses or 1,
                                course_every_days=course_every, first_retreatment_days=first,
                                retreat_if=spec.retreat_if or "shrinkage")
        except ProtocolError as exc:
            key = "retreat_if" if "retreat_if" in str(exc) else "max_courses"
            raise ConfigError(source, f"{where}.{key}", str(exc)) from None
    _check_model(protocol, spec, model, source, where)
    return protocol


def _check_model(protocol: Protocol, spec: ProtocolSpec, model: Model, source: str,
                 where: str) -> None:
    """Every rule reads a state or observable the model has."""
    known = set(model.state_names) | set(model.observable_names)
    for i, drug in enumerate(protocol.drugs):
        if drug.holds is None:
            continue
        key = f"{where}.drugs[{i}].holds" if spec.drugs is not None else f"{where}.holds"
        for c in drug.holds.conditions():
            if c.observable not in known:
                raise ConfigError(source, key, f"rule {c.name!r} reads {c.observable!r}, which "
                                  f"model {model.name!r} does not have")
    missing = [o for o in protocol.observables if o not in known]
    if missing:
        raise ConfigError(source, f"{where}.retreat_if", f"retreatment reads {missing[0]!r}, "
                          f"which model {model.name!r} does not have")
