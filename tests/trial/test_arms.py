"""Multi-arm trials: one cohort randomised (or crossed over), arms stored, compared."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from il2sim.cli import cli
from il2sim.config.scenario import ConfigError
from il2sim.config.trial import load_trial_file, trial_file_from_dict
from il2sim.store import ResultStore
from il2sim.trial.allocation import Allocation, split_total
from il2sim.trial.arms import MultiArmTrial, load_arms, run_arms
from il2sim.trial.runner import TrialSpec

EXAMPLES = Path(__file__).parents[2] / "examples" / "trials"

SMALL: dict[str, Any] = {
    "name": "small", "indication": "rcc", "seed": 5, "followup": {"years": 0.6},
    "simulation": {"backend": "native", "chunk_size": 3},
    "arms": [
        {"name": "high", "label": "High dose", "n_patients": 4,
         "protocol": {"kind": "label", "dose": "720000 IU/kg", "max_courses": 1}},
        {"name": "low", "n_patients": 3,
         "protocol": {"kind": "label", "dose": "72000 IU/kg", "max_courses": 1}},
    ],
}


def _trial(**changes: Any) -> MultiArmTrial:
    trial = trial_file_from_dict({**copy.deepcopy(SMALL), **changes}, source="small.toml")
    assert isinstance(trial, MultiArmTrial)
    return trial


def test_randomisation_partitions_one_cohort() -> None:
    sizes = (5, 7, 3)
    rows = [Allocation("randomised", sizes, k).rows(9) for k in range(3)]
    assert [len(r) for r in rows] == list(sizes)
    assert sorted(np.concatenate(rows).tolist()) == list(range(15))
    again = [Allocation("randomised", sizes, k).rows(9) for k in range(3)]
    assert all(np.array_equal(a, b) for a, b in zip(rows, again))
    other = [Allocation("randomised", sizes, k).rows(10) for k in range(3)]
    assert not all(np.array_equal(a, b) for a, b in zip(rows, other))


def test_split_total_by_largest_remainders() -> None:
    assert split_total(300, (2 / 3, 1 / 3)) == (200, 100)
    assert split_total(10, (1 / 3, 1 / 3, 1 / 3)) == (4, 3, 3)
    assert split_total(425, (138 / 425, 147 / 425, 140 / 425)) == (138, 147, 140)


def test_randomised_arms_share_one_draw() -> None:
    trial = _trial()
    whole = trial.arms[0].population.sample(7, 5)
    ids = [a.cohort()["patient"].tolist() for a in trial.arms]
    assert sorted(ids[0] + ids[1]) == list(range(7))
    for arm in trial.arms:
        mine = arm.cohort()
        pd.testing.assert_frame_equal(
            mine, whole[whole["patient"].isin(mine["patient"])].reset_index(drop=True))


@pytest.mark.parametrize(("change", "key"), [
    (lambda d: d["arms"][1].pop("protocol"), "arms[1].protocol: required key is missing"),
    (lambda d: d["arms"][0].update(dose="1 MIU"), "arms[0].dose: unknown key"),
    (lambda d: d.update(arm="x"), "small.toml: arm: unknown key"),
    (lambda d: d["arms"][1].update(name="high"), "arms[1].name: duplicate arm name 'high'"),
    (lambda d: d.update(n_patients=8), "n_patients: the arms' n_patients sum to 7, not 8"),
    (lambda d: [a.update(n_patients=None, allocation=0.4) for a in d["arms"]]
     and d.update(n_patients=10), "arms: the arms' allocation sums to 0.8, not 1"),
    (lambda d: d["arms"][0]["protocol"].update(dose="600000 kg"), "arms[0].protocol.dose"),
    (lambda d: d.update(protocol={"kind": "label"}), "protocol: a multi-arm trial gives each"),
    (lambda d: d.update(design="crossover"), "arms[0].n_patients: under design = 'crossover'"),
    (lambda d: d.update(control="none"), "control: no arm 'none'"),
    (lambda d: d.update(arms=d["arms"][:1]), "arms: "),
])
def test_bad_input_is_one_line_naming_file_and_key(change: Any, key: str) -> None:
    data = copy.deepcopy(SMALL)
    change(data)
    for arm in data["arms"]:
        if arm.get("n_patients", 0) is None:
            del arm["n_patients"]
    with pytest.raises(ConfigError) as info:
        trial_file_from_dict(data, source="small.toml")
    message = str(info.value)
    assert message.startswith("small.toml: ") and "\n" not in message
    assert key in message


def test_allocation_fractions_of_a_total() -> None:
    data = copy.deepcopy(SMALL)
    for arm, share in zip(data["arms"], (2 / 3, 1 / 3)):
        del arm["n_patients"]
        arm["allocation"] = share
    trial = trial_file_from_dict({**data, "n_patients": 9}, source="x")
    assert isinstance(trial, MultiArmTrial)
    assert [a.n_patients for a in trial.arms] == [6, 3]


def test_cli_bad_file_writes_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(EXAMPLES.joinpath("yang2003.toml").read_text().replace(
        'name = "low_dose"', 'name = "high_dose"'))
    db = tmp_path / "store.duckdb"
    result = CliRunner().invoke(cli, ["trial", str(bad), "--db", str(db)])
    assert result.exit_code == 2
    assert f"{bad}: arms[1].name: duplicate arm name 'high_dose'" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not db.exists()


def test_examples_load_with_the_published_arm_sizes() -> None:
    yang = load_trial_file(EXAMPLES / "yang2003.toml")
    negrier = load_trial_file(EXAMPLES / "negrier1998.toml")
    assert isinstance(yang, MultiArmTrial) and isinstance(negrier, MultiArmTrial)
    assert [(a.arm, a.n_patients) for a in yang.arms] == [("high_dose", 156), ("low_dose", 150)]
    assert [a.n_patients for a in negrier.arms] == [138, 147, 140]
    assert (yang.control, negrier.control, yang.cohort_size) == ("low_dose", "ifn", 306)
    assert [a.n_patients for a in negrier.resized(7).arms] == [2, 3, 2]


def test_single_arm_files_keep_their_config_and_run_id() -> None:
    spec = load_trial_file(EXAMPLES / "rcc.toml")
    assert isinstance(spec, TrialSpec) and spec.allocation is None
    assert "arm" not in spec.describe() and "allocation" not in spec.describe()


@pytest.fixture(scope="module")
def randomised(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path]:
    db = tmp_path_factory.mktemp("arms") / "a.duckdb"
    with ResultStore(db) as store:
        return run_arms(_trial(), store), db


def test_same_seed_same_numbers(randomised: tuple[Any, Path], tmp_path: Path) -> None:
    first, db = randomised
    with ResultStore(tmp_path / "b.duckdb") as store:
        second = run_arms(_trial(), store)
    pd.testing.assert_frame_equal(first.comparisons, second.comparisons)
    pd.testing.assert_frame_equal(first.summary, second.summary)
    assert first.run_id == second.run_id and first.arm_runs == second.arm_runs
    with ResultStore(db, read_only=True) as store:
        loaded = load_arms(store, first.run_id)
    pd.testing.assert_frame_equal(loaded.comparisons, first.comparisons)
    assert list(first.summary.columns) == ["high", "low"]
    assert set(first.comparisons["measure"]) == {"ORR difference", "OS hazard ratio",
                                                 "PFS hazard ratio"}


def test_crossover_arms_differ_only_in_treatment(tmp_path: Path) -> None:
    data = copy.deepcopy(SMALL)
    for arm in data["arms"]:
        del arm["n_patients"]
    trial = trial_file_from_dict({**data, "design": "crossover", "n_patients": 4}, source="x")
    assert isinstance(trial, MultiArmTrial)
    with ResultStore(tmp_path / "c.duckdb") as store:
        result = run_arms(trial, store)
        patients = [store.table(r, "patients").drop(columns=["run_id", "status", "message"])
                    for r in result.arm_runs.values()]
        doses = [store.table(r, "doses") for r in result.arm_runs.values()]
    pd.testing.assert_frame_equal(patients[0], patients[1])  # same ids, covariates, params
    assert patients[0]["patient"].tolist() == [0, 1, 2, 3]
    assert not doses[0]["amount"].equals(doses[1]["amount"])  # ... but not the same doses
    assert (result.comparisons["n"] == 4).all()
    assert result.comparisons["test"].iloc[0] == "exact McNemar (paired)"


@pytest.mark.slow
@pytest.mark.parametrize(("name", "arms", "plots"), [
    ("yang2003", ("high_dose", "low_dose"), False),
    ("negrier1998", ("il2", "ifn", "both"), True),
])
def test_cli_runs_the_examples_as_one_command(tmp_path: Path, name: str,
                                              arms: tuple[str, ...], plots: bool) -> None:
    """Slow (10-20 s each): the shipped files end to end, 5 years of follow-up, figures."""
    result = CliRunner().invoke(cli, [
        "trial", str(EXAMPLES / f"{name}.toml"), "--patients", str(2 * len(arms)),
        "--db", str(tmp_path / "x.duckdb"), "--out", str(tmp_path / name),
        *([] if plots else ["--no-plots"])])
    assert result.exit_code == 0, result.output
    assert all(arm in result.output for arm in arms)
    assert "ORR difference" in result.output and "hazard ratio" in result.output
    assert (tmp_path / name / "forest.png").is_file() == plots
    assert (tmp_path / name / arms[0] / "waterfall.png").is_file() == plots


def test_the_report_of_the_trial_shows_arms_and_comparisons(
        randomised: tuple[Any, Path]) -> None:
    from il2sim.analysis.report import report_html

    result, db = randomised
    html = report_html(db, result.run_id)
    assert "ORR difference" in html and "OS hazard ratio" in html
    assert all(f">{arm}<" in html for arm in ("high", "low"))
    assert html.count("<img") == 2  # Kaplan-Meier by arm, forest plot
