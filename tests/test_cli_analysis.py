"""The analysis commands: il2sim sensitivity, biomarkers, report and optimize, their results
stored with a run in DuckDB, and the report that renders them."""

from __future__ import annotations

import base64
import io
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from rich.console import Console
from rich.progress import Progress

from il2sim import cli as cli_module
from il2sim.cli import cli
from il2sim.population import LogNormal, Population, standard_covariates
from il2sim.store import ResultStore
from il2sim.trial.outputs import mark_folder
from il2sim.trial.runner import TrialSpec, run_trial

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
BOLUS = str(EXAMPLES / "pk_konrad_bolus.toml")


def invoke(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, list(args))


class Articles(HTMLParser):
    """The stored-analysis articles of a report: kind, title, table cells, image count."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.articles: list[dict[str, object]] = []
        self.in_h3 = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = dict(attrs)
        if tag == "article" and attr.get("class") == "analysis":
            self.articles.append({"kind": attr.get("data-kind"), "title": "", "cells": [],
                                  "images": []})
        elif not self.articles:
            return
        elif tag == "h3":
            self.in_h3 = True
        elif tag == "img":
            images = self.articles[-1]["images"]
            assert isinstance(images, list)
            images.append(attr.get("src") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "h3":
            self.in_h3 = False

    def handle_data(self, data: str) -> None:
        if not self.articles:
            return
        if self.in_h3:
            self.articles[-1]["title"] = str(self.articles[-1]["title"]) + data
        cells = self.articles[-1]["cells"]
        assert isinstance(cells, list)
        cells.append(data.strip())


def articles(html_file: Path) -> list[dict[str, object]]:
    parser = Articles()
    parser.feed(html_file.read_text(encoding="utf-8"))
    return parser.articles


@pytest.fixture
def bars(monkeypatch: pytest.MonkeyPatch) -> list[Progress]:
    """The progress bars the commands create, drawn to a string as on a terminal."""
    made: list[Progress] = []

    def progress() -> Progress:
        made.append(Progress(console=Console(file=io.StringIO(), force_terminal=True)))
        return made[-1]

    monkeypatch.setattr(cli_module, "_progress", progress)
    return made


@pytest.fixture(scope="module")
def trial_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A stored 8-patient trial (one course, 150 days)."""
    pop = Population(params={"ant": LogNormal(2.5, 1.0)}, covariates=standard_covariates("rcc"))
    spec = TrialSpec("report", n_patients=8, seed=4, population=pop, horizon_days=150.0,
                     max_courses=1, backend="native", chunk_size=8)
    db = tmp_path_factory.mktemp("trial") / "t.duckdb"
    with ResultStore(db) as store:
        run_trial(spec, store=store)
        run_id = str(store.runs()["run_id"].iloc[0])
    return db, run_id


# --------------------------------------------------------------------------- sensitivity


def test_sobol_of_a_bolus_auc_names_clearance_and_volume(tmp_path: Path,
                                                         bars: list[Progress]) -> None:
    db = tmp_path / "s.duckdb"
    r = invoke("sensitivity", BOLUS, "--param", "k10=0.03:0.06", "--param", "V1=2:3.5",
               "--param", "k12=0.0069:0.0073", "--output", "C_plasma", "--reduce", "auc",
               "--n", "64", "--convergence", "--out", str(tmp_path), "--db", str(db))
    assert r.exit_code == 0, r.output
    table = pd.read_csv(next(tmp_path.glob("*.csv")), index_col=0)
    # AUC = dose/(k10*V1): clearance and volume matter, the narrow k12 range does not
    assert table.loc["k10", "ST"] > 0.3 and table.loc["V1", "ST"] > 0.2
    assert table.loc["k12", "ST"] < 0.02
    assert list(tmp_path.glob("*.png"))
    assert "convergence: N = 32 -> 64" in r.output
    (task,) = bars[0].tasks      # one design of N (d + 2) rows serves both estimates
    assert task.total == task.completed == 64 * (3 + 2)
    with ResultStore(db, read_only=True) as store:
        runs = store.runs()
        assert len(runs) == 1 and json.loads(runs["config"][0])["analysis"] == "sensitivity"
        run_id = str(runs["run_id"][0])
        (name,) = store.analyses(run_id)["name"]
        stored = store.load_analysis(run_id, "sensitivity", name)
    pd.testing.assert_frame_equal(stored.tables["indices"].reset_index(), table.reset_index(),
                                  check_exact=False, rtol=1e-12)
    assert set(stored.tables["convergence"].index) == {"k10", "V1", "k12"}
    assert stored.params["inputs"]["k10"] == [0.03, 0.06]
    listed = invoke("results", "--db", str(db))
    assert listed.exit_code == 0 and run_id in listed.output


def test_morris_of_a_covariate_attached_to_a_run_and_errors(tmp_path: Path,
                                                            trial_db: tuple[Path, str],
                                                            bars: list[Progress]) -> None:
    db, run_id = trial_db
    r = invoke("sensitivity", BOLUS, "--param", "k10=0.03:0.06", "--param", "bsa=1.4:2.2",
               "--output", "C_plasma", "--method", "morris", "--n", "8", "--out",
               str(tmp_path), "--db", str(db), "--run", run_id)
    assert r.exit_code == 0, r.output
    table = pd.read_csv(next(tmp_path.glob("*.csv")), index_col=0)
    assert table.loc["bsa", "mu_star"] > 0   # a per-m**2 dose: the peak grows with BSA
    (task,) = bars[0].tasks
    assert task.total == task.completed == 8 * (2 + 1)
    with ResultStore(db, read_only=True) as store:
        assert "morris of max(C_plasma), pk_konrad_bolus" in set(store.analyses(run_id)["name"])
    bad = invoke("sensitivity", BOLUS, "--param", "k10=0.06", "--output", "C_plasma")
    assert bad.exit_code == 2
    assert bad.stderr.strip().startswith("error: <command line>: --param: 'k10=0.06'")
    unknown = invoke("sensitivity", BOLUS, "--param", "k10=0.03:0.06", "--output", "C_plasma",
                     "--db", str(db), "--run", "nope")
    assert unknown.exit_code == 2 and "unknown run id" in unknown.stderr
    age = invoke("sensitivity", BOLUS, "--param", "age=20:80", "--output", "C_plasma",
                 "--no-store")
    assert age.exit_code == 2 and "covariates weight, height, bsa" in age.stderr


# --------------------------------------------------------------------------- biomarkers


@pytest.mark.slow
def test_biomarkers_of_a_stored_trial(tmp_path: Path, bars: list[Progress],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    pop = Population(params={"ant": LogNormal(2.5, 1.0)}, covariates=standard_covariates("rcc"))
    spec = TrialSpec("biomarkers", n_patients=60, seed=4, population=pop, horizon_days=200.0,
                     max_courses=1, backend="native", chunk_size=30)
    db = tmp_path / "t.duckdb"
    with ResultStore(db) as store:
        run_trial(spec, store=store)
        run_id = str(store.runs()["run_id"].iloc[0])
    monkeypatch.chdir(tmp_path)
    mark_folder(Path("out") / "trial", run_id, db)  # as il2sim trial marks its folder
    r = invoke("biomarkers", run_id, "--db", str(db), "--on-treatment", "sbp_min")
    assert r.exit_code == 0, r.output
    # antigenicity drives response; features under their clinical labels
    assert "AUC" in r.output and "tumour antigenicity (immunogenicity)" in r.output
    assert "baseline against on-treatment" in r.output
    # fits: 5 folds x (5 repeats + 200 permutations), for the baseline analysis and for
    # each of the two compared feature sets
    (task,) = bars[-1].tasks
    assert task.total == task.completed == 3 * 5 * (5 + 200)
    # the figures go to the run's output folder, not the working directory
    assert {p.name for p in (tmp_path / "out" / "trial").glob("*.png")} == {
        f"{run_id}_roc.png", f"{run_id}_importance.png"}
    assert not list(tmp_path.glob("*.png"))
    with ResultStore(db, read_only=True) as store:
        (name,) = store.analyses(run_id)["name"]
        stored = store.load_analysis(run_id, "biomarkers", name)
    top = stored.tables["feature importance"].iloc[0]
    assert (top["feature"], top["label"]) == ("ant", "tumour antigenicity (immunogenicity)")
    assert list(stored.tables["baseline against on-treatment markers"].index) == [
        "baseline", "baseline + on-treatment"]
    assert set(stored.figures) == {"ROC", "importance"}
    unknown = invoke("biomarkers", "nope", "--db", str(db))
    assert unknown.exit_code == 2 and "unknown run id" in unknown.stderr


# --------------------------------------------------------------------------- report


def test_report_of_a_stored_trial_with_its_analyses(tmp_path: Path,
                                                    trial_db: tuple[Path, str]) -> None:
    db, run_id = trial_db
    attached = invoke("sensitivity", BOLUS, "--param", "k10=0.03:0.06", "--param", "V1=2:3.5",
                      "--output", "C_plasma", "--n", "8", "--out", str(tmp_path), "--db",
                      str(db), "--run", run_id)
    assert attached.exit_code == 0, attached.output
    out = tmp_path / "r.html"
    r = invoke("report", run_id, "--db", str(db), "-o", str(out))
    assert r.exit_code == 0, r.output
    text = out.read_text()
    assert '<section id="summary"' in text and "data:image/png;base64," in text
    with ResultStore(db, read_only=True) as store:
        stored = store.analyses(run_id)
        figures = {n: store.load_analysis(run_id, "sensitivity", n).figures
                   for n in stored["name"]}
    found = articles(out)
    assert [a["title"] for a in found] == [f"{k}: {n}" for k, n in
                                          zip(stored["kind"], stored["name"])]
    sobol = next(a for a in found if "sobol of max(C_plasma)" in str(a["title"]))
    assert sobol["kind"] == "sensitivity" and "k10" in sobol["cells"]
    (png,) = figures[str(sobol["title"]).removeprefix("sensitivity: ")].values()
    images = sobol["images"]
    assert isinstance(images, list)
    assert [base64.b64decode(s.removeprefix("data:image/png;base64,")) for s in images] == [png]
    assert invoke("report", "nope", "--db", str(db)).exit_code == 2


# --------------------------------------------------------------------------- optimize


def test_optimize_stores_a_search_and_reports_it(tmp_path: Path) -> None:
    db = tmp_path / "o.duckdb"
    r = invoke("optimize", "--patients", "20", "--candidates", "2", "--seed", "3",
               "--horizon-days", "120", "--out", str(tmp_path), "--db", str(db))
    assert r.exit_code == 0, r.output
    # rates in percent, as everywhere else (0.075 is 7.5%)
    assert re.search(r"label regimen: orr \d+\.\d%, hypotension \d+\.\d%", r.output)
    assert "orr (%)" in r.output and "hypotension <= 60.0%" in r.output
    table = pd.read_csv(tmp_path / "optimize_rcc.csv")
    assert table["is_label"].sum() == 1 and len(table) == 3
    assert "dor_median (day)" in table.columns  # a unit where there is one
    assert table["pareto"].any()
    assert (tmp_path / "optimize_rcc.png").exists()
    with ResultStore(db, read_only=True) as store:
        (run_id,) = store.runs()["run_id"]
        stored = store.load_analysis(run_id, "optimize", "optimize rcc")
    back = stored.tables["all candidates"]
    pd.testing.assert_series_equal(back["orr"], table["orr"])
    assert stored.params["constraints"] == {"hypotension": 0.6}
    assert stored.params["label_on_front"] == bool(table.loc[table["is_label"], "pareto"].iloc[0])
    shown = invoke("results", run_id, "--db", str(db))
    assert shown.exit_code == 0 and "analyses of run" in shown.output
    html = tmp_path / "o.html"
    assert invoke("report", run_id, "--db", str(db), "-o", str(html)).exit_code == 0
    (found,) = articles(html)
    assert found["kind"] == "optimize" and "600k IU/kg q8h x14, 15 min" in found["cells"]


def test_optimize_routes_partner_holds_and_ceilings(tmp_path: Path) -> None:
    r = invoke("optimize", "--patients", "20", "--candidates", "3", "--seed", "5",
               "--horizon-days", "120", "--route", "iv", "--route", "sc", "--ifn", "0",
               "--refine", "1",
               "--ifn", "6", "--holds", "--efficacy", "cr", "--toxicity", "held", "--max",
               "held=0.5", "--max", "trd=0.1", "--out", str(tmp_path), "--no-store")
    assert r.exit_code == 0, r.output
    table = pd.read_csv(tmp_path / "optimize_rcc.csv")
    label = table[table["is_label"]].iloc[0]
    assert label["held"] > 0            # the label's hold rules were applied
    assert sorted(set(table["round"])) == [0, 1]
    assert list(table["feasible"]) == list((table["held"] <= 0.5) & (table["trd"] <= 0.1))
    bad = invoke("optimize", "--max", "nausea=0.2", "--no-store")
    assert bad.exit_code == 2 and "unknown metric 'nausea'" in bad.stderr
    both = invoke("optimize", "--run", "x", "--no-store")
    assert both.exit_code == 2 and "cannot go with --no-store" in both.stderr


def test_optimize_by_differential_evolution(tmp_path: Path, bars: list[Progress]) -> None:
    db = tmp_path / "o.duckdb"
    r = invoke("optimize", "--method", "de", "--patients", "20", "--candidates", "3",
               "--seed", "3", "--horizon-days", "120", "--max", "hypotension_g34=0.3",
               "--out", str(tmp_path), "--db", str(db))
    assert r.exit_code == 0, r.output
    table = pd.read_csv(tmp_path / "optimize_rcc.csv")
    assert table["is_label"].sum() == 1 and len(table) == 4       # the budget plus the label
    assert list(table["feasible"]) == list(table["hypotension_g34"] <= 0.3)
    (task,) = bars[0].tasks
    assert task.total == task.completed == 4
    with ResultStore(db, read_only=True) as store:
        (run_id,) = store.runs()["run_id"]
        stored = store.load_analysis(run_id, "optimize", "optimize rcc")
    assert stored.params["method"] == "de" and stored.params["evaluated"] == 4
    bad = invoke("optimize", "--method", "de", "--refine", "1", "--no-store")
    assert bad.exit_code == 2 and "--refine: is for --method sobol or lhs" in bad.stderr


@pytest.mark.slow
def test_sensitivity_of_a_trial_output(tmp_path: Path) -> None:
    trial = tmp_path / "small.toml"
    trial.write_text((EXAMPLES / "trials" / "rcc.toml").read_text()
                     .replace("n_patients = 255", "n_patients = 4")
                     .replace("max_courses = 5", "max_courses = 1")
                     .replace("years = 5", "years = 0.3"))
    db = tmp_path / "s.duckdb"
    r = invoke("sensitivity", str(trial), "--trial", "--param", "pmax=2:8", "--param",
               "ka_ifn=0.05:0.5", "--output", "sbp_min", "--method", "morris", "--n", "3",
               "--out", str(tmp_path), "--db", str(db))
    assert r.exit_code == 0, r.output
    table = pd.read_csv(next(tmp_path.glob("*.csv")), index_col=0)
    # no interferon in the regimen: no effect at all; a larger leak sensitivity lowers the
    # lowest pressure in every elementary effect (mu = -mu*), by more than the bootstrap
    # half-width of mu* (1.7 half-widths with 4 patients and 3 trajectories since the
    # relative criteria withhold doses; over 3 before)
    pmax = table.loc["pmax"]
    assert table.loc["ka_ifn", "mu_star"] == 0.0
    assert pmax["mu"] == pytest.approx(-pmax["mu_star"])
    assert pmax["mu_star"] > pmax["mu_star_conf"] > 0
    with ResultStore(db, read_only=True) as store:
        (name,) = store.analyses()["name"]
    assert name.startswith("morris of sbp_min, Metastatic RCC")
    bad = invoke("sensitivity", str(trial), "--trial", "--param", "pmax=2:8", "--output",
                 "orr", "--no-store")
    assert bad.exit_code == 2 and "unknown output 'orr'" in bad.stderr


@pytest.mark.slow
@pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="no /usr/bin/chromium")
def test_report_as_pdf(tmp_path: Path, trial_db: tuple[Path, str]) -> None:
    db, run_id = trial_db
    out = tmp_path / "r.html"
    r = invoke("report", run_id, "--db", str(db), "-o", str(out), "--pdf")
    assert r.exit_code == 0, r.output
    pdf = out.with_suffix(".pdf").read_bytes()
    assert pdf.startswith(b"%PDF-") and len(pdf) > 10_000 and b"%%EOF" in pdf[-1024:]
