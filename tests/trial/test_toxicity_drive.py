"""Exposure-response toxicities from the cytokine drive, and peripheral oedema."""

from __future__ import annotations

import json
import math
import tomllib
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from il2sim.trial.endpoints import (
    DRIVE_EVENTS,
    DRIVE_OMEGA,
    OEDEMA_GRADE_L,
    drive_thresholds,
    drive_toxicity_grades,
)
from il2sim.trial.statistics import TOXICITIES
from il2sim.validation.endpoints import ADVERSE_EVENTS

ATLAS = Path(__file__).resolve().parents[2] / "src/il2sim/validation/atlas/c3_label_toxicity.toml"


def _extremes(drive: np.ndarray, excess: np.ndarray | float = 0.0) -> pd.DataFrame:
    return pd.DataFrame({"cytokine_drive_max": drive,
                         "interstitial_excess_max": np.broadcast_to(excess, drive.shape)})


def test_incidence_and_grades_follow_the_log_normal_sensitivity() -> None:
    """With D = k*theta for everyone, P(x >= c) = Phi(ln(k/c)/omega) exactly (binomial check)."""
    n, k = 20_000, 1.3
    theta = dict.fromkeys(DRIVE_EVENTS, 0.5)
    grades = drive_toxicity_grades(_extremes(np.full(n, 0.5 * k)), np.arange(n), seed=3,
                                   thresholds=theta)
    for event, cuts in DRIVE_EVENTS.items():
        for g, cut in enumerate(cuts, start=1):
            p = stats.norm.cdf(math.log(k / cut) / DRIVE_OMEGA)
            seen = float((grades[f"tox_{event}_grade"] >= g).mean())
            assert seen == pytest.approx(p, abs=4 * math.sqrt(p * (1 - p) / n) + 1e-9)


def test_sensitivities_belong_to_the_patient_not_the_chunk() -> None:
    drive = np.array([0.3, 0.8, 1.2, 0.6])
    ids = np.array([4, 17, 2, 9])
    whole = drive_toxicity_grades(_extremes(drive), ids, seed=1)
    parts = pd.concat([drive_toxicity_grades(_extremes(drive[i:i + 1]), ids[i:i + 1], seed=1)
                       for i in range(len(ids))], ignore_index=True)
    pd.testing.assert_frame_equal(whole, parts)


def test_oedema_grades_at_the_litre_cuts() -> None:
    excess = np.array([0.0, 2.49, 2.5, 6.99, 7.0, 20.9, 21.0])
    grades = drive_toxicity_grades(_extremes(np.ones(7), excess), np.arange(7), seed=0)
    assert grades["tox_oedema_grade"].tolist() == [0, 0, 1, 1, 2, 2, 3]
    assert OEDEMA_GRADE_L == (2.5, 7.0, 21.0)


def test_thresholds_were_fitted_to_the_atlas_incidences() -> None:
    """The stored fit names the label incidences the atlas holds (written once, there)."""
    stored = json.loads(resources.files("il2sim.trial").joinpath(
        "calibration/toxicity.json").read_text())
    atlas = {o["event"]: o["count"] / o["n"] for o in tomllib.loads(ATLAS.read_text())[
        "outcomes"] if o["endpoint"] == "adverse_event"}
    label = {v[0]: k for k, v in ADVERSE_EVENTS.items()}
    for event in DRIVE_EVENTS:
        assert stored["targets"][event] == pytest.approx(atlas[label[event]], abs=1e-12)
    assert stored["omega"] == DRIVE_OMEGA
    assert set(drive_thresholds()) == set(DRIVE_EVENTS)


def test_every_graded_toxicity_is_summarised_and_validated() -> None:
    for event in (*DRIVE_EVENTS, "oedema"):
        assert event in TOXICITIES
        assert any(v[0] == event for v in ADVERSE_EVENTS.values())
