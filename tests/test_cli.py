"""The command line, through click's test runner."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner, Result

from il2sim import SimulationError
from il2sim.cli import cli
from il2sim.io import Scenario
from il2sim.model.library.kp1998 import SOURCE as KP98_SOURCE

EXAMPLES = Path(__file__).parents[1] / "examples"
KONRAD = EXAMPLES / "pk_konrad_bolus.toml"


def invoke(*args: object) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_models_lists_both_models() -> None:
    result = invoke("models")
    assert result.exit_code == 0, result.output
    for text in ("kp1998", "aldesleukin_pk", "Kirschner", "Konrad"):
        assert text in result.stdout


def test_show_kp1998_lists_parameters_with_sources() -> None:
    result = invoke("show", "kp1998")
    assert result.exit_code == 0, result.output
    out = result.stdout
    param_lines = [line for line in out.splitlines() if KP98_SOURCE in line]
    names = {line.strip("│┃ ").split()[0] for line in param_lines}
    assert names == {"c", "mu2", "p1", "g1", "r2", "b", "a", "g2", "p2", "g3", "mu3"}
    for text in ("states", "dose routes", "observables", "tumour_fraction", "s1", "cells",
                 "dT/dt = r2*T*(1 - b*T) - a*E*T/(g2 + T)", "[0, 1]", "log"):
        assert text in out


def test_show_aldesleukin_pk() -> None:
    result = invoke("show", "aldesleukin_pk")
    assert result.exit_code == 0, result.output
    for text in ("dA_c/dt", "F_sc", "C_plasma", "assumption", "time unit: min"):
        assert text in result.stdout


def test_simulate_konrad_writes_csv_and_png(tmp_path: Path) -> None:
    out = tmp_path / "results"
    result = invoke("simulate", KONRAD, "--out", out)
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out / "pk_konrad_bolus.csv")
    # Konrad 1990: a 1e6 U/m2 bolus gives about 650 U/mL.
    assert frame["C_plasma (IU/mL)"].iloc[0] == pytest.approx(650, rel=0.02)
    assert list(frame["time (min)"].iloc[[0, -1]]) == [0.0, 480.0]
    doses = pd.read_csv(out / "pk_konrad_bolus_doses.csv")
    assert doses["amount"].tolist() == pytest.approx([1.73e6])
    assert (out / "pk_konrad_bolus.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "C_plasma" in result.stdout and "650.4" in result.stdout  # summary table
    assert str(out / "pk_konrad_bolus.png") in result.stdout


def test_simulate_flags_override_the_file(tmp_path: Path) -> None:
    result = invoke("simulate", KONRAD, "--preset", "label_high_dose", "--dose", "720000 IU/kg",
                    "--weight", "70kg", "--height", "175 cm", "--set", "k10=0.05",
                    "--end", "1 day", "--points", "97", "--format", "parquet", "--no-plot",
                    "--out", tmp_path)
    assert result.exit_code == 0, result.output
    frame = pd.read_parquet(tmp_path / "pk_konrad_bolus.parquet")
    assert len(frame) == 97 and frame["CL (mL/min)"].iloc[0] == \
        pytest.approx(1000 * 0.05 * 2.66)
    doses = pd.read_csv(tmp_path / "pk_konrad_bolus_doses.csv")
    assert doses["time (h)"].tolist() == [0.0, 8.0, 16.0, 24.0]
    assert doses["time (min)"].tolist() == [0.0, 480.0, 960.0, 1440.0]
    assert doses["amount"].tolist() == pytest.approx([720000 * 70] * 4)
    assert not (tmp_path / "pk_konrad_bolus.png").exists()


def test_simulate_without_file(tmp_path: Path) -> None:
    result = invoke("simulate", "--model", "kp1998", "--set", "c=0.02", "--end", "100 day",
                    "--points", "11", "--out", tmp_path)
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(tmp_path / "kp1998.csv")
    assert frame["T (cell)"].iloc[0] == pytest.approx(1e5) and len(frame) == 11
    assert frame.columns[1] == "time (day)"
    assert (tmp_path / "kp1998.png").exists()


def test_failed_integration_exits_1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(self: Scenario, progress: object = None) -> None:
        raise SimulationError("kp1998: patient 0 failed: step size too small")

    monkeypatch.setattr(Scenario, "run", fail)
    result = invoke("simulate", "--model", "kp1998", "--end", "1 day", "--out", tmp_path)
    assert result.exit_code == 1
    assert result.stderr == "error: kp1998: patient 0 failed: step size too small\n"
    assert "Traceback" not in result.output


def bad_toml(tmp_path: Path) -> Path:
    path = tmp_path / "bad.toml"
    path.write_text('model = "kp1998"\n[params\nc = 1\n')
    return path


def negative_dose(tmp_path: Path) -> Path:
    path = tmp_path / "negative.toml"
    path.write_text(KONRAD.read_text().replace('"1e6 IU/m**2"', '"-5 IU"'))
    return path


def konrad_with(tmp_path: Path, old: str, new: str) -> Path:
    """The Konrad scenario file with one line changed (e.g. the dose or the patient)."""
    path = tmp_path / "changed.toml"
    text = KONRAD.read_text()
    assert old in text
    path.write_text(text.replace(old, new))
    return path


LABEL_IN_KG = ["--model", "aldesleukin_pk", "--preset", "label_high_dose", "--dose", "600000 kg",
               "--weight", "70 kg", "--end", "21 day"]
NOT_A_DOSE = "'600000 kg' is not a dose: kg is a unit of body weight, not an amount of drug"
OUTSIDE = "5000 kg is outside the physiological range 2.1 to 635 kg"
TOO_MANY = "100000000 output times x 1 patient x 7 variables is 7e+08 values, more than the limit"

BAD = [
    ("unknown model", lambda p: ["--model", "nope", "--end", "1 h"], "model: unknown model"),
    ("unknown parameter", lambda p: [KONRAD, "--set", "k99=1"], "params.k99"),
    ("bad --set", lambda p: [KONRAD, "--set", "k10"], "expected name=value"),
    ("malformed TOML", lambda p: [bad_toml(p)], "line 2, column 8: invalid TOML"),
    ("negative dose", lambda p: [negative_dose(p)],
     "regimen[0].amount: must be positive, got '-5 IU'"),
    ("wrong unit", lambda p: [KONRAD, "--weight", "70 cm"], "patient.weight: cannot convert"),
    ("unknown preset", lambda p: [KONRAD, "--preset", "nope"], "regimen.preset"),
    ("missing file", lambda p: [p / "nope.toml"], "cannot read: No such file"),
    ("nothing to simulate", lambda p: [], "give a scenario file or --model"),
    # issue 14: a dose in kg, an impossible patient, an output too large to write
    ("dose in kg", lambda p: LABEL_IN_KG, f"<command line>: regimen.dose: infusion amount: "
     f"{NOT_A_DOSE}"),
    ("dose in kg in the file", lambda p: [konrad_with(p, '"1e6 IU/m**2"', '"600000 kg"')],
     f"changed.toml: regimen[0].amount: {NOT_A_DOSE}"),
    ("5000 kg patient", lambda p: [KONRAD, "--weight", "5000 kg"], f"patient.weight: {OUTSIDE}"),
    ("5000 kg patient in the file",
     lambda p: [konrad_with(p, 'bsa = "1.73 m**2"', 'weight = "5000 kg"')],
     f"changed.toml: patient.weight: {OUTSIDE}"),
    ("300 cm patient", lambda p: [KONRAD, "--height", "300 cm"],
     "patient.height: 300 cm is outside the physiological range 54.6 to 272 cm"),
    ("1e8 output times", lambda p: [KONRAD, "--points", "100000000"],
     f"simulation.points: {TOO_MANY}"),
    ("1e8 output times in the file",
     lambda p: [konrad_with(p, "points = 481", "points = 100000000")],
     f"changed.toml: simulation.points: {TOO_MANY}"),
]


@pytest.mark.parametrize(("make_args", "text"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_input_exits_2_with_one_line(tmp_path: Path, make_args: Callable[[Path], list[object]],
                                         text: str) -> None:
    result = invoke("simulate", *make_args(tmp_path), "--out", tmp_path / "out")
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert text in lines[0]
    assert not (tmp_path / "out").exists()


def test_physiological_bounds_can_be_lifted(tmp_path: Path) -> None:
    """--no-physiological-bounds runs the 5000 kg patient: dose 5000 kg x 600000 IU/kg."""
    result = invoke("simulate", "--model", "aldesleukin_pk", "--preset", "label_high_dose",
                    "--weight", "5000 kg", "--no-physiological-bounds", "--end", "8 h",
                    "--points", "3", "--no-plot", "--out", tmp_path)
    assert result.exit_code == 0, result.output
    doses = pd.read_csv(tmp_path / "aldesleukin_pk_doses.csv")
    assert len(doses) and set(doses["amount"]) == {600000.0 * 5000}


def test_trial_with_a_dose_in_kg_exits_2_and_stores_nothing(tmp_path: Path) -> None:
    text = (EXAMPLES / "trials" / "rcc.toml").read_text()
    assert 'dose = "600000 IU/kg"' in text
    trial = tmp_path / "kg.toml"
    trial.write_text(text.replace('dose = "600000 IU/kg"', 'dose = "600000 kg"'))
    db, out = tmp_path / "store.duckdb", tmp_path / "out"
    result = invoke("trial", trial, "--db", db, "--out", out)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert lines == [f"error: {trial}: protocol.dose: {NOT_A_DOSE}; per kg of body weight is "
                     "written e.g. '600000 IU/kg'"]
    assert not db.exists() and not out.exists()


def test_show_unknown_model_exits_2() -> None:
    result = invoke("show", "nope")
    assert result.exit_code == 2
    line = result.stderr.strip()
    assert line.startswith("error: unknown model 'nope'; known: aldesleukin_pk, ")
    assert "kp1998" in line and "\n" not in line


def test_simulate_figure_title_shows_set_parameters(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The example's title says c = 0.02; after --set c=0.035 the figure says 0.035."""
    import il2sim.engine.output as output

    titles: list[str] = []
    draw = output.result_figure

    def spy(result: object, *, title: str = "") -> object:
        titles.append(title)
        return draw(result, title=title)  # type: ignore[arg-type]

    monkeypatch.setattr(output, "result_figure", spy)
    result = invoke("simulate", EXAMPLES / "kp1998_oscillations.toml", "--set", "c=0.035",
                    "--points", "11", "--out", tmp_path)
    assert result.exit_code == 0, result.output
    assert titles == ["KP98 untreated, c = 0.035 1/day"]
    assert result.stdout.startswith("KP98 untreated, c = 0.035 1/day\n")


@pytest.mark.parametrize(("example", "written", "negative", "key"), [
    ("rcc.toml", 'dose = "600000 IU/kg"', 'dose = "-600000 IU/kg"', "protocol.dose"),
    ("local.toml", 'dose = "3 MIU"', 'dose = "-3 MIU"', "protocol.regimen.dose"),
    ("yang2003.toml", 'amount = "720000 IU/kg"', 'amount = "-720000 IU/kg"',
     "arms[0].protocol.cycles[0].amount"),
    ("negrier1998.toml", 'rate = "18 MIU/m**2/day"', 'rate = "-18 MIU/m**2/day"',
     "arms[0].protocol.cycles[0].rate"),
])
def test_trial_with_a_negative_dose_names_file_and_key_and_stores_nothing(
        tmp_path: Path, example: str, written: str, negative: str, key: str) -> None:
    text = (EXAMPLES / "trials" / example).read_text()
    assert written in text
    trial = tmp_path / "negative.toml"
    trial.write_text(text.replace(written, negative, 1))
    db, out = tmp_path / "store.duckdb", tmp_path / "out"
    result = invoke("trial", trial, "--db", db, "--out", out)
    assert result.exit_code == 2
    line = result.stderr.strip()
    assert line.startswith(f"error: {trial}: {key}: ") and "\n" not in line
    assert "must be positive" in line and negative.split('"')[1] in line
    assert not db.exists() and not out.exists()


def test_a_layer_error_is_one_line_naming_the_option(tmp_path: Path) -> None:
    """A trial-layer error (:class:`TrialError`, a ``ValueError``) raised in an option's
    ``_at`` block: exit 2 and one line naming the option first, nothing stored."""
    from il2sim.analysis.errors import AnalysisError
    from il2sim.analysis.sensitivity import SensitivityError
    from il2sim.trial.errors import TrialError

    assert issubclass(TrialError, ValueError) and issubclass(AnalysisError, ValueError)
    assert issubclass(SensitivityError, AnalysisError) and issubclass(SensitivityError,
                                                                      RuntimeError)
    trial = EXAMPLES / "trials" / "negrier1998.toml"
    db = tmp_path / "t.duckdb"
    result = invoke("trial", str(trial), "--patients", "1", "--db", str(db))
    assert result.exit_code == 2
    assert result.stderr == ("error: <command line>: --patients: trial 'Negrier 1998: IL-2, "
                             "IFN-alpha or both in RCC (randomised, n = 425)': 1 patients "
                             "cannot fill 3 arms\n")
    assert not db.exists()


def test_a_plain_value_error_in_an_at_block_is_not_disguised(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bare ``ValueError`` (a programming error, not a layer's error class) raised inside
    an option's ``_at`` block propagates with its traceback instead of becoming the one-line
    input message of exit 2."""
    from il2sim.trial.arms import MultiArmTrial

    def broken(self: MultiArmTrial, n: int) -> MultiArmTrial:
        raise ValueError("a programming error")

    monkeypatch.setattr(MultiArmTrial, "resized", broken)
    db = tmp_path / "t.duckdb"
    result = invoke("trial", str(EXAMPLES / "trials" / "negrier1998.toml"), "--patients", "1",
                    "--db", str(db))
    assert result.exit_code == 1
    assert type(result.exception) is ValueError and str(result.exception) == "a programming error"
    assert "error: <command line>" not in result.stderr
