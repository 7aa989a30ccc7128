"""A stored run's trial design as readable tables, for the report.

A run stores its design as JSON (:meth:`il2sim.trial.runner.TrialSpec.describe`), its
virtual population as the population's repr (``Population(params={'ant':
LogNormal(median=0.8946457108189508, ...``). :func:`design_table` turns the JSON into one row
per fact (regimen, protocol, patients, follow-up), and :func:`population_table` the repr into
one row per parameter and covariate with its distribution, median and spread, rounded to
three significant digits. The repr is read by walking its syntax tree (:mod:`ast`), with
calls allowed only to the population's own classes and values only literals: nothing stored
is executed.

Spread: a log-normal by its sigma and the range holding the middle 90% of patients,
``median * exp(+-1.645 sigma)`` (before bounds); a normal by its SD; a categorical by the
share of each value.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import pandas as pd

from il2sim.analysis.errors import AnalysisError
from il2sim.model import Model

__all__ = ["Z90", "design_table", "population_table", "read_population"]

Z90: Final = 1.6448536269514722
"""The standard normal quantile of 95%: ``median * exp(+-Z90 * sigma)`` holds 90% of a
log-normal."""

_CLASSES: Final = frozenset({"Population", "LogNormal", "Normal", "Uniform", "Fixed",
                             "Categorical", "CovariateEffect"})
_NAMES: Final = {"inf": math.inf, "nan": math.nan, "True": True, "False": False, "None": None}


@dataclass(frozen=True)
class Stored:
    """One call of the repr: the class's name and its keyword arguments."""

    kind: str
    fields: Mapping[str, Any]


def read_population(text: str) -> Stored | None:
    """The stored population repr as nested :class:`Stored` values, or None when it is not
    one (another class, a positional argument, anything but literals)."""
    try:
        tree = ast.parse(text.strip(), mode="eval")
        value = _value(tree.body)
    except (SyntaxError, ValueError, RecursionError):
        return None
    return value if isinstance(value, Stored) and value.kind == "Population" else None


def _value(node: ast.expr) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name) and node.id in _NAMES:
        return _NAMES[node.id]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = _value(node.operand)
        if isinstance(inner, (int, float)):
            return -inner
    if isinstance(node, (ast.Tuple, ast.List)):
        return tuple(_value(item) for item in node.elts)
    if isinstance(node, ast.Dict):
        return {_value(k): _value(v) for k, v in zip(node.keys, node.values, strict=True)
                if k is not None}
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
            and node.func.id in _CLASSES and not node.args:
        return Stored(node.func.id, {str(k.arg): _value(k.value) for k in node.keywords})
    raise AnalysisError(f"not a literal: {ast.dump(node)[:60]}")


# --------------------------------------------------------------------------- tables


def design_table(config: Mapping[str, Any]) -> pd.DataFrame:
    """The design facts of a stored trial config, one row each (``item``, ``value``):
    arm, indication, patients, protocol, regimen, hold rules, courses, follow-up, solver
    (the run's name, model and seed are the report's run table)."""
    rows: list[tuple[str, str]] = []

    def add(item: str, value: object) -> None:
        if value not in (None, "", [], {}):
            rows.append((item, str(value)))

    add("arm", config.get("arm"))
    add("indication", config.get("indication"))
    add("patients", config.get("n_patients"))
    plan = config.get("plan") if isinstance(config.get("plan"), Mapping) else None
    add("protocol", plan.get("name") if plan else config.get("protocol"))
    if config.get("protocol") == "label":
        add("dose", config.get("dose"))
    for drug in (plan or {}).get("drugs") or ():
        name = drug.get("name") or "drug"
        add(f"{name}: regimen", _cycles(drug.get("cycles") or ()))
        add(f"{name}: maintenance", _cycles(drug.get("maintenance") or ()))
        add(f"{name}: doses per cycle at most", drug.get("max_doses_per_cycle"))
        holds = drug.get("holds") or {}
        for key, label in (("hold", "held for"), ("relative", "held when 3 of"),
                           ("stop_cycle", "cycle stopped for"),
                           ("discontinue", "discontinued for")):
            add(f"{name}: {label}", "; ".join(map(str, holds.get(key) or ())))
    if not plan:
        add("regimen", config.get("regimen"))
    courses = plan.get("courses") if plan else config.get("max_courses")
    every = plan.get("course_every_days") if plan else config.get("course_interval_days")
    if courses:
        retreat = plan.get("retreat_if") if plan else None
        add("courses", f"up to {courses}" + (f", every {_num(every)} days" if every else "")
            + (f", repeated on {retreat}" if retreat else ""))
    horizon = config.get("horizon_days")
    if isinstance(horizon, (int, float)):
        add("follow-up", f"{_num(horizon / 365.25)} years ({_num(horizon)} days)")
    first, every_scan = config.get("first_scan_day"), config.get("scan_interval_days")
    if isinstance(first, (int, float)):
        add("tumour scans", f"day {_num(first)}" + (
            f", then every {_num(every_scan)} days" if every_scan else ""))
    if config.get("backend"):
        add("solver", f"{config['backend']} backend, rtol {config.get('rtol')}, atol "
            f"{config.get('atol')}, chunks of {config.get('chunk_size')} patients")
    return pd.DataFrame(rows, columns=["item", "value"]).set_index("item")


def _cycles(cycles: Sequence[object]) -> str:
    """The cycle lines of a regimen's description, without its repeated name line."""
    lines = [line.strip() for text in cycles for line in str(text).splitlines()[1:]
             or str(text).splitlines()]
    return "; ".join(dict.fromkeys(lines))


def population_table(population: Stored, model: Model | None = None) -> pd.DataFrame:
    """One row per sampled parameter and covariate: what it is (the clinical label of
    :func:`il2sim.analysis.biomarkers.feature_label`), its distribution, median, spread and
    bounds; then the covariate effects and correlations, if any."""
    from il2sim.analysis.biomarkers import feature_label

    rows = []
    for group, key in (("parameter", "params"), ("covariate", "covariates")):
        for name, dist in (population.fields.get(key) or {}).items():
            if isinstance(dist, Stored):
                rows.append({"": group, "name": str(name),
                             "meaning": feature_label(str(name), model),
                             **_distribution(dist)})
    for effect in population.fields.get("effects") or ():
        if isinstance(effect, Stored):
            f = effect.fields
            factors = ", ".join(f"x{_num(v)} when {f.get('covariate')} = {_level(k)}"
                                for k, v in (f.get("factors") or {}).items())
            rows.append({"": "effect", "name": str(f.get("param")),
                         "meaning": feature_label(str(f.get("param")), model),
                         "distribution": factors})
    for pair, rho in (population.fields.get("correlations") or {}).items():
        names = " - ".join(map(str, pair)) if isinstance(pair, tuple) else str(pair)
        rows.append({"": "correlation", "name": names, "distribution": f"r = {_num(rho)}"})
    columns = ["", "name", "meaning", "distribution", "median", "spread", "bounds"]
    return pd.DataFrame(rows, columns=columns).fillna("")


def _distribution(dist: Stored) -> dict[str, str]:
    f = dist.fields
    bounds = _bounds(f.get("bounds"), dist.kind)
    if dist.kind == "LogNormal":
        median, sigma = float(f["median"]), float(f["sigma"])
        low, high = median * math.exp(-Z90 * sigma), median * math.exp(Z90 * sigma)
        return {"distribution": "log-normal", "median": _num(median),
                "spread": f"sigma {_num(sigma)} (90%: {_num(low)}-{_num(high)})",
                "bounds": bounds}
    if dist.kind == "Normal":
        return {"distribution": "normal", "median": _num(float(f["mean"])),
                "spread": f"SD {_num(float(f['sd']))}", "bounds": bounds}
    if dist.kind == "Uniform":
        low, high = float(f["low"]), float(f["high"])
        return {"distribution": "uniform", "median": _num((low + high) / 2),
                "spread": f"{_num(low)}-{_num(high)}", "bounds": ""}
    if dist.kind == "Fixed":
        return {"distribution": "fixed", "median": _num(float(f["value"])), "spread": "",
                "bounds": ""}
    if dist.kind == "Categorical":
        values, probs = tuple(f.get("values") or ()), tuple(f.get("probs") or ())
        shares = ", ".join(f"{_level(v)}: {_num(100 * p)}%" for v, p in zip(values, probs))
        return {"distribution": "categorical", "median": "", "spread": shares, "bounds": ""}
    return {"distribution": dist.kind, "median": "", "spread": "", "bounds": ""}


def _bounds(value: object, kind: str) -> str:
    if not isinstance(value, tuple) or len(value) != 2:
        return ""
    low, high = (float(v) for v in value)
    default = (0.0, math.inf) if kind == "LogNormal" else (-math.inf, math.inf)
    return "" if (low, high) == default else f"{_num(low)}-{_num(high)}"


def _level(value: object) -> str:
    return {True: "yes", False: "no"}.get(value, str(value)) if isinstance(value, bool) \
        else str(value)


def _num(value: float) -> str:
    """Three significant digits, without trailing zeros: 0.8946457 -> 0.895, 1826.25 ->
    1826 (an integer part is never rounded away)."""
    if not math.isfinite(value):
        return "inf" if value > 0 else ("-inf" if value < 0 else "nan")
    if value != 0 and abs(value) >= 1000:
        return f"{value:.0f}"
    return f"{value:.3g}"
