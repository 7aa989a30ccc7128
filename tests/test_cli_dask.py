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
