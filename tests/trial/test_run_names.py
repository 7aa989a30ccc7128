"""A run's name follows the number of patients actually simulated (issue 19): a trial file
named "... (n = 255)" run with ``--patients 4`` is stored, listed and reported as
"... (n = 4)"."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from il2sim.cli import cli
from il2sim.config.trial import load_trial_file
from il2sim.store import ResultStore
from il2sim.trial.arms import MultiArmTrial
from il2sim.trial.runner import TrialSpec, counted_name

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "trials"


def test_counted_name_replaces_the_count_and_leaves_other_names() -> None:
    assert counted_name("RCC (pivotal, n = 255)", 100) == "RCC (pivotal, n = 100)"
    assert counted_name("ESPRIT (n = 4,111)", 12000) == "ESPRIT (n = 12,000)"
    assert counted_name("Small RCC trial", 3) == "Small RCC trial"
    assert counted_name("dose = 5 MIU", 3) == "dose = 5 MIU"  # no "n = ": unchanged


def test_resized_single_and_multi_arm_trials_carry_the_new_count() -> None:
    single = load_trial_file(EXAMPLES / "rcc.toml")
    assert isinstance(single, TrialSpec) and "n = 255" in single.name
    small = single.resized(100)
    assert small.n_patients == 100 and small.name.endswith("(pivotal, n = 100)")
    both = load_trial_file(EXAMPLES / "yang2003.toml")
    assert isinstance(both, MultiArmTrial) and "n = 306" in both.name
    half = both.resized(50)
    assert half.name.endswith("(randomised, n = 50)")
    assert all("n = 50)" in arm.name and "306" not in arm.name for arm in half.arms)
    assert sum(arm.n_patients for arm in half.arms) == 50


def test_cli_trial_with_patients_stores_the_actual_count(tmp_path: Path) -> None:
    trial = tmp_path / "t.toml"
    trial.write_text('name = "Tiny trial (n = 255)"\nmodel = "il2_qsp"\nindication = "rcc"\n'
                     'n_patients = 255\nseed = 1\n[protocol]\nkind = "label"\n'
                     'dose = "600000 IU/kg"\nmax_courses = 1\n[followup]\nyears = 1\n'
                     '[simulation]\nbackend = "native"\n')
    db = tmp_path / "r.duckdb"
    result = CliRunner().invoke(cli, ["trial", str(trial), "--patients", "2", "--db", str(db),
                                      "--no-plots"])
    assert result.exit_code == 0, result.output
    assert "Tiny trial (n = 2)" in result.output and "n = 255" not in result.output
    with ResultStore(db, read_only=True) as store:
        assert store.runs()["name"].tolist() == ["Tiny trial (n = 2)"]
