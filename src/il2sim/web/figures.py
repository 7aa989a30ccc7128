"""A stored trial's standard figures as interactive Plotly figures, for the web app.

The same figures as the PNG files (:data:`il2sim.trial.outputs.TRIAL_FIGURES`, drawn by
:mod:`il2sim.trial.plots`) from the same data (:class:`~il2sim.trial.stored.StoredTrial`),
built with Plotly (the library of the scenario page) and sent as JSON that the page hands to
``Plotly.newPlot``: hover shows each patient's numbers, legends are never cut, and the
numbers at risk under the Kaplan-Meier curves are a readable table of their own.

Kaplan-Meier: :class:`lifelines.KaplanMeierFitter` with its exponential-Greenwood band, as
in :func:`~il2sim.trial.plots.plot_km`; the number at risk at time t counts the durations
``>= t``.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from lifelines import KaplanMeierFitter
from plotly.subplots import make_subplots

from il2sim.trial.hiv import CD4_AXES, cd4_series, cd4_title
from il2sim.trial.outputs import LABEL_TOXICITY
from il2sim.trial.plots import (
    BOR_COLORS,
    CYCLE_MAX_DOSES,
    KM_ENDPOINTS,
    PD_THRESHOLD_PCT,
    PR_THRESHOLD_PCT,
    spider_series,
)
from il2sim.trial.statistics import (
    BOR_CATEGORIES,
    DAYS_PER_MONTH,
    TREATMENT_DEATH,
    DoseDelivery,
    is_responder,
    recorded_toxicities,
    toxicity_table,
)
from il2sim.trial.stored import StoredTrial

__all__ = ["COLOURS", "cd4_figure", "km_figure", "trial_figures"]

COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf")
"""Group colours (matplotlib's, as on the PNG figures)."""
Figure = dict[str, Any]
"""A Plotly figure as JSON: ``{"data": [...], "layout": {...}}``."""


def trial_figures(trial: StoredTrial) -> dict[str, Figure]:
    """The standard figures of a stored (tumour) trial, by the names of the PNG figures."""
    n, k = len(trial.endpoints), len(trial.shown)
    subset = f" ({k:,} drawn at random of {n:,})" if k < n else ""
    return {
        "kaplan_meier": km_figure(trial.endpoints),
        "waterfall": _waterfall(trial.shown, n, subset),
        "swimmer": _swimmer(trial.shown, subset),
        "spider": _spider(trial.scans, trial.shown, subset),
        "dose_delivery": _dose_delivery(trial.delivery),
        "toxicity": _toxicity(trial.endpoints),
    }


def _json(fig: go.Figure) -> Figure:
    """Plain JSON lists (not Plotly's base64 typed arrays): readable by any API client."""
    out: Figure = json.loads(json.dumps(_plain(fig.to_plotly_json())))
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, dict) and "bdata" in value and "dtype" in value:  # a typed array
        array = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
        if "shape" in value:
            array = array.reshape([int(n) for n in str(value["shape"]).split(",")])
        return _plain(array)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray, pd.Index, pd.Series)):
        return [_plain(v) for v in value]
    if isinstance(value, (np.integer, np.bool_)):
        return value.item()
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value


def _layout(fig: go.Figure, title: str, height: int, **more: Any) -> None:
    settings: dict[str, Any] = {
        "title": {"text": title, "font": {"size": 15}}, "height": height,
        "template": "plotly_white", "margin": {"l": 70, "r": 80, "t": 60, "b": 50},
        "legend": {"orientation": "h", "y": -0.2, "yanchor": "top", "x": 0}}
    fig.update_layout(**{**settings, **more})


def _recist(fig: go.Figure, **where: Any) -> None:
    for y, text in ((PR_THRESHOLD_PCT, "PR -30%"), (PD_THRESHOLD_PCT, "PD +20%")):
        fig.add_hline(y=y, line={"dash": "dash", "color": "#555", "width": 1},
                      annotation_text=text, annotation_position="right", **where)


# ----------------------------------------------------------------- Kaplan-Meier

def km_figure(endpoints: pd.DataFrame, by: str | None = None) -> Figure:
    """Overall and progression-free survival, one above the other (readable on a phone),
    one curve per ``by`` group (all patients when ``None``), each with its 95% band and
    censoring ticks, and under each panel the numbers at risk at the x ticks."""
    groups = [("all patients", endpoints)] if by is None else \
        [(str(g), rows) for g, rows in endpoints.groupby(by, sort=False)]
    kinds = [k for k, (t, e, _) in KM_ENDPOINTS.items() if t in endpoints and e in endpoints]
    n = len(groups)
    months = {(kind, group): _months(frame, KM_ENDPOINTS[kind][0], KM_ENDPOINTS[kind][1])
              for kind in kinds for group, frame in groups}
    top = max([float(t.max()) for t, _ in months.values() if len(t)] or [0.0])
    ticks = _ticks(top)
    table = 0.06 + 0.035 * n  # height of a numbers-at-risk table, per panel
    heights = [h for _ in kinds for h in (1.0, table)]
    fig = make_subplots(rows=2 * len(kinds), cols=1, shared_xaxes=True, row_heights=heights,
                        vertical_spacing=0.045,
                        subplot_titles=[t for k in kinds for t in (KM_ENDPOINTS[k][2], "")])
    for j, kind in enumerate(kinds):
        row = 2 * j + 1
        label = KM_ENDPOINTS[kind][2]
        for i, (group, _) in enumerate(groups):
            t, e = months[(kind, group)]
            if len(t) == 0:
                continue
            colour = COLOURS[i % len(COLOURS)]
            kmf = KaplanMeierFitter(alpha=0.05).fit(t, event_observed=e)
            sf = kmf.survival_function_.iloc[:, 0]
            band = kmf.confidence_interval_survival_function_
            name = f"{group} (n = {len(t)})"
            for b, fill in ((1, None), (0, "tonexty")):
                fig.add_trace(go.Scatter(
                    x=band.index, y=band.iloc[:, b], mode="lines",
                    line={"shape": "hv", "width": 0},
                    fill=fill, fillcolor=_alpha(colour, 0.15), hoverinfo="skip",
                    showlegend=False, legendgroup=name), row=row, col=1)
            fig.add_trace(go.Scatter(
                x=sf.index, y=sf.to_numpy(), mode="lines", name=name, legendgroup=name,
                showlegend=j == 0,
                line={"shape": "hv", "color": colour, "width": 2},
                hovertemplate=f"{label}, {group}<br>%{{x:.1f}} months: %{{y:.1%}}"
                              "<extra></extra>"), row=row, col=1)
            censored = np.sort(t[~e])
            fig.add_trace(go.Scatter(
                x=censored, y=kmf.survival_function_at_times(censored).to_numpy(),
                mode="markers", marker={"symbol": "line-ns-open", "size": 9, "color": colour},
                name="censored", legendgroup=name, showlegend=False,
                hovertemplate="censored at %{x:.1f} months<extra></extra>"), row=row, col=1)
            fig.add_trace(go.Scatter(  # numbers at risk: durations >= each tick
                x=ticks, y=[n - 1 - i] * len(ticks), mode="text",
                text=[str(int(np.sum(t >= x))) for x in ticks],
                textfont={"size": 13, "color": colour}, name=f"at risk: {group}",
                showlegend=False, cliponaxis=False,
                hovertemplate=f"{group}: %{{text}} at risk at %{{x:g}} months<extra></extra>"),
                row=row + 1, col=1)
        fig.update_yaxes(range=[0, 1.03], title_text="probability", tickformat=".0%",
                         row=row, col=1)
        fig.update_yaxes(range=[-0.6, n - 0.4], tickvals=list(range(n))[::-1],
                         ticktext=[_cut(g, 32) for g, _ in groups], showgrid=False,
                         zeroline=False, automargin=True, row=row + 1, col=1)
        fig.update_xaxes(tickvals=ticks, showticklabels=True, title_text="months",
                         title_standoff=2, row=row, col=1)
        fig.update_xaxes(showticklabels=False, showgrid=False, row=row + 1, col=1)
        domain = fig.get_subplot(row + 1, 1).yaxis.domain
        # over the group names, left of the axes: clear of the x title on a narrow page
        fig.add_annotation(text="number at risk", xref="paper", yref="paper", x=0,
                           y=domain[1], yanchor="bottom", xanchor="right", showarrow=False,
                           font={"size": 12})
    fig.update_xaxes(range=[-0.03 * ticks[-1], ticks[-1] * 1.03])
    _layout(fig, "Survival (Kaplan-Meier, 95% band)", 250 + len(kinds) * (330 + 26 * n),
            legend={"orientation": "h", "y": -0.04, "yanchor": "top", "x": 0},
            margin={"l": 110, "r": 30, "t": 60, "b": 40})
    return _json(fig)


def _months(frame: pd.DataFrame, time: str, event: str) -> tuple[np.ndarray, np.ndarray]:
    """Durations in months and event flags, patients without a duration left out."""
    t = pd.to_numeric(frame[time], errors="coerce").to_numpy(dtype=float)
    e = frame[event].astype(bool).to_numpy()
    ok = np.isfinite(t)
    return t[ok] / DAYS_PER_MONTH, e[ok]


def _ticks(top: float) -> list[float]:
    """About six round ticks from 0 to at least ``top`` (months)."""
    if top <= 0:
        return [0.0, 1.0]
    step = next(s for s in (1, 2, 3, 6, 12, 24, 36, 60, 120) if top / s <= 7)
    return [float(step * i) for i in range(int(math.ceil(top / step)) + 1)]


def _alpha(colour: str, alpha: float) -> str:
    r, g, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[:width - 1].rstrip() + "\u2026"


# ----------------------------------------------------------------- per patient

def _waterfall(shown: pd.DataFrame, n: int, subset: str) -> Figure:
    change = pd.to_numeric(shown["best_change_pct"], errors="coerce")
    data = shown[np.isfinite(change)].assign(_c=change).sort_values(
        "_c", ascending=False, kind="stable")
    fig = go.Figure()
    x = np.arange(len(data))
    for bor in BOR_CATEGORIES:
        sel = (data["bor"].astype(str) == bor).to_numpy()
        if sel.any():
            fig.add_bar(x=x[sel], y=np.clip(data["_c"].to_numpy()[sel], -100, 100), name=bor,
                        marker_color=BOR_COLORS[bor],
                        customdata=np.c_[data["patient"].to_numpy()[sel],
                                         data["_c"].to_numpy()[sel]],
                        hovertemplate="patient %{customdata[0]}: %{customdata[1]:.1f}%"
                                      f" ({bor})<extra></extra>")
    _recist(fig)
    orr = 100 * int(is_responder(shown["bor"]).sum()) / max(len(shown), 1)
    _layout(fig, f"Best change from baseline{subset}, ORR {orr:.0f}%", 440, bargap=0.1)
    fig.update_xaxes(showticklabels=False,
                     title_text=f"patients with a measured change ({len(data)} of {len(shown)})")
    fig.update_yaxes(range=[-105, 110], title_text="best change in sum of diameters (%)")
    return _json(fig)


def _swimmer(shown: pd.DataFrame, subset: str) -> Figure:
    responder = is_responder(shown["bor"])
    data = shown[responder] if responder.any() else shown
    data = data.assign(_f=-pd.to_numeric(data["os_d"], errors="coerce")).sort_values(
        "_f", kind="stable")
    y = [f"patient {p}" for p in data["patient"]]
    months = pd.to_numeric(data["os_d"], errors="coerce").to_numpy(dtype=float) / DAYS_PER_MONTH
    fig = go.Figure()
    bor = data["bor"].astype(str).to_numpy()
    for b in BOR_CATEGORIES:
        sel = bor == b
        if sel.any():
            fig.add_bar(x=months[sel], y=np.asarray(y)[sel], orientation="h", name=b,
                        marker_color=BOR_COLORS[b],
                        hovertemplate="%{y}: followed %{x:.1f} months" f" ({b})<extra></extra>")
    os_e = data["os_event"].astype(bool).to_numpy()
    pfs = pd.to_numeric(data["pfs_d"], errors="coerce").to_numpy(dtype=float) / DAYS_PER_MONTH
    pfs_e = data["pfs_event"].astype(bool).to_numpy()
    resp = pd.to_numeric(data["time_to_response_d"], errors="coerce").to_numpy(
        dtype=float) / DAYS_PER_MONTH
    cause = data["death_cause"].fillna("").astype(str).to_numpy()
    marks = [("response", np.isfinite(resp), resp, {"symbol": "circle-open", "color": "black"}),
             ("progression", pfs_e & ~(os_e & (pfs >= months)), pfs,
              {"symbol": "diamond", "color": "#b2182b"}),
             ("death (disease)", os_e & (cause != "treatment"), months,
              {"symbol": "x-thin-open", "color": "black"}),
             ("death (treatment)", os_e & (cause == "treatment"), months,
              {"symbol": "x", "color": "#762a83"}),
             ("alive at last follow-up", ~os_e, months,
              {"symbol": "triangle-right", "color": "#4d4d4d"})]
    for label, sel, t, marker in marks:
        if sel.any():
            fig.add_scatter(x=t[sel], y=np.asarray(y)[sel], mode="markers", name=label,
                            marker={"size": 9, **marker},
                            hovertemplate=f"%{{y}}: {label} at %{{x:.1f}} months<extra></extra>")
    who = "responders" if responder.any() else "patients"
    _layout(fig, f"Swimmer plot: {len(data)} {who}{subset}", max(360, 60 + 18 * len(data)),
            barmode="overlay")
    fig.update_yaxes(autorange="reversed", showticklabels=len(data) <= 60,
                     title_text="patient" if len(data) <= 60 else f"{who} (n = {len(data)})")
    fig.update_xaxes(title_text="months since start of treatment", rangemode="tozero")
    return _json(fig)


def _spider(scans: pd.DataFrame, shown: pd.DataFrame, subset: str) -> Figure:
    bor_of = dict(zip(shown["patient"], shown["bor"].astype(str), strict=True))
    fig = go.Figure()
    legend: set[str] = set()
    for patient, day, change in spider_series(scans):
        bor = bor_of.get(patient, "NE")
        fig.add_scatter(x=day / DAYS_PER_MONTH, y=np.minimum(change, 100), mode="lines+markers",
                        name=bor, legendgroup=bor, showlegend=bor not in legend,
                        line={"color": BOR_COLORS.get(bor, BOR_COLORS["NE"]), "width": 1.3},
                        marker={"size": 4}, opacity=0.85,
                        hovertemplate=f"patient {patient} ({bor})<br>%{{x:.1f}} months: "
                                      "%{y:.1f}%<extra></extra>")
        legend.add(bor)
    _recist(fig)
    _layout(fig, f"Change from baseline over time{subset}", 440)
    fig.update_xaxes(title_text="months since start of treatment", rangemode="tozero")
    fig.update_yaxes(range=[-105, 105], title_text="change in sum of diameters (%)")
    return _json(fig)


# ----------------------------------------------------------------- whole trial

def _dose_delivery(dd: DoseDelivery) -> Figure:
    given = dd.given.to_numpy(dtype=int)
    maxima = (CYCLE_MAX_DOSES, 2 * CYCLE_MAX_DOSES)
    top = max([*maxima, int(given.max()) if len(given) else 0])
    k = np.arange(top + 1)
    freq = np.bincount(given, minlength=top + 1)[:top + 1] if len(given) else np.zeros_like(k)
    fig = go.Figure(go.Bar(x=k, y=freq, marker_color="#4393c3", name="courses",
                           hovertemplate="%{y} courses with %{x} doses given<extra></extra>"))
    for m, name, dash in ((maxima[0], "cycle maximum", "dash"),
                          (maxima[1], "course maximum", "dot")):
        fig.add_vline(x=m + 0.5, line={"dash": dash, "color": "#b2182b", "width": 1.5},
                      annotation_text=f"{name} ({m} doses)", annotation_position="top left")
    lines = [f"held: {dd.n_held} of {dd.n_listed} doses ({100 * dd.held_fraction:.0f}%)"]
    lines += [f"{reason}: {int(row['n'])}" for reason, row in dd.reasons.head(5).iterrows()]
    fig.add_annotation(text="<br>".join(lines), xref="paper", yref="paper", x=0.01, y=0.86,
                       showarrow=False, align="left", xanchor="left", yanchor="top",
                       bgcolor="white", bordercolor="#999", font={"size": 12})
    median = float(np.median(given)) if len(given) else math.nan
    _layout(fig, f"Doses given per course ({len(given)} courses, median {median:g})", 440,
            showlegend=False)
    fig.update_xaxes(title_text="doses given per course", dtick=2)
    fig.update_yaxes(title_text="courses", range=[0, max(1.0, float(freq.max())) * 1.45])
    return _json(fig)


def _toxicity(endpoints: pd.DataFrame,
              reference: Mapping[str, float] = LABEL_TOXICITY) -> Figure:
    tab = toxicity_table(endpoints, toxicities=recorded_toxicities(endpoints))
    rows = tab.drop(index=TREATMENT_DEATH)
    names = [str(n).replace("_", " ") for n in rows.index]
    fig = go.Figure()
    for col, label, colour in (("any_grade", "any grade", "#fdae61"),
                               ("grade3_4", "grade 3-4", "#d7191c")):
        pct = 100.0 * rows[col].to_numpy(dtype=float)
        fig.add_bar(y=names, x=pct, orientation="h", name=label, marker_color=colour,
                    text=[f"{v:.0f}%" if v > 0 else "" for v in pct], textposition="outside",
                    hovertemplate=f"%{{y}}, {label}: %{{x:.1f}}%<extra></extra>")
    ref = [(names[i], 100.0 * reference[n]) for i, n in enumerate(rows.index) if n in reference]
    if ref:
        fig.add_scatter(y=[r[0] for r in ref], x=[r[1] for r in ref], mode="markers",
                        name="Proleukin label, any grade (525 patients)",
                        marker={"symbol": "diamond-open", "size": 10, "color": "black",
                                "line": {"width": 2}},
                        hovertemplate="%{y}: label %{x:.0f}%<extra></extra>")
    deaths = 100.0 * float(tab.loc[TREATMENT_DEATH, "any_grade"])
    _layout(fig, f"Toxicity (treatment-related deaths {deaths:.1f}%)",
            140 + 44 * len(names), barmode="group")
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(range=[0, 115], title_text=f"patients (%, n = {int(tab['n'].iloc[0])})")
    return _json(fig)


# ----------------------------------------------------------------- HIV

def cd4_figure(visits: pd.DataFrame, confidence: float = 0.95) -> Figure:
    """Mean CD4 count over time by arm with the t interval of each visit's mean: the curves
    of :func:`~il2sim.trial.hiv.plot_cd4` (:func:`~il2sim.trial.hiv.cd4_series`)."""
    fig = go.Figure()
    for i, s in enumerate(cd4_series(visits, confidence)):
        colour = COLOURS[i % len(COLOURS)]
        for y, fill in ((s.mean + s.half, None), (s.mean - s.half, "tonexty")):
            fig.add_scatter(x=s.years, y=y, mode="lines", line={"width": 0}, fill=fill,
                            fillcolor=_alpha(colour, 0.2), hoverinfo="skip",
                            showlegend=False, legendgroup=s.arm)
        fig.add_scatter(x=s.years, y=s.mean, mode="lines", name=s.arm, legendgroup=s.arm,
                        line={"color": colour, "width": 2}, customdata=s.half,
                        hovertemplate=f"{s.arm}<br>%{{x:.2f}} years: %{{y:.0f}}"
                                      " \u00b1 %{customdata:.0f} cells/uL<extra></extra>")
    _layout(fig, cd4_title(confidence), 440)
    fig.update_xaxes(title_text=CD4_AXES[0], rangemode="tozero")
    fig.update_yaxes(title_text=CD4_AXES[1])
    return _json(fig)
