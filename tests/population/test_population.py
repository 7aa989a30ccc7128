"""Virtual populations: distributions, correlations, covariates, reproducibility."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from il2sim.population import (
    Categorical,
    CovariateEffect,
    Fixed,
    LogNormal,
    Normal,
    Population,
    PopulationError,
    Uniform,
    lesion_cells,
    standard_covariates,
    sum_of_diameters,
)


def test_lognormal_median_and_sigma() -> None:
    x = LogNormal(2.0, 0.5).sample(100_000, np.random.default_rng(0))
    assert np.median(x) == pytest.approx(2.0, rel=0.01)
    assert np.std(np.log(x)) == pytest.approx(0.5, rel=0.01)


def test_truncation_resamples_inside_the_bounds() -> None:
    x = Normal(0.0, 1.0, (-1.0, 2.0)).sample(50_000, np.random.default_rng(1))
    assert x.min() >= -1 and x.max() <= 2
    # the shape inside is kept: a truncated normal, compared with scipy's
    ref = stats.truncnorm(-1, 2)
    assert stats.kstest(x, ref.cdf).pvalue > 0.01


def test_correlated_parameters_follow_the_copula() -> None:
    pop = Population(params={"a": LogNormal(1.0, 0.3), "b": Normal(5.0, 1.0),
                             "c": Uniform(0.0, 1.0)},
                     correlations={("a", "b"): 0.7})
    f = pop.sample(40_000, 3)
    rho = stats.spearmanr(f["a"], f["b"]).statistic
    # Spearman of a Gaussian copula with Pearson 0.7: 6/pi*asin(0.35)
    assert rho == pytest.approx(6 / math.pi * math.asin(0.35), abs=0.01)
    assert abs(stats.spearmanr(f["a"], f["c"]).statistic) < 0.02


def test_same_seed_same_patients_different_seed_different() -> None:
    pop = Population(params={"ant": LogNormal(1.0, 1.0)}, covariates=standard_covariates("rcc"))
    a, b, c = pop.sample(50, 7), pop.sample(50, 7), pop.sample(50, 8)
    assert a.equals(b)
    assert not a["ant"].equals(c["ant"])


def test_covariates_bsa_tumour_and_effects() -> None:
    pop = Population(params={"ant": LogNormal(1.0, 0.0)},
                     covariates={"weight": Normal(70, 0), "height": Normal(175, 0),
                                 "ecog": Categorical((0, 1), (0.5, 0.5)),
                                 "sod_mm": Normal(60, 0), "n_lesions": Categorical((3,))},
                     effects=(CovariateEffect("ant", "ecog", {1: 0.5}),))
    f = pop.sample(400, 0)
    assert f["bsa"].iloc[0] == pytest.approx(math.sqrt(70 * 175 / 3600))
    assert set(f.loc[f.ecog == 1, "ant"]) == {0.5} and set(f.loc[f.ecog == 0, "ant"]) == {1.0}
    # three 20-mm spheres: 3 * pi/6 * 2^3 mL = 12.57 mL = 1.257e10 cells
    assert f["initial_T"].iloc[0] == pytest.approx(3 * math.pi / 6 * 8 * 1e9)


def test_lesions_round_trip() -> None:
    cells = lesion_cells(np.array([10.0, 80.0, 250.0]), np.array([1, 3, 5]))
    np.testing.assert_allclose(sum_of_diameters(cells, np.array([1, 3, 5])), [10, 80, 250])


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: LogNormal(-1.0, 1.0), "median must be > 0"),
        (lambda: Uniform(2.0, 1.0), "below high"),
        (lambda: Categorical((1, 2), (0.5, 0.6)), "sum to 1"),
        (lambda: Population(params={"a": Normal(0, 1)}, correlations={("a", "z"): 0.5}),
         "both must be sampled"),
        (lambda: Population(params={"a": Normal(0, 1), "b": Normal(0, 1), "c": Normal(0, 1)},
                            correlations={("a", "b"): 0.9, ("a", "c"): 0.9, ("b", "c"): -0.9}),
         "not positive definite"),
        (lambda: standard_covariates("glioma"), "unknown indication"),
        (lambda: Normal(0, 1, (5.0, 5.0000001)).sample(10, np.random.default_rng(0)),
         "hold almost none"),
    ],
)
def test_bad_populations_are_clear_errors(make: object, match: str) -> None:
    with pytest.raises(PopulationError, match=match):
        make()  # type: ignore[operator]


def test_with_params_sets_some_distributions_and_keeps_the_rest() -> None:
    base = Population(params={"a": LogNormal(1.0, 0.5), "b": LogNormal(2.0, 0.1)},
                      tumour_state=None, name="base")
    changed = base.with_params(b=Fixed(3.0), c=Fixed(4.0))
    assert changed.params == {"a": LogNormal(1.0, 0.5), "b": Fixed(3.0), "c": Fixed(4.0)}
    assert changed.name == "base" and base.params["b"] == LogNormal(2.0, 0.1)
    drawn = changed.sample(5, 1)
    assert (drawn["b"] == 3.0).all() and (drawn["c"] == 4.0).all()
