"""The calibration posterior: populations at a draw, validation replicates at their draws, and
the posterior script on a synthetic cohort whose answer is known analytically.

Synthetic cohort: a patient responds completely when the covariate-free antigenicity exceeds
``C_CR``, partially when it exceeds ``C_PR`` only, and is hypotensive when ``pmax`` exceeds
``H``. Under ``ant ~ LogNormal(e^mu, s)`` and ``pmax ~ LogNormal(e^nu, 0.5)`` the rates are
``P(CR) = Phi((mu - log C_CR)/s)``, ``P(CR or PR) = Phi((mu - log C_PR)/s)`` and
``P(hypotension) = Phi((nu - log H)/0.5)``, so the observed rates fix mu, s and nu exactly.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from il2sim.population import LogNormal, Population
from il2sim.trial import calibrated
from il2sim.trial.calibrated import calibrated_population, with_posterior_draw
from il2sim.trial.errors import TrialError
from il2sim.trial.runner import TrialSpec
from il2sim.validation.run import replicate_spec

C_CR, C_PR, H = 6.0, 6.0 / math.exp(0.3), 15.0


@pytest.fixture(scope="module")
def cp(load_script: Callable[[str], ModuleType]) -> ModuleType:
    return load_script("calibrate_posterior")


def _with_posterior(monkeypatch: pytest.MonkeyPatch, draws: int = 3) -> dict[str, Any]:
    cal = copy.deepcopy(calibrated.calibration("rcc"))
    cal["posterior"] = {"draws": {"ant": [1.0 + k for k in range(draws)],
                                  "f_res": [(k + 1) / 100 for k in range(draws)],
                                  "ant_sigma": [(4 + k) / 10 for k in range(draws)],
                                  "pmax": [10.0 + k for k in range(draws)],
                                  "k_C": [(k + 1) / 1e4 for k in range(draws)]}}
    real = calibrated.calibration
    monkeypatch.setattr(calibrated, "calibration",
                        lambda ind: cal if ind == "rcc" else real(ind))
    return cal


def test_population_at_a_draw_has_the_draws_medians(monkeypatch: pytest.MonkeyPatch) -> None:
    cal = _with_posterior(monkeypatch)
    point = calibrated_population("rcc")
    pop = calibrated_population("rcc", draw=2)
    assert pop.params["ant"] == LogNormal(3.0, 0.6)
    assert pop.params["f_res"] == LogNormal(0.03, cal["params"]["f_res"]["sigma"])
    assert pop.params["pmax"] == LogNormal(12.0, cal["params"]["pmax"]["sigma"])
    assert pop.params["k_C"] == LogNormal(3e-4, cal["params"]["k_C"]["sigma"])
    assert pop.params["V1"] == point.params["V1"] and pop.effects == point.effects
    with pytest.raises(TrialError, match="rcc.json: posterior.draws has 3 draws; no draw 3"):
        calibrated_population("rcc", draw=3)


def test_a_draw_without_a_posterior_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    cal = copy.deepcopy(calibrated.calibration("rcc"))
    cal.pop("posterior", None)
    monkeypatch.setattr(calibrated, "calibration", lambda ind: cal)
    with pytest.raises(TrialError, match="rcc.json: no key 'posterior'"):
        calibrated_population("rcc", draw=0)
    point = calibrated_population("rcc")
    assert with_posterior_draw(point, "rcc", 5) is point


def _spec(population: Population, indication: str = "rcc") -> TrialSpec:
    return TrialSpec("t", n_patients=4, seed=7, population=population, indication=indication)


def test_validation_replicates_use_successive_draws(monkeypatch: pytest.MonkeyPatch) -> None:
    _with_posterior(monkeypatch, draws=2)
    spec = _spec(calibrated_population("rcc"))
    medians = [replicate_spec(spec, "c1:high_dose", r).population.params["ant"].median
               for r in range(4)]
    assert medians == [1.0, 2.0, 1.0, 2.0]
    assert [replicate_spec(spec, "k", r).seed for r in range(2)] == [7, 8]
    # a parameter the trial overrides keeps its value; other indications are untouched
    own = dataclasses.replace(spec.population, params={**spec.population.params,
                                                        "ant": LogNormal(9.0, 0.2)})
    replicate = replicate_spec(_spec(own), "k", 1).population
    assert replicate.params["ant"] == LogNormal(9.0, 0.2)
    assert replicate.params["pmax"].median == 11.0  # type: ignore[attr-defined]
    hiv = _spec(spec.population, indication="hiv")
    assert replicate_spec(hiv, "k", 1).population is spec.population


def _synthetic(n: int, seed: int, cp: ModuleType, ant_sigma: float = 1.2
               ) -> tuple[Any, dict[str, Any]]:
    ct = cp.ct
    proposal = {"ant": ct._LogNormal(2.0, ant_sigma), "f_res": ct._LogNormal(0.1, 1.5),
                "pmax": ct._LogNormal(20.0, 0.75)}
    rng = np.random.default_rng(seed)
    x = {k: d.sample(n, rng) for k, d in proposal.items()}
    bor = np.where(x["ant"] > C_CR, "CR", np.where(x["ant"] > C_PR, "PR", "SD"))
    frame = pd.DataFrame({"base_ant": x["ant"], "f_res": x["f_res"], "pmax": x["pmax"],
                          "bor": bor, "sbp_min": np.where(x["pmax"] > H, 80.0, 100.0)})
    return cp.Cohort.from_frame(frame, proposal), proposal


def _analytic(counts: Any) -> tuple[float, float, float]:
    """(mu, s, nu) whose rates equal the observed ones."""
    z_cr = stats.norm.ppf(counts.cr / counts.n)
    z_any = stats.norm.ppf((counts.cr + counts.pr) / counts.n)
    s = (math.log(C_CR) - math.log(C_PR)) / (z_any - z_cr)
    nu = math.log(H) + 0.5 * stats.norm.ppf(counts.hypo_rate)
    return math.log(C_CR) + s * z_cr, s, nu


def test_importance_rates_equal_the_analytic_rates(cp: ModuleType) -> None:
    cohort, _ = _synthetic(20000, 1, cp)
    theta = np.array([math.log(2.5), math.log(0.05), math.log(0.8), math.log(18.0)])
    p_cr, p_pr, p_h, ess = cp.rates(theta, cohort)
    exact_cr = stats.norm.sf((math.log(C_CR) - theta[0]) / 0.8)
    exact_any = stats.norm.sf((math.log(C_PR) - theta[0]) / 0.8)
    exact_h = stats.norm.sf((math.log(H) - theta[3]) / 0.5)
    tol = 4 / math.sqrt(ess)   # a few Monte Carlo standard errors (rate SD <= 1/2)
    assert p_cr == pytest.approx(exact_cr, abs=tol)
    assert p_cr + p_pr == pytest.approx(exact_any, abs=tol)
    assert p_h == pytest.approx(exact_h, abs=tol)
    counts = cp.published_counts("rcc")
    assert cp.log_likelihood(theta, cohort, counts, min_ess=ess + 1) == -math.inf


def test_a_spread_the_proposal_does_not_cover_has_no_posterior_mass(cp: ModuleType) -> None:
    # proposal log-SD 0.2: a population of ant with log-SD 1.0 has tails the cohort lacks
    cohort, _ = _synthetic(20000, 4, cp, ant_sigma=0.2)
    theta = np.array([math.log(2.0), math.log(0.1), math.log(1.0), math.log(20.0)])
    p_cr, _, _, ess = cp.rates(theta, cohort)
    exact_cr = stats.norm.sf((math.log(C_CR) - theta[0]) / 1.0)   # 0.136
    assert ess > 100 and abs(p_cr - exact_cr) > 0.05   # past the floor, and wrong
    counts = cp.published_counts("rcc")
    assert cp.log_likelihood(theta, cohort, counts, min_ess=100) == -math.inf
    assert cohort.max_ant_sigma == pytest.approx(math.sqrt(2) * 0.2)   # the limit


def test_next_proposal_keeps_the_prior_spread_of_antigenicity(cp: ModuleType) -> None:
    ct = cp.ct
    narrow = ct.next_proposal({"ant": 1.5, "f_res": 0.1, "pmax": 12.0, "ant_sigma": 0.1})
    wide = ct.next_proposal({"ant": 1.5, "f_res": 0.1, "pmax": 12.0, "ant_sigma": 1.6})
    assert narrow["ant"].sigma == pytest.approx(1.5 * ct.SIGMA["ant"])
    assert wide["ant"].sigma == pytest.approx(1.5 * 1.6)
    assert narrow["ant"].max_target_sigma > ct.ANT_SIGMA_RANGE[1]


def test_published_counts_are_the_atlas_counts(cp: ModuleType) -> None:
    rcc, mel = cp.published_counts("rcc"), cp.published_counts("melanoma")
    assert (rcc.n, rcc.cr, rcc.pr, mel.n, mel.cr, mel.pr) == (255, 17, 20, 270, 17, 26)
    assert rcc.hypo_rate == pytest.approx(373 / 525)
    assert rcc.hypo_n + mel.hypo_n == 525   # the pooled patients counted once


def test_posterior_concentrates_on_the_analytic_answer(cp: ModuleType) -> None:
    cohort, _ = _synthetic(6000, 2, cp)
    counts = cp.published_counts("rcc")
    mu, s, nu = _analytic(counts)
    start = np.array([mu + 0.2, math.log(0.1), math.log(s) - 0.1, nu - 0.1])
    post = cp.sample(cohort, counts, start, steps=500, draws=100, seed=3)
    mean, sd = post["log_mean"], post["log_sd"]
    assert mean["ant"] == pytest.approx(mu, abs=3 * sd["ant"] + 0.03)
    assert mean["ant_sigma"] == pytest.approx(math.log(s), abs=3 * sd["ant_sigma"] + 0.03)
    assert mean["pmax"] == pytest.approx(nu, abs=3 * sd["pmax"] + 0.03)
    # the draws' analytic rates sit within a binomial SD (0.016 and 0.022) of the observed
    log_ant, log_s = np.log(post["draws"]["ant"]), np.log(post["draws"]["ant_sigma"])
    p_cr = stats.norm.sf((math.log(C_CR) - log_ant) / np.exp(log_s))
    p_any = stats.norm.sf((math.log(C_PR) - log_ant) / np.exp(log_s))
    assert np.median(p_cr) == pytest.approx(counts.cr / counts.n, abs=0.01)
    assert np.median(p_any) == pytest.approx((counts.cr + counts.pr) / counts.n, abs=0.022)
    # the response data pin ant's median and sigma and hypotension pmax; nothing pins f_res
    assert sd["pmax"] < 0.1 and sd["ant"] < 0.5 and sd["f_res"] > 0.5
    assert post["contraction"]["pmax"] > 0.99
    assert len(post["draws"]["ant"]) == 100 and 0.1 < post["acceptance_fraction"] < 0.9
    corr = np.array(post["correlation"])
    assert corr.shape == (4, 4) and np.allclose(np.diag(corr), 1.0)


def test_a_regimen_arm_adds_its_binomial_count_at_its_own_importance_rate(
        cp: ModuleType) -> None:
    """A regimen arm entered by its level (Negrier 1998's infusion) joins the likelihood as a
    binomial count at its own cohort's importance-sampling rate, which equals the analytic
    rate of a threshold response (ant above C_ARM)."""
    cohort, proposal = _synthetic(20000, 5, cp)
    rng = np.random.default_rng(6)
    x = {k: d.sample(20000, rng) for k, d in proposal.items()}
    c_arm = 12.0
    frame = pd.DataFrame({"base_ant": x["ant"], "f_res": x["f_res"], "pmax": x["pmax"],
                          "resp": x["ant"] > c_arm})
    arm = cp.ArmCohort.from_frame("c5_negrier:il2", frame, proposal, 9, 138, "c5_negrier")
    joint = dataclasses.replace(cohort, arms=(arm,))
    theta = np.array([math.log(2.5), math.log(0.05), math.log(0.8), math.log(18.0)])
    ((p, ess),) = cp.arm_rates(theta, joint)
    assert p == pytest.approx(stats.norm.sf((math.log(c_arm) - theta[0]) / 0.8),
                              abs=4 / math.sqrt(ess))
    counts = cp.published_counts("rcc")
    added = cp.log_likelihood(theta, joint, counts) - cp.log_likelihood(theta, cohort, counts)
    assert added == pytest.approx(9 * math.log(p) + 129 * math.log(1 - p), rel=1e-12)


def test_arms_entered_by_their_contrast_ignore_a_factor_common_to_their_trial(
        cp: ModuleType) -> None:
    """Yang 2003's arms enter through the split of the trial's 53 responders (33 of 156 at
    high dose, 20 of 150 at low dose), multinomial given the total: rates scaled by a common
    factor give the same likelihood, and it is largest where the rates' ratio is the
    published one."""
    def arm(name: str, count: int, n: int) -> Any:
        empty = np.zeros(1)
        return cp.ArmCohort(name, {}, empty, empty.astype(bool), count, n, "c4_yang_dose",
                            "contrast")
    arms = (arm("high", 33, 156), arm("low", 20, 150))
    ll = cp.regimen_log_likelihood(arms, [(0.20, 1e3), (0.10, 1e3)])
    q = 0.20 * 156 / (0.20 * 156 + 0.10 * 150)
    assert ll == pytest.approx(33 * math.log(q) + 20 * math.log(1 - q), rel=1e-12)
    assert cp.regimen_log_likelihood(arms, [(0.10, 1e3), (0.05, 1e3)]) == pytest.approx(ll)
    ratios = np.linspace(0.3, 1.0, 71)
    best = ratios[np.argmax([cp.regimen_log_likelihood(arms, [(0.2, 1e3), (0.2 * r, 1e3)])
                             for r in ratios])]
    assert best == pytest.approx((20 / 150) / (33 / 156), abs=0.01)
    assert cp.regimen_log_likelihood(arms, [(0.2, 1e3), (0.1, 50.0)]) == -math.inf
    assert [(t, a, how) for t, a, how in cp.REGIMEN_ARMS["rcc"]] == [
        ("c4_yang_dose", ("high_dose", "low_dose"), "contrast"),
        ("c5_negrier", ("il2", "ifn", "both"), "contrast")]


def test_the_clone_median_is_weighed_as_the_other_medians(cp: ModuleType) -> None:
    """RCC's theta has a fifth component, the log median of the clone's ``k_C`` (log-SD
    ``K_C_SIGMA``). Synthetic arm: a patient responds when ``ant * k_C`` exceeds ``C``; with
    ``log ant ~ N(mu, s)`` and ``log k_C ~ N(kappa, 1)`` the rate is
    ``Phi((mu + kappa - log C) / sqrt(s^2 + 1))``, and the importance rate at theta equals it.
    Melanoma's theta has no such component: it takes RCC's median."""
    ct = cp.ct
    params = cp.params_of("rcc")
    assert params == ("ant", "f_res", "ant_sigma", "pmax", "k_C")
    assert cp.params_of("melanoma") == cp.PARAMS
    proposal = {"ant": ct._LogNormal(2.0, 1.2), "f_res": ct._LogNormal(0.1, 1.5),
                "pmax": ct._LogNormal(20.0, 0.75), "k_C": ct._LogNormal(2e-4, 1.5)}
    n, c = 40000, 2e-3
    rng = np.random.default_rng(8)
    x = {k: d.sample(n, rng) for k, d in proposal.items()}
    frame = pd.DataFrame({"base_ant": x["ant"], "f_res": x["f_res"], "pmax": x["pmax"],
                          "k_C": x["k_C"], "resp": x["ant"] * x["k_C"] > c})
    arm = cp.ArmCohort.from_frame("arm", frame, proposal, 10, 100, params=params)
    bor = np.where(frame["resp"], "CR", "SD")
    cohort = cp.Cohort.from_frame(frame.assign(bor=bor, sbp_min=100.0), proposal, (arm,),
                                  params)
    for kappa in (math.log(1e-4), math.log(4e-4)):
        theta = np.array([math.log(2.5), math.log(0.05), math.log(0.8), math.log(18.0),
                          kappa])
        ((p, ess),) = cp.arm_rates(theta, cohort)
        exact = stats.norm.sf((math.log(c) - math.log(2.5) - kappa)
                              / math.sqrt(0.8**2 + cp.K_C_SIGMA**2))
        assert p == pytest.approx(exact, abs=4 / math.sqrt(ess))
        assert cp.rates(theta, cohort)[0] == pytest.approx(p, rel=1e-12)
    assert cp.log_prior(theta, params) == 0.0
    assert cp.log_prior(np.append(theta[:4], math.log(1e-6)), params) == -math.inf
    assert len(cp.prior_sd(params)) == 5
