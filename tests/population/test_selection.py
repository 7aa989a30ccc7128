"""Acceptance-rejection selection gives a sample of the target distribution."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from il2sim.population import PopulationError
from il2sim.population.selection import acceptance_rejection


def test_selected_patients_follow_the_target() -> None:
    rng = np.random.default_rng(0)
    x = rng.uniform(-5, 5, 40_000)  # plausible patients: uniform proposal g
    log_w = stats.norm.logpdf(x, 1.0, 0.8) - np.log(1 / 10)  # target f: N(1, 0.8)
    kept = acceptance_rejection(pd.DataFrame({"x": x}), log_w, rng)
    assert 7200 < len(kept) < 8800  # expected acceptance 1/(10*max f) = 20% of 40,000
    assert stats.kstest(kept["x"], stats.norm(1.0, 0.8).cdf).pvalue > 0.01


def test_selection_errors() -> None:
    with pytest.raises(PopulationError, match="2 weights for 3 candidates"):
        acceptance_rejection(pd.DataFrame({"x": [1, 2, 3]}), [0.0, 1.0],
                             np.random.default_rng(0))
    with pytest.raises(PopulationError, match="no candidate"):
        acceptance_rejection(pd.DataFrame({"x": [1]}), [-np.inf], np.random.default_rng(0))
