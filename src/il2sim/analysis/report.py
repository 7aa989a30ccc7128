"""A stored virtual trial as one self-contained HTML report.

:func:`report_html` reads a run from a :class:`~il2sim.store.ResultStore` and renders its
design, headline numbers, efficacy, survival, toxicity and dose delivery, plus every analysis
stored with the run (:meth:`~il2sim.store.ResultStore.save_analysis`: optimisation,
sensitivity, biomarkers; their tables and PNG figures as stored) and any passed in as
``extras``;
:func:`write_report` writes it to a file. The page needs nothing else: the CSS is inline,
figures are PNG ``data:`` URIs, there is no script, and every piece of text is escaped with
:func:`html.escape`. Each part is an ``<section id=...>`` with an ``<h2>``, in the order of
:data:`SECTIONS`. A table or figure that cannot be computed (e.g. no patient finished the
simulation) is replaced by a one-line note instead of failing the whole report.

Tables and figures come from :mod:`il2sim.trial.statistics` and :mod:`il2sim.trial.plots`
(exact Clopper-Pearson response intervals, Kaplan-Meier survival with exponential Greenwood
intervals, CTCAE toxicity grades)::

    with ResultStore("trial.duckdb", read_only=True) as store:
        write_report(store, run_id, "trial.html",
                     extras={"Sobol' indices": (indices, plot_sensitivity(indices))})
"""

from __future__ import annotations

import base64
import html
import json
import math
import re
import tomllib
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

import pandas as pd
from matplotlib.figure import Figure

from il2sim.analysis.design import design_table, population_table, read_population
from il2sim.analysis.errors import AnalysisError
from il2sim.model import Model, ModelError, get_model
from il2sim.store import Analysis, ResultStore, partial_warning
from il2sim.trial import plots
from il2sim.trial.outputs import LABEL_TOXICITY
from il2sim.trial.statistics import (
    DAYS_PER_MONTH,
    TREATMENT_DEATH,
    dose_delivery,
    is_responder,
    km_summary,
    recorded_toxicities,
    response_rates,
    summary_table,
    toxicity_table,
)

__all__ = ["BROWSERS", "CSS", "SECTIONS", "Extra", "report_html", "write_pdf", "write_report"]

Extra = tuple[pd.DataFrame | None, Figure | None]
"""An attached analysis: a table, a figure, or both (either may be ``None``)."""

SECTIONS: Final = ("design", "summary", "efficacy", "survival", "toxicity", "dosing",
                   "attachments")
"""The report's section ids, in page order."""

_TITLES: Final = {
    "design": "Trial design", "summary": "Summary", "efficacy": "Efficacy",
    "survival": "Survival", "toxicity": "Toxicity", "dosing": "Dose delivery",
    "attachments": "Attachments",
}
_RUN_KEYS: Final = ("name", "model", "model_version", "il2sim_version", "seed", "n_patients",
                    "chunk_size", "status", "created", "finished")
_MAX_ROWS: Final = 200
_NO_EXTRAS: Final[Mapping[str, Extra]] = MappingProxyType({})

CSS: Final = """
body{font-family:system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:0;
color:#1d2330;background:#fff;line-height:1.45}
header{background:#1d3557;color:#fff;padding:1.2em 2em}
header h1{margin:0 0 .2em 0;font-size:1.6em}
header p{margin:0;opacity:.85}
nav{padding:.5em 2em;background:#eef2f7;border-bottom:1px solid #d5dbe4}
nav a{margin-right:1.2em;color:#1d3557;text-decoration:none;font-weight:600}
main{padding:0 2em 2em 2em;max-width:1200px}
section{border-bottom:1px solid #e3e7ee;padding:1em 0}
h2{color:#1d3557;margin:.4em 0 .6em 0}
h3{margin:1em 0 .4em 0;font-size:1.1em}
table{border-collapse:collapse;margin:.4em 0 1em 0;font-size:.9em}
th,td{border:1px solid #d5dbe4;padding:.25em .6em;text-align:left;vertical-align:top}
thead th{background:#eef2f7}
tbody tr:nth-child(even){background:#f8f9fb}
pre{background:#f6f8fa;border:1px solid #e3e7ee;padding:.6em;white-space:pre-wrap;
font-size:.85em;max-width:100%}
figure{margin:.6em 0 1.2em 0}
figure img{max-width:100%;height:auto;border:1px solid #e3e7ee}
figcaption{font-size:.85em;color:#555}
.note{color:#8a5300;background:#fff7e6;border-left:4px solid #f0ad4e;padding:.3em .6em}
article.analysis{overflow-x:auto}
@media print{nav{display:none}table,figure,pre{break-inside:avoid}
h2,h3,h4{break-after:avoid}thead{display:table-header-group}tr{break-inside:avoid}
details::details-content{content-visibility:visible;display:contents}
summary{list-style:none;font-weight:600}summary::-webkit-details-marker{display:none}}
"""
"""The reports' style sheet (this report and the validation report)."""


# --------------------------------------------------------------------------- public API


def report_html(store: ResultStore | str | Path, run_id: str, *,
                extras: Mapping[str, Extra] = _NO_EXTRAS, stored: bool = True,
                title: str | None = None, dpi: float = 100) -> str:
    """Render a stored virtual trial as one self-contained HTML page.

    Main arguments:
        store: an open :class:`~il2sim.store.ResultStore`, or the path of a store file
            (then opened read-only for the call).
        run_id: the run to report (see :meth:`~il2sim.store.ResultStore.runs`).

    Other arguments:
        extras: extra analyses for the "attachments" section, ``name -> (table, figure)``
            with either part ``None`` (tables longer than 200 rows are cut there).
        stored: include the analyses stored with the run (each an ``<article>`` in
            "attachments", with its parameters, tables and figures, oldest first).
        title: the page title; default ``"<trial name>: virtual trial report"``.
        dpi: resolution of the embedded figures.

    Returns:
        The HTML text (no external resources, no scripts).

    Raises:
        ValueError: an unknown run id.
        TypeError: a malformed ``extras`` entry.
    """
    _check_extras(extras)
    if isinstance(store, ResultStore):
        return _render(store, run_id, extras, stored, title, dpi)
    with ResultStore(store, read_only=True) as opened:
        return _render(opened, run_id, extras, stored, title, dpi)


def write_report(store: ResultStore | str | Path, run_id: str, path: str | Path, *,
                 extras: Mapping[str, Extra] = _NO_EXTRAS, stored: bool = True,
                 title: str | None = None, dpi: float = 100) -> Path:
    """Write :func:`report_html` of a stored trial to ``path`` (UTF-8; parent folders are
    created) and return the path. Arguments and errors as :func:`report_html`."""
    text = report_html(store, run_id, extras=extras, stored=stored, title=title, dpi=dpi)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    return target


BROWSERS: Final = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
"""Headless browsers :func:`write_pdf` looks for on ``PATH``, in this order."""


def write_pdf(html_file: str | Path, path: str | Path, *, browser: str | None = None,
              timeout_s: float = 120.0) -> Path:
    """Print a report (an HTML file) to PDF with a headless Chromium.

    Main arguments:
        html_file: the report written by :func:`write_report`.
        path: the PDF to write (parent folders are created).

    Other arguments:
        browser: the browser executable; default the first of :data:`BROWSERS` found.
        timeout_s: how long the browser may take.

    Returns:
        The PDF's path.

    Raises:
        FileNotFoundError: no such HTML file, or no browser found.
        OSError: the browser failed or wrote no PDF (its last output lines in the message).
    """
    import shutil
    import subprocess
    import tempfile

    source = Path(html_file)
    if not source.is_file():
        raise FileNotFoundError(f"{source}: no such report to print")
    exe = browser or next((found for name in BROWSERS if (found := shutil.which(name))), None)
    if exe is None:
        raise FileNotFoundError("no headless browser to print the PDF: install Chromium "
                                f"(one of {', '.join(BROWSERS)} on PATH) or skip the PDF")
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="il2sim-pdf-") as profile:
        # Printed, a collapsed section would be a closed triangle: print them open.
        printed = Path(profile) / "report" / source.name
        printed.parent.mkdir()
        printed.write_text(_open_details(source.read_text(encoding="utf-8")),
                           encoding="utf-8")
        source = printed
        try:
            done = subprocess.run(
                [exe, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", f"--user-data-dir={profile}", "--no-pdf-header-footer",
                 f"--print-to-pdf={target.resolve()}", source.resolve().as_uri()],
                capture_output=True, text=True, timeout=timeout_s, check=False)
        except subprocess.TimeoutExpired as error:
            raise OSError(f"{exe}: no PDF after {timeout_s:g} s") from error
    if done.returncode != 0 or not target.is_file() or target.stat().st_size == 0:
        tail = " | ".join((done.stderr or done.stdout).strip().splitlines()[-3:])
        raise OSError(f"{exe} did not write {target} (exit {done.returncode}): {tail}")
    return target


def _open_details(text: str) -> str:
    """The page with every ``<details>`` open (for print)."""
    return re.sub(r"<details(?![^>]*\bopen\b)", "<details open", text)


# --------------------------------------------------------------------------- page


def _render(store: ResultStore, run_id: str, extras: Mapping[str, Extra], stored: bool,
            title: str | None, dpi: float) -> str:
    run = _run_row(store, run_id)
    analyses = ([store.load_analysis(run_id, kind, name) for kind, name in
                 store.analyses(run_id)[["kind", "name"]].itertuples(index=False)]
                if stored else [])
    endpoints = _data(store, run_id, "endpoints")
    doses = _data(store, run_id, "doses")
    scans = _data(store, run_id, "scans")
    patients = _data(store, run_id, "patients")
    img = _Images(dpi)
    config = _parse_config(str(run.get("config", "")))
    kind = config.get("analysis") if isinstance(config, dict) else None
    if kind is not None and patients.empty:  # an analysis run: no patients of its own
        bodies = {"design": _note(f"an analysis run ({kind}): no virtual patients are stored "
                                  "with it, so it has no trial sections; its results are "
                                  "under Attachments") + "\n" + _design(run, patients)}
    else:
        bodies = {
            "design": _design(run, patients),
            "summary": _guard(lambda: _table(summary_table(endpoints, doses))),
            "efficacy": _efficacy(endpoints, scans, img),
            "survival": _survival(endpoints, img),
            "toxicity": _toxicity(endpoints, img),
            "dosing": _dosing(doses, img),
        }
    bodies["attachments"] = _attachments(extras, img, analyses)
    default = f"{kind} analysis report" if kind is not None else "virtual trial report"
    heading = title if title is not None else f"{run['name']}: {default}"
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    shown = [key for key in SECTIONS if key in bodies]
    nav = "".join(f'<a href="#{key}">{_e(_TITLES[key])}</a>' for key in shown)
    sections = "\n".join(
        f'<section id="{key}">\n<h2>{_e(_TITLES[key])}</h2>\n{bodies[key]}\n</section>'
        for key in shown)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<title>{_e(heading)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
        f"<header><h1>{_e(heading)}</h1><p>run {_e(run_id)}, model {_e(run['model'])} "
        f"{_e(run['model_version'])}, generated {_e(generated)}</p></header>\n"
        f"<nav>{nav}</nav>\n<main>\n{sections}\n</main>\n</body>\n</html>\n")


def _run_row(store: ResultStore, run_id: str) -> dict[str, Any]:
    runs = store.runs()
    if not isinstance(run_id, str) or run_id not in set(runs["run_id"]):
        known = ", ".join(map(repr, runs["run_id"][:10])) or "none"
        raise AnalysisError(f"{store.path}: unknown run id {run_id!r} (runs in the store: {known})")
    row = runs[runs["run_id"] == run_id].iloc[0]
    return {str(key): row[key] for key in row.index}


def _data(store: ResultStore, run_id: str, name: str) -> pd.DataFrame:
    return store.table(run_id, name).drop(columns="run_id")


# --------------------------------------------------------------------------- sections


def _design(run: Mapping[str, Any], patients: pd.DataFrame) -> str:
    facts = pd.DataFrame({"value": [_cell(run.get(key)) for key in _RUN_KEYS]},
                         index=pd.Index(_RUN_KEYS, name="field"))
    parts = [_table(facts)]
    warning = partial_warning(run)
    if warning is not None:
        parts.append(_note(warning))
    if "status" in patients.columns and not patients.empty:
        counts = patients["status"].astype(str).value_counts()
        parts.append("<h3>Simulation status of the patients</h3>"
                     + _table(counts.rename("patients").rename_axis("status").to_frame()))
    config = _parse_config(str(run.get("config", "")))
    if isinstance(config, dict):
        parts.append("<h3>Design</h3>" + _table(design_table(config)))
        population = read_population(str(config.get("population", "")))
        if population is not None:
            parts.append("<h3>Virtual population</h3>"
                         + _table(population_table(population, _model(run.get("model")))))
        elif "population" in config:
            parts.append("<h3>Population</h3>" + _pre(_pretty(config["population"])))
    else:
        parts.append(_note("the run's config is neither JSON nor TOML; shown as stored"))
    parts.append("<details><summary>Full config as stored</summary>"
                 + _pre(str(run.get("config", ""))) + "</details>")
    return "\n".join(parts)


def _model(name: object) -> Model | None:
    """The library model of that name, for labels; None when the library has none."""
    try:
        return get_model(str(name))
    except ModelError:
        return None


def _efficacy(endpoints: pd.DataFrame, scans: pd.DataFrame, img: _Images) -> str:
    parts = ["<h3>Response rates (RECIST 1.1, exact 95% intervals)</h3>",
             _guard(lambda: _table(_rates_text(response_rates(endpoints))))]
    parts.append(_guard(lambda: img.figure(plots.plot_waterfall(endpoints),
                                           "Waterfall: best change of the sum of diameters")))
    responders = "bor" in endpoints and bool(is_responder(endpoints["bor"]).any())
    if responders:
        parts.append(_guard(lambda: img.figure(
            plots.plot_swimmer(endpoints, responders_only=True),
            "Swimmer plot of the responders (CR, PR)")))
    else:
        parts.append(_note("no responders: no swimmer plot"))
    parts.append(_guard(lambda: img.figure(plots.plot_spider(scans, endpoints),
                                           "Spider plot: change from baseline over time")))
    return "\n".join(parts)


def _survival(endpoints: pd.DataFrame, img: _Images) -> str:
    parts = [_guard(lambda: img.figure(plots.plot_km(endpoints),
                                       "Kaplan-Meier curves of OS and PFS (95% bands)"))]
    for label, time, event in (("Overall survival", "os_d", "os_event"),
                               ("Progression-free survival", "pfs_d", "pfs_event")):
        parts.append(f"<h3>{_e(label)} (months, 95% intervals)</h3>")
        parts.append(_guard(partial(_km_table, endpoints, time, event)))
    return "\n".join(parts)


def _km_table(endpoints: pd.DataFrame, time: str, event: str) -> str:
    return _table(_km_text(km_summary(endpoints, time, event)))


def _toxicity(endpoints: pd.DataFrame, img: _Images) -> str:
    parts = [_guard(lambda: _table(_tox_text(toxicity_table(
        endpoints, toxicities=recorded_toxicities(endpoints))))),
             _guard(lambda: img.figure(plots.plot_toxicity(endpoints, reference=LABEL_TOXICITY),
                                       "Toxicity incidence (diamonds: label, 525 patients)"))]
    parts.append("<h3>Treatment-related deaths</h3>")
    if {"death_cause", "patient"} <= set(endpoints.columns):
        deaths = endpoints[endpoints["death_cause"] == "treatment"]
        n = len(endpoints)
        parts.append(f"<p>{len(deaths)} of {n} patients ({_pct(len(deaths) / n if n else math.nan)}"
                     ") died of treatment (CTCAE grade 5).</p>")
        if not deaths.empty:
            columns = [c for c in ("patient", "arm", "os_d") if c in deaths.columns]
            parts.append(_table(deaths[columns].set_index("patient")))
    else:
        parts.append(_note("no death causes recorded"))
    return "\n".join(parts)


def _dosing(doses: pd.DataFrame, img: _Images) -> str:
    def delivery() -> str:
        dd = dose_delivery(doses)
        totals = pd.DataFrame({"value": [str(dd.n_listed), str(dd.n_given), str(dd.n_held),
                                         _pct(dd.held_fraction)]},
                              index=pd.Index(["doses listed (courses started)", "doses given",
                                              "doses held", "held, %"], name="measure"))
        given = dd.counts.reset_index().groupby("course")["given"]
        per_course = pd.DataFrame({"patients": given.size(), "median given": given.median(),
                                   "min": given.min(), "max": given.max()})
        reasons = dd.reasons.assign(of_held=dd.reasons["of_held"].map(_pct),
                                    of_listed=dd.reasons["of_listed"].map(_pct))
        reasons = reasons.rename(columns={"of_held": "% of held", "of_listed": "% of listed"})
        held = (_table(reasons) if not reasons.empty else "<p>No dose was held.</p>")
        return (_table(totals) + "<h3>Doses given per course</h3>" + _table(per_course)
                + "<h3>Held-dose reasons</h3>" + held)

    return "\n".join([_guard(delivery), _guard(lambda: img.figure(
        plots.plot_dose_delivery(doses), "Doses given per course (dashed: label maxima)"))])


def _attachments(extras: Mapping[str, Extra], img: _Images,
                 analyses: list[Analysis] | None = None) -> str:
    if not extras and not analyses:
        return "<p>No extra analyses attached.</p>"
    parts = [_stored(analysis) for analysis in analyses or []]
    for name, (table, figure) in extras.items():
        parts.append(f"<article><h3>{_e(name)}</h3>")
        if table is not None:
            parts.append(_table(table))
        if figure is not None:
            parts.append(img.figure(figure, name))
        parts.append("</article>")
    return "\n".join(parts)


def _stored(analysis: Analysis) -> str:
    """An analysis from the store: its parameters, tables and (already rendered) figures."""
    kind = _e(analysis.kind)
    parts = [f'<article class="analysis" data-kind="{kind}"><h3>{_e(analysis.title)}</h3>',
             f"<p>stored {_e(_cell(analysis.created))} UTC</p>",
             "<details><summary>Parameters</summary>"
             + _pre(json.dumps(analysis.params, indent=2, default=str)) + "</details>"]
    for name, table in analysis.tables.items():
        if analysis.kind == "optimize":  # rates in percent, as everywhere else
            from il2sim.analysis.optimize import in_units

            table = in_units(table)
        parts.append(f"<h4>{_e(name)}</h4>" + _guard(partial(_table, table)))
    for name, png in analysis.figures.items():
        data = base64.b64encode(png).decode("ascii")
        parts.append(f'<figure><img src="data:image/png;base64,{data}" alt="{_e(name)}">'
                     f"<figcaption>{_e(name)}</figcaption></figure>")
    parts.append("</article>")
    return "\n".join(parts)


def _check_extras(extras: object) -> None:
    if not isinstance(extras, Mapping):
        raise TypeError(f"extras must be a mapping of name -> (table, figure), "
                        f"got {type(extras).__name__}")
    for name, value in extras.items():
        if not isinstance(name, str):
            raise TypeError(f"extras: names must be strings, got {name!r}")
        ok = (isinstance(value, tuple) and len(value) == 2
              and (value[0] is None or isinstance(value[0], pd.DataFrame))
              and (value[1] is None or isinstance(value[1], Figure)))
        if not ok:
            raise TypeError(f"extras[{name!r}]: expected a (DataFrame | None, Figure | None) "
                            f"pair, got {type(value).__name__}")


# --------------------------------------------------------------------------- formatting


def _rates_text(rates: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame(index=rates.index)
    out["n"] = rates["n"]
    for name in ("orr", "cr", "pr"):
        out[name.upper()] = [
            f"{k} ({_pct(r)}; {_pct(lo)}-{_pct(hi)})" for k, r, lo, hi in zip(
                rates[f"{name}_n"], rates[name], rates[f"{name}_lo"], rates[f"{name}_hi"])]
    for cat in ("sd", "pd", "ne"):
        out[cat.upper()] = rates[f"{cat}_n"]
    return out


def _km_text(km: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame(index=km.index)
    out["n"], out["events"] = km["n"], km["events"]
    out["median (95% CI)"] = [
        f"{_months(m)} ({_months(lo)}-{_months(hi)})"
        for m, lo, hi in zip(km["median_d"], km["median_lo_d"], km["median_hi_d"])]
    for column in km.columns:
        if column.startswith("surv_") and column.endswith("y"):
            out[f"at {column[5:-1]} y, %"] = [
                f"{_pct(s)} ({_pct(lo)}-{_pct(hi)})" if math.isfinite(s) else "-"
                for s, lo, hi in zip(km[column], km[f"{column}_lo"], km[f"{column}_hi"])]
    return out


def _tox_text(tox: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame(index=tox.index)
    out["n"] = tox["n"]
    out["any grade"] = [f"{k} ({_pct(r)})" for k, r in zip(tox["any_grade_n"], tox["any_grade"])]
    out["grade 3-4"] = ["-" if pd.isna(k) else f"{k} ({_pct(r)})"
                        for k, r in zip(tox["grade3_4_n"], tox["grade3_4"])]
    out.index = [("treatment-related death (grade 5)" if label == TREATMENT_DEATH
                  else str(label).replace("_", " ")) for label in out.index]
    out.index.name = "toxicity"
    return out


def _months(days: float) -> str:
    if math.isinf(days):
        return "NR"
    return "-" if not math.isfinite(days) else f"{days / DAYS_PER_MONTH:.1f}"


def _pct(x: float) -> str:
    return "-" if not math.isfinite(x) else f"{100.0 * x:.1f}%"


def _cell(value: object) -> str:
    if value is None or (not isinstance(value, (str, bytes)) and _is_na(value)):
        return ""
    if isinstance(value, float):
        return ("inf" if value > 0 else "-inf") if math.isinf(value) else f"{value:.4g}"
    return str(value)


def _is_na(value: object) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _note(text: str) -> str:
    return f'<p class="note">{_e(text)}</p>'


def _pre(text: str) -> str:
    return f"<pre>{_e(text)}</pre>"


def _guard(build: Callable[[], str]) -> str:
    """The HTML of ``build()``, or a note when the data do not allow it (a ValueError)."""
    try:
        return build()
    except ValueError as error:
        return _note(f"not available: {error}")


def _table(frame: pd.DataFrame, *, max_rows: int = _MAX_ROWS) -> str:
    """An escaped HTML table of ``frame``, index columns first (a RangeIndex is dropped)."""
    shown = frame.iloc[:max_rows]
    if not isinstance(shown.index, pd.RangeIndex) or any(shown.index.names):
        shown = shown.reset_index()
    head = "".join(f"<th>{_e(_label(c))}</th>" for c in shown.columns)
    rows = "".join("<tr>" + "".join(f"<td>{_e(_cell(v))}</td>" for v in row) + "</tr>"
                   for row in shown.itertuples(index=False, name=None))
    cut = (_note(f"showing the first {max_rows} of {len(frame)} rows")
           if len(frame) > max_rows else "")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>{cut}"


def _label(column: object) -> str:
    if isinstance(column, tuple):
        return " / ".join(str(part) for part in column if str(part))
    return str(column)


def _parse_config(text: str) -> object:
    """The run's config as JSON, else TOML, else ``None``."""
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return None


def _pretty(value: object) -> str:
    """JSON for structures, and a repr string (e.g. a population) broken at its brackets."""
    if isinstance(value, str):
        return _break_repr(value)
    return json.dumps(value, indent=2, default=str, ensure_ascii=False)


def _break_repr(text: str, *, depth_limit: int = 2, indent: str = "  ") -> str:
    """A one-line repr with line breaks after brackets and commas nested at most
    ``depth_limit`` deep (quoted strings are left alone)."""
    out: list[str] = []
    depth, quote, skip_space = 0, "", False
    for char in text:
        if skip_space and char == " ":
            continue
        skip_space = False
        if char in ")]}" and not quote and out and out[-1].startswith("\n"):
            out.pop()  # an empty bracket pair stays on one line
        out.append(char)
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "([{":
            depth += 1
            if depth <= depth_limit:
                out.append("\n" + indent * depth)
        elif char in ")]}":
            depth -= 1
        elif char == "," and depth <= depth_limit:
            out.append("\n" + indent * depth)
            skip_space = True
    return "".join(out)


class _Images:
    """Figures as PNG ``data:`` URIs in ``<figure>`` elements."""

    def __init__(self, dpi: float) -> None:
        self.dpi = dpi

    def figure(self, fig: Figure, caption: str) -> str:
        data = base64.b64encode(plots.figure_png(fig, dpi=self.dpi)).decode("ascii")
        return (f'<figure><img src="data:image/png;base64,{data}" alt="{_e(caption)}">'
                f"<figcaption>{_e(caption)}</figcaption></figure>")

