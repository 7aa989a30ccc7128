"""Calibrate the virtual populations of the pivotal high-dose IL-2 trials.

Targets (CLINICAL.md s3-4): metastatic RCC (n = 255) ORR 15%, CR 7%, PR 8%,
treatment-related deaths 4%; metastatic melanoma (n = 270) ORR 16%, CR 6%,
PR 10%, treatment-related deaths 2%; hypotension in 71% of patients (both).

Method (importance reweighting of one simulated proposal cohort, in the spirit
of the virtual-population selection of Allen, Rieger & Musante 2016, CPT
Pharmacometrics Syst Pharmacol 5:140):

1. simulate ``--n`` virtual patients of the indication under the label protocol,
   with the tumour's antigenicity ``ant`` drawn log-uniformly on [0.03, 60] and
   the capillary-leak sensitivity ``pmax`` log-uniformly on [1, 100] (broad
   proposals), and record each patient's best overall response, lowest systolic
   pressure and leak severity;
2. choose the log-normal distributions of ``ant`` (median, sigma) and ``pmax``
   (median, sigma fixed at 0.5) whose importance weights f/g reproduce the CR
   and ORR targets and 71% hypotension (SBP < 90 mmHg);
3. choose the treatment-related death intercept ``a_trd`` so that the weighted
   mean death probability equals the target;
4. write ``src/il2sim/trial/calibration/<indication>.json`` with the result, the
   targets, the achieved weighted rates, the effective sample size and the seed.

Run: ``.venv/bin/python scripts/calibrate_trials.py [--n 400] [--backend native]``.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
from scipy import optimize, stats

from il2sim.population import CovariateEffect, Population, standard_covariates
from il2sim.trial.endpoints import MortalityModel
from il2sim.trial.runner import TrialSpec, run_trial

TARGETS = {
    "rcc": {"orr": 0.15, "cr": 0.07, "pr": 0.08, "trd": 0.04, "hypotension": 0.71},
    "melanoma": {"orr": 0.16, "cr": 0.06, "pr": 0.10, "trd": 0.02, "hypotension": 0.71},
}
# Performance status was the only predictor of response, and in melanoma no prior
# systemic therapy (seeds; CLINICAL.md s3): both lower antigenicity [assumption].
EFFECTS = [
    {"param": "ant", "covariate": "ecog", "factors": {"1": 0.6}},
    {"param": "ant", "covariate": "prior_therapy", "factors": {"True": 0.6}},
]
# Disease-driven mortality [assumption]: hazard at 50 mL of tumour, set so that
# non-responders live about 1-1.5 years (median OS 16.3 months in RCC, Fyfe et al.
# 1995 JCO 13:688; 11.4 months in melanoma, Atkins et al. 1999 JCO 17:2105).
H_DISEASE = {"rcc": 1.0e-3, "melanoma": 1.6e-3}
ANT_RANGE, PMAX_RANGE, PMAX_SIGMA = (0.03, 60.0), (1.0, 100.0), 0.5
OUT = Path(__file__).resolve().parents[1] / "src/il2sim/trial/calibration"


def proposal(indication: str) -> Population:
    return Population(
        params={"ant": _LogUniform(*ANT_RANGE), "pmax": _LogUniform(*PMAX_RANGE)},
        covariates=standard_covariates(indication),
        effects=tuple(CovariateEffect(e["param"], e["covariate"],
                                      {_key(k): v for k, v in e["factors"].items()})
                      for e in EFFECTS),
        name=f"{indication} proposal",
    )


class _LogUniform:
    """Log-uniform proposal on [low, high]."""

    def __init__(self, low: float, high: float) -> None:
        self.low, self.high = low, high

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return np.exp(rng.uniform(math.log(self.low), math.log(self.high), n))

    def standard(self, z: np.ndarray) -> np.ndarray:
        u = stats.norm.cdf(z)
        return np.exp(math.log(self.low) + u * (math.log(self.high) - math.log(self.low)))

    def logpdf(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(-np.log(x) - math.log(math.log(self.high / self.low)))


def _key(text: str) -> object:
    return {"True": True, "False": False}.get(text, int(text) if text.isdigit() else text)


def weights(base: np.ndarray, median: float, sigma: float, rng: tuple[float, float]
            ) -> np.ndarray:
    prop = _LogUniform(*rng)
    logf = stats.norm.logpdf(np.log(base), math.log(median), sigma) - np.log(base)
    return np.exp(logf - prop.logpdf(base))


def calibrate(indication: str, n: int, seed: int, backend: str) -> dict[str, object]:
    target = TARGETS[indication]
    spec = TrialSpec(f"{indication} calibration proposal", n_patients=n, seed=seed,
                     population=proposal(indication), horizon_days=365.0, backend=backend,
                     chunk_size=25, mortality=MortalityModel(h_disease=H_DISEASE[indication]))
    t0 = time.perf_counter()
    result = run_trial(spec, progress=lambda k: print(".", end="", flush=True))
    print(f" {n} patients in {time.perf_counter() - t0:.0f} s")
    pts = result.patients.set_index("patient")
    ep = result.endpoints.set_index("patient").join(pts, rsuffix="_p")
    factor = np.ones(len(ep))
    for e in EFFECTS:
        hit = ep[e["covariate"]].astype(str).map(lambda v, e=e: float(e["factors"].get(v, 1.0)))
        factor *= hit.to_numpy(float)
    base_ant = ep["ant"].to_numpy(float) / factor
    pmax = ep["pmax"].to_numpy(float)
    cr = (ep["bor"] == "CR").to_numpy(float)
    orr = ep["bor"].isin(["CR", "PR"]).to_numpy(float)
    hypo = (ep["sbp_min"] < 90).to_numpy(float)

    def rates(x: np.ndarray) -> tuple[float, float]:
        w = weights(base_ant, math.exp(x[0]), math.exp(x[1]), ANT_RANGE)
        return float(np.sum(w * cr) / w.sum()), float(np.sum(w * orr) / w.sum())

    def loss(x: np.ndarray) -> float:
        c, o = rates(x)
        return (c - target["cr"]) ** 2 + (o - target["orr"]) ** 2

    best = min((optimize.minimize(loss, x0, method="Nelder-Mead",
                                  options={"xatol": 1e-4, "fatol": 1e-10})
                for x0 in ([0.0, 0.0], [0.5, 0.5], [-0.5, 1.0], [1.0, 1.5])),
               key=lambda r: r.fun)
    ant_median, ant_sigma = math.exp(best.x[0]), math.exp(best.x[1])
    w_ant = weights(base_ant, ant_median, ant_sigma, ANT_RANGE)

    def hypo_rate(log_median: float) -> float:
        w = w_ant * weights(pmax, math.exp(log_median), PMAX_SIGMA, PMAX_RANGE)
        return float(np.sum(w * hypo) / w.sum())

    lo, hi = math.log(PMAX_RANGE[0] * 1.5), math.log(PMAX_RANGE[1] / 1.5)
    pmax_median = math.exp(optimize.brentq(lambda m: hypo_rate(m) - target["hypotension"],
                                           lo, hi)) if (hypo_rate(lo) - target["hypotension"]) \
        * (hypo_rate(hi) - target["hypotension"]) < 0 else math.exp(
        optimize.minimize_scalar(lambda m: (hypo_rate(m) - target["hypotension"]) ** 2,
                                 bounds=(lo, hi), method="bounded").x)
    w = w_ant * weights(pmax, pmax_median, PMAX_SIGMA, PMAX_RANGE)
    severity = (np.maximum(0, 90 - ep["sbp_min"].to_numpy(float)) / 10
                + np.maximum(0, ep["creatinine_max"].to_numpy(float) - 1.5))
    b_trd = MortalityModel().b_trd

    def trd(a: float) -> float:
        return float(np.sum(w / (1 + np.exp(-(a + b_trd * severity)))) / w.sum())

    a_trd = optimize.brentq(lambda a: trd(a) - target["trd"], -20, 5)
    c, o = rates(best.x)
    ess = float(w.sum() ** 2 / np.sum(w**2))
    return {
        "indication": indication,
        "targets": target,
        "params": {"ant": {"median": ant_median, "sigma": ant_sigma},
                   "pmax": {"median": pmax_median, "sigma": PMAX_SIGMA}},
        "effects": EFFECTS,
        "mortality": {"h_disease": H_DISEASE[indication], "a_trd": a_trd, "b_trd": b_trd,
                      "v_ref": MortalityModel().v_ref,
                      "beta_burden": MortalityModel().beta_burden},
        "achieved": {"cr": c, "orr": o, "hypotension": hypo_rate(math.log(pmax_median)),
                     "trd": trd(a_trd)},
        "proposal": {"n": n, "seed": seed, "backend": backend, "ant": ANT_RANGE,
                     "pmax": PMAX_RANGE, "horizon_days": 365.0,
                     "effective_sample_size": ess},
        "script": "scripts/calibrate_trials.py",
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=400, help="proposal patients per indication")
    ap.add_argument("--seed", type=int, default=20261122)
    ap.add_argument("--backend", default="native")
    ap.add_argument("--indication", choices=list(TARGETS), action="append")
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    for indication in args.indication or list(TARGETS):
        result = calibrate(indication, args.n, args.seed, args.backend)
        path = OUT / f"{indication}.json"
        path.write_text(json.dumps(result, indent=2) + "\n")
        print(json.dumps({k: result[k] for k in ("params", "achieved")}, indent=1))
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
