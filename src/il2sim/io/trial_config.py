"""Trial files: a virtual clinical trial described in TOML.

Format (``indication`` selects the calibrated population and mortality model of
that pivotal trial; every table is optional)::

    name = "Metastatic RCC, high-dose IL-2"
    model = "il2_qsp"
    indication = "rcc"                 # rcc | melanoma
    n_patients = 255
    seed = 1

    [protocol]
    kind = "label"                     # label: label courses with hold/stop/retreat rules
    dose = "600000 IU/kg"
    max_courses = 5
    course_interval = "12 week"
    # kind = "regimen": any regimen, every dose given (same format as scenario files):
    # regimen = { preset = "intratumoral", dose = "3 MIU", every = "7 day", count = 4 }

    [followup]
    years = 5
    first_scan = "47 day"              # about 4 weeks after the first course
    scan_every = "8 week"

    [population.params]                # override a calibrated distribution
    ant = { median = 1.0, sigma = 1.2 }   # log-normal

    [simulation]
    backend = "native"                 # or "scipy"
    chunk_size = 32
    rtol = 1e-6
    atol = 1e-8

Every problem raises :class:`~il2sim.io.config.ConfigError` naming the file and key.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError

from il2sim.dosing import DoseError
from il2sim.dosing.presets import label_high_dose
from il2sim.io.config import (
    ConfigError,
    _Spec,
    _strip,
    _validation_error,
    read_toml,
    regimen_from_toml,
)
from il2sim.model.library import MODELS
from il2sim.population import LogNormal, PopulationError
from il2sim.trial.calibrated import INDICATIONS, calibrated_mortality, calibrated_population
from il2sim.trial.runner import TrialSpec
from il2sim.units import UnitError, parse_quantity

__all__ = ["load_trial", "trial_from_dict"]


class ProtocolSpec(_Spec):
    kind: Literal["label", "regimen"] = "label"
    dose: str = "600000 IU/kg"
    max_courses: int = Field(default=5, ge=1, le=10)
    course_interval: str = "12 week"
    regimen: Any = None


class FollowupSpec(_Spec):
    years: float = Field(default=5.0, gt=0, le=30)
    first_scan: str = "47 day"
    scan_every: str = "8 week"


class LogNormalSpec(_Spec):
    median: float = Field(gt=0)
    sigma: float = Field(ge=0)


class PopulationSpec(_Spec):
    params: dict[str, LogNormalSpec] = Field(default_factory=dict)


class TrialSimulationSpec(_Spec):
    backend: str = "native"
    chunk_size: int = Field(default=32, ge=1, le=100_000)
    rtol: float = Field(default=1e-6, gt=0, lt=1)
    atol: float = Field(default=1e-8, gt=0)


class TrialFileSpec(_Spec):
    name: str
    model: str = "il2_qsp"
    indication: str
    n_patients: int = Field(ge=1, le=10_000_000)
    seed: int = Field(ge=0)
    protocol: ProtocolSpec = Field(default_factory=ProtocolSpec)
    followup: FollowupSpec = Field(default_factory=FollowupSpec)
    population: PopulationSpec = Field(default_factory=PopulationSpec)
    simulation: TrialSimulationSpec = Field(default_factory=TrialSimulationSpec)


def _days(text: str, source: str, key: str) -> float:
    try:
        q = parse_quantity(text, what=key)
        if not q.check("[time]"):
            raise ConfigError(source, key, f"{text!r} is not a time")
        return float(q.to("day").magnitude)
    except UnitError as exc:
        raise ConfigError(source, key, str(exc)) from None


def trial_from_dict(data: Mapping[str, Any], *, source: str = "<trial>") -> TrialSpec:
    """Validate a parsed trial file and build the :class:`TrialSpec`."""
    unknown = [k for k in data if k not in TrialFileSpec.model_fields]
    if unknown:
        raise ConfigError(source, unknown[0], "unknown key; known: "
                          + ", ".join(TrialFileSpec.model_fields))
    try:
        spec = TrialFileSpec.model_validate(dict(data))
    except ValidationError as exc:
        raise _validation_error(exc, source, "") from None
    if spec.model not in MODELS:
        raise ConfigError(source, "model", f"unknown model {spec.model!r}; known: "
                          f"{', '.join(sorted(MODELS))}")
    if spec.indication not in INDICATIONS:
        raise ConfigError(source, "indication", f"unknown indication {spec.indication!r}; "
                          f"known: {', '.join(INDICATIONS)}")
    population = calibrated_population(spec.indication)
    if spec.population.params:
        params = dict(population.params)
        for name, dist in spec.population.params.items():
            if name not in params and name not in MODELS[spec.model]().param_names:
                raise ConfigError(source, f"population.params.{name}",
                                  f"model {spec.model!r} has no parameter {name!r}")
            params[name] = LogNormal(dist.median, dist.sigma)
        try:
            population = dataclasses.replace(population, params=params)
        except PopulationError as exc:
            raise ConfigError(source, "population", str(exc)) from None
    regimen = None
    if spec.protocol.kind == "regimen":
        if spec.protocol.regimen is None:
            raise ConfigError(source, "protocol.regimen", "kind = 'regimen' needs a regimen")
        regimen = regimen_from_toml(spec.protocol.regimen, "protocol.regimen", source=source)
    elif spec.protocol.regimen is not None:
        raise ConfigError(source, "protocol.regimen", "only for kind = 'regimen'")
    try:  # the label course's infusion, as the trial will build it
        label_high_dose(spec.protocol.dose)
    except DoseError as exc:
        raise ConfigError(source, "protocol.dose", _strip(str(exc), "infusion amount")) from None
    try:
        return TrialSpec(
            name=spec.name,
            n_patients=spec.n_patients,
            seed=spec.seed,
            population=population,
            model=spec.model,
            protocol=spec.protocol.kind,
            dose=spec.protocol.dose,
            max_courses=spec.protocol.max_courses,
            course_interval_days=_days(spec.protocol.course_interval, source,
                                       "protocol.course_interval"),
            regimen=regimen,
            horizon_days=spec.followup.years * 365.25,
            first_scan_day=_days(spec.followup.first_scan, source, "followup.first_scan"),
            scan_interval_days=_days(spec.followup.scan_every, source, "followup.scan_every"),
            mortality=calibrated_mortality(spec.indication),
            backend=spec.simulation.backend,
            chunk_size=spec.simulation.chunk_size,
            rtol=spec.simulation.rtol,
            atol=spec.simulation.atol,
            indication=spec.indication,
        )
    except ValueError as exc:
        raise ConfigError(source, None, str(exc)) from None


def load_trial(path: str | Path) -> TrialSpec:
    """Read and validate a trial file."""
    return trial_from_dict(read_toml(path), source=str(path))
