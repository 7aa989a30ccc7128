"""Stored runs on the command line: a killed run reads as interrupted, a partial run is
warned about, a rerun says that it resumes; a query is written whole as CSV, Parquet or
JSON (issue 19)."""

from __future__ import annotations

import io
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from il2sim.cli import cli
from il2sim.store import ResultStore

EXAMPLES = Path(__file__).parents[1] / "examples" / "trials"

KILLED_AFTER_ONE_CHUNK = """
import os, signal, sys
from il2sim.store import ResultStore
from il2sim.config.trial import load_trial_file
from il2sim.model import get_model
from il2sim.trial.runner import open_run, simulate_chunk

spec = load_trial_file(sys.argv[1])
model = get_model(spec.model)
store = ResultStore(sys.argv[2])
run_id = open_run(store, spec, model)
store.write_chunk(run_id, 0, simulate_chunk(spec, model, spec.cohort().iloc[:2]))
print(run_id, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.fixture
def small_trial(tmp_path: Path) -> Path:
    """The RCC trial with 4 patients in chunks of 2, one course, 0.3 years."""
    path = tmp_path / "small.toml"
    path.write_text((EXAMPLES / "rcc.toml").read_text()
                    .replace("n_patients = 255", "n_patients = 4")
                    .replace("chunk_size = 64", "chunk_size = 2")
                    .replace("max_courses = 5", "max_courses = 1")
                    .replace("years = 5", "years = 0.3"))
    return path


def test_a_killed_run_is_interrupted_warned_about_and_resumed(tmp_path: Path,
                                                               small_trial: Path) -> None:
    db = tmp_path / "t.duckdb"
    killed = subprocess.run([sys.executable, "-c", KILLED_AFTER_ONE_CHUNK, str(small_trial),
                             str(db)], capture_output=True, text=True)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    run_id = killed.stdout.strip()
    runner = CliRunner()

    listed = runner.invoke(cli, ["results", "--db", str(db)])
    assert listed.exit_code == 0, listed.output
    assert "interrupted" in listed.stdout and "running" not in listed.stdout
    assert listed.stderr.strip() == (
        f"warning: run {run_id}: the run is interrupted: results may be partial (2 of 4 "
        "patients stored); run the same trial file with the same --db to resume it")

    shown = runner.invoke(cli, ["results", run_id, "--db", str(db)])
    assert shown.exit_code == 0, shown.output
    assert shown.output.splitlines()[0].startswith(
        f"warning: run {run_id}: the run is interrupted: results may be partial")

    resumed = runner.invoke(cli, ["trial", str(small_trial), "--db", str(db), "--no-plots"])
    assert resumed.exit_code == 0, resumed.output
    assert resumed.stderr.splitlines()[0] == (
        f"resuming run {run_id}: 2 of 4 patients already stored")
    again = runner.invoke(cli, ["trial", str(small_trial), "--db", str(db), "--no-plots"])
    assert again.stderr.splitlines()[0] == (
        f"run {run_id} is already stored (4 of 4 patients): not recomputed")
    shown = runner.invoke(cli, ["results", run_id, "--db", str(db)])
    assert "warning" not in shown.output


@pytest.fixture
def wide_store(tmp_path: Path) -> Path:
    """A store with one run of 150 patients in a 20-column table."""
    db = tmp_path / "w.duckdb"
    frame = pd.DataFrame({"patient": range(150),
                          **{f"x{i}": [0.5 * i + p for p in range(150)] for i in range(19)}})
    with ResultStore(db) as store:
        run = store.create_run(name="wide", model="m", model_version="1", seed=0,
                               n_patients=150, chunk_size=150, config="{}")
        store.write_chunk(run, 0, {"patients": frame})
    return db


def test_a_query_is_written_whole_as_csv_parquet_or_json(tmp_path: Path,
                                                         wide_store: Path) -> None:
    runner = CliRunner()
    sql = "SELECT * EXCLUDE (run_id) FROM patients ORDER BY patient"
    with ResultStore(wide_store, read_only=True) as store:
        expected = store.query(sql)

    as_table = runner.invoke(cli, ["results", "--db", str(wide_store), "--query", sql])
    assert as_table.exit_code == 0
    assert as_table.stderr.strip() == ("150 rows x 20 columns: --format csv (or parquet, "
                                       "json) and --output FILE write them whole")

    as_csv = runner.invoke(cli, ["results", "--db", str(wide_store), "--query", sql,
                                 "--format", "csv"])
    assert as_csv.exit_code == 0, as_csv.output
    pd.testing.assert_frame_equal(pd.read_csv(io.StringIO(as_csv.stdout)), expected,
                                  check_dtype=False)
    for name in ("rows.parquet", "rows.json"):
        path = tmp_path / name
        written = runner.invoke(cli, ["results", "--db", str(wide_store), "--query", sql,
                                      "--output", str(path)])
        assert written.exit_code == 0, written.output
        assert written.stderr.strip() == f"wrote {path} (150 rows, {path.suffix[1:]})"
        back = (pd.read_parquet(path) if path.suffix == ".parquet"
                else pd.read_json(path, orient="records"))
        pd.testing.assert_frame_equal(back, expected, check_dtype=False)

    for args, message in (
            (["--query", sql, "--output", str(tmp_path / "rows.txt")],
             f"--output: {tmp_path / 'rows.txt'}: give --format, or a file ending in .csv, "
             ".parquet, .json"),
            (["--query", sql, "--format", "parquet"],
             "--format: parquet is binary: give --output FILE"),
            (["--format", "csv"], "--format: goes with --query")):
        refused = runner.invoke(cli, ["results", "--db", str(wide_store), *args])
        assert refused.exit_code == 2
        assert refused.stderr.strip() == f"error: <command line>: {message}"


@pytest.mark.filterwarnings("ignore::lifelines.exceptions.ConvergenceWarning")  # 2 per arm
def test_a_multi_arm_rerun_says_each_arm_is_stored(tmp_path: Path) -> None:
    trial = tmp_path / "yang.toml"
    trial.write_text((EXAMPLES / "yang2003.toml").read_text()
                     .replace("max_courses = 5", "max_courses = 1")
                     .replace("years = 5", "years = 0.2"))
    args = ["trial", str(trial), "--patients", "4", "--db", str(tmp_path / "y.duckdb"),
            "--no-plots"]
    first = CliRunner().invoke(cli, args)
    assert first.exit_code == 0, first.output
    assert "already stored" not in first.stderr
    again = CliRunner().invoke(cli, args)
    assert again.exit_code == 0, again.output
    lines = [line for line in again.stderr.splitlines() if "already stored" in line]
    assert len(lines) == 2 and all(line.startswith("arm ") for line in lines)
    assert lines[0].endswith("is already stored (2 of 2 patients): not recomputed")
