"""Output files are never replaced silently (issue 19): a trial's folder belongs to one
store's run, the documented optimisation example does not overwrite ``il2sim optimize``'s
figure."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from il2sim.cli import _trial_folder, cli
from il2sim.config.errors import ConfigError
from il2sim.trial.outputs import RUN_MARKER, check_folder, mark_folder

ROOT = Path(__file__).parents[1]


def test_a_folder_is_marked_with_its_run_and_refused_to_another_store(tmp_path: Path) -> None:
    folder, a, b = tmp_path / "out", tmp_path / "a.duckdb", tmp_path / "b.duckdb"
    check_folder(folder, a)  # no folder yet: nothing to refuse
    assert mark_folder(folder, "run1", a) is None
    assert (folder / RUN_MARKER).is_file()
    check_folder(folder, a)  # the same store
    assert mark_folder(folder, "run1", a) is None  # the same run again
    assert mark_folder(folder, "run2", a) == "run run1"  # another run of the store: said
    with pytest.raises(ConfigError, match=f"out: holds the files of run run2 of the store "
                       f"{a.resolve()}; give --out DIR, or --force to replace them"):
        check_folder(folder, b)
    check_folder(folder, b, force=True)
    assert mark_folder(folder, "run2", b) == f"run run2 of the store {a.resolve()}"


def test_the_default_folder_depends_on_the_store() -> None:
    trial = Path("examples/trials/rcc.toml")
    assert _trial_folder(trial, Path("il2sim-results.duckdb")) == Path("out/rcc")
    assert _trial_folder(trial, Path("runs/big.duckdb")) == Path("out/big/rcc")


def test_a_trial_does_not_write_over_another_stores_files(tmp_path: Path) -> None:
    trial = tmp_path / "small.toml"
    trial.write_text((ROOT / "examples" / "trials" / "rcc.toml").read_text()
                     .replace("n_patients = 255", "n_patients = 2")
                     .replace("chunk_size = 64", "chunk_size = 2")
                     .replace("max_courses = 5", "max_courses = 1")
                     .replace("years = 5", "years = 0.2"))
    runner = CliRunner()
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        first = runner.invoke(cli, ["trial", str(trial)])  # the default store
        assert first.exit_code == 0, first.output
        assert "wrote 7 files to out/small/" in first.stdout
        into_first = runner.invoke(cli, ["trial", str(trial), "--db", "other.duckdb",
                                         "--out", "out/small"])
        assert into_first.exit_code == 2
        assert into_first.stderr.startswith("error: out/small: holds the files of run ")
        assert not Path("other.duckdb").exists()  # refused before anything ran
        forced = runner.invoke(cli, ["trial", str(trial), "--db", "other.duckdb", "--out",
                                     "out/small", "--force", "--no-plots"])
        assert forced.exit_code == 0, forced.output  # (--no-plots: nothing to refuse)
        forced = runner.invoke(cli, ["trial", str(trial), "--db", "other.duckdb", "--out",
                                     "out/small", "--force"])
        assert forced.exit_code == 0, forced.output
        assert "wrote 7 files to out/small/ (replacing those of run " in forced.stdout
        assert f"of the store {(tmp_path / 'il2sim-results.duckdb').resolve()})" in \
            forced.stdout
    finally:
        os.chdir(cwd)


def test_the_optimisation_example_refuses_to_replace_a_figure(tmp_path: Path) -> None:
    (tmp_path / "optimize_rcc_example.png").write_bytes(b"an earlier figure")
    done = subprocess.run([sys.executable, str(ROOT / "examples" / "optimize_rcc.py")],
                          cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.splitlines()[-1] == (
        "optimize_rcc.py: error: optimize_rcc_example.png exists; give another file name or "
        "--force to replace it")
    assert (tmp_path / "optimize_rcc_example.png").read_bytes() == b"an earlier figure"
