"""Calibrate interferon-alpha's antiproliferative effect on the tumour: ``imax_ifn``.

Target: the interferon-only arm of the calibration set's Negrier et al. 1998 (N Engl J Med
338:1272; the atlas file ``validation/atlas/c5_negrier.toml``, the count read from there):
18 MIU SC three times a week gave objective responses in 11 of 147 patients. ``imax_ifn``
(the fall of the tumour cells' proliferation at full interferon effect; the interferon
component of ``il2_qsp``, where the tumour's cell loss ``phi_loss`` 0.9 is fixed from the
literature) is the one parameter that acts on tumours under interferon alone; it varies
between patients (log-normal, log-SD ``IMAX_IFN_SIGMA``, fixed), and its median is fitted
here. For each median of a grid the script runs that arm as ``il2sim validate c5`` does
(``--replicates`` replicate arms of 147 patients, each at its own draw of the RCC
population's posterior), takes the simulated median response rate and keeps the value of the
largest binomial log-likelihood ``11 log p + 136 log(1 - p)``; between grid values it
interpolates the log-likelihood by a parabola through the best point and its neighbours.
Checks, fitted to nothing, printed beside it: the same arm's event-free survival at one year
(12% published) and the combination arm's responses (18.6%; IL-2 by continuous infusion with
interferon 6 MIU).

Run: ``.venv/bin/python scripts/calibrate_ifn.py [--replicates 20]`` (a few minutes per
grid value); set the chosen median as ``IMAX_IFN`` in
``il2sim/model/library/il2_qsp/ifn.py`` (the populations' files ``trial/calibration/
rcc.json`` and ``melanoma.json`` take it from there when ``calibrate_trials.py`` runs).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import numpy as np

from il2sim.model.library.il2_qsp.ifn import IMAX_IFN_SIGMA
from il2sim.population import LogNormal
from il2sim.validation.atlas import PublishedTrial, atlas

sys.path.insert(0, str(Path(__file__).resolve().parent))
from calibrate_local import binomial_log_likelihood as log_likelihood  # noqa: E402
from calibrate_local import simulated_scores  # noqa: E402

ARM = "ifn"
CHECK_ARM = "both"


def _arms_only(trial: PublishedTrial, names: tuple[str, ...], imax: float) -> PublishedTrial:
    """The trial reduced to ``names``' arms and outcomes, with the median of ``imax_ifn``."""
    dist = LogNormal(imax, IMAX_IFN_SIGMA, (0.0, 1.0))
    arms = tuple(dataclasses.replace(a, spec=dataclasses.replace(
        a.spec, population=a.spec.population.with_params(imax_ifn=dist)))
        for a in trial.arms if a.name in names and a.spec is not None)
    outcomes = tuple(o for o in trial.outcomes if o.arm in names)
    return dataclasses.replace(trial, arms=arms, outcomes=outcomes)


def arm_scores(trial: PublishedTrial, names: tuple[str, ...], imax: float,
               replicates: int) -> dict[tuple[str, str], float]:
    """Simulated medians by (arm, endpoint) over the replicates."""
    reduced = _arms_only(trial, names, imax)
    scores = simulated_scores(reduced, replicates)
    out = {}
    for _, row in scores.iterrows():
        outcome = reduced.outcomes[int(row["outcome"])]
        out[(outcome.arm, outcome.endpoint.name)] = float(row["simulated"])
    return out


def best_value(grid: list[float], ll: list[float]) -> float:
    """The grid's maximum, refined by a parabola through it and its two neighbours."""
    i = int(np.argmax(ll))
    if 0 < i < len(grid) - 1:
        a, b, c = np.polyfit(grid[i - 1:i + 2], ll[i - 1:i + 2], 2)
        if a < 0:
            return float(min(max(-b / (2 * a), grid[i - 1]), grid[i + 1]))
    return grid[i]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--replicates", type=int, default=20)
    ap.add_argument("--grid", type=float, nargs="+",
                    default=[0.015, 0.025, 0.035, 0.05, 0.07])
    ap.add_argument("--no-check", action="store_true",
                    help="skip the combination arm (the check), which is slower")
    args = ap.parse_args()
    (trial,) = atlas(["c5"])
    target = next(o for o in trial.outcomes
                  if o.arm == ARM and o.endpoint.name == "objective_response")
    count, n = int(target.observed.count), int(target.observed.n)
    names = (ARM,) if args.no_check else (ARM, CHECK_ARM)
    fits = []
    for imax in args.grid:
        s = arm_scores(trial, names, imax, args.replicates)
        p = s[(ARM, "objective_response")]
        fits.append(log_likelihood(p, count, n))
        check = "" if args.no_check else (
            f"; combination arm {100 * s[(CHECK_ARM, 'objective_response')]:.1f}% (18.6% "
            "published)")
        print(f"imax_ifn median {imax:.3f}: interferon alone {100 * p:.1f}% ({count}/{n} "
              f"published), log-likelihood {fits[-1]:.2f}; event-free at 1 year "
              f"{100 * s[(ARM, 'event_free_survival_at')]:.1f}% (12% published){check}",
              flush=True)
    print(f"largest likelihood of Negrier's interferon-alone count: median imax_ifn "
          f"{best_value(args.grid, fits):.3f}")


if __name__ == "__main__":
    main()
