"""Comparisons between arms: Newcombe intervals, log-rank, Cox hazard ratio, forest plot."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize_scalar
from scipy.stats import CensoredData, logrank

from il2sim.trial.comparison import (
    compare_arms,
    comparison_table,
    hazard_ratio,
    newcombe_difference,
    newcombe_paired_difference,
    plot_forest,
    wilson_interval,
)

# Newcombe RG. Interval estimation for the difference between independent proportions:
# comparison of eleven methods. Stat Med 1998;17:873-890, Table II, method 10.
NEWCOMBE_TABLE_II = [
    ((56, 70, 48, 80), (0.0524, 0.3339)),
    ((9, 10, 3, 10), (0.1705, 0.8090)),
    ((6, 7, 2, 7), (0.0582, 0.8062)),
    ((5, 56, 0, 29), (-0.0381, 0.1926)),
    ((0, 10, 0, 20), (-0.1611, 0.2775)),
    ((0, 10, 0, 10), (-0.2775, 0.2775)),
    ((10, 10, 0, 20), (0.6791, 1.0000)),
    ((10, 10, 0, 10), (0.6075, 1.0000)),
]


@pytest.mark.parametrize(("counts", "expected"), NEWCOMBE_TABLE_II)
def test_newcombe_interval_matches_the_published_table(
        counts: tuple[int, int, int, int], expected: tuple[float, float]) -> None:
    lo, hi = newcombe_difference(*counts)
    assert lo == pytest.approx(expected[0], abs=6e-5)
    assert hi == pytest.approx(expected[1], abs=6e-5)


def test_wilson_interval_of_a_textbook_case() -> None:
    # Newcombe 1998 (Stat Med 17:857) Table I, method 3: 81/263 -> 0.2553 to 0.3662
    assert wilson_interval(81, 263) == pytest.approx((0.2553, 0.3662), abs=6e-5)


def test_paired_newcombe_interval_matches_the_published_example() -> None:
    # Fagerland MW, Lydersen S, Laake P. Statistical Analysis of Contingency Tables (CRC
    # 2017), section 8.5: complete response before and after consolidation therapy (Cavo
    # et al. 2012), table [[59, 6], [16, 80]]: estimate -0.0621, 95% CI -0.1186 to -0.0046.
    lo, hi = newcombe_paired_difference(59, 6, 16, 80)
    assert lo == pytest.approx(-0.1186, abs=6e-5)
    assert hi == pytest.approx(-0.0046, abs=6e-5)


def test_paired_interval_is_narrower_than_unpaired_when_the_pairs_agree() -> None:
    a, b, c, d = 40, 5, 1, 54
    plo, phi = newcombe_paired_difference(a, b, c, d)
    ulo, uhi = newcombe_difference(a + b, 100, a + c, 100)
    assert phi - plo < 0.7 * (uhi - ulo)
    assert plo < (b - c) / 100 < phi


def _partial_likelihood_hr(t: np.ndarray, e: np.ndarray, x: np.ndarray) -> float:
    """The Cox estimate from its definition: argmax of the partial likelihood
    sum over events i of [b x_i - log sum_{t_j >= t_i} exp(b x_j)] (no ties)."""
    def minus_log_pl(b: float) -> float:
        return -sum(b * x[i] - math.log(np.exp(b * x[t >= t[i]]).sum())
                    for i in np.flatnonzero(e))
    return math.exp(minimize_scalar(minus_log_pl, bounds=(-5, 5), method="bounded",
                                    options={"xatol": 1e-10}).x)


def test_hazard_ratio_and_log_rank_against_independent_computations() -> None:
    rng = np.random.default_rng(3)
    t1, t0 = rng.exponential(20.0, 60), rng.exponential(12.0, 70)
    c1, c0 = rng.uniform(5, 40, 60), rng.uniform(5, 40, 70)
    e1, e0 = t1 <= c1, t0 <= c0
    t1, t0 = np.minimum(t1, c1), np.minimum(t0, c0)
    t, e = np.concatenate([t1, t0]), np.concatenate([e1, e0])
    x = np.concatenate([np.ones(60, int), np.zeros(70, int)])
    hr, lo, hi, p, test = hazard_ratio(t, e, x)
    assert hr == pytest.approx(_partial_likelihood_hr(t, e, x), rel=1e-5)
    assert lo < hr < hi and test == "log-rank"
    expected = logrank(CensoredData(uncensored=t1[e1], right=t1[~e1]),
                       CensoredData(uncensored=t0[e0], right=t0[~e0])).pvalue
    assert p == pytest.approx(expected, rel=1e-6)


def test_hazard_ratio_without_events_in_an_arm_is_not_estimable() -> None:
    hr, lo, hi, p, test = hazard_ratio(np.array([1.0, 2, 3, 4]), np.array([0, 0, 1, 1]),
                                       np.array([1, 1, 0, 0]))
    assert math.isnan(hr) and math.isnan(p) and "not estimable" in test


@pytest.mark.filterwarnings("ignore::Warning")
def test_hazard_ratio_of_a_monotone_likelihood_is_not_estimable() -> None:
    """Both treated patients die before the only control death, with the other control
    censored in between: at every death the dying arm is the whole risk set's riskier one,
    so the partial likelihood rises without bound in the log hazard ratio (Bryson & Johnson,
    Technometrics 23:381, 1981). Before this was caught, exp() overflowed."""
    hr, lo, hi, p, test = hazard_ratio(np.array([1.0, 2, 3, 5]), np.array([1, 1, 0, 1]),
                                       np.array([1, 1, 0, 0]))
    assert math.isnan(hr) and math.isnan(lo) and "monotone likelihood" in test


def _endpoints(arm: str, responders: int, n: int, scale: float, seed: int,
               first_patient: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    os_d = rng.exponential(scale, n)
    return pd.DataFrame({
        "patient": np.arange(first_patient, first_patient + n), "arm": arm,
        "bor": ["CR"] * responders + ["PD"] * (n - responders),
        "os_d": os_d, "os_event": os_d < 900, "pfs_d": os_d / 2, "pfs_event": True})


def test_compare_arms_independent_arms() -> None:
    e = pd.concat([_endpoints("low", 48, 80, 300, 1), _endpoints("high", 56, 70, 500, 2, 80)])
    rows = compare_arms(e, "low")
    assert list(rows["measure"]) == ["ORR difference", "OS hazard ratio", "PFS hazard ratio"]
    orr = rows.iloc[0]
    assert (orr["arm"], orr["control"], orr["n"], orr["n_control"]) == ("high", "low", 70, 80)
    assert (orr["lo"], orr["hi"]) == pytest.approx((0.0524, 0.3339), abs=6e-5)
    assert orr["test"] == "Fisher exact"
    assert rows.iloc[1]["estimate"] < 1.0  # the longer-lived arm has the lower hazard
    table = comparison_table(rows)
    assert table.columns.tolist() == ["high vs low"]
    assert table.iloc[0, 0] == "70 / 80"
    assert table.iloc[1, 0].startswith("+20.0 (+5.2 to +33.4)")


def test_compare_arms_paired_matches_patients() -> None:
    low = _endpoints("low", 40, 100, 300, 1)
    high = low.assign(arm="high", os_d=low["os_d"] * 1.5, pfs_d=low["pfs_d"] * 1.5)
    high.loc[40:44, "bor"] = "PR"      # 5 more responders, same patients
    rows = compare_arms(pd.concat([low, high]), "low", paired=True)
    orr = rows.iloc[0]
    assert orr["estimate"] == pytest.approx(0.05)
    assert (orr["lo"], orr["hi"]) == pytest.approx(newcombe_paired_difference(40, 5, 0, 55))
    assert orr["p_value"] == pytest.approx(2 * 0.5**5)  # exact McNemar: 5 of 5 discordant
    assert "robust" in rows.iloc[1]["test"] and rows.iloc[1]["estimate"] < 1.0


def test_compare_arms_refuses_an_unknown_control() -> None:
    with pytest.raises(ValueError, match="no arm 'x'"):
        compare_arms(_endpoints("a", 1, 5, 10, 1), "x")


def test_forest_plot_draws_every_comparison() -> None:
    e = pd.concat([_endpoints("low", 10, 50, 300, 1), _endpoints("high", 20, 50, 500, 2, 50),
                   _endpoints("mid", 15, 50, 400, 3, 100)])
    fig = plot_forest(compare_arms(e, "low"))
    gids = {line.get_gid() for ax in fig.axes for line in ax.get_lines()} - {None}
    assert gids == {f"{m} {a}" for a in ("high", "mid")
                    for m in ("ORR difference", "OS hazard ratio", "PFS hazard ratio")}
