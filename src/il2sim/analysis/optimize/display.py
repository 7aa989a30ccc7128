"""Metrics as shown and as written: rates in %, a median duration in months, units in the
column headers."""

from __future__ import annotations

import pandas as pd

from il2sim.analysis.optimize.metrics import METRICS
from il2sim.units import header

__all__ = ["display_scale", "for_file", "format_metric", "in_units"]

def display_scale(metric: str) -> tuple[float, str]:
    """Display factor and unit: rates in %, a median duration in months (30.4375 d)."""
    return (1.0 / 30.4375, "months") if metric == "dor_median" else (100.0, "%")


def format_metric(metric: str, value: float) -> str:
    """A metric as printed: a fraction 0.075 as ``7.5%``, a median duration in months."""
    factor, unit = display_scale(metric)
    return f"{value * factor:.1f}{unit}" if unit == "%" else f"{value * factor:.1f} {unit}"


def for_file(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` as written to a file: values as computed (rates as proportions, which
    have no unit), the unit in the header of a column that has one: ``dor_median (day)``
    (with ``_lo``, ``_hi``, ``_se``)."""
    return frame.rename(columns={c: header(c, "day") for c in frame.columns
                                 if c in ("dor_median", "dor_median_lo", "dor_median_hi",
                                          "dor_median_se")})


def in_units(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its metric columns (:data:`METRICS`, with ``_lo``/``_hi``/``_se``) in
    display units, one decimal, the unit in the header: ``orr`` 0.075 -> ``orr (%)`` 7.5."""
    renamed: dict[str, str] = {}
    out = frame.copy()
    for column in frame.columns:
        metric = next((m for m in METRICS
                       if column in (m, f"{m}_lo", f"{m}_hi", f"{m}_se")), None)
        if metric is None or not pd.api.types.is_numeric_dtype(frame[column]):
            continue
        factor, unit = display_scale(metric)
        out[column] = (frame[column] * factor).round(1)
        renamed[column] = header(column, unit)
    return out.rename(columns=renamed)
