"""The ``il2sim export`` and ``il2sim import`` commands."""

from __future__ import annotations

from pathlib import Path

import libsbml
from click.testing import CliRunner

from il2sim.cli import cli


def test_export_prints_sbml_or_writes_a_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["export", "kp1998"])
    assert result.exit_code == 0, result.output
    doc = libsbml.readSBMLFromString(result.stdout)
    assert doc.getModel().getId() == "kp1998"
    path = tmp_path / "kp.xml"
    result = CliRunner().invoke(cli, ["export", "kp1998", "-o", str(path)])
    assert result.exit_code == 0
    assert libsbml.readSBMLFromFile(str(path)).getModel().getNumSpecies() == 3


def test_export_of_an_unknown_model_is_one_line_and_exit_2() -> None:
    result = CliRunner().invoke(cli, ["export", "nope"])
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: unknown model")


def test_import_shows_the_model_and_simulates(tmp_path: Path) -> None:
    path = tmp_path / "kp.xml"
    assert CliRunner().invoke(cli, ["export", "kp1998", "-o", str(path)]).exit_code == 0
    result = CliRunner().invoke(cli, ["import", str(path), "--simulate", "30 day"])
    assert result.exit_code == 0, result.output
    assert "kp1998" in result.stdout and "dE/dt" in result.stdout
    assert "summary" in result.stdout and "tumour_fraction" in result.stdout
    result = CliRunner().invoke(cli, ["import", str(path), "--simulate", "10",
                                      "--points", "5"])
    assert result.exit_code == 0, result.output


def test_import_of_the_curated_kp98_file(shared_data: Path) -> None:
    path = shared_data / "biomodels" / "BIOMD0000000732.xml"
    result = CliRunner().invoke(cli, ["import", str(path), "--simulate", "5 day"])
    assert result.exit_code == 0, result.output
    assert "Tumor" in result.stdout and "Tumor_growth" in result.stdout


def test_bad_files_are_one_line_errors_with_exit_2(tmp_path: Path, shared_data: Path) -> None:
    bad = tmp_path / "bad.xml"
    bad.write_text("<sbml")
    delayed = shared_data / "sbml-test-suite/cases/00981/00981-sbml-l3v2.xml"
    for path, message in ((tmp_path / "missing.xml", "no such file"),
                          (bad, "not valid SBML"),
                          (delayed, "the delay must be constant")):
        result = CliRunner().invoke(cli, ["import", str(path)])
        assert result.exit_code == 2, result.output
        assert result.stderr.count("\n") == 1 and message in result.stderr
    result = CliRunner().invoke(cli, ["import", str(delayed).replace("00981", "00001"),
                                      "--simulate", "-1"])
    assert result.exit_code == 2 and "positive" in result.stderr
