"""Efficacy and toxicity of candidates simulated on the same virtual patients.

:func:`evaluate` runs candidates on the *same* virtual patients (common random numbers: one
population sample, and the per-patient random streams of scans and deaths seeded by
``(seed, patient)``), so differences between candidates are differences of the regimen,
not of the sample.

Metrics per candidate (over the patients whose simulation succeeded):

* efficacy (:data:`EFFICACY`): ``orr`` (best overall response CR or PR, RECIST), ``cr``
  (complete response), ``dor_median`` (Kaplan-Meier median duration of response among
  responders, days; ``inf`` when not reached, NaN without responders);
* toxicity (:data:`TOXICITY`): ``hypotension`` (systolic BP below 90 mmHg at any time,
  CTCAE grade >= 2), ``hypotension_g34`` (below 80 mmHg, grade 3-4), ``trd``
  (treatment-related death), ``held`` (mean over patients of the fraction of their
  scheduled IL-2 doses withheld; 0 without holds).

Each metric ``x`` comes with ``x_n``, ``x_lo``/``x_hi`` and ``x_se``. For the rates,
``x_n`` is the count and ``x_lo``/``x_hi`` the exact Clopper-Pearson interval (Clopper &
Pearson, Biometrika 26:404, 1934); for ``held``, ``held_n`` is the number of doses
withheld and for ``dor_median`` the number of responders, both with bootstrap percentile
intervals. ``x_se`` is the bootstrap standard error over patients, with the same resampled
patients for every candidate so paired comparisons stay paired (Efron & Tibshirani, An
Introduction to the Bootstrap, 1993).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from il2sim.analysis.errors import AnalysisError
from il2sim.analysis.optimize.candidates import LABEL, PARTNER_DRUG, Candidate
from il2sim.model.library import get_model
from il2sim.population.population import Population
from il2sim.trial.endpoints import MortalityModel
from il2sim.trial.runner import TrialSpec, simulate_chunk
from il2sim.trial.statistics import clopper_pearson, held_doses, is_responder, km_median

__all__ = ["EFFICACY", "METRICS", "METRIC_NAMES", "RATES", "TOXICITY", "Evaluator", "Progress",
           "Scorer", "evaluate", "table_row"]

RATES = ("orr", "cr", "hypotension", "hypotension_g34", "trd")
"""The metrics that are proportions of patients (exact intervals)."""
EFFICACY = ("orr", "cr", "dor_median")
"""Efficacy metrics (larger is better)."""
TOXICITY = ("hypotension", "hypotension_g34", "trd", "held")
"""Toxicity metrics (smaller is better); each can carry a ceiling in
:func:`~il2sim.analysis.optimize.optimize`."""
METRICS = ("orr", "cr", "hypotension", "hypotension_g34", "trd", "held", "dor_median")
"""The per-candidate metrics :func:`evaluate` reports."""
METRIC_NAMES = {"orr": "objective response rate", "cr": "complete response rate",
                "hypotension": "hypotension (SBP < 90 mmHg)",
                "hypotension_g34": "grade 3-4 hypotension (SBP < 80 mmHg)",
                "trd": "treatment-related deaths", "held": "doses withheld",
                "dor_median": "median duration of response"}
"""Each metric in words, as a plot's axis names it."""

Progress = Callable[[int, int, "Candidate"], None]
"""Called as ``progress(done, total, candidate)`` after each evaluated candidate."""
Evaluator = Callable[["Candidate"], Mapping[str, object]]
"""The metrics of one candidate, ``evaluator(candidate) -> {"orr": ..., ...}``."""


def _indicators(endpoints: pd.DataFrame, doses: pd.DataFrame,
                ids: NDArray[np.int64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Per-patient values of the rates and of ``held``, shape (len(RATES) + 1, n), NaN for
    a failed patient; and per patient the doses held and scheduled, shape (2, n)."""
    e = endpoints.set_index("patient").reindex(ids)
    ok = e["bor"].notna().to_numpy()
    bor = e["bor"].to_numpy(object)
    grade = pd.to_numeric(e["tox_hypotension_grade"], errors="coerce").to_numpy(float)
    counts = held_doses(doses[doses["drug"] != PARTNER_DRUG]).reindex(ids).fillna(0.0)
    held, scheduled = counts["held"].to_numpy(float), counts["listed"].to_numpy(float)
    values = np.vstack([
        is_responder(bor).to_numpy(),
        bor == "CR",
        e["sbp_min"].to_numpy(float) < 90.0,
        grade >= 3,
        (e["death_cause"].fillna("") == "treatment").to_numpy(),
        counts["fraction_held"].to_numpy(float),
    ]).astype(float)
    values[:, ~ok] = np.nan
    return values, np.vstack([held, scheduled])


def _dor(endpoints: pd.DataFrame, ids: NDArray[np.int64]) -> tuple[NDArray[np.float64],
                                                                    NDArray[np.bool_]]:
    """Per patient: duration of response (NaN for non-responders and failures) and event."""
    e = endpoints.set_index("patient").reindex(ids)
    responder = is_responder(e["bor"]).to_numpy()
    dor = np.where(responder, pd.to_numeric(e["dor_d"], errors="coerce").to_numpy(float),
                   np.nan)
    event = e["dor_event"].fillna(False).to_numpy(bool)
    return dor, event


def _percentile(values: NDArray[np.float64], confidence: float) -> tuple[float, float]:
    """Bootstrap percentile interval; infinities count as large values, NaN are left out."""
    finite = values[~np.isnan(values)]
    if finite.size < 2:
        return math.nan, math.nan
    alpha = (1.0 - confidence) / 2.0
    lo, hi = np.quantile(finite, [alpha, 1.0 - alpha], method="inverted_cdf")
    return float(lo), float(hi)


def evaluate(candidates: Sequence[Candidate], *, population: Population, n_patients: int,
             seed: int, mortality: MortalityModel | None = None, horizon_days: float = 365.0,
             backend: str = "native", model: str = "il2_qsp", holds: bool = False,
             n_boot: int = 200, confidence: float = 0.95, chunk_size: int | None = None,
             progress: Progress | None = None) -> pd.DataFrame:
    """Simulate each candidate on the same virtual patients and tabulate efficacy and toxicity.

    Main arguments:
        candidates: the regimens to compare.
        population: the virtual population, sampled once (``population.sample(n_patients,
            seed)``) and reused for every candidate.
        n_patients: patients per candidate.
        seed: seed of the population sample, of the per-patient scan and death streams and
            of the bootstrap.

    Other arguments:
        mortality: disease and treatment-related death model (default
            :class:`~il2sim.trial.endpoints.MortalityModel`; use
            :func:`~il2sim.trial.calibrated_mortality` with a calibrated population).
        horizon_days: follow-up, days.
        backend: simulation backend (``"native"`` or ``"scipy"``).
        model: model name (the flagship ``"il2_qsp"`` by default).
        holds: apply the label's withhold and cycle-stop rules to the IL-2 doses (see the
            module notes); ``False``: every scheduled dose is given.
        n_boot: bootstrap resamples of the patients (the same resamples for every candidate).
        confidence: level of the intervals.
        chunk_size: patients per simulation chunk (default all at once; results do not
            depend on it).
        progress: called as ``progress(done, total, candidate)`` after each candidate.

    Returns:
        One row per candidate, in the order given: ``name``, the candidate's fields,
        ``total_dose_iu_per_kg``, ``is_label``, ``n`` (patients scored), ``n_failed``
        (simulations that failed, left out of the metrics), then for each metric in
        :data:`METRICS` the columns ``x_n``, ``x``, ``x_lo``, ``x_hi``, ``x_se``; and
        ``candidate`` (the :class:`Candidate`).

    Raises:
        ValueError: no candidates, ``n_patients < 1`` or ``n_boot < 2``.
    """
    candidates = list(candidates)
    if not candidates:
        raise AnalysisError("evaluate: no candidates")
    for c in candidates:
        if not isinstance(c, Candidate):
            raise TypeError(f"evaluate: {c!r} is not a Candidate")
    score = Scorer(population=population, n_patients=n_patients, seed=seed,
                   mortality=mortality, horizon_days=horizon_days, backend=backend,
                   model=model, holds=holds, n_boot=n_boot, confidence=confidence,
                   chunk_size=chunk_size)
    rows = []
    for done, cand in enumerate(candidates, start=1):
        rows.append(table_row(cand, score(cand)))
        if progress is not None:
            progress(done, len(candidates), cand)
    return pd.DataFrame(rows)


def table_row(cand: Candidate, metrics: Mapping[str, object]) -> dict[str, object]:
    """A table row: the candidate's name and fields, its metrics, the candidate itself."""
    return {"name": cand.name, **cand.as_dict(),
            "total_dose_iu_per_kg": cand.total_dose_iu_per_kg, "is_label": cand == LABEL,
            **metrics, "candidate": cand}


class Scorer:
    """The metrics of one candidate on patients sampled once (common random numbers)."""

    def __init__(self, *, population: Population, n_patients: int, seed: int,
                 mortality: MortalityModel | None, horizon_days: float, backend: str,
                 model: str, holds: bool, n_boot: int, confidence: float,
                 chunk_size: int | None) -> None:
        if n_patients < 1:
            raise AnalysisError(f"evaluate: n_patients must be >= 1, got {n_patients}")
        if n_boot < 2:
            raise AnalysisError(f"evaluate: n_boot must be >= 2, got {n_boot}")
        self.n_patients, self.seed, self.population = n_patients, seed, population
        self.model_name, self.horizon_days, self.backend = model, horizon_days, backend
        self.mortality = mortality if mortality is not None else MortalityModel()
        self.holds = holds
        self.model = get_model(model)
        patients = population.sample(n_patients, seed)
        self.ids = patients["patient"].to_numpy(np.int64)
        self.size = chunk_size or n_patients
        self.chunks = [patients.iloc[i: i + self.size] for i in range(0, n_patients, self.size)]
        self.boot = np.random.default_rng([seed, 0xB007]).integers(0, n_patients,
                                                                  (n_boot, n_patients))
        self.confidence = confidence

    def __call__(self, cand: Candidate) -> dict[str, object]:
        n_patients = self.n_patients
        spec = TrialSpec(name=cand.name, n_patients=n_patients, seed=self.seed,
                         population=self.population, model=self.model_name,
                         protocol="regimen", regimen=cand.regimen(),
                         plan=cand.protocol(self.holds), horizon_days=self.horizon_days,
                         mortality=self.mortality, backend=self.backend, chunk_size=self.size)
        frames = [simulate_chunk(spec, self.model, chunk) for chunk in self.chunks]
        endpoints = pd.concat([f["endpoints"] for f in frames], ignore_index=True)
        doses = pd.concat([f["doses"] for f in frames], ignore_index=True)
        values, held_counts = _indicators(endpoints, doses, self.ids)
        ok = ~np.isnan(values[0])
        n = int(ok.sum())
        row: dict[str, object] = {"n": n, "n_failed": n_patients - n}
        boot, confidence = self.boot, self.confidence
        resampled = values[:, boot]                    # (metric, boot, patient)
        weight = (~np.isnan(resampled)).sum(axis=2)
        with np.errstate(invalid="ignore", divide="ignore"):
            boot_rates = np.nansum(resampled, axis=2) / weight
        for m, metric in enumerate((*RATES, "held")):
            finite = boot_rates[m][np.isfinite(boot_rates[m])]
            se = float(np.std(finite, ddof=1)) if len(finite) > 1 else math.nan
            if metric == "held":
                k = int(held_counts[0][ok].sum())
                value = float(np.nanmean(values[m])) if n else math.nan
                lo, hi = _percentile(boot_rates[m], confidence)
            else:
                k = int(np.nansum(values[m]))
                value = k / n if n else math.nan
                lo, hi = (clopper_pearson(k, n, confidence=confidence) if n
                          else (math.nan, math.nan))
            row.update({f"{metric}_n": k, metric: value, f"{metric}_lo": lo,
                        f"{metric}_hi": hi, f"{metric}_se": se})
        dor, event = _dor(endpoints, self.ids)
        responders = ~np.isnan(dor)
        medians = np.array([km_median(dor[b][responders[b]], event[b][responders[b]])
                            for b in boot])
        finite = medians[np.isfinite(medians)]
        lo, hi = _percentile(medians, confidence)
        row.update({"dor_median_n": int(responders.sum()),
                    "dor_median": km_median(dor[responders], event[responders]),
                    "dor_median_lo": lo, "dor_median_hi": hi,
                    "dor_median_se": float(np.std(finite, ddof=1)) if len(finite) > 1
                    else math.nan})
        return row
