"""Virtual HIV trials: people with HIV on antiretroviral therapy, CD4 and viral-load endpoints.

Population [assumptions marked]: adults on suppressive antiretroviral therapy whose CD4 count
at entry is drawn log-normal around the trial's median, truncated at its entry criterion
(ESPRIT: CD4 at least 300 cells/uL, median 457; INSIGHT-ESPRIT Study Group, N Engl J Med
2009;361:1548). The spread (sigma 0.3 on the log scale) is an [assumption]. Each patient
enters at the steady state of :mod:`il2sim.model.library.il2_hiv` on therapy
[assumption: stable on ART], at their own CD4 count: the CD4 carrying capacity solves the
uninfected steady state

    s - mu_T*T + r*T*(1 - T/T_max) = 0   =>   T_max = r*T^2 / (s + (r - mu_T)*T)

so a control patient's CD4 stays at baseline and IL-2's effect is the difference between arms.
Infected cells and virus start near zero (suppressed viral load, [assumption]).

Endpoints (one row per patient): baseline CD4, the time-averaged CD4 over follow-up
(``cd4_mean``: the trapezoid mean of the CD4 count from day 0 to the end of follow-up, the
"average over follow-up" of ESPRIT's CD4 difference), its change from baseline, the CD4 at
the end, the area above baseline to week 1, the highest viral load, and doses and cycles
given. The trial-level CD4 difference to control is the difference of the arms' mean
``cd4_mean`` (:mod:`il2sim.validation.endpoints`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import optimize, stats

from il2sim.model.spec import Model
from il2sim.population import LogNormal, Normal, Population

__all__ = ["HIV_ENTRY_CD4", "hiv_endpoints", "hiv_initial", "hiv_population"]

HIV_ENTRY_CD4 = (457.0, 300.0)
"""ESPRIT: median CD4 at entry and the entry criterion, cells/uL (N Engl J Med 2009;361:1548)."""

_SUPPRESSED = {"T1": 1e-3, "T2": 1e-4, "V": 1e-3, "Te": 1e-3}
"""Latent and active infected cells, virus and IL-2-expanded cells at entry, per mm3
[assumption: suppressed on therapy, no prior IL-2]."""


def hiv_population(median_cd4: float = HIV_ENTRY_CD4[0],
                   minimum_cd4: float = HIV_ENTRY_CD4[1], sigma: float = 0.3) -> Population:
    """People with HIV on therapy: weight, height and CD4 at entry (``baseline_cd4``): a
    log-normal truncated at ``minimum_cd4`` whose median *after* truncation is
    ``median_cd4`` (the trial's reported median is that of the patients it enrolled)."""
    def gap(m: float) -> float:
        """Phi(z(median)) minus the truncated median's CDF level (Phi(z(minimum)) + 1)/2."""
        def z(x: float) -> float:
            return (math.log(x) - math.log(m)) / sigma
        return float(stats.norm.cdf(z(median_cd4))
                     - 0.5 * (1.0 + stats.norm.cdf(z(minimum_cd4))))

    untruncated = float(optimize.brentq(gap, 0.5 * minimum_cd4, median_cd4))
    return Population(
        params={}, tumour_state=None, name="HIV on antiretroviral therapy",
        covariates={"weight": Normal(75.0, 13.0, (45.0, 150.0)),
                    "height": Normal(172.0, 9.0, (150.0, 200.0)),
                    "baseline_cd4": LogNormal(untruncated, sigma, (minimum_cd4, 3000.0))})


def hiv_initial(model: Model, patients: pd.DataFrame) -> tuple[
        dict[str, NDArray[np.float64]], dict[str, NDArray[np.float64]]]:
    """Per-patient parameters (``T_max``) and initial states putting each patient at the
    steady state of the model on therapy at their baseline CD4 count."""
    p = {q.name: q.value for q in model.params}
    cd4 = patients["baseline_cd4"].to_numpy(float)
    t_max = p["r"] * cd4**2 / (p["s"] + (p["r"] - p["mu_T"]) * cd4)
    n = len(cd4)
    initial = {"T": cd4 - sum(_SUPPRESSED[k] for k in ("T1", "T2", "Te"))}
    initial.update({k: np.full(n, v) for k, v in _SUPPRESSED.items()})
    return {"T_max": t_max}, initial


def hiv_endpoints(patients: pd.DataFrame, days: NDArray[np.float64],
                  cd4: NDArray[np.float64], viral_load: NDArray[np.float64],
                  doses: pd.DataFrame, cycles_of: Mapping[int, int]) -> pd.DataFrame:
    """Endpoints of HIV patients from CD4 and viral load on the grid ``days`` (N, n_days).

    ``cycles_of``: the IL-2 cycle of every dose id (for the cycles given)."""
    span = days[-1] - days[0]
    mean = np.trapezoid(cd4, days, axis=1) / span if span > 0 else cd4[:, 0]
    baseline = patients["baseline_cd4"].to_numpy(float)
    week = days <= 7.0
    above = np.trapezoid(np.maximum(cd4[:, week] - baseline[:, None], 0.0), days[week],
                         axis=1) if week.sum() > 1 else np.zeros(len(baseline))
    given = doses[doses["status"] == "given"]
    n_given = given["patient"].value_counts()
    cycles = given.assign(cycle=[cycles_of.get(int(d), 0) for d in given["dose_id"]]) \
        .groupby("patient")["cycle"].nunique() if len(given) else pd.Series(dtype="int64")
    ids = patients["patient"].to_numpy()
    return pd.DataFrame({
        "patient": ids,
        "cd4_baseline": baseline,
        "cd4_mean": mean,
        "cd4_mean_change": mean - baseline,
        "cd4_end": cd4[:, -1],
        "cd4_auc_week1": above,
        "viral_load_max": viral_load.max(axis=1),
        "doses_given": [int(n_given.get(i, 0)) for i in ids],
        "cycles_given": [int(cycles.get(i, 0)) for i in ids],
    })
