"""`il2sim validate` from the command line: scorecard, store, report; bad input exit 2."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from il2sim.cli import cli
from il2sim.store import ResultStore
from il2sim.validation.stored import KIND, load_validation


def test_validate_prints_the_scorecard_and_writes_store_and_report(tmp_path: Path) -> None:
    """C6 (24 patients), one replicate: the scorecard, the misses with their reasons, the
    stored validation and the report. One replicate gives no 95% interval: the test checks
    the plumbing, not the model."""
    db, html = tmp_path / "v.duckdb", tmp_path / "out" / "v.html"
    result = CliRunner().invoke(cli, ["validate", "c6", "--replicates", "1", "--db", str(db),
                                      "-o", str(html)])
    assert result.exit_code == 0, result.output
    assert "1 replicate trials per arm" in result.stdout
    assert "needs lesions" not in result.stdout  # lesions (il2_qsp_lesions_5) simulated
    assert html.is_file() and "Intralesional IL-2" in html.read_text()
    with ResultStore(db, read_only=True) as store:
        assert list(store.analyses()["kind"]) == [KIND]
        validation, _ = load_validation(store, str(store.analyses()["run_id"].iloc[0]))
    lesion_outcomes = validation.scores[validation.scores["endpoint"].isin(
        ["treated_lesions_complete_response", "lesion_complete_response"])]
    assert len(lesion_outcomes) == 2 and (lesion_outcomes["status"] != "not simulated").all()
    assert lesion_outcomes["simulated"].between(0, 1).all()


def test_unknown_trial_is_one_line_and_exit_2(tmp_path: Path) -> None:
    db = tmp_path / "v.duckdb"
    result = CliRunner().invoke(cli, ["validate", "c42", "--db", str(db)])
    assert result.exit_code == 2
    assert result.stderr.strip().count("\n") == 0 and "no published trial 'c42'" in result.stderr
    assert not db.exists()
