"""Run one web scenario: build it with the TOML scenario code, simulate, group for plots.

The request becomes the same dictionary a scenario file parses to, so the web form and
``il2sim simulate FILE.toml`` share validation and error messages
(:func:`il2sim.config.scenario.scenario_from_dict`). The label course with hold rules uses the
label protocol (:func:`il2sim.protocol.label_protocol`) as the dose decider, so the
dose log shows which doses the simulated patient's vital signs withheld, and why.

Plots: curated panels for the flagship models (:data:`PANELS`), then every remaining
state and observable grouped by unit. A panel is drawn on a log axis when its values are
positive and span more than three decades (each of its two y axes on its own); variables in
:data:`RIGHT_AXIS` (interferon-alpha, a different drug) get the right-hand axis, and panels in
:data:`FROM_ZERO` start their axis at zero (a 0.3 mm change of a 39 mm tumour is not drawn
across the whole panel).

The dose log gives each dose's day and clock time (time 0 is day 1, 00:00 [assumption]: a
scenario has no calendar) and the dose as prescribed (``600,000 IU/kg``, ``9 MIU``) next to
the amount that reached the model (after body size and bioavailability).
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from il2sim.config.scenario import ConfigError, Scenario, parse_assignment, scenario_from_dict
from il2sim.dosing.regimen import Regimen
from il2sim.engine import SimulationResult
from il2sim.engine.simulate import simulate
from il2sim.model.spec import Model
from il2sim.protocol import ProtocolDecider, ProtocolError, label_protocol
from il2sim.units import parse_quantity, ureg
from il2sim.web.schemas import DoseRow, Panel, ScenarioRequest, ScenarioResult, Series

__all__ = ["FROM_ZERO", "PANELS", "RIGHT_AXIS", "TABLES", "run_scenario", "scenario_table"]

SOURCE = "<scenario form>"
MAX_DAYS = 20 * 365.25
"""The longest scenario the page runs (a guard against a request that runs for hours)."""

# Curated panels: (title, variables). Variables absent from a model are skipped.
PANELS: dict[str, list[tuple[str, list[str]]]] = {
    "il2_qsp": [
        # tumour-site IL-2 first, plasma drawn over it (thinner, dashed), IFN on the right
        ("IL-2 exposure (IU/mL)", ["il2_tumour_site", "il2_plasma", "ifn_plasma"]),
        ("Immune cells in blood (cells/uL)", ["lymphocytes", "cd4", "cd8", "nk", "treg"]),
        ("Tumour: diameter of a sphere of its volume (mm)", ["tumour_diameter"]),
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

RIGHT_AXIS = frozenset({"ifn_plasma"})
"""Variables drawn on a panel's right-hand axis (another drug than IL-2)."""
FROM_ZERO = frozenset({"tumour_diameter"})
"""Variables whose panel's axis starts at zero."""
TABLES = ("trajectories", "doses")
"""The tables a scenario can be downloaded as (CSV or Parquet)."""

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
    """The request as a checked :class:`~il2sim.config.scenario.Scenario`."""
    data: dict[str, Any] = {"model": request.model,
                            "simulation": {"end": request.end, "points": request.points,
                                           "backend": request.backend}}
    patient: dict[str, str | bool] = {
        k: v for k, v in (("weight", request.weight), ("height", request.height)) if v}
    if not request.physiological_bounds:
        patient["physiological_bounds"] = False
    if patient:
        data["patient"] = patient
    params: dict[str, float | str] = dict(request.params)
    for i, line in enumerate(request.assignments):  # as `il2sim simulate --set NAME=VALUE`
        if line.strip():
            name, value = parse_assignment(line, source=SOURCE, key=f"assignments[{i}]")
            params[name] = value
    if params:
        data["params"] = params
    regimen = _regimen_data(request)
    if regimen is not None:
        data["regimen"] = regimen
    scenario = scenario_from_dict(data, source=SOURCE)
    per_day = float(parse_quantity("1 day", what="day").to(scenario.model.time_unit).magnitude)
    if scenario.times[-1] > MAX_DAYS * per_day:
        raise ConfigError(SOURCE, "end", f"at most {MAX_DAYS / 365.25:g} years on the web "
                          "page (use il2sim simulate for longer runs)")
    return scenario


def _simulate(request: ScenarioRequest) -> tuple[Scenario, Regimen | None, SimulationResult]:
    """The request's scenario, the regimen given (unlabelled doses named after their
    route) and the simulated patient."""
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
    return scenario, regimen, result


def _labelled(model: Model, regimen: Regimen | None) -> Regimen | None:
    """Unlabelled administrations named after their route ("subcutaneous interferon-alpha"),
    for the description and the dose log."""
    if regimen is None:
        return None
    meaning = {r.name: r.meaning for r in model.routes}
    return dataclasses.replace(regimen, administrations=tuple(
        a if a.label else dataclasses.replace(a, label=meaning.get(a.dose.route, a.dose.route))
        for a in regimen.administrations))


def dose_table(model: Model, regimen: Regimen | None, result: SimulationResult) -> pd.DataFrame:
    """The dose log with each dose's ``day`` and ``clock`` time (time 0 = day 1, 00:00),
    the ``dose`` as prescribed (``600,000 IU/kg``) and the ``given`` amount in words."""
    log = result.dose_log.copy()
    per_h = float(parse_quantity(f"1 {model.time_unit}", what="time").to("h").magnitude)
    minutes = np.rint(log["time"].to_numpy(dtype=float) * per_h * 60).astype(np.int64)
    log.insert(2, "day", minutes // 1440 + 1)
    log.insert(3, "clock", [f"{m // 60 % 24:02d}:{m % 60:02d}" for m in minutes])
    events = regimen.events().set_index("dose_id") if regimen is not None else None
    prescribed, labels = [], []
    for dose_id, label, amount, unit in zip(log["dose_id"], log["label"], log["amount"],
                                            log["unit"], strict=True):
        if events is not None and dose_id in events.index:
            row = events.loc[dose_id]
            prescribed.append(f"{float(row['amount']):,.6g} {ureg.Unit(row['amount_unit']):~C}")
            labels.append(label or str(row["label"]))
        else:
            prescribed.append(_amount(float(amount), str(unit)))
            labels.append(label)
    log["label"] = labels
    log["dose"] = prescribed
    log["given"] = [_amount(float(a), str(u)) for a, u in zip(log["amount"], log["unit"],
                                                                strict=True)]
    return log


def _amount(amount: float, unit: str) -> str:
    """``4.2e7 IU`` as ``42 MIU``; other amounts with four significant digits."""
    if unit == "IU" and abs(amount) >= 1e6:
        return f"{amount / 1e6:,.4g} MIU"
    return f"{amount:,.4g} {unit}"


def scenario_table(request: ScenarioRequest, name: Literal["trajectories", "doses"]
                   ) -> pd.DataFrame:
    """A scenario's trajectories (:meth:`~il2sim.engine.SimulationResult.to_frame`, as
    ``il2sim simulate`` writes them) or its dose log (:func:`dose_table`), for download."""
    scenario, regimen, result = _simulate(request)
    if name == "trajectories":
        return result.to_frame()
    log = dose_table(scenario.model, _labelled(scenario.model, regimen), result)
    return log.rename(columns={"time": f"time ({scenario.model.time_unit})"})


def run_scenario(request: ScenarioRequest) -> ScenarioResult:
    """Simulate the request's single patient and shape the result for the page.

    Raises:
        ConfigError: a bad model, regimen, quantity or parameter (the message names it).
    """
    scenario, regimen, result = _simulate(request)
    model, course = scenario.model, request.regimen.label_course
    regimen = _labelled(model, regimen)
    scale, unit = display_time(model, float(scenario.times[-1]))
    values = {name: result[name][0] for name in result.variable_names}
    log = dose_table(model, regimen, result)
    doses = [DoseRow(time=float(r.time) * scale, day=int(r.day), clock=str(r.clock),
                     label=str(r.label), route=str(r.route), dose=str(r.dose),
                     given=str(r.given), amount=float(r.amount), unit=str(r.unit),
                     status=str(r.status), reason=str(r.reason))
             for r in log.itertuples()] if len(log) else []
    described = (dataclasses.replace(scenario, regimen=regimen) if regimen is not None
                 else scenario).describe()
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
        # a right-axis drug never given (zero throughout) is left out, axis and all
        names = [n for n in names if n in values and not (
            n in RIGHT_AXIS and not np.any(np.nan_to_num(values[n])))]
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
    right = [n for n in names if n in RIGHT_AXIS]
    left = [n for n in names if n not in RIGHT_AXIS] or right
    if left is right:
        right = []
    subtitle = ", ".join(f"{meta[n][1]} ({meta[n][0]})" for n in right) + " on the right axis" \
        if right else ""
    series = [Series(name=n, unit=meta[n][0], meaning=meta[n][1],
                     axis="right" if n in right else "left",
                     values=[None if not math.isfinite(v) else float(v) for v in values[n]])
              for n in names]
    return Panel(title=title, subtitle=subtitle, log_y=_log(left, values),
                 log_y_right=_log(right, values),
                 from_zero=any(n in FROM_ZERO for n in names), series=series)


def _log(names: list[str], values: dict[str, NDArray[np.float64]]) -> bool:
    """Positive values spanning more than three decades."""
    if not names:
        return False
    finite = np.concatenate([values[n][np.isfinite(values[n])] for n in names])
    return bool(finite.size and finite.min() > 0 and finite.max() / finite.min() > 1e3)
