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
of the largest binomial log-likelihood of the two published counts,
``15 log p_pat + 9 log(1 - p_pat) + 209 log p_les + 36 log(1 - p_les)``.
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

from il2sim.config.trial import load_trial
from il2sim.population import Fixed
from il2sim.store import ResultStore
from il2sim.trial.runner import TrialSpec, run_trial
from il2sim.validation.atlas import PublishedTrial, atlas
from il2sim.validation.run import validate

EXAMPLE = Path(__file__).resolve().parents[1] / "examples/trials/local.toml"
ENDPOINTS = ("treated_lesions_complete_response", "lesion_complete_response")
"""Radny's two rates: patients with every treated metastasis cleared, lesions cleared."""


def _with_k_nec(spec: TrialSpec, k_nec: float) -> TrialSpec:
    return dataclasses.replace(spec, population=spec.population.with_params(k_nec=Fixed(k_nec)))


def radny_rates(trial: PublishedTrial, k_nec: float, replicates: int
                ) -> dict[str, tuple[float, int, int]]:
    """Per endpoint of :data:`ENDPOINTS`: simulated median rate, published count and n."""
    arms = tuple(dataclasses.replace(a, spec=_with_k_nec(a.spec, k_nec))
                 if a.spec is not None else a for a in trial.arms)
    with tempfile.TemporaryDirectory() as tmp, ResultStore(Path(tmp) / "c6.duckdb") as store:
        scores = validate([dataclasses.replace(trial, arms=arms)], store,
                          replicates=replicates).scores
    out = {}
    for name in ENDPOINTS:
        outcome = next(o for o in trial.outcomes if o.endpoint.name == name)
        row = scores[scores["endpoint"] == name].iloc[0]
        out[name] = (float(row["simulated"]), int(outcome.observed.count),
                     int(outcome.observed.n))
    return out


def log_likelihood(rates: dict[str, tuple[float, int, int]]) -> float:
    """Binomial log-likelihood of the published counts at the simulated rates (clipped half
    a patient or lesion from 0 and 1)."""
    total = 0.0
    for p, count, n in rates.values():
        p = min(max(p, 0.5 / n), 1 - 0.5 / n)
        total += count * math.log(p) + (n - count) * math.log(1 - p)
    return total


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
        ll = log_likelihood(rates)
        fits.append(ll)
        (pat, c1, n1), (les, c2, n2) = (rates[e] for e in ENDPOINTS)
        print(f"k_nec = {k:.2e} 1/h: patients cleared {100 * pat:.1f}% ({c1}/{n1} "
              f"published), lesions cleared {100 * les:.1f}% ({c2}/{n2}); log-likelihood "
              f"{ll:.1f}; local.toml check: ORR {100 * local_orr(k, args.patients):.0f}% "
              "(review 50-70%)", flush=True)
    best = args.grid[int(np.argmax(fits))]
    print(f"largest likelihood of Radny's counts: k_nec = {best:.2e} 1/h")


if __name__ == "__main__":
    main()
