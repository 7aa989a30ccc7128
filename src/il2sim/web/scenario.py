"""Run one web scenario: build it with the TOML scenario code, simulate, group for plots.

The request becomes the same dictionary a scenario file parses to, so the web form and
``il2sim simulate FILE.toml`` share validation and error messages
(:func:`il2sim.io.config.scenario_from_dict`). The label course with hold rules uses the
label protocol (:func:`il2sim.protocol.label_protocol`) as the dose decider, so the
dose log shows which doses the simulated patient's vital signs withheld, and why.

Plots: curated panels for the flagship models (:data:`PANELS`), then every remaining
state and observable grouped by unit. A panel is drawn on a log axis when its values are
positive and span more than three decades.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from typing import Any

import numpy as np
from numpy.typing import NDArray

from il2sim.engine.simulate import simulate
from il2sim.io.config import ConfigError, Scenario, scenario_from_dict
from il2sim.model.spec import Model
from il2sim.protocol import ProtocolDecider, ProtocolError, label_protocol
from il2sim.units import parse_quantity
from il2sim.web.schemas import DoseRow, Panel, ScenarioRequest, ScenarioResult, Series

__all__ = ["PANELS", "run_scenario"]

SOURCE = "<scenario form>"
MAX_DAYS = 20 * 365.25
"""The longest scenario the page runs (a guard against a request that runs for hours)."""

# Curated panels: (title, variables). Variables absent from a model are skipped.
PANELS: dict[str, list[tuple[str, list[str]]]] = {
    "il2_qsp": [
        ("IL-2 and IFN-alpha exposure (IU/mL)", ["il2_plasma", "il2_tumour_site", "ifn_plasma"]),
        ("Immune cells in blood (cells/uL)", ["lymphocytes", "cd4", "cd8", "nk", "treg"]),
        ("Tumour (mm, sum of diameters)", ["tumour_diameter"]),
        ("Blood pressure (mmHg)", ["sbp", "map"]),
        ("Heart rate (1/min)", ["heart_rate"]),
        ("Urine output (mL per 8 h)", ["urine_8h"]),
        ("Serum creatinine (mg/dL)", ["creatinine"]),
        ("Oxygen saturation (%)", ["spo2"]),
        ("Weight gain (% of baseline)", ["weight_gain_pct"]),
    ],
    "aldesleukin_pk": [("IL-2 in plasma (IU/mL)", ["C_plasma"])],
    "il2_hiv": [("CD4 count (cells/mm3)", ["cd4"]), ("Viral load (copies/mL)", ["viral_load"]),
                ("IL-2 in plasma (IU/mL)", ["il2_plasma"])],
    "kp1998": [("Cells", ["E", "T"]), ("IL-2 (arbitrary units)", ["IL"])],
}

_HOLD_OBSERVABLES = ("sbp", "spo2", "confusion", "heart_rate", "weight_gain_pct", "urine_8h",
                     "creatinine")


def _regimen_data(request: ScenarioRequest) -> object | None:
    choice = request.regimen
    given = [name for name, value in (("preset", choice.preset), ("toml", choice.toml),
                                      ("label_course", choice.label_course))
             if value is not None]
    if len(given) > 1:
        raise ConfigError(SOURCE, "regimen", f"give one of preset, toml or label_course, "
                          f"not {' and '.join(given)}")
    if choice.arguments and choice.preset is None:
        raise ConfigError(SOURCE, "regimen.arguments", "arguments need a preset")
    if choice.preset is not None:
        return {"preset": choice.preset, **choice.arguments}
    if choice.toml is not None:
        try:
            document = tomllib.loads(choice.toml)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(SOURCE, "regimen.toml", f"not valid TOML: {exc}") from None
        if "regimen" not in document:
            raise ConfigError(SOURCE, "regimen.toml", "no [regimen] table (or [[regimen]] "
                              "array) in the TOML text")
        regimen: object = document["regimen"]
        return regimen
    return None


def build_scenario(request: ScenarioRequest) -> Scenario:
    """The request as a checked :class:`~il2sim.io.config.Scenario`."""
    data: dict[str, Any] = {"model": request.model,
                            "simulation": {"end": request.end, "points": request.points,
                                           "backend": request.backend}}
    patient: dict[str, str | bool] = {
        k: v for k, v in (("weight", request.weight), ("height", request.height)) if v}
    if not request.physiological_bounds:
        patient["physiological_bounds"] = False
    if patient:
        data["patient"] = patient
    if request.params:
        data["params"] = dict(request.params)
    regimen = _regimen_data(request)
    if regimen is not None:
        data["regimen"] = regimen
    scenario = scenario_from_dict(data, source=SOURCE)
    per_day = float(parse_quantity("1 day", what="day").to(scenario.model.time_unit).magnitude)
    if scenario.times[-1] > MAX_DAYS * per_day:
        raise ConfigError(SOURCE, "end", f"at most {MAX_DAYS / 365.25:g} years on the web "
                          "page (use il2sim simulate for longer runs)")
    return scenario


def run_scenario(request: ScenarioRequest) -> ScenarioResult:
    """Simulate the request's single patient and shape the result for the page.

    Raises:
        ConfigError: a bad model, regimen, quantity or parameter (the message names it).
    """
    scenario = build_scenario(request)
    model, regimen, decider = scenario.model, scenario.regimen, None
    course = request.regimen.label_course
    if course is not None:
        missing = [o for o in _HOLD_OBSERVABLES if o not in model.observable_names]
        if missing:
            raise ConfigError(SOURCE, "regimen.label_course", f"the hold rules read "
                              f"{', '.join(missing)}, which model {model.name!r} does not have")
        try:
            protocol = label_protocol(course.dose, course.courses)
        except (ValueError, ProtocolError) as exc:
            raise ConfigError(SOURCE, "regimen.label_course.dose", str(exc)) from None
        missing = [o for o in protocol.observables if o not in model.observable_names
                   and o not in model.state_names]
        if missing:
            raise ConfigError(SOURCE, "regimen.label_course", f"model {model.name!r} has no "
                              f"{', '.join(missing)} for the retreatment rule")
        regimen, decider = protocol.regimen(), ProtocolDecider(protocol)
        if "weight" not in scenario.covariates:
            raise ConfigError(SOURCE, "weight", "the label dose is per kg: give a weight")
    try:
        result = simulate(
            model, regimen, dict(scenario.params) or None, scenario.times,
            covariates=dict(scenario.covariates) or None,
            initial=dict(scenario.initial) or None, n=1, backend=scenario.options.backend,
            method=scenario.options.method, rtol=scenario.options.rtol,
            atol=scenario.options.atol, on_failure="record", decider=decider)
    except ValueError as exc:
        raise ConfigError(SOURCE, None, str(exc)) from None
    scale, unit = display_time(model, float(scenario.times[-1]))
    values = {name: result[name][0] for name in result.variable_names}
    log = result.dose_log
    doses = [DoseRow(time=float(r.time) * scale, label=str(r.label), route=str(r.route),
                     amount=float(r.amount), unit=str(r.unit), status=str(r.status),
                     reason=str(r.reason)) for r in log.itertuples()] if len(log) else []
    described = dataclasses.replace(scenario, regimen=regimen).describe()
    if course is not None:
        described += "\n  hold, stop and retreatment rules of the label (label_protocol)"
    return ScenarioResult(
        model=model.name, status=str(result.status[0]), message=result.message[0],
        time_unit=unit, times=[float(t) * scale for t in scenario.times],
        panels=panels(model, values), doses=doses, description=described)


def display_time(model: Model, end: float) -> tuple[float, str]:
    """Factor from model time to the display unit: days when the run spans >= 3 days,
    hours when it spans >= 3 hours, else the model's own unit."""
    for unit, span in (("day", 3.0), ("h", 3.0)):
        factor = float(parse_quantity(f"1 {model.time_unit}", what="time").to(unit).magnitude)
        if end * factor >= span:
            return factor, unit
    return 1.0, model.time_unit


def panels(model: Model, values: dict[str, NDArray[np.float64]]) -> list[Panel]:
    """Curated panels first, then the other variables grouped by unit."""
    meta = {s.name: (s.unit, s.meaning) for s in model.states}
    meta.update({o.name: (o.unit, o.meaning) for o in model.observables})
    out: list[Panel] = []
    used: set[str] = set()
    for title, names in PANELS.get(model.name, []):
        names = [n for n in names if n in values]
        if names:
            out.append(_panel(title, names, values, meta))
            used.update(names)
    by_unit: dict[str, list[str]] = {}
    for name in values:
        if name not in used:
            by_unit.setdefault(meta[name][0], []).append(name)
    for unit, names in by_unit.items():
        out.append(_panel(f"Other variables in {unit if unit != '1' else 'dimensionless units'}",
                              names, values, meta))
    return out


def _panel(title: str, names: list[str], values: dict[str, NDArray[np.float64]],
           meta: dict[str, tuple[str, str]]) -> Panel:
    series = [Series(name=n, unit=meta[n][0], meaning=meta[n][1],
                     values=[None if not math.isfinite(v) else float(v) for v in values[n]])
              for n in names]
    finite = np.concatenate([values[n][np.isfinite(values[n])] for n in names])
    log_y = bool(finite.size and finite.min() > 0 and finite.max() / finite.min() > 1e3)
    return Panel(title=title, log_y=log_y, series=series)
