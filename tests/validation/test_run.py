"""Scoring: the prediction interval covers a trial from the same truth at the stated frequency,
and misses one from another truth; the whole pipeline through the store on a tiny trial."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from il2sim.store import ResultStore
from il2sim.trial.runner import stream_trial
from il2sim.trial.statistics import response_rates
from il2sim.validation.atlas import PublishedTrial, atlas, load_published_trial
from il2sim.validation.endpoints import SimulatedArm
from il2sim.validation.report import validation_html
from il2sim.validation.run import (
    Validation,
    compatible,
    coverage,
    prediction_interval,
    replicate_spec,
    score,
    validate,
)
from il2sim.validation.stored import load_validation, save_validation

TINY = Path(__file__).with_name("tiny_trial.toml")


def test_prediction_interval_order_statistics() -> None:
    values = np.arange(1.0, 41.0)  # 40 values
    mid, lo, hi = prediction_interval(values)
    assert (mid, lo, hi) == (20.5, 1.0, 40.0)
    assert coverage(40) == pytest.approx(39 / 41)
    assert coverage(79) == pytest.approx(76 / 80)
    assert prediction_interval(np.arange(1.0, 80.0))[1:] == (2.0, 78.0)
    assert prediction_interval([1.0, math.inf, math.inf])[0] == math.inf
    assert math.isnan(prediction_interval([math.nan])[0])


def test_compatible_rule() -> None:
    assert compatible((0.15, 0.15), (0.10, 0.20))
    assert not compatible((0.25, 0.25), (0.10, 0.20))
    assert compatible((80.0, math.inf), (30.0, math.inf))  # "at least 80" vs not reached
    assert not compatible((80.0, math.inf), (30.0, 60.0))
    assert compatible((0.10, 0.20), (0.19, 0.30))          # overlapping ranges


def _arm(rng: np.random.Generator, n: int, p: float) -> SimulatedArm:
    bor = np.where(rng.uniform(size=n) < p, "PR", "PD")
    return SimulatedArm(pd.DataFrame({"bor": bor}), np.zeros(n))


def _coverage(trial: PublishedTrial, p_model: float, p_true: float, repeats: int,
              replicates: int, seed: int) -> float:
    rng = np.random.default_rng(seed)
    outcome = trial.outcomes[0]
    n = outcome.observed.n
    assert n is not None
    hits = 0
    for _ in range(repeats):
        observed = dataclasses.replace(outcome.observed, count=int(rng.binomial(n, p_true)))
        published = dataclasses.replace(trial, outcomes=(dataclasses.replace(
            outcome, observed=observed),))
        arms = {(trial.arms[0].key, r): _arm(rng, n, p_model) for r in range(replicates)}
        hits += bool(score([published], arms, replicates).scores["compatible"].iloc[0])
    return hits / repeats


def test_interval_covers_a_trial_of_the_same_truth_at_the_stated_frequency() -> None:
    """A model with a known exact response rate (15%, n = 255): the published count drawn
    from the same truth is compatible in at least 39/41 of trials (discreteness only adds),
    and a published count from another truth (25%) is rarely compatible."""
    trial = load_published_trial(TINY)
    repeats = 300
    same = _coverage(trial, 0.15, 0.15, repeats, replicates=40, seed=1)
    se = math.sqrt(0.95 * 0.05 / repeats)
    assert same >= coverage(40) - 3 * se
    other = _coverage(trial, 0.15, 0.25, 100, replicates=40, seed=2)
    assert other < 0.2


def test_validate_tiny_trial_through_the_store(tmp_path: Path) -> None:
    """The real pipeline on a 6-patient trial: simulated, stored, scored, stored again,
    reported; a second call finds every simulation in the store."""
    trial = load_published_trial(TINY)
    small = dataclasses.replace(trial, arms=tuple(dataclasses.replace(
        a, spec=dataclasses.replace(a.spec, n_patients=6, horizon_days=120.0))
        for a in trial.arms if a.spec is not None))
    db = tmp_path / "v.duckdb"
    with ResultStore(db) as store:
        seen: list[tuple[int, int]] = []
        result = validate([small], store, replicates=3,
                          progress=lambda done, total: seen.append((done, total)))
        assert seen[-1] == (18, 18)
        run_id = save_validation(store, result, [small])
        n_runs = len(store.runs())
        again = validate([small], store, replicates=3)
        assert len(store.runs()) == n_runs
        pd.testing.assert_frame_equal(again.scores, result.scores)
        loaded, ids = load_validation(store, run_id)
    assert ids == ["tiny"]
    pd.testing.assert_frame_equal(loaded.scores, result.scores)
    row = result.scores.iloc[0]
    assert row["n_values"] == 3 and row["status"] in ("compatible", "not compatible")
    values = result.values["value"].to_numpy()
    assert row["simulated_lo"] == values.min() and row["simulated_hi"] == values.max()
    page = validation_html(result, [small])
    assert "Objective response (CR + PR)" in page and "data:image/png;base64," in page


def test_orr_equals_the_trial_command_on_the_same_seed(tmp_path: Path) -> None:
    """C1's replicate 0 simulated by ``validate`` and by ``il2sim trial``'s streaming give
    identical patients, so identical response rates (small n to keep the test short)."""
    arm = atlas(["c1"])[0].arms[0]
    assert arm.spec is not None
    spec = replicate_spec(dataclasses.replace(arm.spec, n_patients=8), arm.key, 0)
    with ResultStore(tmp_path / "a.duckdb") as store:
        run = stream_trial(dataclasses.replace(spec, name="trial command"), store)
        direct = store.table(run, "endpoints").drop(columns=["run_id", "arm"])
    c1 = dataclasses.replace(atlas(["c1"])[0], arms=(dataclasses.replace(
        arm, spec=dataclasses.replace(arm.spec, n_patients=8)),))
    with ResultStore(tmp_path / "b.duckdb") as store:
        result = validate([c1], store, replicates=1)
        run = store.runs()["run_id"].iloc[0]
        ours = store.table(run, "endpoints").drop(columns=["run_id", "arm"])
    pd.testing.assert_frame_equal(ours, direct)
    orr = result.scores.set_index("endpoint").loc["objective_response"]
    assert orr["simulated"] == pytest.approx(
        direct["bor_who"].isin(["CR", "PR"]).mean())
    assert response_rates(ours, by=None)["orr"].iloc[0] == response_rates(
        direct, by=None)["orr"].iloc[0]


def test_a_check_trial_scores_apart_from_the_calibration_set() -> None:
    """A check (no calibration used it) has its own scorecard row and stays out of the
    total, which counts the calibration set only; a stored validation from before roles
    counts every trial."""
    rows = [("c1", "calibration", "compatible"), ("c1", "calibration", "not compatible"),
            ("c7", "calibration", "compatible"), ("x1", "check", "not compatible")]
    scores = pd.DataFrame([{"trial": t, "title": t, "short": t, "role": r, "status": s}
                           for t, r, s in rows])
    card = Validation(scores, pd.DataFrame(), 1).scorecard().set_index("trial")
    assert card.loc["x1", ["role", "compatible", "outcomes"]].tolist() == ["check", 0, 1]
    assert card.loc["all", ["compatible", "outcomes"]].tolist() == [2, 3]
    old = Validation(scores.drop(columns="role"), pd.DataFrame(), 1).scorecard()
    assert old.iloc[-1][["compatible", "outcomes"]].tolist() == [2, 4]
    # as shown: the trials, the calibration set's total, then the checks' total
    shown = Validation(scores, pd.DataFrame(), 1).scorecard_shown()
    assert shown["trial"].tolist() == ["c1", "c7", "x1", "all", "checks"]
    assert shown.iloc[-1][["compatible", "outcomes"]].tolist() == [0, 1]
    only_checks = Validation(scores[scores["role"] == "check"], pd.DataFrame(), 1)
    assert only_checks.scorecard_shown()["trial"].tolist() == ["x1", "checks"]
