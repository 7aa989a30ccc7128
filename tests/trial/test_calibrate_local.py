"""scripts/calibrate_local.py: the lesions' intra-patient correlation and its design effect."""

from __future__ import annotations

import math
from collections.abc import Callable
from types import ModuleType

import numpy as np
import pytest


@pytest.fixture(scope="module")
def cl(load_script: Callable[[str], ModuleType]) -> ModuleType:
    return load_script("calibrate_local")


def _anova_icc(groups: list[np.ndarray]) -> float:
    """One-way ANOVA intra-class correlation on the individual 0/1 outcomes, computed from
    the sums of squares of the expanded data (independent of the script's shortcut)."""
    data = np.concatenate(groups)
    k, total = len(groups), len(data)
    ssb = sum(len(g) * (g.mean() - data.mean()) ** 2 for g in groups)
    ssw = sum(((g - g.mean()) ** 2).sum() for g in groups)
    msb, msw = ssb / (k - 1), ssw / (total - k)
    n0 = (total - sum(len(g) ** 2 for g in groups) / total) / (k - 1)
    return float((msb - msw) / (msb + (n0 - 1) * msw))


def test_icc_from_counts_equals_the_anova_on_the_individual_outcomes(cl: ModuleType) -> None:
    rng = np.random.default_rng(3)
    sizes = rng.integers(1, 25, size=60)
    cleared = np.array([rng.binomial(n, rng.beta(2, 1)) for n in sizes])
    groups = [np.r_[np.ones(c), np.zeros(n - c)] for n, c in zip(sizes, cleared)]
    assert cl.lesion_icc(sizes, cleared) == pytest.approx(_anova_icc(groups), rel=1e-12)


def test_icc_limits(cl: ModuleType) -> None:
    sizes = np.full(30, 10)
    # every patient's lesions all cleared or all persisting: rho = 1
    assert cl.lesion_icc(sizes, np.where(np.arange(30) % 3 == 0, 0, 10)) == pytest.approx(1.0)
    # every patient clears exactly half: no variation between patients, rho = -1/(m - 1)
    assert cl.lesion_icc(sizes, np.full(30, 5)) == pytest.approx(-1 / 9)


def test_the_lesion_count_weighs_less_by_its_design_effect(cl: ModuleType) -> None:
    rates = {"treated_lesions_complete_response": (0.6, 15, 24),
             "lesion_complete_response": (0.8, 209, 245)}
    patients = 15 * math.log(0.6) + 9 * math.log(0.4)
    lesions = 209 * math.log(0.8) + 36 * math.log(0.2)
    assert cl.log_likelihood(rates) == pytest.approx(patients + lesions)
    assert cl.log_likelihood(rates, 4.0) == pytest.approx(patients + lesions / 4)
