"""Figures of a validation: a forest plot per published trial and a calibration plot.

Both read :attr:`il2sim.validation.run.Validation.scores`. The forest plot puts each endpoint
on a row, in clinical words, with the published value (black diamond; its 95% confidence
interval for a count, an arrow for "at least", a bar for a reported range) and the
simulated median with its 95% prediction interval (green when compatible, red when not;
grey text when the model does not simulate it). Panels are grouped by unit (%, months, doses,
...), so every axis has one unit. The calibration plot puts every scored endpoint's
observed value against its simulated median, one panel per unit, with the identity line.
Figures are drawn on an Agg canvas (no pyplot).
"""

from __future__ import annotations

import math
import textwrap

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

__all__ = ["plot_calibration", "plot_forest"]

_OK, _MISS, _OBS, _NONE = "#2a9d55", "#c0392b", "#111111", "#8a8a8a"


def _scale(unit: str) -> float:
    return 100.0 if unit == "%" else 1.0


def _row_text(row: pd.Series, single_arm: bool) -> str:
    text = row["label"] if single_arm else f"{row['label']} ({row['arm']})"
    return textwrap.shorten(text, 70, placeholder="\u2026")  # an ellipsis marks the cut


def plot_forest(scores: pd.DataFrame, trial: str) -> Figure:
    """Observed and simulated values of one trial's endpoints, one panel per unit."""
    rows = scores[scores["trial"] == trial]
    if rows.empty:
        raise ValueError(f"plot_forest: no outcomes of trial {trial!r}")
    units = list(dict.fromkeys(rows["unit"]))
    single_arm = rows["arm"].nunique() == 1
    heights = [max(1, (rows["unit"] == u).sum()) for u in units]
    fig = Figure(figsize=(10, 1.2 + 0.42 * sum(heights) + 0.6 * len(units)))
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(units), 1, squeeze=False,
                        gridspec_kw={"height_ratios": heights})[:, 0]
    for ax, unit in zip(axes, units):
        part = rows[rows["unit"] == unit].reset_index(drop=True)
        k = _scale(unit)
        finite = np.concatenate([part[c].to_numpy(float) for c in (
            "observed_lo", "observed_hi", "simulated_lo", "simulated_hi", "observed")])
        finite = finite[np.isfinite(finite)] * k
        top = float(finite.max()) if finite.size else 1.0
        right = top * 1.08 if top > 0 else 1.0
        for y, row in part.iterrows():
            y = -float(y)
            lo, hi = row["observed_lo"] * k, row["observed_hi"] * k
            if math.isinf(hi):
                ax.annotate("", xy=(right, y + 0.12), xytext=(lo, y + 0.12),
                            arrowprops={"arrowstyle": "->", "color": _OBS, "lw": 1.2})
            elif hi > lo:
                ax.plot([lo, hi], [y + 0.12] * 2, color=_OBS, lw=1.6)
            ax.plot(row["observed"] * k, y + 0.12, "D", color=_OBS, ms=6)
            if row["status"] in ("not simulated",):
                ax.text(0.01, y - 0.16, "not simulated: " + str(row["reason"]),
                        transform=ax.get_yaxis_transform(), color=_NONE, fontsize=8,
                        va="center")
                continue
            color = _OK if row["status"] == "compatible" else _MISS
            s_lo, s_hi = row["simulated_lo"] * k, min(row["simulated_hi"] * k, right)
            ax.plot([s_lo, s_hi], [y - 0.16] * 2, color=color, lw=3, alpha=0.8)
            mid = row["simulated"] * k
            if math.isinf(mid):
                ax.annotate("not reached", (right, y - 0.16), color=color, fontsize=8,
                            ha="right", va="bottom")
            elif not math.isnan(mid):
                ax.plot(mid, y - 0.16, "o", color=color, ms=6)
        ax.set_yticks([-float(i) for i in range(len(part))],
                      [_row_text(r, single_arm) for _, r in part.iterrows()], fontsize=9)
        ax.set_ylim(-len(part) + 0.4, 0.6)
        ax.set_xlim(0, right)
        ax.set_xlabel(unit if unit != "%" else "% of patients", fontsize=9)
        ax.grid(axis="x", alpha=0.3)
    title = str(rows["title"].iloc[0])
    fig.suptitle(textwrap.fill(title, 90), fontsize=11)
    handles = [
        axes[0].plot([], [], "D", color=_OBS, label="published (95% CI or range)")[0],
        axes[0].plot([], [], "o-", color=_OK, lw=3, label="simulated, compatible")[0],
        axes[0].plot([], [], "o-", color=_MISS, lw=3, label="simulated, not compatible")[0],
    ]
    fig.legend(handles=handles, loc="lower center", ncol=3, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.05, 1, 0.97))
    return fig


def plot_calibration(scores: pd.DataFrame) -> Figure:
    """Observed against simulated (median, 95% prediction interval), one panel per unit."""
    scored = scores[scores["status"].isin(["compatible", "not compatible", "not estimable"])]
    units = list(dict.fromkeys(scored["unit"])) or ["%"]
    fig = Figure(figsize=(4.2 * len(units), 4.4))
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(units), squeeze=False)[0]
    for ax, unit in zip(axes, units):
        part = scored[scored["unit"] == unit]
        k = _scale(unit)
        obs = part["observed"].to_numpy(float) * k
        sim = part["simulated"].to_numpy(float) * k
        lo, hi = part["simulated_lo"].to_numpy(float) * k, part["simulated_hi"].to_numpy(
            float) * k
        values = np.concatenate([obs, lo, hi[np.isfinite(hi)]])
        values = values[np.isfinite(values)]
        top = float(values.max()) * 1.1 if values.size and values.max() > 0 else 1.0
        ax.plot([0, top], [0, top], color="#999", lw=1, ls="--")
        ok = (part["status"] == "compatible").to_numpy()
        for mask, color, name in ((ok, _OK, "compatible"), (~ok, _MISS, "not compatible")):
            shown = np.minimum(sim[mask], top)
            ax.errorbar(obs[mask], shown, yerr=[np.maximum(shown - lo[mask], 0),
                                                np.maximum(np.minimum(hi[mask], top) - shown,
                                                           0)],
                        fmt="o", color=color, ms=5, capsize=2, lw=1, label=name)
        ax.set_xlim(0, top)
        ax.set_ylim(0, top)
        label = "% of patients" if unit == "%" else unit
        ax.set_xlabel(f"published ({label})")
        ax.set_ylabel(f"simulated ({label})")
        ax.set_title(f"{len(part)} endpoint{'s' if len(part) != 1 else ''} in {label}",
                     fontsize=10)
        ax.set_aspect("equal")
    axes[0].legend(fontsize=8, loc="upper left")
    fig.suptitle("Published against simulated, every scored endpoint", fontsize=11)
    fig.tight_layout()
    return fig
