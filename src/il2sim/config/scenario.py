"""Scenario files: one simulation described in TOML, loaded into validated frozen objects.

A scenario names a library model, the patient, parameter and initial-state
overrides, a regimen and the output times. :func:`load_scenario` reads it,
checks it and builds the library objects; :meth:`Scenario.run` calls
:func:`il2sim.simulate`. Every problem raises :class:`ConfigError`, one line
naming the file, the key path and the problem::

    examples/x.toml: regimen[0].amount: must be positive, got '-5 IU'

Format (every table optional except ``model`` and the end of the simulation)::

    model = "aldesleukin_pk"       # a library model (`il2sim models`)
    title = "..."                  # free text, shown in outputs
    name = "..."                   # base name of output files (default: the file's stem)

    [patient]                      # covariates, as quantities; a list gives one per patient
    weight = "70 kg"
    height = "175 cm"
    bsa = "1.73 m**2"              # default: Mosteller from weight and height
    # physiological_bounds = false # allow covariates outside the extremes recorded in adults
                                   # (il2sim.units.PHYSIOLOGICAL_BOUNDS; on by default)

    [params]                       # parameter overrides by name
    k10 = 0.05                     # a plain number is in the model's declared unit
    V1 = "2900 mL"                 # a quantity is converted to it
    # k10 = [0.04, 0.05]           # a list gives one value per patient

    [initial]                      # initial-state overrides by name (numbers or quantities)
    T = 1e5

    [[regimen]]                    # one table per administration (any number), or:
    kind = "infusion"              # bolus | infusion | depot | intratumoral
    route = "iv"                   # default per kind: bolus/infusion iv, depot sc, intratumoral it
    amount = "600000 IU/kg"        # per kg or per m**2 amounts scale with the patient
    # rate = "18 MIU/m**2/day"     # infusions: amount or rate, and always duration
    duration = "15 min"
    label = "cycle 1"
    schedule = { days = [1, 2, 3, 4, 5], times = ["0 h", "8 h", "16 h"], max_doses = 14 }
    # schedule: any il2sim.Schedule fields (at | every+count | days | weekdays+weeks, with
    # start, times, max_doses, repeat_every+repeats); default: once, at time 0.

    # regimen = { preset = "label_high_dose", dose = "720000 IU/kg" }
    # a named regimen from il2sim.dosing.PRESETS, other keys passed to it as arguments;
    # a [[regimen]] array may mix presets and administrations.

    [simulation]
    end = "48 h"                   # a time, converted to the model's time unit
    points = 481                   # output times: points evenly spaced over [0, end] (1001),
                                   # plus every dose start and infusion end
                                   # (times x patients x variables at most MAX_OUTPUT_VALUES)
    # times = ["0 h", "1 h"]       # or explicit output times (not with end or points)
    rtol = 1e-6
    atol = 1e-9                    # or a table state -> value
    method = "LSODA"
    backend = "scipy"

Values are checked by the library itself (doses and schedules by their
constructors, units by :mod:`il2sim.units`, parameters and states by the
model); this module only locates each error at its key.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import re
import tomllib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, TypeAlias

import numpy as np
from numpy.typing import NDArray
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PlainValidator,
    Tag,
    TypeAdapter,
    ValidationError,
)

from il2sim.config.errors import MAX_OUTPUT_VALUES, ConfigError
from il2sim.dosing import (
    PRESETS,
    Administration,
    Bolus,
    Depot,
    DoseError,
    Infusion,
    Intratumoral,
    Regimen,
    Schedule,
)
from il2sim.engine import BACKENDS, SimulationResult, output_times, simulate
from il2sim.model import Model, ModelError, Param, State, get_model
from il2sim.units import (
    PHYSIOLOGICAL_BOUNDS,
    UnitError,
    bsa_mosteller,
    check_physiological,
    resolve_amount,
    resolve_rate,
    to_magnitude,
)

__all__ = [
    "AdministrationSpec",
    "ConfigError",
    "MAX_OUTPUT_VALUES",
    "PatientSpec",
    "PresetSpec",
    "Scenario",
    "ScenarioSpec",
    "ScheduleSpec",
    "Spec",
    "SimulationSpec",
    "load_scenario",
    "override",
    "parse_assignment",
    "read_toml",
    "regimen_from_toml",
    "scenario_from_dict",
    "validation_error",
]


# --------------------------------------------------------------------------- raw values

Scalar: TypeAlias = str | float
"""A TOML scalar as written (text or number); the library interprets it."""
PerPatient: TypeAlias = Scalar | tuple[Scalar, ...]
"""One value for every patient, or one per patient."""


def _toml_type(value: object) -> str:
    names = {dict: "a table", list: "an array", tuple: "an array", bool: "a boolean"}
    return names.get(type(value), f"{type(value).__name__} {value!r}")


def _got(value: object) -> str:
    return _toml_type(value) if isinstance(value, (dict, list, tuple, bool)) else repr(value)


def _scalar(value: object) -> Scalar:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError(f"expected a number or a quantity such as '5 IU', got "
                         f"{_toml_type(value)}")
    return value


def _per_patient(value: object) -> PerPatient:
    if isinstance(value, (list, tuple)):
        if not value:
            raise ValueError("empty array: give one value, or one per patient")
        return tuple(_scalar(v) for v in value)
    return _scalar(value)


def _count(value: object) -> Scalar:
    # Counts go to the library as written (it says what a count must be), booleans included.
    if isinstance(value, bool):
        return value
    return _scalar(value)


TomlScalar = Annotated[Scalar, PlainValidator(_scalar)]
TomlCount = Annotated[Scalar, PlainValidator(_count)]
TomlPerPatient = Annotated[PerPatient, PlainValidator(_per_patient)]

# --------------------------------------------------------------------------- specs


class Spec(BaseModel):
    """A table of an input file: unknown keys refused, frozen once read (the base of every
    file's spec: scenario, protocol, trial, atlas)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class PatientSpec(Spec):
    """Covariates as quantities: body weight, height, body surface area; each within
    :data:`~il2sim.units.PHYSIOLOGICAL_BOUNDS` unless ``physiological_bounds`` is false."""

    weight: TomlPerPatient | None = None
    height: TomlPerPatient | None = None
    bsa: TomlPerPatient | None = None
    physiological_bounds: Annotated[bool, Field(strict=True)] = True


class ScheduleSpec(Spec):
    """The fields of :class:`il2sim.Schedule`, as written."""

    at: tuple[TomlScalar, ...] | None = None
    every: TomlScalar | None = None
    count: TomlCount | None = None
    start: TomlScalar | None = None
    days: tuple[TomlCount, ...] | None = None
    weekdays: tuple[TomlCount, ...] | None = None
    weeks: TomlCount | None = None
    times: tuple[TomlScalar, ...] | None = None
    max_doses: TomlCount | None = None
    repeat_every: TomlScalar | None = None
    repeats: TomlCount | None = None


DoseKindName = Literal["bolus", "infusion", "depot", "intratumoral"]
_DOSE_CLASSES: dict[str, type[Bolus | Depot | Intratumoral | Infusion]] = {
    "bolus": Bolus, "infusion": Infusion, "depot": Depot, "intratumoral": Intratumoral,
}
_ONCE = ScheduleSpec(at=("0 h",))


class AdministrationSpec(Spec):
    """One dose on one schedule (default: once, at time 0)."""

    kind: DoseKindName
    route: str | None = None
    amount: TomlScalar | None = None
    rate: TomlScalar | None = None
    duration: TomlScalar | None = None
    label: str = ""
    schedule: ScheduleSpec = _ONCE


class PresetSpec(Spec):
    """A named regimen from :data:`il2sim.dosing.PRESETS`; other keys are its arguments."""

    model_config = ConfigDict(extra="allow", frozen=True)

    preset: str
    __pydantic_extra__: dict[str, TomlPerPatient] = Field(init=False)

    @property
    def arguments(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


_ADMIN, _PRESET, _TABLE, _ARRAY = "<administration>", "<preset>", "<table>", "<array>"


def _entry_tag(value: object) -> str:
    if isinstance(value, PresetSpec) or (isinstance(value, Mapping) and "preset" in value):
        return _PRESET
    return _ADMIN


def _regimen_tag(value: object) -> str:
    return _ARRAY if isinstance(value, (list, tuple)) else _TABLE


RegimenEntry = Annotated[
    Annotated[AdministrationSpec, Tag(_ADMIN)] | Annotated[PresetSpec, Tag(_PRESET)],
    Discriminator(_entry_tag),
]
RegimenSpec = Annotated[
    Annotated[RegimenEntry, Tag(_TABLE)] | Annotated[tuple[RegimenEntry, ...], Tag(_ARRAY)],
    Discriminator(_regimen_tag),
]
_REGIMEN_ADAPTER: TypeAdapter[Any] = TypeAdapter(RegimenSpec)


def _atol(value: object) -> float | dict[str, float]:
    def positive(v: object, what: str) -> float:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0:
            raise ValueError(f"{what}must be a positive number, got {_toml_type(v)}")
        return float(v)

    if isinstance(value, Mapping):
        return {str(k): positive(v, f"{k}: ") for k, v in value.items()}
    return positive(value, "")


class SimulationSpec(Spec):
    """Output times and integrator settings."""

    end: TomlScalar | None = None
    points: Annotated[int, Field(strict=True, ge=2)] = 1001
    times: tuple[TomlScalar, ...] | None = None
    rtol: Annotated[float, Field(strict=True, gt=0)] = 1e-6
    atol: Annotated[float | dict[str, float], PlainValidator(_atol)] = 1e-9
    method: str = "LSODA"
    backend: str = "scipy"


class ScenarioSpec(Spec):
    """A scenario file as written (validated structure, values not yet interpreted)."""

    model: str
    title: str = ""
    name: str | None = None
    patient: PatientSpec = PatientSpec()
    params: dict[str, TomlPerPatient] = {}
    initial: dict[str, TomlPerPatient] = {}
    regimen: RegimenSpec | None = None
    simulation: SimulationSpec = SimulationSpec()


# --------------------------------------------------------------------------- errors

_TAGS = {_ADMIN, _PRESET, _TABLE, _ARRAY}
_KEYS_OF: dict[str, type[BaseModel]] = {
    "patient": PatientSpec, "simulation": SimulationSpec, "schedule": ScheduleSpec,
    _ADMIN: AdministrationSpec,
}


def _join(base: str, *parts: str | int) -> str:
    path = base
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path = f"{path}.{part}" if path else part
    return path


def validation_error(exc: ValidationError, source: str, base: str) -> ConfigError:
    """pydantic's first error as one line naming the file and key (under ``base``)."""
    err = exc.errors()[0]
    loc = [p for p in err["loc"] if p not in _TAGS]
    path = _join(base, *loc)
    kind = err["type"]
    got = err.get("input")
    if kind == "missing":
        problem = "required key is missing"
        if loc and loc[-1] == "kind":
            problem += (" (bolus, infusion, depot or intratumoral; or give preset = ... for a "
                        "named regimen)")
    elif kind == "extra_forbidden":
        owner = next((_KEYS_OF[p] for p in reversed(err["loc"][:-1])
                      if isinstance(p, str) and p in _KEYS_OF), None)
        if owner is None and not base and len(err["loc"]) == 1:
            owner = ScenarioSpec
        known = f"; known: {', '.join(owner.model_fields)}" if owner else ""
        problem = f"unknown key{known}"
    elif kind == "value_error":
        problem = str(err.get("ctx", {}).get("error", err["msg"]))
    elif kind in ("model_type", "dict_type", "model_attributes_type"):
        problem = f"expected a table, got {_toml_type(got)}"
    elif kind in ("tuple_type", "list_type"):
        problem = f"expected an array, got {_toml_type(got)}"
    else:
        problem = f"{err['msg'].replace('Input should be', 'must be')}, got {_got(got)}"
    return ConfigError(source, path or None, problem)


def _strip(message: str, *subjects: str) -> str:
    """``"k10: bad"`` -> ``"bad"``; ``"amount '5 cell': bad"`` -> ``"'5 cell': bad"``."""
    for subject in subjects:
        if message.startswith(f"{subject}: "):
            return message[len(subject) + 2:]
        if message.startswith(f"{subject} '"):
            return message[len(subject) + 1:]
    return message


# The library's argument names for covariates, and their keys in a scenario.
_COVARIATE_HINTS = {"(weight_kg)": "(patient.weight)",
                    "(bsa_m2)": "(patient.bsa, or patient.weight and patient.height)"}


def _covariate_hint(message: str) -> str:
    for name, key in _COVARIATE_HINTS.items():
        message = message.replace(name, key)
    return message


# Where a DoseError's subject ("bolus amount: ...") lives in an administration table.
_DOSE_KEYS = {
    **{f"{kind} amount": "amount" for kind in _DOSE_CLASSES},
    "infusion rate": "rate", "infusion duration": "duration",
    "dose time": "schedule.at", "schedule interval": "schedule.every",
    "schedule start": "schedule.start", "schedule count": "schedule.count",
    "schedule day": "schedule.days", "schedule weekday": "schedule.weekdays",
    "schedule weeks": "schedule.weeks", "time of day": "schedule.times",
    "schedule max_doses": "schedule.max_doses", "schedule repeats": "schedule.repeats",
    "repeat_every": "schedule.repeat_every", "schedule": "schedule",
}


def _dose_error(exc: DoseError, source: str, where: str) -> ConfigError:
    message = str(exc)
    subject, sep, rest = message.partition(": ")
    if sep and subject in _DOSE_KEYS:
        return ConfigError(source, _join(where, *_DOSE_KEYS[subject].split(".")), rest)
    return ConfigError(source, where, message)


# --------------------------------------------------------------------------- regimen


def _administration(spec: AdministrationSpec, where: str, source: str) -> Administration:
    cls = _DOSE_CLASSES[spec.kind]
    given = {k: getattr(spec, k) for k in ("route", "amount", "rate", "duration")
             if getattr(spec, k) is not None}
    takes = [f.name for f in dataclasses.fields(cls) if f.init]
    for key in given:
        if key not in takes:
            raise ConfigError(source, _join(where, key),
                              f"does not apply to kind = {spec.kind!r} (it takes "
                              f"{', '.join(takes)})")
    for f in dataclasses.fields(cls):
        if f.init and f.default is dataclasses.MISSING and f.name not in given:
            raise ConfigError(source, _join(where, f.name),
                              f"required key is missing (a {spec.kind} needs its {f.name})")
    raw_schedule = {k: getattr(spec.schedule, k) for k in ScheduleSpec.model_fields}
    schedule_kwargs: dict[str, Any] = {k: v for k, v in raw_schedule.items() if v is not None}
    try:
        dose = cls(**given)
        schedule = Schedule(**schedule_kwargs)
        return Administration(dose, schedule, spec.label)
    except DoseError as exc:
        raise _dose_error(exc, source, where) from None


def _preset(spec: PresetSpec, where: str, source: str) -> Regimen:
    if spec.preset not in PRESETS:
        raise ConfigError(source, _join(where, "preset"),
                          f"unknown preset {spec.preset!r}; known: {', '.join(PRESETS)}")
    function = PRESETS[spec.preset]
    takes = list(inspect.signature(function).parameters)
    arguments = spec.arguments
    for key in arguments:
        if key not in takes:
            raise ConfigError(source, _join(where, key),
                              f"preset {spec.preset!r} takes no argument {key!r}; known: "
                              f"{', '.join(takes)}")
    try:
        return function(**arguments)
    except DoseError as exc:
        # Name the argument whose value the message quotes, else the preset as a whole.
        message = str(exc)
        quoted = [k for k, v in arguments.items() if repr(v) in message]
        raise ConfigError(source, _join(where, quoted[0]) if quoted else where,
                          message) from None
    except (TypeError, ValueError, UnitError) as exc:
        raise ConfigError(source, where, f"preset {spec.preset!r}: {exc}") from None


def _entries(spec: AdministrationSpec | PresetSpec | tuple[AdministrationSpec | PresetSpec, ...],
             where: str) -> Iterator[tuple[str, AdministrationSpec | PresetSpec]]:
    if isinstance(spec, tuple):
        for i, entry in enumerate(spec):
            yield _join(where, i), entry
    else:
        yield where, spec


def _build_regimen(
    spec: AdministrationSpec | PresetSpec | tuple[AdministrationSpec | PresetSpec, ...] | None,
    where: str,
    source: str,
) -> list[tuple[str, AdministrationSpec | PresetSpec, Regimen]]:
    built: list[tuple[str, AdministrationSpec | PresetSpec, Regimen]] = []
    if spec is None:
        return built
    for path, entry in _entries(spec, where):
        if isinstance(entry, PresetSpec):
            regimen = _preset(entry, path, source)
        else:
            regimen = Regimen((_administration(entry, path, source),))
        built.append((path, entry, regimen))
    return built


def _combine(parts: Sequence[Regimen]) -> Regimen:
    if not parts:
        return Regimen.none()
    total = parts[0]
    for part in parts[1:]:
        total = total + part
    return total


def regimen_from_toml(data: object, where: str = "regimen", *,
                      source: str = "<config>") -> Regimen:
    """Build a :class:`~il2sim.Regimen` from the TOML value of a regimen key.

    Main arguments:
        data: a table (one administration or one ``preset``) or an array of them,
            as parsed by :mod:`tomllib`.
        where: the key path of ``data`` in its file, for error messages
            (e.g. ``"arms[1].regimen"``).

    Other arguments:
        source: the file, for error messages.

    Raises:
        ConfigError: naming ``source``, the key under ``where`` and the problem.
    """
    try:
        spec = _REGIMEN_ADAPTER.validate_python(data)
    except ValidationError as exc:
        raise validation_error(exc, source, where) from None
    return _combine([r for _, _, r in _build_regimen(spec, where, source)])


# --------------------------------------------------------------------------- scenario


@dataclass(frozen=True)
class SimulationOptions:
    """Integrator settings passed to :func:`il2sim.simulate`."""

    method: str = "LSODA"
    backend: str = "scipy"
    rtol: float = 1e-6
    atol: float | Mapping[str, float] = 1e-9


Values: TypeAlias = float | NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class Scenario:
    """A checked simulation scenario, ready to :meth:`run`.

    Attributes:
        name: base name for outputs; title: free text; source: the file it came from.
        model, regimen: library objects.
        times: output times in ``model.time_unit``.
        params, initial: overrides by name (a float, or one value per patient).
        covariates: ``weight`` (kg), ``height`` (cm), ``bsa`` (m2) as given.
        n_patients: 1, or the common length of per-patient values.
        options: integrator settings.
        spec: the validated file contents.
    """

    name: str
    title: str
    source: str
    model: Model
    regimen: Regimen
    times: NDArray[np.float64]
    params: Mapping[str, Values]
    initial: Mapping[str, Values]
    covariates: Mapping[str, Values]
    n_patients: int
    options: SimulationOptions
    spec: ScenarioSpec

    def run(self, progress: Callable[[float], None] | None = None) -> SimulationResult:
        """Simulate the scenario with :func:`il2sim.simulate`.

        ``progress`` is called with the number of patients finished, as they finish.
        """
        return simulate(
            self.model, self.regimen, dict(self.params) or None, self.times,
            covariates=dict(self.covariates) or None, initial=dict(self.initial) or None,
            n=self.n_patients, backend=self.options.backend, method=self.options.method,
            rtol=self.options.rtol, atol=self.options.atol, progress=progress,
        )

    @property
    def heading(self) -> str:
        """The title of the scenario's outputs, showing the parameters actually used.

        A parameter assignment written in the title (``"KP98 untreated, c = 0.02"``) is set
        to the value used, in the model's unit (after ``--set c=0.035``: ``"... c =
        0.035"``); the parameters set but not named in the title follow on a second line.
        Without a title: the model's name and title.
        """
        text = self.title or f"{self.model.name}: {self.model.title}"
        units = {p.name: p.unit for p in self.model.params}
        unnamed = []
        for name, value in self.params.items():
            shown = f"{_show(value)} {units[name]}".rstrip() if units[name] != "1" \
                else _show(value)
            pattern = re.compile(rf"(?<![\w.]){re.escape(name)}\s*=\s*{_NUMBER}"
                                 rf"(?:\s+(?P<unit>[^\s,;()]+))?")
            found = pattern.search(text)
            if found is None:
                unnamed.append(f"{name} = {shown}")
                continue
            written_unit = found.group("unit")
            keep = written_unit if written_unit and not _is_unit(written_unit) else None
            text = (text[:found.start()] + f"{name} = {shown}" + (f" {keep}" if keep else "")
                    + text[found.end():])
        return text + ("\n" + ", ".join(unnamed) if unnamed else "")

    def describe(self) -> str:
        """A few lines: model, patient, regimen, output times."""
        unit = self.model.time_unit
        lines = [self.heading.splitlines()[0] if self.title else self.name,
                 f"  model: {self.model.name} ({self.model.title})"]
        if self.covariates:
            lines.append("  patient: " + ", ".join(
                f"{k} = {_show(v)} {_COVARIATE_UNITS[k]}" for k, v in self.covariates.items()))
        if self.params:
            lines.append("  params: " + ", ".join(f"{k} = {_show(v)}"
                                                  for k, v in self.params.items()))
        if self.n_patients > 1:
            lines.append(f"  patients: {self.n_patients}")
        lines.extend("  " + line for line in self.regimen.describe().splitlines())
        lines.append(f"  output: {len(self.times)} times from {self.times[0]:g} to "
                     f"{self.times[-1]:g} {unit}")
        return "\n".join(lines)


_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"


def _is_unit(text: str) -> bool:
    try:
        to_magnitude(f"1 {text}", text, what="unit")
    except UnitError:
        return False
    return True


def _show(value: Values) -> str:
    if isinstance(value, np.ndarray):
        return "[" + ", ".join(f"{v:g}" for v in value) + "]"
    return f"{value:g}"


_COVARIATE_UNITS = {name: unit for name, (_, _, unit) in PHYSIOLOGICAL_BOUNDS.items()}


def _values(raw: PerPatient, convert: Callable[[Scalar, str], float], key: str,
            source: str) -> Values:
    if isinstance(raw, tuple):
        out = []
        for i, item in enumerate(raw):
            out.append(_one(item, convert, _join(key, i), source))
        return np.array(out, dtype=float)
    return _one(raw, convert, key, source)


def _one(raw: Scalar, convert: Callable[[Scalar, str], float], key: str, source: str) -> float:
    try:
        return convert(raw, key)
    except (UnitError, ModelError, ValueError) as exc:
        raise ConfigError(source, key, _strip(str(exc), key)) from None


def _quantity_in(unit: str, *, plain_numbers: bool) -> Callable[[Scalar, str], float]:
    """Converter to ``unit``; plain numbers are taken as ``unit`` or refused."""

    def convert(value: Scalar, key: str) -> float:
        if isinstance(value, (int, float)):
            if plain_numbers:
                return float(value)
            raise UnitError(f"'{value}' has no unit; write e.g. '{value} {unit}'")
        return to_magnitude(value, unit, what=key)

    return convert


def _covariates(spec: PatientSpec, source: str) -> dict[str, Values]:
    out: dict[str, Values] = {}
    for name, unit in _COVARIATE_UNITS.items():
        raw = getattr(spec, name)
        if raw is None:
            continue
        key = f"patient.{name}"
        value = _values(raw, _quantity_in(unit, plain_numbers=False), key, source)
        if np.any(np.asarray(value) <= 0):
            raise ConfigError(source, key, f"must be positive, got {raw!r}")
        if spec.physiological_bounds:
            try:
                check_physiological(name, value, what=key)
            except UnitError as exc:
                raise ConfigError(source, key, _strip(str(exc), key)) from None
        out[name] = value
    return out


def _params(model: Model, raw: Mapping[str, PerPatient], source: str) -> dict[str, Values]:
    return _overrides("params", "parameter", model.param, raw, source)


def _initial(model: Model, raw: Mapping[str, PerPatient], source: str) -> dict[str, Values]:
    return _overrides("initial", "state", model.state, raw, source)


def _overrides(section: str, kind: str, lookup: Callable[[str], Param | State],
               raw: Mapping[str, PerPatient], source: str) -> dict[str, Values]:
    """Parameter or initial-state overrides, checked by the model's own declarations."""
    out: dict[str, Values] = {}
    for name, value in raw.items():
        key = f"{section}.{name}"
        try:
            declared = lookup(name)
        except ModelError as exc:
            raise ConfigError(source, key, str(exc)) from None
        values = _values(value, _quantity_in(declared.unit, plain_numbers=True), key, source)
        for v in np.atleast_1d(values):
            try:
                if isinstance(declared, Param):  # the declaration's own checks
                    dataclasses.replace(declared, value=float(v))
                else:
                    dataclasses.replace(declared, initial=float(v))
            except ModelError as exc:
                raise ConfigError(source, key, _strip(str(exc), f"{kind} {name!r}")) from None
        out[name] = values
    return out


def _batch_size(groups: Mapping[str, Mapping[str, Values]], source: str) -> int:
    size: tuple[int, str] | None = None
    for group, values in groups.items():
        for name, value in values.items():
            if not isinstance(value, np.ndarray):
                continue
            key = f"{group}.{name}"
            if size is None:
                size = (len(value), key)
            elif len(value) != size[0]:
                raise ConfigError(source, key,
                                  f"{len(value)} values, but {size[1]} has {size[0]}; give one "
                                  "value, or one per patient everywhere")
    return size[0] if size else 1


def _check_doses(model: Model, built: Sequence[tuple[str, AdministrationSpec | PresetSpec,
                                                      Regimen]],
                 covariates: Mapping[str, Values], source: str) -> None:
    """Each dose must go to a route of the model in a unit that route can take."""
    weight = covariates.get("weight")
    bsa = covariates.get("bsa")
    if bsa is None and weight is not None and "height" in covariates:
        bsa = bsa_mosteller(np.asarray(weight, dtype=float),
                            np.asarray(covariates["height"], dtype=float))
    for path, entry, regimen in built:
        spec = entry if isinstance(entry, AdministrationSpec) else None
        for a in regimen.administrations:
            try:
                route = model.route(a.dose.route)
            except ModelError as exc:
                raise ConfigError(source, _join(path, "route") if spec else path,
                                  str(exc)) from None
            key = path
            try:
                if spec is not None and spec.rate is not None:
                    key = _join(path, "rate")
                    resolve_rate(str(spec.rate), route.unit, "h", weight_kg=weight,
                                 bsa_m2=bsa, what="rate")
                else:
                    key = _join(path, "amount") if spec else path
                    assert a.dose.amount is not None  # set by the dose's constructor
                    resolve_amount(a.dose.amount, route.unit, weight_kg=weight, bsa_m2=bsa,
                                   what="amount" if spec else f"{a.dose.label} amount")
            except UnitError as exc:
                problem = _strip(str(exc), "rate", "amount")
                hinted = _covariate_hint(problem)
                if hinted == problem:  # a unit the route cannot take: say which it takes
                    hinted += f" (route {route.name!r} takes {route.unit})"
                raise ConfigError(source, key, hinted) from None


def _times(model: Model, spec: SimulationSpec, regimen: Regimen,
           source: str) -> NDArray[np.float64]:
    convert = _quantity_in(model.time_unit, plain_numbers=False)
    if spec.times is not None:
        for key in ("end", "points"):
            if key in spec.model_fields_set:
                raise ConfigError(source, "simulation.times",
                                  f"give either times or end (+ points), not both ({key} is "
                                  "set too)")
        times = np.array([_one(t, convert, f"simulation.times[{i}]", source)
                          for i, t in enumerate(spec.times)], dtype=float)
        if times.size == 0:
            raise ConfigError(source, "simulation.times", "empty: nothing would be saved")
        if times[0] < 0 or np.any(np.diff(times) < 0):
            raise ConfigError(source, "simulation.times", "must be sorted and >= 0")
        return times
    if spec.end is None:
        raise ConfigError(source, "simulation.end",
                          "required key is missing: give end (e.g. end = \"48 h\") or times")
    end = _one(spec.end, convert, "simulation.end", source)
    if not (end > 0 and math.isfinite(end)):
        raise ConfigError(source, "simulation.end", f"must be positive, got {spec.end!r}")
    return output_times(model, regimen, end, spec.points)


def _check_output_size(model: Model, spec: SimulationSpec, n_patients: int, source: str,
                       n_times: int | None = None) -> None:
    """Refuse a run of more than :data:`MAX_OUTPUT_VALUES`: before any array is made (the
    times or points as written), and again on the grid built (``n_times``: the points plus
    the dose times :func:`~il2sim.engine.output_times` adds)."""
    key = "simulation.times" if spec.times is not None else "simulation.points"
    if n_times is None:
        n_times = len(spec.times) if spec.times is not None else spec.points
    n_variables = len(model.state_names) + len(model.observable_names)
    values = n_times * n_patients * n_variables
    if values > MAX_OUTPUT_VALUES:
        patients = f"{n_patients} patient{'s' if n_patients > 1 else ''}"
        raise ConfigError(source, key,
                          f"{n_times} output times x {patients} x {n_variables} variables is "
                          f"{values:.3g} values, more than the limit of {MAX_OUTPUT_VALUES:.3g}; "
                          "use fewer output times")


def _options(model: Model, spec: SimulationSpec, source: str) -> SimulationOptions:
    if spec.backend not in BACKENDS:
        raise ConfigError(source, "simulation.backend",
                          f"unknown backend {spec.backend!r}; known: {', '.join(BACKENDS)}")
    if isinstance(spec.atol, dict):
        for name in spec.atol:
            try:
                model.state(name)
            except ModelError as exc:
                raise ConfigError(source, f"simulation.atol.{name}", str(exc)) from None
    return SimulationOptions(method=spec.method, backend=spec.backend, rtol=spec.rtol,
                             atol=spec.atol)


def scenario_from_dict(data: Mapping[str, Any], *, source: str = "<scenario>",
                       name: str | None = None) -> Scenario:
    """Check a parsed scenario (see the module docstring) and build its library objects.

    Main arguments:
        data: the parsed TOML document.

    Other arguments:
        source: the file name, for error messages.
        name: default base name for outputs (the file's stem), else the model's name.

    Raises:
        ConfigError: naming ``source``, the key path and the problem.
    """
    try:
        spec = ScenarioSpec.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc, source, "") from None
    try:
        model = get_model(spec.model)
    except ModelError as exc:
        raise ConfigError(source, "model", str(exc)) from None
    covariates = _covariates(spec.patient, source)
    params = _params(model, spec.params, source)
    initial = _initial(model, spec.initial, source)
    n = _batch_size({"patient": covariates, "params": params, "initial": initial}, source)
    built = _build_regimen(spec.regimen, "regimen", source)
    _check_doses(model, built, covariates, source)
    _check_output_size(model, spec.simulation, n, source)
    regimen = _combine([r for _, _, r in built])
    times = _times(model, spec.simulation, regimen, source)
    _check_output_size(model, spec.simulation, n, source, n_times=len(times))
    return Scenario(
        name=spec.name or name or model.name,
        title=spec.title,
        source=source,
        model=model,
        regimen=regimen,
        times=times,
        params=params,
        initial=initial,
        covariates=covariates,
        n_patients=n,
        options=_options(model, spec.simulation, source),
        spec=spec,
    )


_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")


def read_toml(path: str | Path) -> dict[str, Any]:
    """Parse a TOML file; a missing file or bad TOML raises :class:`ConfigError`
    (with the line and column for bad TOML)."""
    source = str(path)
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        found = _TOML_POSITION.search(message)
        key = f"line {found.group(1)}, column {found.group(2)}" if found else None
        problem = _TOML_POSITION.sub("", message) if found else message
        raise ConfigError(source, key, f"invalid TOML: {problem}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(source, None, f"invalid TOML: not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise ConfigError(source, None, f"cannot read: {exc.strerror or exc}") from None


def load_scenario(path: str | Path) -> Scenario:
    """Read and check a scenario file (see the module docstring).

    Raises:
        ConfigError: one line naming the file, the key path and the problem.
    """
    return scenario_from_dict(read_toml(path), source=str(path), name=Path(path).stem)


# --------------------------------------------------------------------------- overrides


def parse_assignment(text: str, *, source: str = "<command line>",
                     key: str = "--set") -> tuple[str, Scalar]:
    """``"k10=0.05"`` -> ``("k10", 0.05)``; ``"V1=3 L"`` -> ``("V1", "3 L")``."""
    name, sep, value = text.partition("=")
    name, value = name.strip(), value.strip()
    if not sep or not name or not value:
        raise ConfigError(source, key, f"expected name=value, got {text!r}")
    try:
        return name, float(value)
    except ValueError:
        return name, value


def override(
    data: Mapping[str, Any],
    *,
    model: str | None = None,
    preset: str | None = None,
    dose: str | None = None,
    params: Mapping[str, Scalar] | None = None,
    patient: Mapping[str, Scalar] | None = None,
    end: str | None = None,
    points: int | None = None,
    source: str = "<command line>",
) -> dict[str, Any]:
    """A copy of a parsed scenario with command-line style overrides applied.

    ``preset`` replaces the regimen by that preset; ``dose`` sets the preset's
    ``dose`` (or ``rate``) argument, or the amount of a single administration;
    ``end`` or ``points`` replace explicit output times.

    Raises:
        ConfigError: ``dose`` with a regimen of several administrations.
    """
    out: dict[str, Any] = {k: (dict(v) if isinstance(v, Mapping) else v)
                           for k, v in data.items()}
    if model is not None:
        out["model"] = model
    if preset is not None:
        out["regimen"] = {"preset": preset}
    if dose is not None:
        out["regimen"] = _with_dose(out.get("regimen"), dose, source)
    for group, values in (("params", params), ("patient", patient)):
        if values:
            table = dict(out.get(group) or {})
            table.update(values)
            out[group] = table
    if end is not None or points is not None:
        simulation = dict(out.get("simulation") or {})
        simulation.pop("times", None)
        if end is not None:
            simulation["end"] = end
        if points is not None:
            simulation["points"] = points
        out["simulation"] = simulation
    return out


def _with_dose(regimen: object, dose: str, source: str) -> object:
    if regimen is None:
        raise ConfigError(source, "--dose", "no regimen to set the dose of; give --preset too")
    entries = regimen if isinstance(regimen, list) else [regimen]
    if len(entries) != 1 or not isinstance(entries[0], Mapping):
        raise ConfigError(source, "--dose", "applies to a preset or to a single "
                          f"administration; this regimen has {len(entries)} entries")
    entry = dict(entries[0])
    if "preset" in entry:
        function = PRESETS.get(str(entry["preset"]))
        takes = inspect.signature(function).parameters if function else {"dose": None}
        entry["rate" if "rate" in takes and "dose" not in takes else "dose"] = dose
    else:
        entry.pop("rate", None)
        entry["amount"] = dose
    return [entry] if isinstance(regimen, list) else entry
