"""The HTML trial report: self-contained, all sections present, valid PNGs, text escaped."""

from __future__ import annotations

import base64
import io
import subprocess
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from PIL import Image

from il2sim.analysis.report import CSS, SECTIONS, report_html, write_pdf, write_report
from il2sim.population import LogNormal, Population, standard_covariates
from il2sim.store import ResultStore
from il2sim.trial.runner import TrialSpec, run_trial

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
DATA_PNG = "data:image/png;base64,"
CHROMIUM = Path("/usr/bin/chromium")
EXTRA_NAME = "Sobol' <indices> & co"
N_PATIENTS = 12


class Page(HTMLParser):
    """What a report holds, per section: its h2, text, images and table rows."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.h2: dict[str, str] = {}
        self.text: dict[str, str] = {}
        self.images: list[tuple[str | None, str]] = []
        self.rows: dict[str, list[list[str]]] = {}
        self.tags: set[str] = set()
        self.section: str | None = None
        self.in_h2 = False
        self.cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        attr = dict(attrs)
        if tag == "section":
            self.section = attr.get("id") or ""
            self.h2[self.section] = self.h2.get(self.section, "")
        elif tag == "h2":
            self.in_h2 = True
        elif tag == "img":
            self.images.append((self.section, attr.get("src") or ""))
        elif tag == "tr" and self.section is not None:
            self.rows.setdefault(self.section, []).append([])
        elif tag in ("td", "th") and self.section is not None:
            self.cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "section":
            self.section = None
        elif tag == "h2":
            self.in_h2 = False
        elif tag in ("td", "th") and self.cell is not None and self.section is not None:
            self.rows[self.section][-1].append("".join(self.cell).strip())
            self.cell = None

    def handle_data(self, data: str) -> None:
        if self.section is None:
            return
        self.text[self.section] = self.text.get(self.section, "") + data
        if self.in_h2:
            self.h2[self.section] += data
        if self.cell is not None:
            self.cell.append(data)


def parse(text: str) -> Page:
    page = Page()
    page.feed(text)
    page.close()
    return page


@pytest.fixture(scope="module")
def stored_trial(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ResultStore, str]]:
    """A 12-patient RCC trial (two courses, 200 days) in a result store."""
    # antigenicity high enough for responders at the switch-like IL-2 signal (session 13)
    population = Population(params={"ant": LogNormal(4.0, 1.0)},
                            covariates=standard_covariates("rcc"))
    spec = TrialSpec("report test", n_patients=N_PATIENTS, seed=3, population=population,
                     horizon_days=200.0, max_courses=2, backend="native", chunk_size=6)
    path = tmp_path_factory.mktemp("report") / "trial.duckdb"
    with ResultStore(path) as store:
        run_trial(spec, store=store)
        yield store, str(store.runs()["run_id"].iloc[0])


@pytest.fixture(scope="module")
def report(stored_trial: tuple[ResultStore, str],
           tmp_path_factory: pytest.TempPathFactory) -> Path:
    store, run_id = stored_trial
    table = pd.DataFrame({"parameter": ["k_el", "<b>ec50</b>"], "S1": [0.62, 0.05]})
    figure = Figure(figsize=(4, 3))
    figure.add_subplot().bar(["k_el", "ec50"], [0.62, 0.05])
    out = tmp_path_factory.mktemp("html") / "nested" / "report.html"
    written = write_report(store, run_id, out, extras={EXTRA_NAME: (table, figure),
                                                       "table only": (table, None)})
    assert written == out and out.is_file()
    return out


@pytest.fixture(scope="module")
def page(report: Path) -> Page:
    return parse(report.read_text(encoding="utf-8"))


@pytest.mark.slow
def test_every_section_has_its_heading(page: Page) -> None:
    for key in SECTIONS:
        assert key in page.h2, f"no <section id={key!r}>"
        assert page.h2[key].strip(), f"section {key!r} has no <h2>"
    assert {"design", "summary", "efficacy", "survival", "toxicity", "dosing",
            "attachments"} <= set(page.h2)


@pytest.mark.slow
def test_figures_are_embedded_valid_pngs(page: Page) -> None:
    sections = {section for section, _ in page.images}
    # waterfall, swimmer (the trial has responders), spider, KM, toxicity, dosing, extra
    assert len(page.images) >= 7
    assert {"efficacy", "survival", "toxicity", "dosing", "attachments"} <= sections
    for _, src in page.images:
        assert src.startswith(DATA_PNG)
        data = base64.b64decode(src[len(DATA_PNG):], validate=True)
        assert data.startswith(PNG_SIGNATURE)
        with Image.open(io.BytesIO(data)) as image:
            assert image.format == "PNG"
            width, height = image.size
            assert width > 100 and height > 100
            image.verify()


@pytest.mark.slow
def test_report_is_self_contained_and_escaped(report: Path, page: Page) -> None:
    text = report.read_text(encoding="utf-8")
    assert "<script" not in text.lower()
    assert not {"script", "link", "iframe", "object"} & page.tags
    assert "<b>ec50</b>" not in text and "&lt;b&gt;ec50&lt;/b&gt;" in text
    assert "http://" not in text and "https://" not in text


@pytest.mark.slow
def test_summary_and_design_give_the_trial(page: Page) -> None:
    rows = {row[0]: row[1:] for row in page.rows["summary"] if row}
    assert rows["patients"] == [str(N_PATIENTS)]
    design = page.text["design"]
    for expected in ("report test", "il2_qsp", "label", "600000 IU/kg"):
        assert expected in design
    fields = {row[0]: row[1] for row in page.rows["design"] if len(row) == 2}
    assert fields["seed"] == "3" and fields["n_patients"] == str(N_PATIENTS)
    # The design as a table, not JSON: the label protocol and dose, courses, follow-up.
    assert fields["protocol"] == "label" and fields["dose"] == "600000 IU/kg"
    assert fields["patients"] == str(N_PATIENTS)
    assert fields["courses"] == "up to 2, every 84 days"
    assert fields["follow-up"] == "0.548 years (200 days)"
    assert fields["tumour scans"] == "day 47, then every 56 days"
    # The population row by row: LogNormal(2, 1) holds 90% of patients within
    # 2 exp(+-1.645) = 0.386-10.4.
    population = {row[1]: row for row in page.rows["design"] if len(row) == 7}
    assert population["ant"][3:6] == ["log-normal", "4", "sigma 1 (90%: 0.772-20.7)"]
    assert population["ant"][2] == "tumour antigenicity (immunogenicity)"
    assert population["weight"][3:5] == ["normal", "80"]


@pytest.mark.slow
def test_sections_hold_their_tables(page: Page) -> None:
    efficacy = page.rows["efficacy"]
    assert efficacy[0][:3] == ["arm", "n", "ORR"] and efficacy[1][1] == str(N_PATIENTS)
    survival = page.text["survival"]
    assert "Overall survival" in survival and "Progression-free survival" in survival
    assert "treatment-related death (grade 5)" in page.text["toxicity"]
    assert "Treatment-related deaths" in page.text["toxicity"]
    assert "Held-dose reasons" in page.text["dosing"]


@pytest.mark.slow
def test_extras_are_attached(page: Page) -> None:
    attachments = page.text["attachments"]
    assert EXTRA_NAME in attachments and "table only" in attachments
    assert "<b>ec50</b>" in attachments  # the escaped cell reads back as its text
    assert sum(section == "attachments" for section, _ in page.images) == 1


@pytest.mark.slow
def test_report_html_title_and_no_extras(stored_trial: tuple[ResultStore, str]) -> None:
    store, run_id = stored_trial
    text = report_html(store, run_id, title="My <trial>")
    assert "<title>My &lt;trial&gt;</title>" in text
    assert "No extra analyses attached." in parse(text).text["attachments"]


@pytest.mark.slow
def test_unknown_run_id_raises(stored_trial: tuple[ResultStore, str], tmp_path: Path) -> None:
    store, _ = stored_trial
    with pytest.raises(ValueError, match="unknown run id 'nope'"):
        write_report(store, "nope", tmp_path / "r.html")
    assert not (tmp_path / "r.html").exists()


@pytest.mark.slow
def test_malformed_extras_raise(stored_trial: tuple[ResultStore, str]) -> None:
    store, run_id = stored_trial
    with pytest.raises(TypeError, match="extras\\['x'\\]"):
        report_html(store, run_id, extras={"x": ("not a frame", None)})


def test_a_run_without_results_still_renders(tmp_path: Path) -> None:
    """No endpoints or doses (every solve failed) and a config that is not JSON: notes, no
    crash, every section present."""
    path = tmp_path / "empty.duckdb"
    with ResultStore(path) as store:
        run_id = store.create_run(name="failed <trial>", model="il2_qsp", model_version="1",
                                  seed=0, n_patients=1, chunk_size=1, config="not = [valid")
        store.write_chunk(run_id, 0, {"patients": pd.DataFrame({"patient": [0],
                                                                "status": ["failed"]})})
    text = report_html(path, run_id)  # a path: opened read-only
    page = parse(text)
    assert set(SECTIONS) <= set(page.h2)
    assert not page.images
    assert "not available" in page.text["efficacy"]
    assert "neither JSON nor TOML" in page.text["design"]
    assert "results may be partial" in page.text["design"]
    assert "failed <trial>" in page.text["design"] and "failed <trial>" not in text


@pytest.mark.slow
@pytest.mark.skipif(not CHROMIUM.exists(), reason="no /usr/bin/chromium to render the page")
def test_report_renders_in_headless_chromium(report: Path, tmp_path: Path) -> None:
    shot = tmp_path / "shot.png"
    subprocess.run(
        [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}",
         "--window-size=1200,3000", report.resolve().as_uri()],
        check=True, capture_output=True, timeout=120)
    assert shot.is_file() and shot.stat().st_size > 0
    with Image.open(shot) as image:
        assert image.size == (1200, 3000)
        grey = np.asarray(image.convert("L"))
        assert int(grey.max()) - int(grey.min()) > 100
        assert len(np.unique(grey)) > 20  # text and figures, not a blank page


def _png(color: str) -> bytes:
    figure = Figure(figsize=(2, 2))
    figure.add_subplot().bar(["a"], [1.0], color=color)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def test_stored_analyses_are_rendered(tmp_path: Path) -> None:
    """Every analysis stored with a run appears under attachments with its tables and its
    figures byte for byte; an analysis run says it has no patients of its own."""
    path = tmp_path / "a.duckdb"
    front, tornado = _png("red"), _png("blue")
    with ResultStore(path) as store:
        run_id = store.create_analysis_run(kind="optimize", name="search <rcc>",
                                           model="il2_qsp", model_version="1", seed=1,
                                           n_patients=20, params={"candidates": 4})
        store.save_analysis(run_id, "optimize", "regimens", {"seed": 1},
                            tables={"front": pd.DataFrame({"name": ["<label>", "q6h"],
                                                           "orr": [0.2, 0.25]})},
                            figures={"Pareto front": front})
        store.save_analysis(run_id, "sensitivity", "Sobol & co", {"n": 64},
                            tables={"indices": pd.DataFrame(
                                {"ST": [0.7, 0.1]}, index=pd.Index(["k10", "V1"],
                                                                   name="input"))},
                            figures={"tornado": tornado})
    text = report_html(path, run_id)
    page = parse(text)
    # No patients: only the design and the attachments, and that said once.
    assert set(page.h2) == {"design", "attachments"}
    assert text.count("no virtual patients") == 1
    attachments = page.text["attachments"]
    assert "optimize: regimens" in attachments and "sensitivity: Sobol & co" in attachments
    assert attachments.index("optimize: regimens") < attachments.index("sensitivity: Sobol")
    rows = page.rows["attachments"]
    # optimiser rates in percent, other analyses' tables as stored
    assert ["name", "orr (%)"] in rows and ["<label>", "20"] in rows and ["k10", "0.7"] in rows
    images = [src for section, src in page.images if section == "attachments"]
    assert [base64.b64decode(src.removeprefix(DATA_PNG)) for src in images] == [front, tornado]
    assert "an analysis run (optimize)" in page.text["design"]
    assert "search <rcc>: optimize analysis report" in text.replace("&lt;", "<").replace(
        "&gt;", ">")
    without = parse(report_html(path, run_id, stored=False))
    assert "No extra analyses attached." in without.text["attachments"]


def test_pdf_prints_collapsed_sections_open(report: Path, tmp_path: Path) -> None:
    """write_pdf hands the browser the page with every <details> open (collapsed, a printed
    section would be a closed triangle); a stand-in browser shows what it was given."""
    browser = tmp_path / "browser"
    browser.write_text("#!/usr/bin/env python3\n"
                       "import sys, urllib.parse, urllib.request\n"
                       "target = next(a for a in sys.argv if a.startswith('--print-to-pdf='))\n"
                       "page = urllib.request.urlopen(sys.argv[-1]).read()\n"
                       "open(target.split('=', 1)[1], 'wb').write(page)\n")
    browser.chmod(0o755)
    source = report.read_text(encoding="utf-8")
    assert "<details>" in source  # collapsed on screen
    printed = write_pdf(report, tmp_path / "r.pdf", browser=str(browser)).read_text()
    assert "<details>" not in printed
    assert printed.count("<details open>") == source.count("<details>")
    # The print style keeps tables whole and hides the disclosure triangles.
    assert "@media print" in CSS and "table,figure,pre{break-inside:avoid}" in CSS
    assert "summary::-webkit-details-marker{display:none}" in CSS
