"""RECIST 1.1 and WHO classification on constructed scan series (Eisenhauer 2009)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from il2sim.trial.response import WHO, best_response, classify_scans, measure


def test_recist_thresholds() -> None:
    # baseline 100 mm; -30% is PR, a 20% and 5 mm rise over the nadir is PD
    calls = classify_scans(np.array([100, 71, 70, 60, 71, 73, 0.0]), 2)
    assert list(calls) == ["SD", "PR", "PR", "SD", "PD", "CR"]


def test_pd_needs_five_millimetres_in_recist() -> None:
    calls = classify_scans(np.array([20.0, 10.0, 12.5]), 1)  # +25% of nadir but only 2.5 mm
    assert list(calls) == ["PR", "PR"]


def test_who_uses_sum_of_products() -> None:
    # one lesion: SPD = d^2; a 30% fall in diameter is a 51% fall in product: WHO PR
    calls = classify_scans(np.array([100.0, 70.0, 70.5]), 1, WHO)  # 51%, 50.3%
    assert list(calls) == ["PR", "PR"]
    assert list(classify_scans(np.array([100.0, 75.0]), 1, WHO)) == ["SD"]  # 44% fall
    # PD: 25% rise in product = 11.8% rise in diameter
    assert list(classify_scans(np.array([100.0, 100.0, 112.0]), 1, WHO)) == ["SD", "PD"]


def test_confirmation_is_needed_for_a_response() -> None:
    days = np.array([0, 47, 103, 159])
    unconfirmed = best_response(days, np.array([100, 60, 90, 130.0]), 2)
    assert unconfirmed.bor == "SD"
    confirmed = best_response(days, np.array([100, 60, 65, 130.0]), 2)
    assert confirmed.bor == "PR" and confirmed.response_day == 47
    assert confirmed.progression_day == 159
    assert confirmed.best_change_pct == pytest.approx(-40)
    cr = best_response(days, np.array([100, 60, 0, 0.0]), 2)
    assert cr.bor == "CR" and cr.response_day == 47 and math.isnan(cr.progression_day)


def test_early_progression_and_not_evaluable() -> None:
    assert best_response(np.array([0, 47]), np.array([100, 130.0]), 1).bor == "PD"
    assert best_response(np.array([0.0]), np.array([100.0]), 1).bor == "NE"
    assert best_response(np.array([0, 20]), np.array([100, 100.0]), 1).bor == "NE"


def test_measurement_noise_and_detection_limit() -> None:
    rng = np.random.default_rng(1)
    sod = np.full(20000, 60.0)
    m = measure(sod, 3, rng, noise_cv=0.05)
    assert m.mean() == pytest.approx(60, rel=0.002)
    assert m.std() == pytest.approx(3.0, rel=0.03)
    assert measure(np.array([14.0]), 3, rng)[0] == 0.0  # 4.7 mm lesions are below 5 mm


def test_old_import_paths_name_the_same_objects() -> None:
    # measurement, criteria and streams are defined once, below protocol; trial re-exports them
    import il2sim.assessment.response as assessment
    import il2sim.trial.endpoints as endpoints
    import il2sim.trial.response as response
    from il2sim.population.streams import patient_rng

    assert endpoints.patient_rng is patient_rng
    assert set(response.__all__) == set(assessment.__all__)
    assert all(getattr(response, name) is getattr(assessment, name) for name in assessment.__all__)
