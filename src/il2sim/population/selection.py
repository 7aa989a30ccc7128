"""Virtual-patient selection by acceptance-rejection (Allen, Rieger & Musante 2016).

Allen et al. (CPT Pharmacometrics Syst Pharmacol 5:140) draw *plausible* patients
from a broad proposal, simulate them, and keep each with probability proportional
to the ratio of the target density to the proposal density of its characteristics,

    P(accept i) = w_i / max_j w_j,    w_i = f(x_i) / g(x_i),

so the accepted cohort is a sample from the target distribution (the statistics
they match, e.g. response rates, follow). ``log_weights`` are log(f/g) per
candidate, from any model of the target; draws come from an explicit generator.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from il2sim.population.distributions import PopulationError

__all__ = ["acceptance_rejection"]


def acceptance_rejection(candidates: pd.DataFrame, log_weights: ArrayLike,
                         rng: np.random.Generator) -> pd.DataFrame:
    """The candidates kept with probability w_i / max(w); a sample from the target."""
    lw = np.asarray(log_weights, dtype=float)
    if lw.shape != (len(candidates),):
        raise PopulationError(f"selection: {lw.shape[0] if lw.ndim else 0} weights for "
                              f"{len(candidates)} candidates")
    if not np.isfinite(lw).any():
        raise PopulationError("selection: no candidate has a finite weight")
    lw = np.where(np.isfinite(lw), lw, -np.inf)
    accept = rng.uniform(size=len(lw)) < np.exp(lw - lw.max())
    return candidates[accept].reset_index(drop=True)
