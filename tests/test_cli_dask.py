"""--workers and --scheduler: one or the other, refused together before anything is written."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from il2sim.cli import cli

EXAMPLES = Path(__file__).parents[1] / "examples" / "trials"


@pytest.mark.parametrize("command", [
    ["trial", str(EXAMPLES / "rcc.toml")],
    ["trial", str(EXAMPLES / "yang2003.toml")],
    ["validate", "c6"],
])
def test_workers_and_scheduler_together_are_refused(tmp_path: Path, command: list[str]) -> None:
    db = tmp_path / "x.duckdb"
    result = CliRunner().invoke(cli, [*command, "--db", str(db), "--workers", "2",
                                      "--scheduler", "tcp://127.0.0.1:1"])
    assert result.exit_code == 2, result.output
    assert result.stderr.strip() == ("error: <command line>: --workers: give --workers or "
                                     "--scheduler, not both")
    assert not db.exists()


def test_a_small_trial_with_workers_runs_serially_and_says_so(tmp_path: Path) -> None:
    """Below DASK_MIN_PATIENTS_PER_WORKER patients per worker no local cluster is started
    (it would cost more than it saves, benchmarks/workers.py); one line says so."""
    from il2sim.cli import DASK_MIN_PATIENTS_PER_WORKER

    trial = tmp_path / "small.toml"
    trial.write_text((EXAMPLES / "rcc.toml").read_text()
                     .replace("n_patients = 255", "n_patients = 2")
                     .replace("max_courses = 5", "max_courses = 1")
                     .replace("years = 5", "years = 0.2"))
    result = CliRunner().invoke(cli, ["trial", str(trial), "--db", str(tmp_path / "t.duckdb"),
                                      "--no-plots", "--workers", "2"])
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines()[0] == (
        f"2 patients run serially: a local Dask cluster pays from about "
        f"{DASK_MIN_PATIENTS_PER_WORKER} patients per worker "
        f"({2 * DASK_MIN_PATIENTS_PER_WORKER} for --workers 2)")
