"""Request and response bodies of the web API (pydantic models, documented in OpenAPI).

Every request model forbids unknown keys, so a typo is a 422 naming the key, never a
silently ignored setting. Quantities stay text with units (``"70 kg"``, ``"21 day"``)
and are parsed by the same code as the TOML files (:mod:`il2sim.config.scenario`).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "AnalysisInfo", "ComparisonRow", "Example", "JobState", "JobStatus", "LabelCourse",
    "ModelDetail",
    "ModelSummary",
    "ParamRow", "PresetInfo", "RegimenChoice", "RunInfo", "RunSummary", "ScenarioRequest",
    "ScenarioResult", "Series", "TrialRequest",
]

MAX_POINTS = 20001


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ------------------------------------------------------------------------ models

class ModelSummary(BaseModel):
    name: str
    title: str
    citation: str
    time_unit: str
    n_states: int
    n_params: int
    routes: list[str]


class ParamRow(BaseModel):
    name: str
    value: float
    unit: str
    meaning: str
    source: str
    lower: float | None
    upper: float | None


class VariableRow(BaseModel):
    name: str
    unit: str
    meaning: str
    kind: Literal["state", "observable", "intermediate", "input", "route"]
    expression: str = ""


class ModelDetail(ModelSummary):
    notes: str
    equations: list[str] = Field(description="One line per state: d<state>/dt = <rhs>.")
    mathml: list[str] = Field(description="The intermediates and equations as MathML "
                                          "(<math> elements), for display.")
    params: list[ParamRow]
    variables: list[VariableRow]


class PresetInfo(BaseModel):
    name: str
    description: str
    arguments: dict[str, str] = Field(description="Argument name -> default, as text.")


# ---------------------------------------------------------------------- scenario

class LabelCourse(_Request):
    """The label high-dose course with its hold and stop rules applied to the patient."""

    dose: str = "600000 IU/kg"
    courses: int = Field(1, ge=1, le=5)


class RegimenChoice(_Request):
    """Exactly one of: a named preset with arguments, the label course with hold rules,
    a regimen in the TOML format of scenario files, or none (untreated)."""

    preset: str | None = None
    arguments: dict[str, str | float | int | list[str] | list[int]] = Field(default_factory=dict)
    label_course: LabelCourse | None = None
    toml: str | None = Field(default=None, max_length=20000,
                             description="A TOML document whose [regimen] table (or array "
                                         "of tables) is used, as in scenario files.")


class ScenarioRequest(_Request):
    model: str = Field(examples=["il2_qsp"])
    regimen: RegimenChoice = Field(default_factory=lambda: RegimenChoice())
    weight: str | None = Field(None, examples=["70 kg"])
    height: str | None = Field(None, examples=["175 cm"])
    physiological_bounds: bool = Field(
        True, description="Refuse a weight or height outside the extremes recorded in adults "
                          "(il2sim.units.PHYSIOLOGICAL_BOUNDS); false lifts the check.")
    params: dict[str, float | str] = Field(
        default_factory=dict, description="Parameter overrides: a number in the model's unit "
                                          "or a quantity ('3 1/h'), converted to it.")
    assignments: list[str] = Field(
        default_factory=list, max_length=500,
        description="More overrides as 'name = value' lines, read as `il2sim simulate --set` "
                    "reads them ('k10 = 3 1/h').")
    end: str = Field("21 day", examples=["21 day"])
    points: int = Field(1001, ge=2, le=MAX_POINTS)
    backend: Literal["scipy", "native"] = "scipy"


class Series(BaseModel):
    name: str
    unit: str
    meaning: str
    axis: Literal["left", "right"] = "left"
    values: list[float | None]


class Panel(BaseModel):
    title: str
    subtitle: str = Field("", description="What the right-hand axis shows, if any.")
    log_y: bool
    log_y_right: bool = False
    from_zero: bool = Field(False, description="The y axis starts at zero.")
    series: list[Series]


class DoseRow(BaseModel):
    time: float = Field(description="In the result's display unit (time_unit).")
    day: int = Field(description="Day of the scenario, from 1 (time 0 is day 1, 00:00).")
    clock: str = Field(description="Clock time, HH:MM.")
    label: str
    route: str
    dose: str = Field(description="The dose as prescribed ('600,000 IU/kg', '9 MIU').")
    given: str = Field(description="The amount that reached the model, in words ('42 MIU').")
    amount: float = Field(description="The amount that reached the model, in unit.")
    unit: str
    status: str
    reason: str


class ScenarioResult(BaseModel):
    model: str
    status: str
    message: str
    time_unit: str
    times: list[float]
    panels: list[Panel]
    doses: list[DoseRow]
    description: str


# ------------------------------------------------------------------------ trials

class Example(BaseModel):
    name: str
    title: str
    n_patients: int


class TrialRequest(_Request):
    example: str = Field(examples=["rcc"])
    n_patients: int | None = Field(None, ge=1)


JobState = Literal["queued", "running", "done", "failed", "cancelled"]
"""Where a background trial job is."""


class JobStatus(BaseModel):
    job_id: str
    name: str
    status: JobState
    done: int
    total: int
    run_id: str | None
    error: str | None
    created: str


# ------------------------------------------------------------------------- runs

class RunInfo(BaseModel):
    run_id: str
    name: str
    model: str
    seed: int
    n_patients: int
    status: str = Field(description="done, running, interrupted (its writer is gone) or "
                                     "failed.")
    created: str
    patients_done: int = Field(0, description="Patients written to the store so far.")
    kind: Literal["trial", "analysis"] = Field(
        description="A virtual trial, or the record of an analysis that belongs to no trial "
                    "(a regimen search, a scenario's sensitivity).")


class AnalysisInfo(BaseModel):
    kind: str
    name: str
    created: str
    params: dict[str, Any]
    tables: dict[str, list[dict[str, Any]]] = Field(
        description="Each stored table as records (at most the first 200 rows).")
    figures: list[str] = Field(description="URLs of the stored figures (PNG).")


class RunSummary(BaseModel):
    run: RunInfo
    summary: list[dict[str, str | float | int | None]]
    toxicity: list[dict[str, str | float | int | None]]
    figures: list[str]
    tables: list[str]
    analyses: list[AnalysisInfo] = Field(
        description="Optimisation, sensitivity and biomarker results stored with the run.")


class ComparisonRow(BaseModel):
    measure: str
    values: dict[str, str]


# ------------------------------------------------------------------ validation

class ValidationInfo(BaseModel):
    run_id: str
    name: str
    created: str
    trials: list[str]
    replicates: int = Field(description="Simulated trials per arm, each at the published size.")
    compatible: int = Field(description="Published endpoints compatible with the model.")
    outcomes: int = Field(description="Published endpoints scored.")


class ValidationDetail(BaseModel):
    info: ValidationInfo
    rule: str
    scorecard: list[dict[str, str | int]]
    endpoints: list[dict[str, str]] = Field(
        description="Every published endpoint in clinical words, the misses first: trial, "
                    "endpoint, arm, published, simulated (median and 95% prediction interval), "
                    "verdict, reason.")
    figures: list[str] = Field(description="URLs of the calibration and forest plots (PNG).")
