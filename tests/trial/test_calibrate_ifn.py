"""scripts/calibrate_ifn.py: interferon's antiproliferative effect fitted to Negrier 1998's
interferon arm (11 of 147, N Engl J Med 338:1272) and the value shipped in the model."""

from __future__ import annotations

import math
from collections.abc import Callable
from types import ModuleType

import numpy as np
import pytest
from scipy import stats

from il2sim.model.library.il2_qsp.ifn import IMAX_IFN, IMAX_IFN_SIGMA
from il2sim.population import LogNormal
from il2sim.trial.calibrated import calibration
from il2sim.validation.atlas import atlas


@pytest.fixture(scope="module")
def ci(load_script: Callable[[str], ModuleType]) -> ModuleType:
    return load_script("calibrate_ifn")


def test_the_best_value_is_the_vertex_of_the_parabola_through_the_best_three(
        ci: ModuleType) -> None:
    grid = [0.01, 0.02, 0.04, 0.08]
    ll = [-(x - 0.027) ** 2 for x in grid]
    assert ci.best_value(grid, ll) == pytest.approx(0.027, rel=1e-9)
    assert ci.best_value(grid, [-x for x in grid]) == 0.01   # at the grid's edge: the edge


def test_the_likelihood_is_the_binomial_one(ci: ModuleType) -> None:
    p = 0.075
    exact = stats.binom.logpmf(11, 147, p) - math.log(math.comb(147, 11))
    assert ci.log_likelihood(p, 11, 147) == pytest.approx(exact, rel=1e-12)
    assert math.isfinite(ci.log_likelihood(0.0, 11, 147))   # clipped half a patient from 0


def test_the_fit_runs_the_interferon_arm_alone_at_the_candidate_median(ci: ModuleType) -> None:
    (trial,) = atlas(["c5"])
    reduced = ci._arms_only(trial, ("ifn",), 0.05)
    assert [a.name for a in reduced.arms] == ["ifn"]
    assert {o.arm for o in reduced.outcomes} == {"ifn"}
    (ifn_arm,) = reduced.arms
    assert ifn_arm.spec.population.params["imax_ifn"] == LogNormal(0.05, IMAX_IFN_SIGMA,
                                                                   (0.0, 1.0))


def test_the_populations_carry_the_shipped_interferon_sensitivity() -> None:
    for indication in ("rcc", "melanoma"):
        d = calibration(indication)["params"]["imax_ifn"]
        assert (d["median"], d["sigma"]) == (IMAX_IFN, IMAX_IFN_SIGMA)
        assert np.allclose(d["bounds"], [0.0, 1.0])
