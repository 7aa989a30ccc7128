"""Trial files: a virtual clinical trial described in TOML.

Format (``indication`` selects the calibrated population and mortality model of
that pivotal trial; every table is optional)::

    name = "Metastatic RCC, high-dose IL-2"
    model = "il2_qsp"
    indication = "rcc"                 # rcc | melanoma | hiv (model il2_hiv; see below)
    n_patients = 255
    seed = 1

    [protocol]
    kind = "label"                     # label: label courses with hold/stop/retreat rules
    dose = "600000 IU/kg"
    max_courses = 5
    course_interval = "12 week"
    # kind = "regimen": any regimen under its own hold rules (the label's by default),
    # courses and retreatment; see il2sim.config.protocol for every key:
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

A file with ``[[arms]]`` is a multi-arm trial (:func:`trial_file_from_dict`).

``indication = "hiv"`` (model ``il2_hiv``): people with HIV on antiretroviral therapy
(:func:`~il2sim.trial.hiv.hiv_population`), CD4 and viral-load endpoints, no tumour, no
scans and no mortality (clinical endpoints are not modelled); ``[protocol] kind = "none"``
is therapy alone, and IL-2 cycles may follow the CD4 count (``retreat_if = "cd4 < 1000"``).
The entry CD4 may be set::

    [population]
    entry_cd4_median = 457             # cells/uL (default: ESPRIT's)
    entry_cd4_minimum = 300            # the entry criterion

Every problem raises :class:`~il2sim.config.scenario.ConfigError` naming the file and key.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError

from il2sim.config.protocol import ProtocolSpec, protocol_from_spec
from il2sim.config.scenario import (
    ConfigError,
    Spec,
    read_toml,
    validation_error,
)
from il2sim.model.library import get_model
from il2sim.model.spec import ModelError
from il2sim.population import LogNormal, PopulationError
from il2sim.trial.allocation import Allocation, split_total
from il2sim.trial.arms import MultiArmTrial
from il2sim.trial.calibrated import INDICATIONS, calibrated_mortality, calibrated_population
from il2sim.trial.endpoints import MortalityModel
from il2sim.trial.hiv import HIV, HIV_ENTRY_CD4, HIV_MODEL, hiv_population
from il2sim.trial.runner import TrialSpec
from il2sim.units import UnitError, parse_quantity

__all__ = ["load_trial", "load_trial_file", "trial_file_from_dict", "trial_from_dict"]


class FollowupSpec(Spec):
    years: float = Field(default=5.0, gt=0, le=30)
    first_scan: str = "47 day"
    scan_every: str = "8 week"


class LogNormalSpec(Spec):
    median: float = Field(gt=0)
    sigma: float = Field(ge=0)


class PopulationSpec(Spec):
    params: dict[str, LogNormalSpec] = Field(default_factory=dict)
    entry_cd4_median: float | None = Field(default=None, gt=0)
    entry_cd4_minimum: float | None = Field(default=None, gt=0)


class TrialSimulationSpec(Spec):
    backend: str = "native"
    chunk_size: int = Field(default=32, ge=1, le=100_000)
    rtol: float = Field(default=1e-6, gt=0, lt=1)
    atol: float = Field(default=1e-8, gt=0)


class TrialFileSpec(Spec):
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


def _mortality(indication: str, prophylaxis: bool) -> MortalityModel:
    """The indication's mortality model; antibiotic prophylaxis removes catheter-related
    sepsis (none of 43 on oxacillin: Bock et al. 1990, J Clin Oncol 8:161)."""
    model = MortalityModel() if indication == HIV else calibrated_mortality(indication)
    return dataclasses.replace(model, sepsis_per_course=0.0) if prophylaxis else model


def _refuse_unknown_keys(data: Mapping[str, Any], spec: type[Spec], source: str) -> None:
    """A top-level key the file format lacks is an error naming it and the known keys."""
    unknown = [k for k in data if k not in spec.model_fields]
    if unknown:
        raise ConfigError(source, unknown[0], "unknown key; known: "
                          + ", ".join(spec.model_fields))


def trial_from_dict(data: Mapping[str, Any], *, source: str = "<trial>") -> TrialSpec:
    """Validate a parsed trial file and build the :class:`TrialSpec`."""
    if "arms" in data:
        raise ConfigError(source, "arms", "a multi-arm trial; this needs a single-arm trial "
                          "(il2sim trial runs both)")
    _refuse_unknown_keys(data, TrialFileSpec, source)
    try:
        spec = TrialFileSpec.model_validate(dict(data))
    except ValidationError as exc:
        raise validation_error(exc, source, "") from None
    try:
        model = get_model(spec.model)
    except ModelError as exc:
        raise ConfigError(source, "model", str(exc)) from None
    if spec.indication not in (*INDICATIONS, HIV):
        raise ConfigError(source, "indication", f"unknown indication {spec.indication!r}; "
                          f"known: {', '.join((*INDICATIONS, HIV))}")
    if (spec.indication == HIV) != (spec.model == HIV_MODEL):
        raise ConfigError(source, "model", f"indication 'hiv' needs model {HIV_MODEL!r}"
                          if spec.indication == HIV else f"model {HIV_MODEL!r} needs "
                          "indication = 'hiv'")
    entry = {k: getattr(spec.population, k) for k in ("entry_cd4_median", "entry_cd4_minimum")
             if getattr(spec.population, k) is not None}
    if entry and spec.indication != HIV:
        raise ConfigError(source, f"population.{next(iter(entry))}", "only for indication "
                          "= 'hiv'")
    if spec.indication == HIV:
        median = entry.get("entry_cd4_median", HIV_ENTRY_CD4[0])
        minimum = entry.get("entry_cd4_minimum", HIV_ENTRY_CD4[1])
        if not minimum < median:
            raise ConfigError(source, "population.entry_cd4_minimum", f"{minimum:g} is not "
                              f"below the median {median:g}")
        population = hiv_population(median, minimum)
    else:
        population = calibrated_population(spec.indication)
    if spec.population.params:
        params = dict(population.params)
        for name, dist in spec.population.params.items():
            if name not in params and name not in model.param_names:
                raise ConfigError(source, f"population.params.{name}",
                                  f"model {spec.model!r} has no parameter {name!r}")
            params[name] = LogNormal(dist.median, dist.sigma)
        try:
            population = dataclasses.replace(population, params=params)
        except PopulationError as exc:
            raise ConfigError(source, "population", str(exc)) from None
    plan = protocol_from_spec(spec.protocol, model, source=source)
    try:
        return TrialSpec(
            name=spec.name,
            n_patients=spec.n_patients,
            seed=spec.seed,
            population=population,
            model=spec.model,
            protocol=spec.protocol.kind,
            dose=spec.protocol.dose or "600000 IU/kg",
            max_courses=plan.courses,
            course_interval_days=plan.course_every_days,
            plan=plan,
            horizon_days=spec.followup.years * 365.25,
            first_scan_day=_days(spec.followup.first_scan, source, "followup.first_scan"),
            scan_interval_days=_days(spec.followup.scan_every, source, "followup.scan_every"),
            mortality=_mortality(spec.indication, spec.protocol.antibiotic_prophylaxis),
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


# --------------------------------------------------------------------------- multi-arm trials


class ArmFileSpec(Spec):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    label: str = ""
    n_patients: int | None = Field(default=None, ge=1, le=10_000_000)
    allocation: float | None = Field(default=None, gt=0, lt=1)
    protocol: dict[str, Any]


class MultiArmFileSpec(Spec):
    name: str
    model: str = "il2_qsp"
    indication: str
    n_patients: int | None = Field(default=None, ge=1, le=10_000_000)
    seed: int = Field(ge=0)
    design: Literal["randomised", "crossover"] = "randomised"
    control: str | None = None
    followup: dict[str, Any] = Field(default_factory=dict)
    population: dict[str, Any] = Field(default_factory=dict)
    simulation: dict[str, Any] = Field(default_factory=dict)
    arms: tuple[ArmFileSpec, ...] = Field(min_length=2)


ALLOCATION_TOLERANCE = 1e-6
"""How far the arms' allocation fractions may sum from 1."""


def _arm_sizes(spec: MultiArmFileSpec, source: str) -> tuple[int, ...]:
    """Patients per arm from the arms' ``n_patients`` or ``allocation`` and the total."""
    for i, arm in enumerate(spec.arms):
        if arm.n_patients is not None and arm.allocation is not None:
            raise ConfigError(source, f"arms[{i}].allocation", "give n_patients or "
                              "allocation, not both")
        if spec.design == "crossover" and (arm.n_patients, arm.allocation) != (None, None):
            key = "n_patients" if arm.n_patients is not None else "allocation"
            raise ConfigError(source, f"arms[{i}].{key}", "under design = 'crossover' every "
                              "arm treats the whole cohort: give n_patients at the top only")
    k = len(spec.arms)
    if spec.design == "crossover":
        if spec.n_patients is None:
            raise ConfigError(source, "n_patients", "required key is missing (the cohort "
                              "every arm treats)")
        return (spec.n_patients,) * k
    counts = [a.n_patients for a in spec.arms]
    fractions = [a.allocation for a in spec.arms]
    if all(n is not None for n in counts):
        sizes = tuple(int(n) for n in counts if n is not None)
        if spec.n_patients is not None and sum(sizes) != spec.n_patients:
            raise ConfigError(source, "n_patients", f"the arms' n_patients sum to "
                              f"{sum(sizes)}, not {spec.n_patients}")
        return sizes
    if all(f is None for f in fractions) and all(n is None for n in counts):
        fractions = [1.0 / k] * k  # equal arms
    elif any(f is None for f in fractions):
        i = next(i for i, f in enumerate(fractions) if f is None)
        raise ConfigError(source, f"arms[{i}].allocation", "give every arm n_patients, or "
                          "every arm allocation (fractions of the total n_patients), not a mix")
    else:
        total = sum(f for f in fractions if f is not None)
        if abs(total - 1.0) > ALLOCATION_TOLERANCE:
            raise ConfigError(source, "arms", f"the arms' allocation sums to {total:g}, not 1")
    if spec.n_patients is None:
        raise ConfigError(source, "n_patients", "required key is missing (the total the "
                          "allocation divides)")
    sizes = split_total(spec.n_patients, tuple(float(f) for f in fractions if f is not None))
    if min(sizes) < 1:
        raise ConfigError(source, "n_patients", f"{spec.n_patients} patients leave an arm "
                          f"empty (sizes {sizes})")
    return sizes


def trial_file_from_dict(data: Mapping[str, Any], *,
                         source: str = "<trial>") -> TrialSpec | MultiArmTrial:
    """A parsed trial file: a single-arm :class:`TrialSpec` (the format above), or, with
    ``[[arms]]``, a :class:`~il2sim.trial.arms.MultiArmTrial`::

        name = "High- vs low-dose IL-2"
        indication = "rcc"
        seed = 1
        design = "randomised"          # or "crossover": every arm treats the same patients
        n_patients = 306               # the total (optional if every arm gives n_patients);
                                       # under crossover the cohort every arm treats
        control = "low_dose"           # the arm the others are compared with (default: first)
        # [followup], [population.params], [simulation]: as above, shared by the arms

        [[arms]]
        name = "high_dose"             # lower case, digits, _
        label = "High dose"
        n_patients = 156               # or allocation = 0.5 (fractions summing to 1)
        [arms.protocol]                # as [protocol] above
        kind = "label"
        dose = "720000 IU/kg"

    Without ``n_patients`` or ``allocation`` in any arm, the total is split equally.
    """
    if "arms" not in data:
        return trial_from_dict(data, source=source)
    if "protocol" in data:
        raise ConfigError(source, "protocol", "a multi-arm trial gives each arm its own "
                          "[arms.protocol]")
    _refuse_unknown_keys(data, MultiArmFileSpec, source)
    if not isinstance(data["arms"], list):
        raise ConfigError(source, "arms", "expected an array of tables ([[arms]])")
    for i, arm in enumerate(data["arms"]):
        if isinstance(arm, Mapping):
            extra = [k for k in arm if k not in ArmFileSpec.model_fields]
            if extra:
                raise ConfigError(source, f"arms[{i}].{extra[0]}", "unknown key; known: "
                                  + ", ".join(ArmFileSpec.model_fields))
    try:
        spec = MultiArmFileSpec.model_validate(dict(data))
    except ValidationError as exc:
        raise validation_error(exc, source, "") from None
    names = [a.name for a in spec.arms]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise ConfigError(source, f"arms[{i}].name", f"duplicate arm name {name!r}")
    control = spec.control if spec.control is not None else names[0]
    if control not in names:
        raise ConfigError(source, "control", f"no arm {control!r}; arms: {', '.join(names)}")
    sizes = _arm_sizes(spec, source)
    shared = {k: data[k] for k in ("model", "indication", "seed", "followup", "population",
                                   "simulation") if k in data}
    arms = []
    for i, arm in enumerate(spec.arms):
        file = {**shared, "name": f"{spec.name}: {arm.label or arm.name}",
                "n_patients": sizes[i], "protocol": arm.protocol}
        try:
            built = trial_from_dict(file, source=source)
        except ConfigError as exc:
            key = exc.key or ""
            key = f"arms[{i}].{key}" if key.startswith("protocol") else key
            raise ConfigError(source, key or None, exc.problem) from None
        arms.append(dataclasses.replace(
            built, arm=arm.name, allocation=Allocation(spec.design, sizes, i)))
    return MultiArmTrial(name=spec.name, design=spec.design, arms=tuple(arms),
                         labels=tuple(a.label or a.name for a in spec.arms), control=control)


def load_trial_file(path: str | Path) -> TrialSpec | MultiArmTrial:
    """Read and validate a trial file, single-arm or multi-arm."""
    return trial_file_from_dict(read_toml(path), source=str(path))
