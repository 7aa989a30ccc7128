"""Figures of a virtual trial: waterfall, swimmer, spider, Kaplan-Meier, dose delivery, toxicity.

Every function draws with matplotlib's object-oriented API on an Agg canvas (no pyplot, no
display, no global state), returns the :class:`~matplotlib.figure.Figure` and, given
``path``, saves it there (the format follows the suffix; a PNG is ``figsize * dpi`` pixels).
Single-panel figures can also draw into an existing ``ax``.

Inputs are the tables described in :mod:`il2sim.trial.statistics` (per-patient endpoints,
the scans ``patient, day, sod_mm, change_pct`` and the dose log). Response colours follow
RECIST best overall response: CR dark green, PR light green, SD blue, PD red, NE grey; the
RECIST 1.1 thresholds (-30% partial response, +20% progression; Eisenhauer et al. 2009,
Eur J Cancer 45:228) are drawn as dashed lines.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from lifelines import KaplanMeierFitter
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure, SubFigure
from matplotlib.patches import Patch
from numpy.typing import NDArray

from il2sim.trial.errors import TrialError
from il2sim.trial.statistics import (
    BOR_CATEGORIES,
    DAYS_PER_MONTH,
    DAYS_PER_YEAR,
    TREATMENT_DEATH,
    DoseDelivery,
    _durations,
    _groups,
    _require,
    dose_delivery,
    is_responder,
    recorded_toxicities,
    toxicity_table,
)

__all__ = [
    "BOR_COLORS",
    "PD_THRESHOLD_PCT",
    "PR_THRESHOLD_PCT",
    "TimeUnit",
    "spider_series",
    "figure_png",
    "plot_dose_delivery",
    "plot_km",
    "plot_spider",
    "plot_swimmer",
    "plot_toxicity",
    "plot_waterfall",
]

TimeUnit = Literal["days", "weeks", "months", "years"]
DAYS_PER_UNIT: dict[str, float] = {
    "days": 1.0, "weeks": 7.0, "months": DAYS_PER_MONTH, "years": DAYS_PER_YEAR,
}

BOR_COLORS: dict[str, str] = {
    "CR": "#1b7837", "PR": "#7fbf7b", "SD": "#4393c3", "PD": "#d6604d", "NE": "#bababa",
}
"""Bar and line colours per best overall response."""

PR_THRESHOLD_PCT = -30.0
"""RECIST 1.1 partial response: at least a 30% fall in the sum of diameters."""
PD_THRESHOLD_PCT = 20.0
"""RECIST 1.1 progression: at least a 20% rise in the sum of diameters."""

CYCLE_MAX_DOSES = 14
"""Label maximum of doses per cycle (every 8 h on days 1-5); a course is 2 cycles."""

PathLike = str | Path


# --------------------------------------------------------------------------- helpers


def _scale(time_unit: str) -> float:
    if time_unit not in DAYS_PER_UNIT:
        raise TrialError(f"time_unit must be one of {', '.join(DAYS_PER_UNIT)}, got {time_unit!r}")
    return DAYS_PER_UNIT[time_unit]


def _figure(figsize: tuple[float, float]) -> Figure:
    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _axes(ax: Axes | None, figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    """A new figure with one axes, or ``ax`` and its (root) figure."""
    if ax is None:
        fig = _figure(figsize)
        return fig, fig.add_subplot()
    parent = ax.get_figure()
    while isinstance(parent, SubFigure):
        parent = parent.get_figure()
    if not isinstance(parent, Figure):
        raise TrialError("ax does not belong to a figure")
    return parent, ax


def figure_png(fig: Figure, *, dpi: float | None = 100, tight: bool = True) -> bytes:
    """A matplotlib figure as PNG bytes, at ``dpi`` (``None``: the figure's own), cropped to
    its drawn extent when ``tight``."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight" if tight else None)
    return buffer.getvalue()


def _finish(fig: Figure, path: PathLike | None, dpi: float) -> Figure:
    if path is not None:
        fig.savefig(path, dpi=dpi)
    return fig


def _recist_lines(ax: Axes, *, pr_label_left: bool = False) -> None:
    """Dashed RECIST 1.1 thresholds (-30% PR, +20% PD), labelled at the right end (the PR
    label at the left end if ``pr_label_left``, where a waterfall's bars leave room)."""
    for y, text in ((PR_THRESHOLD_PCT, "PR -30%"), (PD_THRESHOLD_PCT, "PD +20%")):
        ax.axhline(y, color="0.25", linestyle="--", linewidth=0.9, gid="recist", zorder=3)
        left = pr_label_left and y < 0
        ax.annotate(text, xy=(0.0 if left else 1.0, y), xycoords=("axes fraction", "data"),
                    xytext=(3 if left else -3, -2 if left else 2), textcoords="offset points",
                    ha="left" if left else "right", va="top" if left else "bottom",
                    fontsize=8, color="0.25", zorder=5,
                    bbox=dict(boxstyle="square,pad=0.1", facecolor="white", edgecolor="none",
                              alpha=0.8))


def _bor_legend(ax: Axes, present: Sequence[str], **kwargs: Any) -> None:
    handles = [Patch(facecolor=BOR_COLORS[b], label=b) for b in BOR_CATEGORIES if b in present]
    ax.legend(handles=handles, title="best response", fontsize=8, title_fontsize=8, **kwargs)


# --------------------------------------------------------------------------- waterfall


def plot_waterfall(endpoints: pd.DataFrame, *, clip_pct: float = 100.0, title: str | None = None,
                   ax: Axes | None = None, path: PathLike | None = None,
                   figsize: tuple[float, float] = (9.0, 4.5), dpi: float = 120) -> Figure:
    """Waterfall plot: one bar per patient of the best % change of the sum of diameters.

    Bars are sorted from largest growth to largest shrinkage and coloured by best overall
    response; patients without a measured change (``NaN``) are left out. Bars above
    ``clip_pct`` are cut there and labelled with their value.

    Main arguments:
        endpoints: per-patient endpoints; uses ``bor`` and ``best_change_pct``.

    Other arguments:
        clip_pct: upper limit of the axis (%); title, ax, path, figsize, dpi: as usual.

    Raises:
        ValueError: a missing column.
    """
    _require(endpoints, ["bor", "best_change_pct"], "plot_waterfall")
    data = endpoints[np.isfinite(pd.to_numeric(endpoints["best_change_pct"], errors="coerce"))]
    data = data.sort_values("best_change_pct", ascending=False, kind="stable")
    change = data["best_change_pct"].to_numpy(dtype=float)
    bor = data["bor"].astype(str).to_numpy()
    fig, ax = _axes(ax, figsize)
    x = np.arange(len(change))
    ax.bar(x, np.clip(change, -100.0, clip_pct), width=0.85 if len(x) < 60 else 1.0,
           color=[BOR_COLORS.get(b, BOR_COLORS["NE"]) for b in bor], linewidth=0, zorder=2)
    cut = change > clip_pct
    if len(x) <= 60:
        for xi, v in zip(x[cut], change[cut]):
            ax.annotate(f"{v:.0f}", xy=(xi, clip_pct), xytext=(0, 2),
                        textcoords="offset points", ha="center", va="bottom", fontsize=6,
                        rotation=90)
    elif cut.any():
        ax.annotate(f"{int(cut.sum())} bars cut at +{clip_pct:g}%", xy=(0.0, clip_pct),
                    xycoords=("axes fraction", "data"), xytext=(3, 2),
                    textcoords="offset points", ha="left", va="bottom", fontsize=7)
    _recist_lines(ax, pr_label_left=True)
    ax.axhline(0.0, color="black", linewidth=0.6, zorder=3)
    ax.set_xlim(-1, max(len(x), 1))
    ax.set_ylim(-105, clip_pct + 12)
    ax.set_xticks([])
    ax.set_xlabel(f"patients with a measured change ({len(x)} of {len(endpoints)})")
    ax.set_ylabel("best change in sum of diameters (%)")
    ax.grid(axis="y", color="0.9", zorder=0)
    n_resp = int(is_responder(bor).sum())
    orr = 100.0 * n_resp / len(endpoints)
    ax.set_title(title if title is not None else
                 f"Best change from baseline (n = {len(endpoints)}, ORR {orr:.0f}%)")
    _bor_legend(ax, sorted(set(bor)), loc="lower left")
    return _finish(fig, path, dpi)


# --------------------------------------------------------------------------- swimmer


def plot_swimmer(endpoints: pd.DataFrame, *, responders_only: bool = False,
                 time_unit: TimeUnit = "months", title: str | None = None,
                 ax: Axes | None = None, path: PathLike | None = None,
                 figsize: tuple[float, float] | None = None, dpi: float = 120) -> Figure:
    """Swimmer plot: one bar per patient up to the last follow-up (``os_d``).

    Responders (CR, PR) are on top, each block sorted by follow-up, longest first. Bars are
    coloured by best overall response; markers show the start of response
    (``time_to_response_d``), progression (a PFS event before death), death from disease or
    from treatment, and an arrow for patients alive at last follow-up.

    Main arguments:
        endpoints: per-patient endpoints; uses ``patient``, ``bor``, ``time_to_response_d``,
            ``pfs_d``, ``pfs_event``, ``os_d``, ``os_event``, ``death_cause``.

    Other arguments:
        responders_only: draw CR and PR patients only (advisable for large trials).
        time_unit: unit of the time axis; figsize: default grows with the number of patients.

    Raises:
        ValueError: a missing column or missing follow-up times.
    """
    what = "plot_swimmer"
    cols = ["patient", "bor", "time_to_response_d", "pfs_d", "pfs_event", "os_d", "os_event",
            "death_cause"]
    _require(endpoints, cols, what)
    scale = _scale(time_unit)
    data = endpoints
    responder = is_responder(data["bor"])
    if responders_only:
        data = data[responder]
        responder = responder[responder]
    order = data.assign(_r=~responder.to_numpy(), _f=-data["os_d"]).sort_values(
        ["_r", "_f"], kind="stable")
    n = len(order)
    if figsize is None:
        figsize = (9.0, min(20.0, max(3.5, 0.16 * n + 1.6)))
    fig, ax = _axes(ax, figsize)
    if n == 0:
        ax.text(0.5, 0.5, "no patients", ha="center", va="center", transform=ax.transAxes)
        return _finish(fig, path, dpi)
    os_t, os_e = _durations(order, "os_d", "os_event", what)
    pfs_t, pfs_e = _durations(order, "pfs_d", "pfs_event", what)
    y = np.arange(n)[::-1].astype(float)
    bor = order["bor"].astype(str).to_numpy()
    ax.barh(y, os_t / scale, height=0.7, color=[BOR_COLORS.get(b, "0.7") for b in bor],
            linewidth=0, zorder=2)
    resp_t = pd.to_numeric(order["time_to_response_d"], errors="coerce").to_numpy(dtype=float)
    progression = pfs_e & ~(os_e & (pfs_t >= os_t))
    cause = order["death_cause"].fillna("").astype(str).to_numpy()
    x_max = float(os_t.max()) / scale
    arrow = 0.012 * x_max
    marks = [
        ("response", np.isfinite(resp_t), resp_t, dict(marker="o", mfc="white", mec="black")),
        ("progression", progression, pfs_t, dict(marker="D", mfc="#b2182b", mec="#b2182b")),
        ("death (disease)", os_e & (cause != "treatment"), os_t,
         dict(marker="x", mec="black", mew=1.5)),
        ("death (treatment)", os_e & (cause == "treatment"), os_t,
         dict(marker="X", mfc="#762a83", mec="#762a83")),
        ("alive at last follow-up", ~os_e, os_t + arrow * scale,
         dict(marker=">", mfc="0.3", mec="0.3")),
    ]
    handles = []
    for label, sel, t, style in marks:
        (line,) = ax.plot(t[sel] / scale, y[sel], linestyle="none", ms=5 if n < 60 else 3.5,
                          label=label, gid=label, zorder=4, **style)  # type: ignore[arg-type]
        if sel.any():
            handles.append(line)
    ax.set_ylim(-0.8, n - 0.2)
    ax.set_xlim(0, x_max * 1.05)
    if n <= 50:
        ax.set_yticks(y, [str(p) for p in order["patient"]], fontsize=7)
        ax.set_ylabel("patient")
    else:
        ax.set_yticks([])
        ax.set_ylabel(f"patients (n = {n})")
    ax.set_xlabel(f"time since start of treatment ({time_unit})")
    ax.grid(axis="x", color="0.9", zorder=0)
    bor_handles = [Patch(facecolor=BOR_COLORS[b], label=b) for b in BOR_CATEGORIES
                   if b in set(bor)]
    ax.legend(handles=[*bor_handles, *handles], fontsize=8, loc="lower right", framealpha=0.9)
    n_resp = int(is_responder(bor).sum())
    default = (f"Swimmer plot ({n} responders)" if responders_only else
               f"Swimmer plot ({n} patients, {n_resp} responder{'' if n_resp == 1 else 's'})")
    ax.set_title(title if title is not None else default)
    return _finish(fig, path, dpi)


# --------------------------------------------------------------------------- spider


def spider_series(scans: pd.DataFrame) -> list[tuple[Any, NDArray[np.float64],
                                                   NDArray[np.float64]]]:
    """Per patient (sorted by id): scan days and % change of the sum of diameters, scans
    without a number dropped, starting at (day 0, 0%) -- the lines of a spider plot."""
    out = []
    for patient, rows in scans.groupby("patient", sort=True):
        rows = rows.sort_values("day")
        day = rows["day"].to_numpy(dtype=float)
        change = pd.to_numeric(rows["change_pct"], errors="coerce").to_numpy(dtype=float)
        ok = np.isfinite(day) & np.isfinite(change)
        day, change = day[ok], change[ok]
        if len(day) == 0 or day[0] > 0.0:
            day, change = np.r_[0.0, day], np.r_[0.0, change]
        out.append((patient, day, change))
    return out


def plot_spider(scans: pd.DataFrame, endpoints: pd.DataFrame | None = None, *,
                time_unit: TimeUnit = "months", clip_pct: float = 100.0,
                title: str | None = None, ax: Axes | None = None,
                path: PathLike | None = None, figsize: tuple[float, float] = (8.0, 5.0),
                dpi: float = 120) -> Figure:
    """Spider plot: % change of the sum of diameters from baseline over time, one line per patient.

    Each line starts at (0, 0%), the baseline, when the patient's first scan is after day 0.
    Lines are coloured by best overall response when ``endpoints`` is given; values above
    ``clip_pct`` are cut there. Each patient's line has ``gid = "patient <id>"``.

    Main arguments:
        scans: ``patient``, ``day``, ``change_pct``.
        endpoints: optional per-patient endpoints (``patient``, ``bor``) for the colours.

    Raises:
        ValueError: a missing column.
    """
    _require(scans, ["patient", "day", "change_pct"], "plot_spider")
    colours: dict[Any, str] = {}
    present: list[str] = []
    if endpoints is not None:
        _require(endpoints, ["patient", "bor"], "plot_spider (endpoints)")
        bor_of = dict(zip(endpoints["patient"], endpoints["bor"].astype(str)))
        colours = {p: BOR_COLORS.get(b, "0.6") for p, b in bor_of.items()}
    default_colour = "C0" if endpoints is None else BOR_COLORS["NE"]
    scale = _scale(time_unit)
    fig, ax = _axes(ax, figsize)
    groups = spider_series(scans)
    lw, alpha = (1.2, 0.9) if len(groups) <= 40 else (0.7, 0.6)
    t_max = 0.0
    for patient, day, change in groups:
        t_max = max(t_max, float(day.max()) / scale)
        ax.plot(day / scale, np.minimum(change, clip_pct), marker="o", ms=2.5, lw=lw,
                alpha=alpha, color=colours.get(patient, default_colour), gid=f"patient {patient}",
                zorder=2)
        if endpoints is not None:
            present.append(bor_of.get(patient, "NE"))
    _recist_lines(ax)
    ax.axhline(0.0, color="black", linewidth=0.6, zorder=3)
    ax.set_ylim(-105, clip_pct + 5)
    ax.set_xlim(0, t_max * 1.02 if t_max > 0 else 1.0)
    ax.set_xlabel(f"time since start of treatment ({time_unit})")
    ax.set_ylabel("change in sum of diameters (%)")
    ax.grid(color="0.92", zorder=0)
    if endpoints is not None:
        _bor_legend(ax, sorted(set(present)), loc="upper right")
    ax.set_title(title if title is not None else
                 f"Change from baseline over time ({len(groups)} patients)")
    return _finish(fig, path, dpi)


# --------------------------------------------------------------------------- Kaplan-Meier

KM_ENDPOINTS: dict[str, tuple[str, str, str]] = {
    "os": ("os_d", "os_event", "Overall survival"),
    "pfs": ("pfs_d", "pfs_event", "Progression-free survival"),
}


def plot_km(endpoints: pd.DataFrame, *, by: str | None = "arm",
            kinds: Sequence[str] = ("os", "pfs"), time_unit: TimeUnit = "months",
            confidence: float = 0.95, at_risk: bool = True, title: str | None = None,
            path: PathLike | None = None, figsize: tuple[float, float] | None = None,
            dpi: float = 120) -> Figure:
    """Kaplan-Meier curves, one panel per endpoint (OS, PFS), one curve per group.

    Each curve is a post-step line (``gid = "km <group>"``) with its pointwise confidence
    band (exponential Greenwood) and ticks at censoring times (``gid = "censor <group>"``);
    under each panel a table gives the number at risk at the x ticks.

    Main arguments:
        endpoints: per-patient endpoints with ``os_d, os_event`` and/or ``pfs_d, pfs_event``.
        by: grouping column, or ``None`` for one curve of all patients.

    Other arguments:
        kinds: panels among ``"os"`` and ``"pfs"``; confidence: level of the bands;
        at_risk: draw the numbers at risk.

    Raises:
        ValueError: an unknown kind, a missing column, missing durations or events.
    """
    what = "plot_km"
    unknown = [k for k in kinds if k not in KM_ENDPOINTS]
    if unknown or not kinds:
        raise TrialError(f"{what}: kinds must be among {', '.join(KM_ENDPOINTS)}, got {kinds!r}")
    _require(endpoints, [c for k in kinds for c in KM_ENDPOINTS[k][:2]], what)
    scale = _scale(time_unit)
    groups = _groups(endpoints, by, what)
    if figsize is None:
        figsize = (5.2 * len(kinds), 4.4 + (0.22 * len(groups) + 0.3 if at_risk else 0.0))
    fig = _figure(figsize)
    ratios = [4.0, 0.3 + 0.25 * len(groups)] if at_risk else [1.0]
    grid = fig.add_gridspec(len(ratios), len(kinds), height_ratios=ratios)
    for j, kind in enumerate(kinds):
        time, event, label = KM_ENDPOINTS[kind]
        ax = fig.add_subplot(grid[0, j])
        counts: list[tuple[str, str, np.ndarray[Any, np.dtype[np.float64]]]] = []
        for i, (group, rows) in enumerate(groups):
            t, e = _durations(rows, time, event, what)
            colour = f"C{i % 10}"
            kmf = KaplanMeierFitter(alpha=1.0 - confidence).fit(t / scale, event_observed=e)
            sf = kmf.survival_function_.iloc[:, 0]
            band = kmf.confidence_interval_survival_function_
            ax.step(sf.index, sf.to_numpy(), where="post", color=colour, lw=1.6,
                    label=f"{_short(str(group))} (n = {len(t)})", gid=f"km {group}")
            ax.fill_between(band.index, band.iloc[:, 0], band.iloc[:, 1], step="post",
                            color=colour, alpha=0.15, linewidth=0)
            tc = np.sort(t[~e]) / scale
            ax.plot(tc, kmf.survival_function_at_times(tc).to_numpy(), linestyle="none",
                    marker="|", ms=7, mew=1.0, color=colour, gid=f"censor {group}")
            counts.append((str(group), colour, t / scale))
        ax.set_ylim(0.0, 1.03)
        ax.set_xlim(left=0.0)
        ax.set_ylabel("probability")
        ax.set_title(label)
        ax.grid(color="0.92")
        ax.legend(fontsize=8, loc="upper right")
        if at_risk:
            _at_risk_table(fig.add_subplot(grid[1, j], sharex=ax), ax, counts)
            ax.tick_params(labelbottom=True)
        ax.set_xlabel(f"time ({time_unit})")
    if title is not None:
        fig.suptitle(title)
    return _finish(fig, path, dpi)


def _short(label: str, width: int = 24) -> str:
    """A group label short enough not to squeeze the plot ("..." when cut)."""
    return label if len(label) <= width else label[: width - 3].rstrip() + "..."


def _at_risk_table(table: Axes, ax: Axes,
                   counts: Sequence[tuple[str, str, np.ndarray[Any, np.dtype[np.float64]]]]
                   ) -> None:
    """Numbers at risk (durations ``>= tick``) at the x ticks of ``ax``, one row per group."""
    lo, hi = ax.get_xlim()
    ticks = [float(x) for x in ax.get_xticks() if lo - 1e-9 <= x <= hi + 1e-9]
    ax.set_xticks(ticks)
    ax.set_xlim(lo, hi)
    n = len(counts)
    for row, (_, colour, t) in enumerate(counts):
        for x in ticks:
            table.text(x, n - 1 - row, str(int(np.sum(t >= x))), ha="center", va="center",
                       fontsize=8, color=colour, gid="at risk")
    table.set_ylim(-0.6, n - 0.4)
    table.set_yticks(range(n)[::-1], [_short(name) for name, _, _ in counts], fontsize=8)
    for tick, (_, colour, _) in zip(table.get_yticklabels(), counts):
        tick.set_color(colour)
    table.tick_params(axis="both", length=0, labelbottom=False)
    table.tick_params(axis="y", pad=14)
    for spine in table.spines.values():
        spine.set_visible(False)
    table.set_title("number at risk", fontsize=8, loc="left")


# --------------------------------------------------------------------------- dose delivery


def plot_dose_delivery(doses: pd.DataFrame | DoseDelivery, *, per: str = "course",
                       maxima: Sequence[int] | None = None, title: str | None = None,
                       ax: Axes | None = None, path: PathLike | None = None,
                       figsize: tuple[float, float] = (7.5, 4.2), dpi: float = 120) -> Figure:
    """Histogram of the doses given per course (or cycle), with the label maxima marked.

    One bar per dose count 0..max (courses a patient started; see
    :func:`~il2sim.trial.statistics.dose_delivery`); dashed lines mark ``maxima``, by default
    the 14-dose cycle maximum (and the 28-dose course maximum when ``per="course"``); the
    most frequent reasons for held doses are listed in a box.

    Main arguments:
        doses: the dose log (``patient``, ``course``, ``cycle`` if per cycle, ``status``,
            ``reason``), or its :class:`~il2sim.trial.statistics.DoseDelivery` per ``per``.

    Other arguments:
        per: ``"course"`` or ``"cycle"``; maxima: dose counts to mark.

    Raises:
        ValueError: a missing column or a bad status.
    """
    dd = doses if isinstance(doses, DoseDelivery) else dose_delivery(doses, per=per)
    given = dd.given.to_numpy(dtype=int)
    if maxima is None:
        maxima = (CYCLE_MAX_DOSES,) if per == "cycle" else (CYCLE_MAX_DOSES, 2 * CYCLE_MAX_DOSES)
    top = max([*maxima, int(given.max()) if len(given) else 0])
    k = np.arange(top + 1)
    freq = np.bincount(given, minlength=top + 1)[: top + 1] if len(given) else np.zeros_like(k)
    fig, ax = _axes(ax, figsize)
    ax.bar(k, freq, width=0.8, color="#4393c3", zorder=2)
    names = {CYCLE_MAX_DOSES: "cycle maximum", 2 * CYCLE_MAX_DOSES: "course maximum"}
    for m, style in zip(maxima, ("--", ":", "-.", (0, (5, 1)))):
        ax.axvline(m + 0.5, color="#b2182b", linestyle=style, linewidth=1.2, gid="maximum",
                   label=f"{names.get(m, 'maximum')} ({m} doses)")
    ax.set_xlim(-0.7, top + 1.2)
    ax.set_ylim(0, max(1.0, float(freq.max())) * 1.35)  # headroom for the boxes
    ax.set_xticks(k[:: 2 if top > 16 else 1])
    ax.set_xlabel(f"doses given per {per}")
    ax.set_ylabel(f"{per}s")
    ax.grid(axis="y", color="0.9", zorder=0)
    ax.legend(fontsize=8, loc="upper right", framealpha=0.95)
    lines = [f"held: {dd.n_held} of {dd.n_listed} doses ({100 * dd.held_fraction:.0f}%)"]
    for reason, row in dd.reasons.head(4).iterrows():
        text = str(reason) if len(str(reason)) <= 40 else str(reason)[:39] + "..."
        lines.append(f"  {text}: {int(row['n'])}")
    ax.text(0.015, 0.97, "\n".join(lines), transform=ax.transAxes, ha="left", va="top",
            fontsize=7.5, bbox=dict(boxstyle="round", facecolor="white", edgecolor="0.7"))
    median = float(np.median(given)) if len(given) else math.nan
    ax.set_title(title if title is not None else
                 f"Doses given per {per} ({len(given)} {per}s, median {median:g})")
    return _finish(fig, path, dpi)


# --------------------------------------------------------------------------- toxicity


def plot_toxicity(endpoints: pd.DataFrame, *, toxicities: Sequence[str] | None = None,
                  reference: Mapping[str, float] | None = None, title: str | None = None,
                  ax: Axes | None = None, path: PathLike | None = None,
                  figsize: tuple[float, float] = (7.5, 4.5), dpi: float = 120) -> Figure:
    """Bar chart of the % of patients with each toxicity, any grade and grade 3-4.

    Two horizontal bars per toxicity (``gid`` ``"any grade"`` and ``"grade 3-4"`` on the
    bar containers' patches), labelled with their %; optional ``reference`` any-grade
    fractions (e.g. the Proleukin label's 525 patients, adverse reactions: hypotension 0.71,
    oliguria 0.63, confusion 0.34, creatinine rise 0.33, weight gain 0.16) as diamonds.
    The title gives the treatment-related deaths.

    Main arguments:
        endpoints: per-patient endpoints (``tox_<name>_grade``, ``death_cause``).

    Other arguments:
        toxicities: names to show, top to bottom (default: every one the run recorded,
            :func:`~il2sim.trial.statistics.recorded_toxicities`); reference: any-grade
            fractions by name.

    Raises:
        ValueError: as :func:`~il2sim.trial.statistics.toxicity_table`.
    """
    tab = toxicity_table(endpoints, toxicities=(
        recorded_toxicities(endpoints) if toxicities is None else toxicities))
    rows = tab.drop(index=TREATMENT_DEATH)
    k = len(rows)
    fig, ax = _axes(ax, figsize)
    y = np.arange(k, dtype=float)
    h = 0.38
    for offset, col, label, colour in ((-h / 2, "any_grade", "any grade", "#fdae61"),
                                       (h / 2, "grade3_4", "grade 3-4", "#d7191c")):
        pct = 100.0 * rows[col].to_numpy(dtype=float)
        container = ax.barh(y + offset, pct, height=h, color=colour, label=label, zorder=2)
        for patch in container.patches:
            patch.set_gid(label)
        ax.bar_label(container, labels=[f"{v:.0f}%" for v in pct], padding=2, fontsize=7.5)
    if reference:
        ref = [(i, 100.0 * reference[name]) for i, name in enumerate(rows.index)
               if name in reference]
        if ref:
            yi, xv = zip(*ref)
            ax.plot(xv, np.asarray(yi) - h / 2, linestyle="none", marker="D", ms=6,
                    mfc="white", mec="black", label="reference (any grade)", gid="reference",
                    zorder=4)
    ax.set_yticks(y, [str(name).replace("_", " ") for name in rows.index])
    ax.invert_yaxis()
    ax.set_xlim(0, 112)
    ax.set_xlabel(f"patients (%, n = {int(tab['n'].iloc[0])})")
    ax.grid(axis="x", color="0.9", zorder=0)
    ax.legend(fontsize=8, loc="lower right")
    deaths = 100.0 * float(tab.loc[TREATMENT_DEATH, "any_grade"])
    ax.set_title(title if title is not None else
                 f"Toxicity (treatment-related deaths {deaths:.1f}%)")
    return _finish(fig, path, dpi)
