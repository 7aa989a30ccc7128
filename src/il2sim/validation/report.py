"""The validation report: one self-contained HTML page (and PDF) a clinician can read.

Order: the scorecard (compatible endpoints per trial and overall), the failures (not
compatible, not estimable, not simulated; each with the published and the simulated value in
words), the calibration plot over every scored endpoint, then one section per trial (design,
where the simulation departs from it, the forest plot and every endpoint), the method and
the sources. Figures are PNG ``data:`` URIs, styles inline, no script.
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from il2sim.analysis.report import CSS
from il2sim.analysis.stored import figure_png
from il2sim.validation.atlas import PublishedTrial
from il2sim.validation.plots import plot_calibration, plot_forest
from il2sim.validation.run import Validation, coverage
from il2sim.validation.stored import RULE

__all__ = ["endpoint_rows", "format_value", "validation_html", "write_validation_report"]

_EXTRA_CSS = """
.ok{color:#1e7a43;font-weight:600}.miss{color:#b03024;font-weight:600}
.none{color:#777;font-weight:600}td.num{text-align:right;white-space:nowrap}
"""


def format_value(value: float, unit: str) -> str:
    """A value in clinical form: ``15.0%``, ``54 months``, ``not reached``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if math.isinf(value):
        return "not reached" if unit == "months" else "no upper bound"
    if unit == "%":
        return f"{100 * value:.1f}%"
    if unit == "months":
        return f"{value:.1f} months"
    if unit in ("doses", "patients"):
        return f"{value:g} {unit[:-1] if value == 1 else unit}"
    return f"{value:.0f} {unit}"


def _observed(row: pd.Series) -> str:
    unit = row["unit"]
    lo, hi = row["allowed_lo"], row["allowed_hi"]
    if math.isinf(hi):
        return f"at least {format_value(lo, unit)}"
    if hi > lo:
        return f"{format_value(lo, unit)} to {format_value(hi, unit)}"
    text = format_value(row["observed"], unit)
    if row["observed_hi"] > row["observed_lo"]:
        text += (f" (95% CI {format_value(row['observed_lo'], unit)} to "
                 f"{format_value(row['observed_hi'], unit)})")
    return text


def _simulated(row: pd.Series) -> str:
    if row["status"] == "not simulated":
        return "-"
    unit = row["unit"]
    return (f"{format_value(row['simulated'], unit)} (95% PI "
            f"{format_value(row['simulated_lo'], unit)} to "
            f"{format_value(row['simulated_hi'], unit)})")


_ORDER = {"not compatible": 0, "not estimable": 1, "not simulated": 2, "compatible": 3}


def endpoint_rows(scores: pd.DataFrame, *, misses_first: bool = True) -> pd.DataFrame:
    """Every scored endpoint in clinical words: ``trial`` (short name), ``endpoint``, ``arm``,
    ``published``, ``simulated`` (median and 95% prediction interval), ``verdict``,
    ``reason``; the misses first (not compatible, not estimable, not simulated)."""
    frame = pd.DataFrame({
        "trial": scores["short"], "endpoint": scores["label"], "arm": scores["arm"],
        "published": [_observed(r) for _, r in scores.iterrows()],
        "simulated": [_simulated(r) for _, r in scores.iterrows()],
        "verdict": scores["status"], "reason": scores["reason"].fillna(""),
    })
    if misses_first:
        frame = frame.sort_values("verdict", key=lambda s: s.map(_ORDER), kind="stable")
    return frame.reset_index(drop=True)


def _status(verdict: str, reason: str) -> str:
    cls = {"compatible": "ok", "not simulated": "none"}.get(verdict, "miss")
    why = f": {html.escape(reason)}" if reason else ""
    return f'<span class="{cls}">{html.escape(verdict)}</span>{why}'


def _rows(scores: pd.DataFrame, *, with_trial: bool) -> str:
    rows = endpoint_rows(scores, misses_first=with_trial)
    head = (("<th>Trial</th>" if with_trial else "") + "<th>Endpoint</th><th>Arm</th>"
            "<th>Published</th><th>Simulated</th><th>Verdict</th>")
    body = []
    for _, row in rows.iterrows():
        trial = f"<td>{html.escape(row['trial'])}</td>" if with_trial else ""
        body.append(f"<tr>{trial}<td>{html.escape(row['endpoint'])}</td>"
                    f"<td>{html.escape(row['arm'])}</td><td class=num>"
                    f"{html.escape(row['published'])}</td><td class=num>"
                    f"{html.escape(row['simulated'])}</td><td>"
                    f"{_status(row['verdict'], row['reason'])}</td></tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _img(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode()
    return f'<figure><img alt="{html.escape(alt)}" src="data:image/png;base64,{data}"></figure>'


def _scorecard(validation: Validation) -> str:
    card = validation.scorecard_shown()
    body = "".join(
        f"<tr><td>{html.escape(r['title'])}</td><td class=num>{r['compatible']} of "
        f"{r['outcomes']}</td><td class=num>{r['not_simulated']}</td></tr>"
        for _, r in card.iterrows())
    return ("<table><thead><tr><th>Trial</th><th>Compatible endpoints</th>"
            "<th>Not simulated</th></tr></thead><tbody>" + body + "</tbody></table>")


def validation_html(validation: Validation, trials: Sequence[PublishedTrial]) -> str:
    """The report as one HTML document."""
    scores = validation.scores
    totals = validation.scorecard_shown().set_index("trial")
    checked = (f" Check trials, which no calibration used and which the total leaves out: "
               f"<b>{totals.loc['checks', 'compatible']} of {totals.loc['checks', 'outcomes']}"
               "</b> compatible." if "checks" in totals.index else "")
    counted = (f"<b>{totals.loc['all', 'compatible']} of {totals.loc['all', 'outcomes']}</b> "
               "published endpoints of the calibration set are compatible with the model "
               f"({totals.loc['all', 'not_simulated']} not simulated)."
               if "all" in totals.index else "No trial of the calibration set was run.")
    failures = scores[scores["status"] != "compatible"]
    parts = [
        "<section id=scorecard><h2>Scorecard</h2>",
        f"<p>{counted}{checked} Each arm was "
        f"simulated {validation.replicates} times at its published size; where a calibrated "
        "population has a stored posterior (scripts/calibrate_posterior.py), replicate r runs "
        "at its draw r, so the prediction intervals include the calibration's uncertainty."
        "</p>",
        _scorecard(validation), "</section>",
        "<section id=failures><h2>Endpoints the model misses</h2>",
        _rows(failures, with_trial=True) if len(failures) else "<p>None.</p>", "</section>",
        "<section id=calibration><h2>Published against simulated</h2>",
        _img(figure_png(plot_calibration(scores)), "calibration plot"), "</section>",
    ]
    for trial in trials:
        rows = scores[scores["trial"] == trial.id]
        deviations = "".join(f"<li>{html.escape(d)}</li>" for d in trial.deviations)
        parts += [
            f"<section id={html.escape(trial.id)}><h2>{html.escape(trial.title)}</h2>",
            f"<p><b>Patients:</b> {html.escape(trial.population)}</p>",
            f"<p><b>Design:</b> {html.escape(trial.design)}</p>",
            f"<p><b>Simulated:</b> {', '.join(f'{html.escape(a.label)} (n = {a.n})' for a in trial.arms)}"  # noqa: E501
            f"; follow-up {trial.follow_up_years:g} years; response by "
            f"{html.escape(trial.criteria)} criteria.</p>",
            f"<p><b>Where the simulation departs from the trial:</b></p><ul>{deviations}</ul>"
            if deviations else "",
            _img(figure_png(plot_forest(scores, trial.id)), f"forest plot {trial.title}"),
            _rows(rows, with_trial=False),
            "<p><b>Sources:</b></p><ul>" + "".join(
                f"<li>{html.escape(text)}</li>" for text in trial.sources.values()) + "</ul>",
            "</section>",
        ]
    parts += [
        "<section id=method><h2>Method</h2>",
        f"<p>Each arm of each trial is simulated {validation.replicates} times with the "
        "published number of patients (different random patients each time). Every "
        "endpoint is computed on each simulated trial as the paper defined it (response by "
        "the trial's criteria over all patients treated; durations and survival by "
        "Kaplan-Meier; an adverse event at any grade). The simulated median and 95% "
        "prediction interval are taken over the simulated trials; the interval holds one "
        f"more simulated trial with probability {coverage(validation.replicates):.1%}. "
        f"Rule: {html.escape(RULE)}.</p></section>",
    ]
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    nav = "".join(f'<a href="#{i}">{t}</a>' for i, t in (
        ("scorecard", "Scorecard"), ("failures", "Misses"), ("calibration", "Calibration"),
        *((t.id, t.id.split("_")[0].upper()) for t in trials), ("method", "Method")))
    return ("<!DOCTYPE html>\n<html lang=en>\n<head>\n<meta charset=utf-8>\n"
            "<title>il2sim: validation against published trials</title>\n"
            f"<style>{CSS}{_EXTRA_CSS}</style>\n</head>\n<body>\n<header><h1>Validation "
            "against published IL-2 trials</h1>"
            f"<p>il2sim's virtual trials scored against what the trials reported; {stamp}</p>"
            f"</header>\n<nav>{nav}</nav>\n<main>\n" + "\n".join(parts)
            + "\n</main>\n</body>\n</html>\n")


def write_validation_report(validation: Validation, trials: Sequence[PublishedTrial],
                            path: str | Path) -> Path:
    """Write :func:`validation_html` to ``path`` (parent folders created)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(validation_html(validation, trials), encoding="utf-8")
    return target
