"""Tumour measurement and response criteria: RECIST 1.1 and WHO.

Each scan measures the target lesions of a patient. The simulated tumour is
split into ``n`` equal spherical lesions (see
:func:`il2sim.population.population.sum_of_diameters`); a lesion smaller than the
scanner's detection limit reads 0 mm; readings carry multiplicative noise.

RECIST 1.1 (Eisenhauer et al. 2009, Eur J Cancer 45:228), on the sum of
longest diameters (SOD):
    CR: all target lesions gone;   PR: SOD at least 30% below baseline;
    PD: SOD at least 20% and 5 mm above the nadir;   SD: otherwise.
WHO (Miller et al. 1981, Cancer 47:207), on the sum of products of perpendicular
diameters (SPD = n * (SOD/n)^2 for equal spheres):
    PR: SPD at least 50% below baseline;   PD: at least 25% above the nadir.
A CR or PR counts as the best overall response only when confirmed by the next
scan at least ``confirm_days`` later (single-arm trials); SD needs a minimum
duration from the start of treatment.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

__all__ = ["RECIST", "RESPONSE_CATEGORIES", "WHO", "BestResponse", "Criteria",
           "ResponseCriteriaError", "best_of_calls", "best_response", "classify_scans",
           "is_responder", "measure"]

RESPONSE_CATEGORIES: frozenset[str] = frozenset({"CR", "PR"})
"""Objective responses: the best overall responses that make a patient a responder."""


def is_responder(bor: ArrayLike) -> pd.Series:
    """Per patient, whether the best overall response ``bor`` is an objective response (CR or
    PR, :data:`RESPONSE_CATEGORIES`); a missing response (a failed patient) is ``False``.

    Returns a boolean Series, with ``bor``'s index when ``bor`` is a Series.
    """
    return pd.Series(bor, dtype=object).isin(RESPONSE_CATEGORIES)


class ResponseCriteriaError(ValueError):
    """Malformed scan data."""


@dataclass(frozen=True)
class Criteria:
    name: str
    pr_drop: float          # fraction below baseline for PR
    pd_rise: float          # fraction above nadir for PD
    pd_min_mm: float        # absolute rise for PD (RECIST 5 mm)
    use_products: bool      # WHO: sum of products of diameters
    confirm_days: float = 28.0
    sd_min_days: float = 42.0


RECIST = Criteria("RECIST 1.1", pr_drop=0.30, pd_rise=0.20, pd_min_mm=5.0, use_products=False)
WHO = Criteria("WHO", pr_drop=0.50, pd_rise=0.25, pd_min_mm=0.0, use_products=True)


def measure(sod_true: NDArray[np.float64], n_lesions: int, rng: np.random.Generator, *,
            noise_cv: float = 0.05, detection_mm: float = 5.0) -> NDArray[np.float64]:
    """Measured SOD (mm) at each scan: noisy, lesions below the detection limit read 0."""
    per_lesion = np.asarray(sod_true, dtype=float) / n_lesions
    reading = per_lesion * (1 + noise_cv * rng.standard_normal(per_lesion.shape))
    reading = np.where(per_lesion < detection_mm, 0.0, np.maximum(reading, 0.0))
    return np.asarray(reading * n_lesions, dtype=float)


def classify_scans(sod: NDArray[np.float64], n_lesions: int,
                   criteria: Criteria = RECIST) -> NDArray[np.str_]:
    """Response at each post-baseline scan; ``sod[0]`` is the baseline."""
    sod = np.asarray(sod, dtype=float)
    if sod.ndim != 1 or sod.size < 1 or not sod[0] > 0:
        raise ResponseCriteriaError("scans: need a positive baseline sum of diameters first")
    size = n_lesions * (sod / n_lesions) ** 2 if criteria.use_products else sod
    out = []
    nadir = size[0]
    for k in range(1, len(size)):
        s = size[k]
        if s >= nadir * (1 + criteria.pd_rise) and sod[k] - sod[: k].min() >= criteria.pd_min_mm \
                and s > 0:
            out.append("PD")
        elif s == 0:
            out.append("CR")
        elif s <= size[0] * (1 - criteria.pr_drop):
            out.append("PR")
        else:
            out.append("SD")
        nadir = min(nadir, s)
    return np.array(out, dtype=str)


@dataclass(frozen=True)
class BestResponse:
    bor: str                     # CR, PR, SD, PD, NE
    response_day: float          # first (confirmed) response scan, NaN if none
    progression_day: float       # first PD scan, NaN if none
    best_change_pct: float       # best change of the SOD from baseline


def best_response(days: NDArray[np.float64], sod: NDArray[np.float64], n_lesions: int,
                  criteria: Criteria = RECIST) -> BestResponse:
    """Best overall response with confirmation, from scans up to progression."""
    calls = classify_scans(sod, n_lesions, criteria)
    change = 100 * (np.asarray(sod[1:]) - sod[0]) / sod[0]
    return best_of_calls(days, calls, change, criteria)


def best_of_calls(days: ArrayLike, calls: ArrayLike, change: ArrayLike,
                  criteria: Criteria = RECIST, *, stable: str = "SD") -> BestResponse:
    """Best overall response from the response at each scan after the baseline ``days[0]``.

    CR or PR counts when the next scan at least ``criteria.confirm_days`` later confirms it;
    scans after the first PD do not count; ``stable`` (SD, or "non-CR/non-PD" where only
    non-target disease is followed) needs a scan ``criteria.sd_min_days`` after the start,
    else the best response is NE. ``change`` is the change (%) of the measured sum at each
    post-baseline scan (NaN where none is measured).
    """
    post = np.asarray(days, dtype=float)[1:]
    calls = np.asarray(calls, dtype=str)
    change = np.asarray(change, dtype=float)
    if len(calls) == 0:
        return BestResponse("NE", np.nan, np.nan, np.nan)
    pd_idx = np.flatnonzero(calls == "PD")
    stop = int(pd_idx[0]) if pd_idx.size else len(calls)
    progression_day = float(post[stop]) if pd_idx.size else np.nan
    best = "PD" if stop == 0 else stable

    def first_confirmed(levels: tuple[str, ...]) -> float:
        for k in range(stop):
            if calls[k] in levels:
                later = [j for j in range(k + 1, stop)
                         if post[j] - post[k] >= criteria.confirm_days]
                if later and calls[later[0]] in levels:
                    return float(post[k])
        return np.nan

    response_day = first_confirmed(tuple(sorted(RESPONSE_CATEGORIES)))
    if not np.isnan(response_day):
        best = "CR" if not np.isnan(first_confirmed(("CR",))) else "PR"
    if best == stable and not (post[:stop] >= criteria.sd_min_days).any():
        best = "NE"
    best_change = float(np.nanmin(change[: max(stop, 1)])) \
        if not np.isnan(change[: max(stop, 1)]).all() else np.nan
    return BestResponse(best, response_day, progression_day, best_change)
