"""The analysis commands: il2sim sensitivity and il2sim biomarkers."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from il2sim.cli import cli
from il2sim.io.store import ResultStore
from il2sim.population import LogNormal, Population, standard_covariates
from il2sim.trial.runner import TrialSpec, run_trial

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def invoke(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, list(args))


def test_sobol_of_a_bolus_auc_names_clearance_and_volume(tmp_path: Path) -> None:
    r = invoke("sensitivity", str(EXAMPLES / "pk_konrad_bolus.toml"), "--param",
               "k10=0.03:0.06", "--param", "V1=2:3.5", "--param", "k12=0.0069:0.0073",
               "--output", "C_plasma", "--reduce", "auc", "--n", "64", "--out", str(tmp_path))
    assert r.exit_code == 0, r.output
    table = pd.read_csv(next(tmp_path.glob("*.csv")), index_col=0)
    # AUC = dose/(k10*V1): clearance and volume matter, the narrow k12 range does not
    assert table.loc["k10", "ST"] > 0.3 and table.loc["V1", "ST"] > 0.2
    assert table.loc["k12", "ST"] < 0.02
    assert list(tmp_path.glob("*.png"))


def test_morris_runs_and_bad_ranges_are_one_line_errors(tmp_path: Path) -> None:
    r = invoke("sensitivity", str(EXAMPLES / "pk_konrad_bolus.toml"), "--param",
               "k10=0.03:0.06", "--param", "V1=2:3.5", "--output", "C_plasma", "--method",
               "morris", "--n", "8", "--out", str(tmp_path))
    assert r.exit_code == 0, r.output
    bad = invoke("sensitivity", str(EXAMPLES / "pk_konrad_bolus.toml"), "--param", "k10=0.06",
                 "--output", "C_plasma")
    assert bad.exit_code == 2
    assert bad.stderr.strip().startswith("error: <command line>: --param: 'k10=0.06'")


@pytest.mark.slow
def test_biomarkers_of_a_stored_trial(tmp_path: Path) -> None:
    pop = Population(params={"ant": LogNormal(2.5, 1.0)}, covariates=standard_covariates("rcc"))
    spec = TrialSpec("biomarkers", n_patients=60, seed=4, population=pop, horizon_days=200.0,
                     max_courses=1, backend="native", chunk_size=30)
    db = tmp_path / "t.duckdb"
    with ResultStore(db) as store:
        run_trial(spec, store=store)
        run_id = str(store.runs()["run_id"].iloc[0])
    r = invoke("biomarkers", run_id, "--db", str(db), "--out", str(tmp_path))
    assert r.exit_code == 0, r.output
    assert "AUC" in r.output and "ant" in r.output  # antigenicity drives response
    assert (tmp_path / f"{run_id}_roc.png").exists()
    unknown = invoke("biomarkers", "nope", "--db", str(db))
    assert unknown.exit_code == 2 and "unknown run id" in unknown.stderr


def test_report_of_a_stored_trial(tmp_path: Path) -> None:
    pop = Population(params={"ant": LogNormal(2.5, 1.0)}, covariates=standard_covariates("rcc"))
    spec = TrialSpec("report", n_patients=8, seed=4, population=pop, horizon_days=150.0,
                     max_courses=1, backend="native", chunk_size=8)
    db = tmp_path / "t.duckdb"
    with ResultStore(db) as store:
        run_trial(spec, store=store)
        run_id = str(store.runs()["run_id"].iloc[0])
    out = tmp_path / "r.html"
    r = invoke("report", run_id, "--db", str(db), "-o", str(out))
    assert r.exit_code == 0, r.output
    text = out.read_text()
    assert '<section id="summary"' in text and "data:image/png;base64," in text
    assert invoke("report", "nope", "--db", str(db)).exit_code == 2


def test_optimize_places_the_label_regimen(tmp_path: Path) -> None:
    r = invoke("optimize", "--patients", "20", "--candidates", "2", "--seed", "3", "--out",
               str(tmp_path))
    assert r.exit_code == 0, r.output
    assert "label regimen: ORR" in r.output
    table = pd.read_csv(tmp_path / "optimize_rcc.csv")
    assert table["is_label"].sum() == 1 and len(table) == 3
    assert table["pareto"].any()
    assert (tmp_path / "optimize_rcc.png").exists()
