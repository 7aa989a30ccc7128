"""The Pareto plot: efficacy against toxicity per candidate, with intervals and the front."""

from __future__ import annotations

from os import PathLike
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from numpy.typing import NDArray

from il2sim.analysis.optimize.display import display_scale
from il2sim.analysis.optimize.metrics import METRIC_NAMES
from il2sim.analysis.optimize.pareto import pareto_front

__all__ = ["OFF_SCALE", "plot_pareto"]

OFF_SCALE = 2.0
"""A toxicity ceiling more than this many times the candidates' largest toxicity (upper
interval) is named in a corner instead of drawn, so the candidates keep the width of the
plot."""

def plot_pareto(frame: pd.DataFrame, path: str | PathLike[str] | None = None, *,
                efficacy: str = "orr", toxicity: str = "hypotension",
                max_toxicity: float | None = None, title: str | None = None,
                figsize: tuple[float, float] = (6.5, 5.0), dpi: float = 120) -> Figure:
    """Efficacy against toxicity per candidate, with confidence intervals and the front.

    Error bars are the intervals ``x_lo``/``x_hi`` when present (Clopper-Pearson for
    rates, bootstrap percentiles otherwise), else +-1 bootstrap SE (``x_se``). Rates are
    drawn in %, ``dor_median`` in months (a median not reached above the others). The
    front (computed if ``frame`` has no ``pareto`` column) is joined by a step line; the
    label regimen is annotated.

    Returns:
        the figure; saved to ``path`` when given (format from the suffix).
    """
    if "pareto" not in frame.columns:
        frame = pareto_front(frame, efficacy, toxicity)
    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    ax: Axes = fig.add_subplot()
    (fx, xunit), (fy, yunit) = display_scale(toxicity), display_scale(efficacy)
    x, y = fx * frame[toxicity].to_numpy(float), fy * frame[efficacy].to_numpy(float)
    xerr, yerr = _err(frame, toxicity), _err(frame, efficacy)
    xerr = None if xerr is None else np.nan_to_num(fx * xerr, posinf=0.0)
    yerr = None if yerr is None else np.nan_to_num(fy * yerr, posinf=0.0)
    not_reached = np.isposinf(y)
    if not_reached.any():  # a median not reached: drawn above the largest finite value
        top = np.nanmax(np.where(np.isfinite(y), y, np.nan)) if np.isfinite(y).any() else 1.0
        y = np.where(not_reached, 1.1 * top + 1e-9, y)
        if yerr is not None:
            yerr[:, not_reached] = 0.0
        ax.axhline(1.1 * top + 1e-9, color="grey", linestyle=":", linewidth=0.8,
                   label="not reached")
    front = frame["pareto"].to_numpy(bool)
    for mask, style in ((~front, {"color": "tab:grey", "alpha": 0.6, "label": "dominated"}),
                        (front, {"color": "tab:red", "label": "Pareto front"})):
        if mask.any():
            ax.errorbar(x[mask], y[mask],
                        xerr=None if xerr is None else xerr[:, mask],
                        yerr=None if yerr is None else yerr[:, mask],
                        fmt="o", markersize=5, elinewidth=0.7, capsize=2, **style)
    if front.any():
        order = np.argsort(x[front], kind="stable")
        ax.step(x[front][order], y[front][order], where="post", color="tab:red",
                linewidth=1.0)
    if "is_label" in frame.columns and frame["is_label"].any():
        i = int(np.flatnonzero(frame["is_label"].to_numpy(bool))[0])
        ax.plot(x[i], y[i], marker="*", markersize=14, color="tab:blue",
                linestyle="none", label="label regimen")
        ax.annotate("label", (x[i], y[i]), xytext=(8, -12),
                    textcoords="offset points", color="tab:blue")
    if max_toxicity is not None:
        ceiling = fx * max_toxicity
        reach = x + (xerr[1] if xerr is not None else 0.0)
        right = float(np.nanmax(reach)) if np.isfinite(reach).any() else ceiling
        if right <= 0 or ceiling <= OFF_SCALE * right:
            ax.axvline(ceiling, color="black", linestyle="--", linewidth=0.8,
                       label="toxicity ceiling")
        else:  # far right of every candidate: named, not drawn, so they are not squeezed
            ax.annotate(f"toxicity ceiling {ceiling:g} {xunit} (off scale) \u2192",
                        xy=(0.99, 0.02), xycoords="axes fraction", ha="right",
                        fontsize="small")
    xname, yname = (METRIC_NAMES.get(m, m) for m in (toxicity, efficacy))
    ax.set(xlabel=f"{xname} ({xunit})", ylabel=f"{yname} ({yunit})",
           title=title or f"{yname} vs {xname}: {len(frame)} regimens")
    ax.legend(loc="best", frameon=False, fontsize="small")
    if path is not None:
        fig.savefig(Path(path), dpi=dpi)
    return fig


def _err(frame: pd.DataFrame, col: str) -> NDArray[np.float64] | None:
    """Asymmetric error bars (2, n) from ``col_lo``/``col_hi``, else ``col_se``, else None."""
    v = frame[col].to_numpy(float)
    if f"{col}_lo" in frame.columns and f"{col}_hi" in frame.columns:
        lo, hi = frame[f"{col}_lo"].to_numpy(float), frame[f"{col}_hi"].to_numpy(float)
        return np.vstack([np.maximum(v - lo, 0.0), np.maximum(hi - v, 0.0)])
    if f"{col}_se" in frame.columns:
        se = np.nan_to_num(frame[f"{col}_se"].to_numpy(float))
        return np.vstack([se, se])
    return None
