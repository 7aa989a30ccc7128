"""Bayesian posterior of the pivotal trials' population hyperparameters.

``scripts/calibrate_trials.py`` finds one point per indication; this script gives the
posterior over

    theta = (log median ant, log median f_res, log sigma ant, log median pmax[, log median k_C])

(the log-normal population of the tumour's antigenicity, its escape fraction, its leak
sensitivity and, for RCC, the tumour-specific clone's kill per fold ``k_C``, which scales
with the patient's precursors; ``f_res``, ``pmax`` and ``k_C`` keep their fixed sigmas,
``SIGMAS``). ``k_C`` is fitted on RCC alone (``CLONE_FITTED_ON``), the one indication whose
randomised regimen contrasts inform it: the clone reads the saturable high-affinity signal,
so its strength against the pooled effectors sets how much of the high dose's effect low
dose and infusion keep. Melanoma's population takes RCC's posterior mean [assumption]. The
script writes thinned
draws into the key ``"posterior"`` of ``trial/calibration/<indication>.json``; every other
key of the file is left as it is. :func:`il2sim.trial.calibrated.calibrated_population`
builds the population at a draw, and the validation gives each replicate its own draw.

Data (counts of the trials atlas, ``validation/atlas/``, read from there):

- best response of the pivotal set, multinomial over (CR, PR, neither): RCC 17 CR and 20 PR
  of 255 (Fisher et al. 1997, Cancer J Sci Am 3 Suppl 1:S70), melanoma 17 and 26 of 270
  (Atkins et al. 1999, J Clin Oncol 17:2105); the percentages of
  ``calibrate_trials.TARGETS`` are these counts rounded;
- hypotension, 373 of the label's 525 pooled patients (Proleukin label). The label gives
  the pooled count only [assumption: the same rate in both sets, as the point calibration
  assumes]: each indication's likelihood is its share of the pooled binomial,
  ``n_ind * (r log p + (1 - r) log(1 - p))`` with ``r = 373/525`` (so the two indications
  together use the 525 patients once, not twice);
- RCC only (since session 13): the objective responses of the calibration set's other
  IL-2-alone arms, ``REGIMEN_ARMS``. Yang et al. 2003 (J Clin Oncol 21:3127; high dose 33
  of 156, low dose 20 of 150) enters through its contrast: the split of its 53 responders
  between the arms, multinomial given the total (``regimen_log_likelihood``), because the
  NCI's selected patients respond more than the multicentre pivotal sets at the same dose
  (21% in Yang's high-dose arm and 20% in the NCI series, Rosenberg 1994, against 14.5%)
  [assumption: a factor common to the trial's arms]. Negrier et al. 1998 (N Engl J Med
  338:1272; continuous infusion 9 of 138, interferon 11 of 147, both 26 of 140) enters the
  same way, through the split of its 46 responders between its three arms (until session 13
  its infusion arm entered through its level, as if its French multicentre population were
  the pivotal sets': since session 14 every randomised comparison is read only for its
  contrast, and the population's level comes from the pivotal sets alone). Each arm is its
  own proposal cohort (the same proposal, the arm's protocol and covariates from its atlas
  file, ``simulate_arm``), so its rate at theta is estimated as the pivotal rates are. The
  contrasts depend on the spread of antigenicity (the switch-like intermediate-affinity
  signal, ``N_INT``, and the tumour-specific clone are both steep in ``ant``), which the
  pivotal counts alone leave open.

Likelihood (likelihood-free in the model, exact in the counts): the rates at theta are
self-normalised importance-sampling estimates over ONE simulated proposal cohort,
``p(theta) = sum_i w_i 1[event_i] / sum_i w_i`` with ``w_i = f_theta(x_i) / g(x_i)``,
``f_theta`` the product of the three log-normal densities of patient i's draws and ``g``
the proposal's (common random numbers: one cohort serves every theta, so the posterior
surface is smooth; Owen 2013, Monte Carlo theory, methods and examples, ch. 9). The cohort
is the KEPT round of ``calibrate_trials.py`` re-simulated (``kept_round``: the round that met
its stopping rule, else its closest well-sampled one): the same proposal (log-normal
around the previous round's medians, ``calibrate_trials.next_proposal``; log-uniform over
``RANGES`` when one round sufficed) and the same seed (``seed + round``), recorded in the
indication's JSON, under the current model. ``--n`` smaller than the recorded cohort keeps
the proposal and seed but simulates fewer patients (for trials of the script). ``--widen W``
simulates instead a fresh proposal centred on the point calibration with W times its sigmas
(and a seed no round used): for a posterior that the kept round's proposal does not cover,
which shows as draws whose effective sample size sits at the floor
(``effective_sample_size_at_draws``).

Monte Carlo guards: a theta whose effective sample size ``(sum w)^2 / sum w^2`` is below
``--min-ess`` (100 patients, the floor ``calibrate_trials.fit`` penalises below) has zero
posterior mass: there the estimated rates rest on a handful of simulated patients, and
the posterior is confined to the region the cohort resolves. So has a theta whose spread of
antigenicity the proposal does not cover (log-SD at least sqrt(2) times the proposal's:
the weights' variance is infinite, the tails of theta's population are missing from the
cohort, and the effective sample size does not show it; ``_LogNormal.max_target_sigma``).
A proposal narrower than the prior's spreads once let the RCC posterior wander to a spread
of 1.1 that its cohort (proposal log-SD 0.2) could not represent: the rates it estimated
there (CR 10.1%, PR 5.1%) were not the population's (5.5%, 3.0% simulated).

Priors: uniform in the log medians over ``calibrate_trials.RANGES`` (log-uniform, the
round-1 proposal ranges) and in log sigma_ant over the point calibration's range 0.1-2
(``calibrate_trials.ANT_SIGMA_RANGE``: an RCC posterior without a bound reached 5.7, whose
populations draw patients outside the model's parameter bounds). [assumption: no data on
how antigenicity differs between patients. Until session 9 the prior was
``Normal(log 1.0, 0.5)``, centred on the spread the point calibration started from; once
the tumours' growth rates differ between patients (``calibrate_trials.GROWTH``) the responses
need little spread of antigenicity, and that prior outweighed the data: at the posterior
mean the RCC split was CR 8.6% / PR 4.9% against the published 6.7 / 7.8.]

Sampler: emcee's affine-invariant ensemble MCMC (Foreman-Mackey et al. 2013, PASP 125:306;
Goodman & Weare 2010, Comm App Math Comp Sci 5:65), 32 walkers started around the point
calibration, the first half of the chain discarded as burn-in, the integrated
autocorrelation time estimated (emcee's ``get_autocorr_time``) and ``--draws`` draws taken
at random from the rest. Recorded per indication: the draws, acceptance fraction,
autocorrelation times, posterior means, SDs and correlation matrix of theta, and each
parameter's posterior contraction ``1 - var_post / var_prior`` (Schad, Betancourt &
Vasishth 2021, Psychol Methods 26:103): near 1 the data pin the parameter, near 0 only
the prior does (identifiability).

Run: ``.venv/bin/python scripts/calibrate_posterior.py [--indication rcc] [--n 3000]
[--steps 3000] [--out DIR]`` (default: the JSON files in place). ``--save-cohort`` and
``--cohort`` keep and reuse the simulated cohort (parquet, with its seed and ``--widen``).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import math
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import emcee
import numpy as np
import pandas as pd
from scipy.special import xlogy

from il2sim.config.scenario import read_toml
from il2sim.model.library.il2_qsp.clone import K_C_SIGMA
from il2sim.population import LogNormal
from il2sim.trial.runner import run_trial
from il2sim.validation.atlas import atlas_dir, load_published_trial

HERE = Path(__file__).resolve().parent


def _load_calibrate_trials() -> ModuleType:
    spec = importlib.util.spec_from_file_location("calibrate_trials", HERE / "calibrate_trials.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("calibrate_trials", module)
    spec.loader.exec_module(module)
    return module


ct = _load_calibrate_trials()

PARAMS = ("ant", "f_res", "ant_sigma", "pmax")
"""theta's components common to every indication, each on the log scale: the medians and
sigma_ant."""
CLONE_FITTED_ON = "rcc"
"""The indication whose posterior also fits ``k_C``'s median (theta's fifth component): the
only one with randomised regimen contrasts. The other indications take its posterior mean
[assumption: the clone's kill per fold and precursor is a property of the T cells; how
immunogenic the tumour is lies in ``ant``]."""
SIGMAS = {**ct.SIGMA, "k_C": K_C_SIGMA}
"""The fixed log-SDs of the fitted medians (``ant``'s is theta's ``ant_sigma``)."""
PRIOR_RANGES = {**ct.RANGES, "k_C": (1e-5, 4e-3)}
"""The log-uniform priors of the medians (``k_C``: from a clone that kills a twentieth of the
model's default to twenty times it, i.e. from a negligible clone to one that clears any
antigenic tumour within days [assumption])."""


def params_of(indication: str) -> tuple[str, ...]:
    """theta's components for ``indication``."""
    return PARAMS + ("k_C",) if indication == CLONE_FITTED_ON else PARAMS
PIVOTAL = {"rcc": "c1_rcc_pivotal", "melanoma": "c2_melanoma_pivotal"}
TOXICITY = "c3_label_toxicity"
REGIMEN_ARMS = {"rcc": (("c4_yang_dose", ("high_dose", "low_dose"), "contrast"),
                        ("c5_negrier", ("il2", "ifn", "both"), "contrast"))}
"""Per indication, the calibration set's randomised regimen comparisons whose objective
responses join the likelihood, by trial (atlas file, arms, how): Yang 2003's high and low
dose, Negrier 1998's infusion, interferon and both, each through its contrast (the split of
the trial's responders). No melanoma trial of the set compares regimens."""
MIN_ESS = 100.0
WALKERS = 32


@dataclass(frozen=True)
class Counts:
    """Observed counts of one indication: best response and the hypotension share."""

    n: int
    cr: int
    pr: int
    hypo_rate: float   # the pooled rate r (373/525)
    hypo_n: float      # patients of this indication weighing the pooled rate


def _outcome(trial: str, endpoint: str, **match: str) -> tuple[int, int]:
    data = read_toml(atlas_dir() / f"{trial}.toml")
    for o in data["outcomes"]:
        if o["endpoint"] == endpoint and all(o.get(k) == v for k, v in match.items()):
            return int(o["count"]), int(o["n"])
    raise KeyError(f"{trial}.toml: no outcome {endpoint!r} {match}")


def published_counts(indication: str) -> Counts:
    """The pivotal set's CR and PR counts and the label's pooled hypotension (atlas files)."""
    cr, n = _outcome(PIVOTAL[indication], "complete_response", arm="high_dose")
    pr, n_pr = _outcome(PIVOTAL[indication], "partial_response", arm="high_dose")
    hypo, pooled = _outcome(TOXICITY, "adverse_event", event="hypotension")
    assert n == n_pr
    return Counts(n=n, cr=cr, pr=pr, hypo_rate=hypo / pooled, hypo_n=float(n))


def _log_draws(frame: pd.DataFrame, proposal: Mapping[str, Any], params: tuple[str, ...]
               ) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """A cohort's log draws of the medians among ``params`` (``ant``: ``base_ant``, before
    covariate effects) and the proposal's log density at them."""
    x = {k: frame["base_ant" if k == "ant" else k].to_numpy(float)
         for k in params if k != "ant_sigma"}
    log_g = sum((np.asarray(proposal[k].logpdf(v), float) for k, v in x.items()),
                np.zeros(len(frame)))
    return {k: np.log(v) for k, v in x.items()}, log_g


@dataclass(frozen=True)
class ArmCohort:
    """A regimen arm's proposal cohort (the same proposal, the arm's own protocol and
    population): per patient the log draws, the proposal's log density and whether the
    patient responded; with the arm's published count of responders of ``n``."""

    name: str
    log_x: dict[str, np.ndarray]   # log draws of theta's medians (ant: base_ant)
    log_g: np.ndarray
    resp: np.ndarray
    count: int
    n: int
    trial: str = ""
    how: str = "level"   # "level" (binomial) or "contrast" (within its trial, given the
                         # trial's responders)

    @classmethod
    def from_frame(cls, name: str, frame: pd.DataFrame, proposal: Mapping[str, Any],
                   count: int, n: int, trial: str = "", how: str = "level",
                   params: tuple[str, ...] = PARAMS) -> ArmCohort:
        """From a frame with base_ant, the other medians of ``params`` and resp
        (:func:`simulate_arm`)."""
        return cls(name, *_log_draws(frame, proposal, params), frame["resp"].to_numpy(bool),
                   count, n, trial, how)


@dataclass(frozen=True)
class Cohort:
    """A simulated proposal cohort: per patient the log draws, the proposal's log density
    and the three events; ``arms``, the regimen arms' cohorts."""

    log_x: dict[str, np.ndarray]   # log draws of theta's medians (ant: base_ant, the
                                   # covariate-free antigenicity)
    log_g: np.ndarray       # log proposal density of those medians at the draws
    cr: np.ndarray
    pr: np.ndarray
    hypo: np.ndarray
    max_ant_sigma: float    # the widest ant spread the proposal covers
    arms: tuple[ArmCohort, ...] = ()
    params: tuple[str, ...] = PARAMS   # theta's components

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, proposal: Mapping[str, Any],
                   arms: tuple[ArmCohort, ...] = (), params: tuple[str, ...] = PARAMS
                   ) -> Cohort:
        """From a frame with base_ant, the other medians of ``params``, bor and sbp_min (a
        simulated cohort)."""
        return cls(*_log_draws(frame, proposal, params),
                   (frame["bor"] == "CR").to_numpy(bool), (frame["bor"] == "PR").to_numpy(bool),
                   (frame["sbp_min"] < 90).to_numpy(bool),
                   float(proposal["ant"].max_target_sigma), arms, params)


def _log_lognormal(log_x: np.ndarray, mu: float, sigma: float) -> np.ndarray:
    """log density in x of LogNormal(median e^mu, sigma) at x = e^log_x."""
    z = (log_x - mu) / sigma
    return np.asarray(-0.5 * z * z - math.log(sigma) - 0.5 * math.log(2 * math.pi) - log_x)


def weights(theta: np.ndarray, cohort: Cohort | ArmCohort, params: tuple[str, ...]
            ) -> np.ndarray:
    """Importance weights f_theta / g (theta's components named by ``params``), scaled so
    that the largest is 1."""
    t = dict(zip(params, (float(v) for v in theta)))
    log_w = -cohort.log_g
    for name, log_x in cohort.log_x.items():
        sigma = math.exp(t["ant_sigma"]) if name == "ant" else SIGMAS[name]
        log_w = log_w + _log_lognormal(log_x, t[name], sigma)
    return np.asarray(np.exp(log_w - log_w.max()), dtype=float)


def arm_rates(theta: np.ndarray, cohort: Cohort) -> list[tuple[float, float]]:
    """Per regimen arm: (response rate, effective sample size) at theta."""
    out = []
    for arm in cohort.arms:
        w = weights(theta, arm, cohort.params)
        s = float(w.sum())
        out.append((float(w @ arm.resp) / s, s * s / float(w @ w)))
    return out


def rates(theta: np.ndarray, cohort: Cohort) -> tuple[float, float, float, float]:
    """(CR, PR, hypotension) rates at theta and the effective sample size."""
    w = weights(theta, cohort, cohort.params)
    s = float(w.sum())
    return (float(w @ cohort.cr) / s, float(w @ cohort.pr) / s, float(w @ cohort.hypo) / s,
            s * s / float(w @ w))


def log_prior(theta: np.ndarray, params: tuple[str, ...] = PARAMS) -> float:
    """Log-uniform medians over ``PRIOR_RANGES`` and sigma_ant over
    calibrate_trials.ANT_SIGMA_RANGE (log 0 inside, -inf outside)."""
    for value, name in zip(theta, params):
        lo, hi = ct.ANT_SIGMA_RANGE if name == "ant_sigma" else PRIOR_RANGES[name]
        if not math.log(lo) <= value <= math.log(hi):
            return -math.inf
    return 0.0


def log_likelihood(theta: np.ndarray, cohort: Cohort, counts: Counts,
                   min_ess: float = MIN_ESS) -> float:
    """Multinomial (CR, PR, neither) plus the hypotension share; -inf below ``min_ess`` or
    where the cohort's proposal does not cover theta's spread of antigenicity."""
    if math.exp(theta[2]) >= cohort.max_ant_sigma:
        return -math.inf
    p_cr, p_pr, p_h, ess = rates(theta, cohort)
    if ess < min_ess:
        return -math.inf
    with np.errstate(divide="ignore"):
        ll = (xlogy(counts.cr, p_cr) + xlogy(counts.pr, p_pr)
              + xlogy(counts.n - counts.cr - counts.pr, 1.0 - p_cr - p_pr)
              + counts.hypo_n * (xlogy(counts.hypo_rate, p_h)
                                 + xlogy(1.0 - counts.hypo_rate, 1.0 - p_h)))
        ll += regimen_log_likelihood(cohort.arms, arm_rates(theta, cohort), min_ess)
    return float(ll) if np.isfinite(ll) else -math.inf


def regimen_log_likelihood(arms: tuple[ArmCohort, ...], rates: list[tuple[float, float]],
                           min_ess: float = MIN_ESS) -> float:
    """The regimen arms' part of the likelihood. An arm entered by its ``level``: binomial,
    ``c log p + (n - c) log(1 - p)``. Arms entered by their ``contrast``: the split of their
    trial's responders between them, multinomial given the total,
    ``sum_i c_i log(p_i n_i / sum_j p_j n_j)``, which no factor common to the trial's arms
    changes (a trial population that responds more or less at every dose). -inf where an
    arm's effective sample size is below ``min_ess``."""
    if any(ess < min_ess for _, ess in rates):
        return -math.inf
    ll = 0.0
    expected: dict[str, list[tuple[int, float]]] = {}
    for arm, (p, _) in zip(arms, rates):
        if arm.how == "level":
            ll += float(xlogy(arm.count, p) + xlogy(arm.n - arm.count, 1.0 - p))
        else:
            expected.setdefault(arm.trial, []).append((arm.count, p * arm.n))
    for group in expected.values():
        total = sum(e for _, e in group)
        ll += float(sum(xlogy(c, e / total) for c, e in group))
    return ll


def log_posterior(theta: np.ndarray, cohort: Cohort, counts: Counts,
                  min_ess: float = MIN_ESS) -> float:
    prior = log_prior(theta, cohort.params)
    if not math.isfinite(prior):
        return -math.inf
    return prior + log_likelihood(theta, cohort, counts, min_ess)


def prior_sd(params: tuple[str, ...] = PARAMS) -> np.ndarray:
    """Prior SDs of theta: (log hi - log lo)/sqrt(12), the priors being log-uniform."""
    ranges = [ct.ANT_SIGMA_RANGE if name == "ant_sigma" else PRIOR_RANGES[name]
              for name in params]
    return np.array([math.log(hi / lo) / math.sqrt(12) for lo, hi in ranges])


def sample(cohort: Cohort, counts: Counts, start: np.ndarray, *, steps: int, draws: int,
           seed: int, min_ess: float = MIN_ESS) -> dict[str, Any]:
    """Run the ensemble sampler from around ``start`` (theta) and summarise the posterior."""
    rng = np.random.default_rng(seed)
    params = cohort.params
    ndim = len(params)
    p0 = np.empty((WALKERS, ndim))
    # a point calibration at the edge of ant sigma's range (calibrate_trials' bound) starts
    # the walkers just inside it
    lo, hi = (math.log(b) for b in ct.ANT_SIGMA_RANGE)
    start = np.array(start, dtype=float)
    start[2] = min(max(start[2], lo + 0.05), hi - 0.05)   # params[2] is ant_sigma
    for k in range(WALKERS):   # each walker in the posterior's support, near the start
        for scale in (0.05, 0.02, 0.005, 0.001):
            p0[k] = start + scale * rng.standard_normal(ndim)
            if math.isfinite(log_posterior(p0[k], cohort, counts, min_ess)):
                break
        else:
            raise ValueError("no walker start near the point calibration has posterior mass "
                             f"(effective sample size below {min_ess:g}?)")
    sampler = emcee.EnsembleSampler(WALKERS, ndim, log_posterior,
                                    args=(cohort, counts, min_ess))
    sampler.random_state = np.random.RandomState(seed).get_state()
    sampler.run_mcmc(p0, steps, progress=False)
    burn = steps // 2
    chain = sampler.get_chain(discard=burn, flat=True)
    tau = sampler.get_autocorr_time(discard=burn, quiet=True)
    pick = np.sort(rng.choice(len(chain), size=min(draws, len(chain)), replace=False))
    mean, sd = chain.mean(axis=0), chain.std(axis=0, ddof=1)
    corr = np.corrcoef(chain, rowvar=False)
    at_mean = rates(mean, cohort)
    ess_draws = np.array([rates(theta, cohort)[3] for theta in chain[pick]])
    natural = np.exp(chain[pick])
    return {
        "method": "emcee affine-invariant ensemble MCMC (Foreman-Mackey et al. 2013, "
                  "PASP 125:306) on importance-sampling rates over one simulated proposal "
                  "cohort (scripts/calibrate_posterior.py)",
        "parameters": list(params),
        "scale": "draws in natural units (ant, f_res, pmax medians; ant_sigma); "
                 "log_mean, log_sd, correlation and contraction of their logs",
        "draws": {name: [float(v) for v in natural[:, j]] for j, name in enumerate(params)},
        "log_mean": dict(zip(params, map(float, mean))),
        "log_sd": dict(zip(params, map(float, sd))),
        "correlation": [[float(v) for v in row] for row in corr],
        "contraction": dict(zip(params, map(float, 1.0 - (sd / prior_sd(params)) ** 2))),
        "acceptance_fraction": float(np.mean(sampler.acceptance_fraction)),
        "autocorrelation_steps": dict(zip(params, map(float, tau))),
        "walkers": WALKERS, "steps": steps, "burn_in": burn,
        "rates_at_mean": {"cr": at_mean[0], "pr": at_mean[1], "hypotension": at_mean[2],
                          "effective_sample_size": at_mean[3],
                          **{f"{arm.name} response": rate for arm, (rate, _) in
                             zip(cohort.arms, arm_rates(mean, cohort))}},
        "data": {"n": counts.n, "cr": counts.cr, "pr": counts.pr,
                 "hypotension_rate": counts.hypo_rate, "hypotension_weight": counts.hypo_n,
                 **{f"{arm.name} response": [arm.count, arm.n] for arm in cohort.arms}},
        "prior": {"medians": "log-uniform over " + json.dumps(
                      {k: PRIOR_RANGES[k] for k in params if k != "ant_sigma"}),
                  "ant_sigma": "log-uniform over " + json.dumps(ct.ANT_SIGMA_RANGE)},
        "min_effective_sample_size": min_ess,
        "effective_sample_size_at_draws": {"min": float(ess_draws.min()),
                                           "median": float(np.median(ess_draws))},
        "seed": seed,
    }


def kept_round(cal: Mapping[str, Any]) -> int:
    """The round of calibrate_trials whose answer the JSON holds (older records: the last)."""
    return int(cal.get("kept_round", len(cal["rounds"])))


def kept_proposal(cal: Mapping[str, Any]) -> tuple[dict[str, Any], int]:
    """The kept round's proposal and seed of calibrate_trials (from the JSON's record)."""
    rounds = cal["rounds"][:kept_round(cal)]
    proposal = ({k: ct._LogUniform(*r) for k, r in ct.RANGES.items()} if len(rounds) == 1
                else ct.next_proposal(rounds[-2]["medians"]))
    return proposal, int(cal["proposal"]["seed"]) + len(rounds)


def fresh_proposal(cal: Mapping[str, Any], widen: float) -> tuple[dict[str, Any], int]:
    """A proposal centred on the point calibration, ``widen`` times its sigmas (for the
    antigenicity at least ``widen`` times ``calibrate_trials.SIGMA``'s 1.0, so that with
    ``widen`` 1.5 or more it covers the prior's range of spreads), and a seed no round of
    calibrate_trials used."""
    p = cal["params"]
    sigma = {k: p[k]["sigma"] for k in ct.SIGMA}
    sigma["ant"] = max(sigma["ant"], ct.SIGMA["ant"])
    proposal = {k: ct._LogNormal(p[k]["median"], widen * sigma[k]) for k in ct.SIGMA}
    return proposal, int(cal["proposal"]["seed"]) + len(cal["rounds"]) + 1


def point(cal: Mapping[str, Any], params: tuple[str, ...] = PARAMS) -> np.ndarray:
    """theta at the point calibration."""
    p = cal["params"]
    return np.log([p["ant"]["sigma"] if name == "ant_sigma" else p[name]["median"]
                   for name in params])


def clone_proposal(indication: str, cal: Mapping[str, Any], widen: float | None,
                   folders: tuple[Path, ...]) -> LogNormal:
    """The cohort's distribution of ``k_C``. Fitted (``CLONE_FITTED_ON``): around the
    calibration's median, ``widen`` times its log-SD (1 without ``--widen``). Otherwise the
    population's own: the median of ``CLONE_FITTED_ON``'s calibration in the first of
    ``folders`` that has one (its posterior mean once that has run), so that the importance
    weights need no ``k_C`` term."""
    if indication == CLONE_FITTED_ON:
        return ct._LogNormal(float(cal["params"]["k_C"]["median"]), (widen or 1.0) * K_C_SIGMA)
    path = next(p for p in (f / f"{CLONE_FITTED_ON}.json" for f in folders) if p.exists())
    shared = json.loads(path.read_text())
    return LogNormal(float(shared["params"]["k_C"]["median"]), K_C_SIGMA)


COLUMNS = ["base_ant", "f_res", "pmax", "k_C", "bor", "sbp_min"]
ARM_COLUMNS = ["base_ant", "f_res", "pmax", "k_C", "resp"]


def simulate_arm(stem: str, arm: str, proposal: Mapping[str, Any], n: int, seed: int,
                 backend: str) -> pd.DataFrame:
    """``n`` patients of an atlas arm (its protocol, covariates and fixed spreads) with
    ``ant``, ``f_res`` and ``pmax`` drawn from the proposal; per patient the draws, the
    covariate-free antigenicity ``base_ant`` and ``resp`` (CR or PR by the trial's
    criteria)."""
    trial = load_published_trial(atlas_dir() / f"{stem}.toml")
    spec = trial.arm(arm).spec
    assert spec is not None, (stem, arm)
    population = spec.population.with_params(**proposal)
    spec = dataclasses.replace(spec, population=population, n_patients=n, seed=seed,
                               backend=backend, chunk_size=100)
    print(f"  {stem}:{arm}: simulating {n} patients (seed {seed})", end="", flush=True)
    result = run_trial(spec, progress=lambda k: print(".", end="", flush=True))
    print()
    frame = result.endpoints.set_index("patient").join(
        result.patients.set_index("patient"), rsuffix="_p")
    frame["base_ant"] = ct.base_antigenicity(frame, population)
    column = {"WHO": "bor_who", "RECIST": "bor"}[trial.criteria]
    frame["resp"] = frame[column].isin(["CR", "PR"])
    return frame[ARM_COLUMNS]


def arm_cohorts(ind: str, proposal: Mapping[str, Any], n: int, seed: int, backend: str,
                save: Path | None, load: Path | None, params: tuple[str, ...] = PARAMS
                ) -> tuple[ArmCohort, ...]:
    """The regimen arms' cohorts of :data:`REGIMEN_ARMS` (simulated, or read from ``load``)."""
    out = []
    listed = [(stem, arm, how) for stem, names, how in REGIMEN_ARMS.get(ind, ())
              for arm in names]
    for k, (stem, arm, how) in enumerate(listed):
        path = f"{ind}.{stem}.{arm}.parquet"
        if load is not None:
            frame = pd.read_parquet(load / path)
        else:
            frame = simulate_arm(stem, arm, proposal, n, seed + 100 + k, backend)
        if save is not None:
            frame.reset_index(drop=True).to_parquet(save / path)
        count, total = _outcome(stem, "objective_response", arm=arm)
        out.append(ArmCohort.from_frame(f"{stem}:{arm}", frame, proposal, count, total,
                                        stem, how, params))
    return tuple(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--indication", choices=list(PIVOTAL), action="append")
    ap.add_argument("--n", type=int, help="patients of the cohort (default: as recorded)")
    ap.add_argument("--steps", type=int, default=3000, help="steps per walker")
    ap.add_argument("--draws", type=int, default=200, help="posterior draws stored")
    ap.add_argument("--seed", type=int, default=20261207)
    ap.add_argument("--min-ess", type=float, default=MIN_ESS)
    ap.add_argument("--backend", help="simulation backend (default: as recorded)")
    ap.add_argument("--widen", type=float, help="simulate a fresh proposal centred on the "
                    "point calibration with WIDEN times its sigmas instead of the kept round")
    ap.add_argument("--calibration", type=Path, default=ct.OUT,
                    help="folder of the <indication>.json to read")
    ap.add_argument("--out", type=Path, default=ct.OUT, help="folder to write (default: "
                    "in place)")
    ap.add_argument("--save-cohort", type=Path, help="write the cohort to DIR/<ind>.parquet")
    ap.add_argument("--cohort", type=Path, help="read the cohort from DIR/<ind>.parquet")
    ap.add_argument("--arm-n", type=int, help="patients of each regimen arm's cohort "
                    "(default: the pivotal cohort's)")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for ind in args.indication or list(PIVOTAL):
        cal = json.loads((args.calibration / f"{ind}.json").read_text())
        proposal, seed = (kept_proposal(cal) if args.widen is None
                          else fresh_proposal(cal, args.widen))
        proposal["k_C"] = clone_proposal(ind, cal, args.widen, (args.out, args.calibration))
        params = params_of(ind)
        made = {"seed": seed, "widen": args.widen}
        if args.cohort is not None:
            saved = json.loads((args.cohort / f"{ind}.cohort.json").read_text())
            if saved != made:
                raise SystemExit(f"{args.cohort / ind}.cohort.json: simulated with {saved}, "
                                 f"not {made} (give the same --widen)")
            frame = pd.read_parquet(args.cohort / f"{ind}.parquet")
        else:
            n = args.n or int(cal["proposal"]["n_per_round"])
            print(f"{ind}: simulating {n} patients (seed {seed})")
            frame = ct.simulate_cohort(ind, proposal, n, seed,
                                       args.backend or cal["proposal"]["backend"])[COLUMNS]
        if args.save_cohort is not None:
            args.save_cohort.mkdir(parents=True, exist_ok=True)
            frame.reset_index(drop=True).to_parquet(args.save_cohort / f"{ind}.parquet")
            (args.save_cohort / f"{ind}.cohort.json").write_text(json.dumps(made) + "\n")
        counts = published_counts(ind)
        arms = arm_cohorts(ind, proposal, args.arm_n or len(frame), seed,
                           args.backend or cal["proposal"]["backend"], args.save_cohort,
                           args.cohort, params)
        post = sample(Cohort.from_frame(frame, proposal, arms, params), counts,
                      point(cal, params),
                      steps=args.steps, draws=args.draws, seed=args.seed,
                      min_ess=args.min_ess)
        post["cohort"] = {
            "patients": len(frame), "seed": seed,
            "proposal": (f"calibrate_trials' kept round ({kept_round(cal)}) re-simulated"
                         if args.widen is None else "log-normal around the point calibration"
                         f", {args.widen:g} times its sigmas")}
        cal["posterior"] = post
        # the point population (draw=None: the examples, the README's trial) is the
        # posterior mean, the Bayes estimate under squared log error, instead of the last
        # importance-sampling round's fit
        for name, value in post["log_mean"].items():
            key, field = ("ant", "sigma") if name == "ant_sigma" else (name, "median")
            cal["params"][key][field] = math.exp(value)
        if "k_C" not in params:   # the clone's median fitted on CLONE_FITTED_ON
            cal["params"]["k_C"] = {"median": proposal["k_C"].median, "sigma": K_C_SIGMA,
                                    "from": f"{CLONE_FITTED_ON}.json (posterior mean)"}
        cal["point"] = "posterior mean of scripts/calibrate_posterior.py (exp of log_mean)"
        cal["achieved"] = {**cal["achieved"], **{k: post["rates_at_mean"][k]
                                                 for k in ("cr", "pr", "hypotension")}}
        path = args.out / f"{ind}.json"
        path.write_text(json.dumps(cal, indent=2) + "\n")
        print(json.dumps({k: post[k] for k in ("log_mean", "log_sd", "contraction",
                                                 "acceptance_fraction",
                                                 "autocorrelation_steps", "rates_at_mean",
                                                 "effective_sample_size_at_draws")},
                         indent=1))
        print("correlation", np.round(np.array(post["correlation"]), 2).tolist())
        if post["effective_sample_size_at_draws"]["min"] < 1.5 * args.min_ess:
            print(f"{ind}: some draws sit near the effective-sample-size floor: the cohort "
                  "may cut the posterior off; consider more patients (--n) or --widen 2")
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
