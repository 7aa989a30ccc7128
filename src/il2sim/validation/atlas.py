"""The trials atlas: published trials as data files, loaded into typed, frozen objects.

One TOML file per trial in ``validation/atlas/`` (a new trial is a new file)::

    id = "c1_rcc_pivotal"
    title = "..."                     # clinical words
    short = "C1 RCC (Fyfe 1995)"      # a short name for tables
    model = "il2_qsp"
    indication = "rcc"                # the calibrated virtual population (rcc, melanoma), or
                                      # "hiv" (il2sim.trial.hiv; model il2_hiv)
    criteria = "WHO"                  # response criteria the trial used: WHO | RECIST | none
    population = "..."                # entry criteria, in words
    design = "..."                    # the regimen and protocol, in words
    follow_up_years = 5.0
    seed = 1                          # replicate r runs with seed + r
    deviations = ["..."]              # where the simulated design departs from the paper
    role = "calibration"              # or "check": a trial no calibration used, scored apart
                                      # from the calibration set's total (a prediction)
    population_settings = { entry_cd4_median = 202 }   # the trial file's [population]

    [sources]                         # key -> primary citation
    fyfe1995 = "Fyfe G, ... J Clin Oncol 1995;13:688-696."

    [[arms]]
    name = "high_dose"
    label = "High-dose IL-2"
    n = 255                           # patients as published
    protocol = { kind = "label", dose = "600000 IU/kg", max_courses = 5 }   # as trial files
    # same_as = "c1_rcc_pivotal:high_dose"   # or the very arm of another trial

    [[outcomes]]
    endpoint = "objective_response"   # a name in il2sim.validation.endpoints.ENDPOINTS
    arm = "high_dose"                 # or "all": every arm pooled
    count = 37                        # observed: count and n, or value, or at_least, or
    n = 255                           #   between = [lo, hi] (a reported range of estimates)
    source = "fisher1997"             # a key of [sources]: every number is cited
    note = "..."

Loading checks everything a run needs: known keys, an endpoint the code computes with the
fields it needs, an arm that exists, a cited source, and arms whose protocol builds a
virtual trial (:func:`il2sim.config.trial.trial_from_dict`). Every problem raises
:class:`~il2sim.config.scenario.ConfigError` naming the file and key.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError

from il2sim.config.scenario import ConfigError, Spec, read_toml, validation_error
from il2sim.config.trial import trial_from_dict
from il2sim.trial.calibrated import INDICATIONS
from il2sim.trial.hiv import HIV
from il2sim.trial.runner import TrialSpec
from il2sim.trial.statistics import clopper_pearson
from il2sim.validation.endpoints import ADVERSE_EVENTS, ENDPOINTS, Endpoint

__all__ = ["Arm", "Observed", "Outcome", "PublishedTrial", "atlas", "load_published_trial"]

DECLARED_INDICATIONS: tuple[str, ...] = ()
"""Indications an atlas file may name before il2sim has a virtual population for them."""

RUNNABLE = (*INDICATIONS, HIV)
"""Indications whose arms il2sim simulates."""


class _ArmFile(Spec):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    label: str
    n: int | None = Field(default=None, ge=1, le=1_000_000)
    protocol: dict[str, Any] | None = None
    same_as: str | None = None


class _OutcomeFile(Spec):
    endpoint: str
    arm: str
    source: str
    count: int | None = Field(default=None, ge=0)
    n: int | None = Field(default=None, ge=1)
    value: float | None = None
    at_least: float | None = None
    between: tuple[float, float] | None = None
    range: tuple[float, float] | None = None
    years: float | None = Field(default=None, gt=0)
    event: str | None = None
    control: str | None = None
    note: str = ""


class _TrialFile(Spec):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: str
    short: str = Field(min_length=1, max_length=40)
    model: str = "il2_qsp"
    indication: str
    criteria: Literal["WHO", "RECIST", "none"]
    population: str
    design: str
    follow_up_years: float = Field(gt=0, le=30)
    seed: int = Field(default=1, ge=0)
    deviations: tuple[str, ...] = ()
    role: Literal["calibration", "check"] = "calibration"
    population_settings: dict[str, float] = Field(default_factory=dict)
    sources: dict[str, str]
    arms: tuple[_ArmFile, ...] = Field(min_length=1)
    outcomes: tuple[_OutcomeFile, ...] = Field(min_length=1)


@dataclass(frozen=True)
class Observed:
    """What a paper observed: a count of n, a value, a lower bound, or a range of estimates.

    :meth:`bounds` is the set of values the observation allows (a point, a half-line or an
    interval), which the compatibility rule intersects with the simulated interval;
    :meth:`interval` is its 95% confidence interval where the paper's data give one (exact
    Clopper-Pearson for a count)."""

    count: int | None = None
    n: int | None = None
    value: float | None = None
    at_least: float | None = None
    between: tuple[float, float] | None = None
    spread: tuple[float, float] | None = None

    @property
    def point(self) -> float:
        """The observed value (a fraction for counts; the bound or the range's middle)."""
        if self.count is not None and self.n is not None:
            return self.count / self.n
        if self.value is not None:
            return self.value
        if self.at_least is not None:
            return self.at_least
        assert self.between is not None
        return 0.5 * (self.between[0] + self.between[1])

    def bounds(self) -> tuple[float, float]:
        if self.at_least is not None:
            return self.at_least, math.inf
        if self.between is not None:
            return self.between
        return self.point, self.point

    def interval(self) -> tuple[float, float]:
        if self.count is not None and self.n is not None:
            return clopper_pearson(self.count, self.n)
        return self.bounds()


@dataclass(frozen=True)
class Outcome:
    """One observed number of a published trial, with the endpoint that computes it."""

    endpoint: Endpoint
    arm: str
    params: Mapping[str, Any]
    observed: Observed
    source: str
    citation: str
    note: str

    @property
    def label(self) -> str:
        return self.endpoint.describe(self.params)


@dataclass(frozen=True)
class Arm:
    """An arm: its published size and the virtual trial that simulates it.

    ``spec`` is ``None`` when il2sim cannot simulate it yet; ``why_not`` then says why.
    ``key`` identifies the simulated arm across trials (an arm ``same_as`` another shares
    its key, and so its simulations)."""

    name: str
    label: str
    n: int
    key: str
    spec: TrialSpec | None
    why_not: str = ""


@dataclass(frozen=True)
class PublishedTrial:
    id: str
    title: str
    short: str
    model: str
    indication: str
    criteria: str
    population: str
    design: str
    follow_up_years: float
    seed: int
    deviations: tuple[str, ...]
    sources: Mapping[str, str]
    arms: tuple[Arm, ...]
    outcomes: tuple[Outcome, ...]
    path: str
    role: str = "calibration"
    """``"calibration"`` (the calibration set) or ``"check"`` (no calibration used it)."""

    def arm(self, name: str) -> Arm:
        return next(a for a in self.arms if a.name == name)


def atlas_dir() -> Path:
    """The folder of the shipped atlas files."""
    return Path(str(resources.files("il2sim.validation").joinpath("atlas")))


def atlas(ids: Sequence[str] = ()) -> tuple[PublishedTrial, ...]:
    """The shipped trials (all, or those whose id starts with one of ``ids``, e.g. "c1")."""
    files = sorted(atlas_dir().glob("*.toml"))
    raw = {path: read_toml(path) for path in files}
    by_id = {str(data.get("id")): (path, data) for path, data in raw.items()}
    chosen = [i for i in by_id if not ids or any(i == x or i.startswith(f"{x}_")
                                                 for x in ids)]
    unknown = [x for x in ids if not any(i == x or i.startswith(f"{x}_") for i in by_id)]
    if unknown:
        raise ConfigError("<command line>", "TRIAL", f"no published trial {unknown[0]!r}; "
                          f"known: {', '.join(sorted(by_id))}")
    return tuple(_build(str(by_id[i][0]), by_id[i][1], by_id) for i in sorted(chosen))


def load_published_trial(path: str | Path) -> PublishedTrial:
    """Read and check one atlas file (``same_as`` may name trials of the shipped atlas)."""
    shipped = {str(d.get("id")): (p, d) for p in sorted(atlas_dir().glob("*.toml"))
               for d in [read_toml(p)]}
    data = read_toml(path)
    return _build(str(path), data, shipped)


def _build(source: str, data: Mapping[str, Any],
           others: Mapping[str, tuple[Path | str, Mapping[str, Any]]]) -> PublishedTrial:
    try:
        spec = _TrialFile.model_validate(dict(data))
    except ValidationError as exc:
        raise validation_error(exc, source, "") from None
    if spec.indication not in RUNNABLE + DECLARED_INDICATIONS:
        raise ConfigError(source, "indication", f"unknown indication {spec.indication!r}; "
                          f"known: {', '.join(RUNNABLE + DECLARED_INDICATIONS)}")
    arms = tuple(_arm(source, spec, i, a, others) for i, a in enumerate(spec.arms))
    names = [a.name for a in arms]
    if len(set(names)) != len(names):
        raise ConfigError(source, "arms", "two arms have the same name")
    outcomes = tuple(_outcome(source, spec, i, o, names) for i, o in enumerate(spec.outcomes))
    return PublishedTrial(spec.id, spec.title, spec.short, spec.model, spec.indication,
                          spec.criteria, spec.population, spec.design, spec.follow_up_years,
                          spec.seed,
                          spec.deviations, dict(spec.sources), arms, outcomes, source,
                          spec.role)


def _arm(source: str, trial: _TrialFile, i: int, arm: _ArmFile,
         others: Mapping[str, tuple[Path | str, Mapping[str, Any]]]) -> Arm:
    key = f"arms[{i}]"
    if (arm.protocol is None) == (arm.same_as is None):
        raise ConfigError(source, key, "give either protocol or same_as")
    if arm.same_as is not None:
        trial_id, _, arm_name = arm.same_as.partition(":")
        if trial_id == trial.id or trial_id not in others:
            raise ConfigError(source, f"{key}.same_as", f"no other published trial "
                              f"{trial_id!r}; known: {', '.join(sorted(others))}")
        path, data = others[trial_id]
        other = _build(str(path), data, {k: v for k, v in others.items() if k != trial_id})
        if arm_name not in [a.name for a in other.arms]:
            raise ConfigError(source, f"{key}.same_as", f"trial {trial_id!r} has no arm "
                              f"{arm_name!r}")
        found = other.arm(arm_name)
        return Arm(arm.name, arm.label, found.n, found.key, found.spec, found.why_not)
    if arm.n is None:
        raise ConfigError(source, f"{key}.n", "required key is missing")
    assert arm.protocol is not None
    if trial.indication in DECLARED_INDICATIONS:
        return Arm(arm.name, arm.label, arm.n, f"{trial.id}:{arm.name}", None,
                   f"il2sim has no virtual population for {trial.indication!r} trials yet")
    file = {"name": f"{trial.title}: {arm.label}", "model": trial.model,
            "indication": trial.indication, "n_patients": arm.n, "seed": trial.seed,
            "protocol": arm.protocol, "followup": {"years": trial.follow_up_years},
            "simulation": {"backend": "native", "chunk_size": 64}}
    if trial.population_settings:
        file["population"] = dict(trial.population_settings)
    try:
        built = trial_from_dict(file, source=source)
    except ConfigError as exc:
        raise ConfigError(source, f"{key}.protocol", exc.problem) from None
    return Arm(arm.name, arm.label, arm.n, f"{trial.id}:{arm.name}", built)


def _outcome(source: str, trial: _TrialFile, i: int, o: _OutcomeFile,
             arms: list[str]) -> Outcome:
    key = f"outcomes[{i}]"
    endpoint = ENDPOINTS.get(o.endpoint)
    if endpoint is None:
        raise ConfigError(source, f"{key}.endpoint", f"no endpoint {o.endpoint!r} can be "
                          f"computed; known: {', '.join(ENDPOINTS)}")
    if o.arm != "all" and o.arm not in arms:
        raise ConfigError(source, f"{key}.arm", f"no arm {o.arm!r}; arms: {', '.join(arms)} "
                          "(or 'all')")
    if o.source not in trial.sources:
        raise ConfigError(source, f"{key}.source", f"{o.source!r} is not cited in [sources]"
                          if o.source else "every observed number needs a source")
    given = {name: getattr(o, name) for name in ("years", "event", "control")
             if getattr(o, name) is not None}
    missing = [p for p in endpoint.params if p not in given]
    extra = [p for p in given if p not in endpoint.params]
    if missing or extra:
        bad = (missing or extra)[0]
        raise ConfigError(source, f"{key}.{bad}", f"endpoint {o.endpoint!r} "
                          + ("needs it" if missing else "takes no such field"))
    if "event" in given and given["event"] not in ADVERSE_EVENTS:
        raise ConfigError(source, f"{key}.event", f"unknown adverse event {given['event']!r}; "
                          f"known: {', '.join(ADVERSE_EVENTS)}")
    if "control" in given and given["control"] not in arms:
        raise ConfigError(source, f"{key}.control", f"no arm {given['control']!r}")
    forms = [o.count is not None, o.value is not None, o.at_least is not None,
             o.between is not None]
    if sum(forms) != 1:
        raise ConfigError(source, key, "give exactly one observation: count (with n), value, "
                          "at_least or between")
    if (o.count is None) != (o.n is None):
        raise ConfigError(source, f"{key}.n", "count and n go together")
    if o.count is not None and o.n is not None and o.count > o.n:
        raise ConfigError(source, f"{key}.count", f"{o.count} is more than n = {o.n}")
    if o.count is not None and endpoint.unit != "%":
        raise ConfigError(source, f"{key}.count", f"endpoint {o.endpoint!r} is in "
                          f"{endpoint.unit}; give value")
    if o.between is not None and not o.between[0] <= o.between[1]:
        raise ConfigError(source, f"{key}.between", "give [low, high]")
    observed = Observed(o.count, o.n, o.value, o.at_least, o.between, o.range)
    return Outcome(endpoint, o.arm, given, observed, o.source, trial.sources[o.source],
                   o.note)
