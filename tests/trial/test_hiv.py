"""HIV trials: the population's entry CD4, the steady state on therapy, the CD4 endpoints."""

from __future__ import annotations

import dataclasses
import json
import tomllib
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from scipy import stats

from il2sim import get_model, presets, simulate
from il2sim.cli import cli
from il2sim.config.scenario import ConfigError
from il2sim.config.trial import trial_file_from_dict, trial_from_dict
from il2sim.protocol import Protocol, ProtocolDecider, ProtocolError, no_drug_protocol
from il2sim.trial.arms import MultiArmTrial
from il2sim.trial.hiv import (
    HIV_ENTRY_CD4,
    compare_hiv_arms,
    hiv_endpoints,
    hiv_initial,
    hiv_population,
)
from il2sim.trial.runner import TrialSpec, run_trial


def test_entry_cd4_has_the_trials_median_and_criterion() -> None:
    cd4 = hiv_population().sample(40_000, 3)["baseline_cd4"]
    assert cd4.min() >= HIV_ENTRY_CD4[1]
    assert cd4.median() == pytest.approx(HIV_ENTRY_CD4[0], rel=0.01)


def test_untreated_patients_stay_at_their_baseline() -> None:
    """Each patient starts at the model's steady state on therapy: without IL-2 the CD4
    count stays where it started (2 years), with IL-2 cycles it rises."""
    model = get_model("il2_hiv")
    patients = hiv_population().sample(5, 1)
    params, initial = hiv_initial(model, patients)
    days = np.arange(0.0, 731.0)
    control = simulate(model, None, params, days, initial=initial, backend="scipy",
                       rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(control["cd4"], np.repeat(
        patients["baseline_cd4"].to_numpy()[:, None], len(days), axis=1), rtol=1e-5)
    il2 = simulate(model, presets.hiv_subcutaneous_cycles("7.5 MIU", 3), params, days,
                   initial=initial, backend="scipy")
    assert np.all(il2["cd4"][:, 120] > control["cd4"][:, 120] + 50)


def test_endpoints_of_a_known_course() -> None:
    """A CD4 count rising linearly from 400 to 500 over 100 days (1 cell/uL a day) has the
    mean 450 and 0.5 * 7 * 7 = 24.5 cell-days/uL above baseline by day 7 (the trapezoid rule
    is exact for a line)."""
    days = np.linspace(0.0, 100.0, 101)
    cd4 = np.vstack([400.0 + days, np.full(101, 300.0)])
    patients = pd.DataFrame({"patient": [0, 1], "baseline_cd4": [400.0, 300.0]})
    doses = pd.DataFrame({"patient": [0, 0, 1], "dose_id": [0, 10, 0],
                          "status": ["given", "given", "held"]})
    out = hiv_endpoints(patients, days, cd4, np.zeros((2, 101)), doses, {0: 1, 10: 2})
    assert out["cd4_mean"].tolist() == pytest.approx([450.0, 300.0])
    assert out["cd4_mean_change"].tolist() == pytest.approx([50.0, 0.0])
    assert out["cd4_auc_week1"].tolist() == pytest.approx([24.5, 0.0])
    assert out["cycles_given"].tolist() == [2, 0]
    assert out["doses_given"].tolist() == [2, 0]


# --------------------------------------------------------------------------- HIV trials

EXAMPLE = Path(__file__).parents[2] / "examples" / "trials" / "esprit2009.toml"


def _arm(name: str, n: int, **population: float) -> TrialSpec:
    data = tomllib.loads(EXAMPLE.read_text())
    if population:
        data["population"] = population
    trial = trial_file_from_dict(data, source=str(EXAMPLE))
    assert isinstance(trial, MultiArmTrial)
    spec = next(a for a in trial.resized(2 * n).arms if a.arm == name)
    return dataclasses.replace(spec, chunk_size=n)


def test_control_arm_stays_at_its_baseline() -> None:
    """ART alone (kind = "none"): no dose, and every visit's CD4 count is the patient's
    baseline (the exact steady state on therapy)."""
    result = run_trial(_arm("art", 6))
    assert result.doses.empty
    e = result.endpoints
    np.testing.assert_allclose(e["cd4_mean"], e["cd4_baseline"], rtol=1e-5)
    assert result.scans.empty  # no tumour, no scans
    visits = result.visits.merge(e[["patient", "cd4_baseline"]], on="patient")
    np.testing.assert_allclose(visits["cd4"], visits["cd4_baseline"], rtol=1e-5)
    assert visits.groupby("patient")["day"].apply(list).iloc[0][:3] == [0.0, 28.0, 56.0]
    assert (e["cycles_given"] == 0).all() and (e["cd4_mean_change"].abs() < 1e-2).all()


def test_il2_arm_gives_three_induction_cycles_then_cycles_while_cd4_below_target() -> None:
    """ESPRIT's design: the 3 induction cycles to everyone, then a cycle every 8 weeks from
    week 24 when the CD4 count at its first dose is below 1000 (and the cycle before was
    given). Checked on the dose log against the CD4 count simulated at those times. Entry
    CD4 counts nearer the target (median 800) so that some patients reach it."""
    spec = _arm("il2", 10, entry_cd4_median=800.0, entry_cd4_minimum=300.0)
    result = run_trial(spec)
    doses, e = result.doses, result.endpoints
    given = doses[doses["status"] == "given"]
    induction = given[given["course"] == 1].groupby("patient")["cycle"].nunique()
    assert (induction == 3).all() and len(induction) == 10
    # the CD4 count at each course's first dose, simulated with the same protocol
    model = get_model("il2_hiv")
    patients = spec.cohort()
    params, initial = hiv_initial(model, patients)
    first = doses.groupby("course")["time"].min()
    run = simulate(model, spec.treatment().regimen(), params,
                   np.union1d([0.0], first.to_numpy()), initial=initial, backend="scipy",
                   decider=ProtocolDecider(spec.treatment()), rtol=1e-8, atol=1e-10)
    cd4 = pd.DataFrame(run["cd4"][:, 1:], columns=first.index)
    stopped = 0
    for i, pid in enumerate(patients["patient"]):
        mine = given[given["patient"] == pid]
        courses = set(mine["course"])
        for k in first.index[1:]:
            expected = (k - 1) in courses and cd4.loc[i, k] < 1000.0
            assert (k in courses) == expected, (pid, k, cd4.loc[i, k])
        stopped += max(first.index) not in courses
        row = e[e["patient"] == pid].iloc[0]
        assert row["cycles_given"] == 2 + len(courses) and row["doses_given"] == len(mine)
    assert 0 < stopped < 10  # both branches are exercised


def test_cd4_difference_is_welchs() -> None:
    """The difference of the arms' mean time-averaged CD4 with Welch's interval, as SciPy's
    Welch t-test computes it."""
    rng = np.random.default_rng(4)
    a, b = rng.normal(650, 120, 37), rng.normal(470, 90, 29)
    e = pd.DataFrame({"patient": range(66), "arm": ["il2"] * 37 + ["art"] * 29,
                      "cd4_mean": np.concatenate([a, b])})
    row = compare_hiv_arms(e, "art").iloc[0]
    ref = stats.ttest_ind(a, b, equal_var=False)
    ci = ref.confidence_interval(0.95)
    assert row["estimate"] == pytest.approx(a.mean() - b.mean())
    assert (row["lo"], row["hi"]) == pytest.approx((ci.low, ci.high))
    assert row["p_value"] == pytest.approx(ref.pvalue)
    assert row["measure"] == "CD4 mean difference" and (row["n"], row["n_control"]) == (37, 29)


@pytest.mark.parametrize(("change", "key", "words"), [
    ({"model": "il2_qsp"}, "model", "indication 'hiv' needs model 'il2_hiv'"),
    ({"indication": "rcc"}, "model", "model 'il2_hiv' needs indication = 'hiv'"),
    ({"protocol": {"kind": "none", "regimen": {"preset": "hiv_subcutaneous_cycles"}}},
     "protocol.regimen", "kind = 'none' gives no study drug"),
    ({"population": {"entry_cd4_median": 250.0}}, "population.entry_cd4_minimum",
     "not below the median"),
])
def test_bad_hiv_input_is_one_line_naming_file_and_key(change: dict[str, object], key: str,
                                                       words: str) -> None:
    data = {"name": "t", "model": "il2_hiv", "indication": "hiv", "n_patients": 4,
            "seed": 1, "protocol": {"kind": "none"}, **change}
    with pytest.raises(ConfigError) as info:
        trial_from_dict(data, source="bad.toml")
    assert info.value.key == key and words in info.value.problem
    assert str(info.value).startswith(f"bad.toml: {key}: ") and "\n" not in str(info.value)


def test_no_drug_protocol_has_one_course() -> None:
    assert no_drug_protocol().regimen().administrations == ()
    with pytest.raises(ProtocolError, match="one course"):
        Protocol((), courses=2)


def test_cli_runs_the_esprit_example(tmp_path: Path) -> None:
    db, out = tmp_path / "store.duckdb", tmp_path / "out"
    result = CliRunner().invoke(cli, ["trial", str(EXAMPLE), "--patients", "20", "--db",
                                      str(db), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "CD4 mean difference" in result.output and "IL-2 cycles given" in result.output
    assert (out / "cd4.png").stat().st_size > 0 and (out / "il2" / "summary.csv").exists()


def test_expansion_rate_is_the_one_the_hiv_calibration_found() -> None:
    """scripts/calibrate_hiv.py records p_il2 fitted to ESPRIT (+159 cells/uL) and its
    SILCAAT check; the model's default is that record."""
    record = json.loads(resources.files("il2sim.trial").joinpath(
        "calibration/hiv.json").read_text())
    assert get_model("il2_hiv").param("p_il2").value == pytest.approx(
        record["values"]["p_il2"], rel=1e-3)
    assert record["target"] == {"esprit_cd4_difference": 159.0}
    assert record["achieved"]["esprit_cd4_difference"] == pytest.approx(159.0, abs=2.0)

