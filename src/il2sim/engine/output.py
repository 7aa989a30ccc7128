"""Result files: trajectories (CSV or Parquet), the dose log (CSV) and a figure (PNG).

Every header carries its unit (:func:`il2sim.units.header`): ``time (min)``,
``C_plasma (IU/mL)``, in the dose log ``time (min)``, ``time (h)``, ``duration (h)``.

The figure has one panel per state and observable, patients as lines, dose
times as vertical lines (infusions shaded over their duration). Two rules keep it honest:

* a variable that is zero throughout (every value within its noise floor,
  :meth:`~il2sim.engine.SimulationResult.noise_floor`) gets no panel; the figure names it
  in a footnote instead;
* a panel is on a log axis when the variable is integrated as a logarithm (cell counts), or
  when none of its values is negative beyond noise and its values above the noise floor
  span at least :data:`LOG_AXIS_DECADES` decades (a concentration decaying after a bolus).
  On a log axis a series that the solver took below zero leaves out its values within the
  noise floor (rounding noise has no logarithm); any other series only its zeros.

It is drawn with matplotlib's Agg canvas, without pyplot, so nothing needs a display.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from numpy.typing import NDArray

from il2sim.config.errors import FORMATS, Format
from il2sim.engine.result import SimulationResult
from il2sim.units import header, to_magnitude

__all__ = ["LOG_AXIS_DECADES", "Format", "dose_table", "plot_result", "result_figure",
           "save_figure", "write_outputs"]

LOG_AXIS_DECADES = 3.0
"""A panel's values above the noise floor spanning at least this many decades (a factor
of 1000) are drawn on a log axis."""
FIGURE_DPI = 110


def write_outputs(result: SimulationResult, out_dir: str | Path, name: str, *,
                  fmt: Format = "csv", title: str = "", plot: bool = True) -> dict[str, Path]:
    """Write ``<name>.csv`` (or ``.parquet``) of ``result.to_frame()``, ``<name>_doses.csv``
    and ``<name>.png`` into ``out_dir`` (created if needed).

    Returns:
        The paths written, keyed ``"trajectories"``, ``"doses"`` and ``"figure"``.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {"trajectories": out / f"{name}.{fmt}",
                              "doses": out / f"{name}_doses.csv"}
    frame = result.to_frame()
    if fmt == "parquet":
        frame.to_parquet(paths["trajectories"], index=False)
    else:
        frame.to_csv(paths["trajectories"], index=False)
    dose_table(result).to_csv(paths["doses"], index=False)
    if plot:
        paths["figure"] = out / f"{name}.png"
        plot_result(result, paths["figure"], title=title)
    return paths


def dose_table(result: SimulationResult) -> pd.DataFrame:
    """The dose log with units in its headers: ``time`` in the model's time unit,
    ``time_h`` and ``duration_h`` in hours (the amount's unit is its own column)."""
    return result.dose_log.rename(columns={"time": result.time_header,
                                           "time_h": header("time", "h"),
                                           "duration_h": header("duration", "h")})


# Display units for the time axis, finest first: (unit, largest span in hours shown in it).
_TIME_UNITS: tuple[tuple[str, float], ...] = (("min", 3.0), ("h", 96.0), ("day", math.inf))


def _time_axis(result: SimulationResult) -> tuple[NDArray[np.float64], str, float]:
    """Times in a readable unit, that unit, and the factor from model time units."""
    unit = result.model.time_unit
    hours = to_magnitude(f"1 {unit}", "h", what="model time unit")
    span_h = float(result.times[-1] - result.times[0]) * hours
    shown = next(u for u, limit in _TIME_UNITS if span_h <= limit)
    factor = to_magnitude(f"1 {unit}", shown, what="model time unit")
    return result.times * factor, shown, factor


def _log_scale(values: NDArray[np.float64], floor: float, integrated_as_log: bool) -> bool:
    """The log-axis rule of the module docstring."""
    finite = values[np.isfinite(values)]
    if integrated_as_log:
        return bool(finite.size and np.all(finite > 0))
    shown = finite[finite > floor]
    if shown.size == 0 or np.any(finite < -floor):
        return False
    return bool(math.log10(float(shown.max() / shown.min())) >= LOG_AXIS_DECADES)


def _zero_throughout(result: SimulationResult, name: str) -> bool:
    values = result[name][result.ok]
    finite = values[np.isfinite(values)]
    return finite.size > 0 and not np.any(finite != 0.0)


def result_figure(result: SimulationResult, *, title: str = "") -> Figure:
    """A figure of every state and observable of ``result`` that is not zero throughout
    (the rules of the module docstring)."""
    model = result.model
    zero = [n for n in result.variable_names if _zero_throughout(result, n)]
    names = [n for n in result.variable_names if n not in zero] or list(result.variable_names)
    units: Mapping[str, str] = result.units
    meanings: Mapping[str, str] = {**{s.name: s.meaning for s in model.states},
                                   **{o.name: o.meaning for o in model.observables}}
    logged = {s.name for s in model.states if s.log}
    t, t_unit, factor = _time_axis(result)
    per_hour = 1.0 / to_magnitude(f"1 {model.time_unit}", "h", what="model time unit")
    ncols = min(3, len(names))
    nrows = math.ceil(len(names) / ncols)
    fig = Figure(figsize=(4.2 * ncols, 3.0 * nrows + (0.3 if zero else 0.0)),
                 layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    doses = result.dose_log.drop_duplicates("dose_id") if len(result.dose_log) else None
    for ax, name in zip(axes, names, strict=False):
        values = result[name]
        floor = result.noise_floor(name)
        log = _log_scale(values[result.ok], floor, name in logged)
        if log and name not in logged:
            signed = bool(np.any(values[np.isfinite(values)] < 0))
            values = np.where(values > (floor if signed else 0.0), values, np.nan)
        for i, row in enumerate(values):
            ax.plot(t, row, lw=1.0, alpha=1.0 if len(values) == 1 else 0.6,
                    label=f"patient {i}")
        if log:
            ax.set_yscale("log")
        if doses is not None:
            _mark_doses(ax, doses, factor, per_hour, float(t[-1]))
        ax.set_xlim(float(t[0]), float(t[-1]))
        ax.set_title(name, fontsize=10, loc="left", pad=10)
        ax.set_title(_shorten(meanings[name], 40), fontsize=7, loc="right", color="0.4", pad=10)
        ax.set_ylabel(units[name], fontsize=9)
        ax.tick_params(labelsize=8)
        ax.yaxis.get_offset_text().set_fontsize(7)
    if 1 < result.n_patients <= 10:
        axes[0].legend(fontsize=7, loc="best")
    for ax in axes[len(names):]:
        ax.set_visible(False)
    for ax in axes[max(0, len(names) - ncols):len(names)]:
        ax.set_xlabel(f"time ({t_unit})", fontsize=9)
    fig.suptitle(title or f"{model.name}: {model.title}", fontsize=11)
    if zero and len(zero) < len(result.variable_names):
        fig.supxlabel("zero throughout, not drawn: " + ", ".join(zero), fontsize=8,
                      color="0.4")
    return fig


def save_figure(fig: Figure, path: str | Path) -> Path:
    """Save ``fig`` as PNG at the resolution of every result figure."""
    fig.savefig(path, dpi=FIGURE_DPI)
    return Path(path)


def plot_result(result: SimulationResult, path: str | Path, *, title: str = "") -> Path:
    """Save :func:`result_figure` of ``result`` to ``path`` (PNG)."""
    return save_figure(result_figure(result, title=title), path)


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1].rstrip() + "\u2026"


def _mark_doses(ax: Axes, doses: pd.DataFrame, factor: float, per_hour: float,
                t_end: float) -> None:
    """Dose times as vertical lines; infusions shaded until they end (display units)."""
    for row in doses.itertuples(index=False):
        start = float(row.time) * factor
        ax.axvline(start, color="tab:red", lw=0.6, alpha=0.35)
        if row.kind == "infusion":
            end = min(start + float(row.duration_h) * per_hour * factor, t_end)
            ax.axvspan(start, end, color="tab:red", alpha=0.06, lw=0)
