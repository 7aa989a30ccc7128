"""Calibrate local (intratumoral) IL-2: the necrosis rate of an injected, oedematous lesion.

Target: the calibration set's intralesional trial, Radny et al. 2003 (Br J Cancer 89:1620;
the atlas file ``validation/atlas/c6_radny.toml``, counts read from there): IL-2 injected
into the cutaneous and subcutaneous metastases of 24 melanoma patients cleared every treated
metastasis in 15 patients and 209 of the 245 treated lesions. The necrosis rate ``k_nec`` of
the flagship model's tumour component is the one parameter no source fixes that acts only
under local therapy (systemic IL-2 does not cause local oedema), so it is chosen here: for
each ``k_nec`` of a grid the script runs the atlas trial as ``il2sim validate c6`` does
(``--replicates`` replicate trials of 24 patients, each at its own draw of the melanoma
population's posterior), takes the simulated medians of the two rates, and keeps the value
of the largest log-likelihood of the two published counts,
``15 log p_pat + 9 log(1 - p_pat) + (209 log p_les + 36 log(1 - p_les))/DE``.

The 245 lesions are not 245 independent trials: they sit in 24 patients, and a patient's
lesions clear or persist together (15 patients cleared every lesion, where independent
lesions at 85% would clear all of about ten in a fifth of patients). The lesion count's
binomial is divided by its design effect ``DE = 1 + (m - 1)*rho`` (Kish 1965, Survey
sampling, ch. 5; Donner & Klar 2000, Design and analysis of cluster randomization trials in
health research, ch. 2), ``m`` = 245/24 lesions per patient and ``rho`` the intra-patient
correlation of the lesions' outcomes, estimated at each ``k_nec`` from a simulated cohort
(``ICC_PATIENTS`` patients of the same arm; the ANOVA estimator for binary outcomes,
:func:`lesion_icc`). Until session 14 the lesion count entered unweighted, as if it were
ten times the patients' information: it chose ``k_nec`` 1e-3, where the patients' count left
its validation interval (79.2% simulated against 62.5%).
As a check it prints the objective response of injected lesions in ``examples/trials/
local.toml`` (3 MIU weekly x 4), against the local-IL-2 group's 50-70% (Den Otter et al.
2008, Cancer Immunol Immunother 57(7), review). Until session 9 that review's 60% was the
target; it asked for k_nec 2.5e-3, at which Radny's patients were cleared in 92% (62.5%
published), so the calibration set's own trial now decides.

Run: ``.venv/bin/python scripts/calibrate_local.py [--replicates 40]`` (a few minutes);
set the chosen value as ``k_nec`` in ``il2sim/model/library/il2_qsp/tumour.py``.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from il2sim.config.trial import load_trial
from il2sim.population import Fixed
from il2sim.store import ResultStore
from il2sim.trial.runner import TrialSpec, run_trial
from il2sim.validation.atlas import PublishedTrial, atlas
from il2sim.validation.run import validate

EXAMPLE = Path(__file__).resolve().parents[1] / "examples/trials/local.toml"
ENDPOINTS = ("treated_lesions_complete_response", "lesion_complete_response")
"""Radny's two rates: patients with every treated metastasis cleared, lesions cleared."""
ICC_PATIENTS = 480
"""Simulated patients from which the lesions' intra-patient correlation is estimated."""


def lesion_icc(lesions: np.ndarray, cleared: np.ndarray) -> float:
    """Intra-cluster correlation of binary outcomes, ANOVA estimator (Donner & Klar 2000,
    ch. 2): clusters (patients) of ``lesions`` with ``cleared`` successes,

        MSB = sum n_i (p_i - p)^2 / (k - 1),   MSW = sum n_i p_i (1 - p_i) / (N - k)
        n0 = (N - sum n_i^2 / N) / (k - 1),    rho = (MSB - MSW) / (MSB + (n0 - 1) MSW)

    over the k patients with at least one lesion (N lesions in all)."""
    keep = lesions > 0
    n, y = lesions[keep].astype(float), cleared[keep].astype(float)
    k, total = len(n), n.sum()
    p_i, p = y / n, y.sum() / total
    msb = float(np.sum(n * (p_i - p) ** 2) / (k - 1))
    msw = float(np.sum(n * p_i * (1 - p_i)) / (total - k))
    n0 = (total - np.sum(n ** 2) / total) / (k - 1)
    return (msb - msw) / (msb + (n0 - 1) * msw)


def _with_k_nec(spec: TrialSpec, k_nec: float) -> TrialSpec:
    return dataclasses.replace(spec, population=spec.population.with_params(k_nec=Fixed(k_nec)))


def design_effect(trial: PublishedTrial, k_nec: float, seed: int = 7) -> float:
    """``1 + (m - 1)*rho`` for Radny's lesion count: ``m`` its lesions per patient, ``rho``
    the simulated lesions' intra-patient correlation at ``k_nec`` (:data:`ICC_PATIENTS`)."""
    (arm,) = (a for a in trial.arms if a.spec is not None)
    assert arm.spec is not None
    spec = dataclasses.replace(_with_k_nec(arm.spec, k_nec), n_patients=ICC_PATIENTS, seed=seed)
    e = run_trial(spec).endpoints
    rho = lesion_icc(e["treated_lesions"].to_numpy(), e["treated_lesions_cr"].to_numpy())
    outcome = next(o for o in trial.outcomes if o.endpoint.name == ENDPOINTS[1])
    patients = next(o for o in trial.outcomes if o.endpoint.name == ENDPOINTS[0])
    m = outcome.observed.n / patients.observed.n
    return 1.0 + (m - 1.0) * max(rho, 0.0)


def simulated_scores(trial: PublishedTrial, replicates: int) -> pd.DataFrame:
    """The validation's scores of ``trial`` (``il2sim validate``'s replicates, each at its
    own posterior draw), in a throwaway store."""
    with tempfile.TemporaryDirectory() as tmp, ResultStore(Path(tmp) / "fit.duckdb") as store:
        return validate([trial], store, replicates=replicates).scores


def binomial_log_likelihood(p: float, count: int, n: int) -> float:
    """``count log p + (n - count) log(1 - p)``, ``p`` clipped half a unit from 0 and 1."""
    p = min(max(p, 0.5 / n), 1 - 0.5 / n)
    return count * math.log(p) + (n - count) * math.log(1 - p)


def radny_rates(trial: PublishedTrial, k_nec: float, replicates: int
                ) -> dict[str, tuple[float, int, int]]:
    """Per endpoint of :data:`ENDPOINTS`: simulated median rate, published count and n."""
    arms = tuple(dataclasses.replace(a, spec=_with_k_nec(a.spec, k_nec))
                 if a.spec is not None else a for a in trial.arms)
    scores = simulated_scores(dataclasses.replace(trial, arms=arms), replicates)
    out = {}
    for name in ENDPOINTS:
        outcome = next(o for o in trial.outcomes if o.endpoint.name == name)
        row = scores[scores["endpoint"] == name].iloc[0]
        out[name] = (float(row["simulated"]), int(outcome.observed.count),
                     int(outcome.observed.n))
    return out


def log_likelihood(rates: dict[str, tuple[float, int, int]], lesion_de: float = 1.0
                   ) -> float:
    """Binomial log-likelihood of the published counts at the simulated rates (clipped half
    a patient or lesion from 0 and 1), the lesion count's divided by its design effect."""
    return sum((1.0 / lesion_de if name == ENDPOINTS[1] else 1.0)
               * binomial_log_likelihood(p, count, n)
               for name, (p, count, n) in rates.items())


def local_orr(k_nec: float, patients: int) -> float:
    """Objective responses of injected lesions in ``examples/trials/local.toml`` (the check)."""
    spec = dataclasses.replace(load_trial(EXAMPLE), n_patients=patients)
    e = run_trial(_with_k_nec(spec, k_nec)).endpoints
    return float(e["bor"].isin(["CR", "PR"]).mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--replicates", type=int, default=40)
    ap.add_argument("--patients", type=int, default=300, help="patients of the local.toml check")
    ap.add_argument("--grid", type=float, nargs="+",
                    default=[5e-4, 7.5e-4, 1e-3, 1.5e-3, 2e-3, 2.5e-3])
    args = ap.parse_args()
    (trial,) = atlas(["c6"])
    fits = []
    for k in args.grid:
        rates = radny_rates(trial, k, args.replicates)
        de = design_effect(trial, k)
        ll = log_likelihood(rates, de)
        fits.append(ll)
        (pat, c1, n1), (les, c2, n2) = (rates[e] for e in ENDPOINTS)
        print(f"k_nec = {k:.2e} 1/h: patients cleared {100 * pat:.1f}% ({c1}/{n1} "
              f"published), lesions cleared {100 * les:.1f}% ({c2}/{n2}; design effect "
              f"{de:.2f}); log-likelihood {ll:.1f} (unweighted {log_likelihood(rates):.1f}); "
              f"local.toml check: ORR {100 * local_orr(k, args.patients):.0f}% "
              "(review 50-70%)", flush=True)
    best = args.grid[int(np.argmax(fits))]
    print(f"largest likelihood of Radny's counts: k_nec = {best:.2e} 1/h")


if __name__ == "__main__":
    main()
