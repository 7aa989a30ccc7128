"""Clinical endpoints of virtual patients: response, survival, toxicity grades.

Mortality model [assumption, calibrated in scripts/calibrate_trials.py]:

- disease-driven death with hazard growing with tumour burden,
      h(t) = h_disease * (V(t)/v_ref)^beta_burden         per day
  so that patients whose tumour disappears stop dying of it;
- treatment-related death during a course with probability
      p = 1/(1 + exp(-(a_trd + b_trd*s))),  s = max(0, 90 - SBP_min)/10 + max(0, Cr_max - 1.5)
  (severity of the capillary leak syndrome: hypotension and renal failure were the
  causes of the label's treatment-related deaths), on the day of the lowest SBP.

Toxicity grades follow CTCAE v5 where a simulated observable maps onto a term:
hypotension (SBP < 90: grade 2; < 80: 3; < 70: 4), oliguria (urine < 160 mL per
8 h: 1; < 80: 3), creatinine increased (x ULN 1.2 mg/dL: > 1: 1, > 1.5: 2, > 3: 3,
> 6: 4), confusion (score >= 1: 1, >= 2: 2, >= 3: 3), hypoxia (SpO2 < 92: 2,
< 88: 3), weight gain (>= 5%: 1, >= 10%: 2, >= 20%: 3).

Every random draw of a patient comes from ``numpy.random.default_rng((seed, patient))``,
so results do not depend on how patients are chunked or distributed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from il2sim.population.population import sum_of_diameters
from il2sim.trial.response import RECIST, WHO, best_response, measure

__all__ = ["MortalityModel", "patient_rng", "patient_endpoints", "toxicity_grades"]


def patient_rng(seed: int, patient: int, stream: int) -> np.random.Generator:
    """The generator of one patient's ``stream`` (0: scans, 1: deaths)."""
    return np.random.default_rng([seed, patient, stream])


@dataclass(frozen=True)
class MortalityModel:
    h_disease: float = 1.2e-3      # 1/day at the reference burden
    v_ref: float = 50.0            # mL
    beta_burden: float = 0.5
    a_trd: float = -5.5
    b_trd: float = 1.0


def _grade(value: NDArray[np.float64], cuts: list[tuple[float, int]], *,
           below: bool) -> NDArray[np.int64]:
    grade = np.zeros(value.shape, dtype=np.int64)
    for cut, g in cuts:
        hit = value < cut if below else value > cut
        grade = np.where(hit, np.maximum(grade, g), grade)
    return grade


def toxicity_grades(extremes: pd.DataFrame) -> pd.DataFrame:
    """CTCAE-like grades from per-patient extremes of the vital observables."""
    cr_uln = 1.2
    return pd.DataFrame({
        "tox_hypotension_grade": _grade(extremes["sbp_min"].to_numpy(float),
                                        [(90, 2), (80, 3), (70, 4)], below=True),
        "tox_oliguria_grade": _grade(extremes["urine_min"].to_numpy(float),
                                     [(160, 1), (80, 3)], below=True),
        "tox_creatinine_grade": _grade(extremes["creatinine_max"].to_numpy(float) / cr_uln,
                                       [(1, 1), (1.5, 2), (3, 3), (6, 4)], below=False),
        "tox_confusion_grade": _grade(extremes["confusion_max"].to_numpy(float),
                                      [(0.999, 1), (1.999, 2), (2.999, 3)], below=False),
        "tox_hypoxia_grade": _grade(extremes["spo2_min"].to_numpy(float),
                                    [(92, 2), (88, 3)], below=True),
        "tox_weight_gain_grade": _grade(extremes["weight_gain_pct_max"].to_numpy(float),
                                        [(5, 1), (10, 2), (20, 3)], below=False),
    })


def patient_endpoints(
    patients: pd.DataFrame,
    days: NDArray[np.float64],
    volume_ml: NDArray[np.float64],
    extremes: pd.DataFrame,
    doses: pd.DataFrame,
    *,
    seed: int,
    horizon_days: float,
    scan_days: NDArray[np.float64],
    mortality: MortalityModel,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Endpoints (one row per patient) and scans (one row per patient and scan).

    ``volume_ml``: tumour volume on the daily grid ``days``, shape (N, n_days);
    ``extremes``: per patient ``sbp_min``, ``sbp_min_day``, ``urine_min``,
    ``creatinine_max``, ``confusion_max``, ``spo2_min``, ``weight_gain_pct_max``.
    """
    rows, scans = [], []
    grades = toxicity_grades(extremes)
    # dose counts per patient, counted once for the chunk
    given = doses[(doses["status"] == "given").to_numpy(dtype=bool)]
    n_scheduled = doses["patient"].value_counts()
    n_given_of = given["patient"].value_counts()
    courses_of = (given.groupby("patient")["course"].nunique() if "course" in doses
                  else pd.Series(dtype="int64"))
    sbp_min, sbp_min_day, cr_max = (extremes[c].to_numpy(float) for c in (
        "sbp_min", "sbp_min_day", "creatinine_max"))
    for i, p in enumerate(patients.itertuples(index=False)):
        pid = int(p.patient)
        n_les = int(p.n_lesions)
        vol = volume_ml[i]
        # deaths
        rng_d = patient_rng(seed, pid, 1)
        sev = max(0.0, 90.0 - float(sbp_min[i])) / 10.0 + max(0.0, float(cr_max[i]) - 1.5)
        n_given = int(n_given_of.get(pid, 0))
        received = n_given > 0
        p_trd = 1 / (1 + math.exp(-(mortality.a_trd + mortality.b_trd * sev))) if received else 0
        trd = rng_d.uniform() < p_trd
        burden = np.maximum(vol, 0) / mortality.v_ref
        hazard = mortality.h_disease * burden**mortality.beta_burden
        cum = np.concatenate([[0.0], np.cumsum(0.5 * (hazard[1:] + hazard[:-1]) * np.diff(days))])
        target = -math.log(rng_d.uniform())
        death_disease = float(np.interp(target, cum, days)) if cum[-1] >= target else math.inf
        death_trd = float(sbp_min_day[i]) if trd else math.inf
        death = min(death_disease, death_trd, math.inf)
        cause = "" if math.isinf(death) else ("treatment" if death_trd <= death_disease
                                             else "disease")
        # scans while alive
        rng_s = patient_rng(seed, pid, 0)
        sd_days = np.concatenate([[0.0], scan_days[scan_days < min(death, horizon_days)]])
        true_sod = sum_of_diameters(np.interp(sd_days, days, vol) * 1e9,
                                    np.full(sd_days.shape, n_les))
        measured = np.concatenate([[true_sod[0]], measure(true_sod[1:], n_les, rng_s)])
        recist = best_response(sd_days, measured, n_les, RECIST)
        who = best_response(sd_days, measured, n_les, WHO)
        for d, s in zip(sd_days, measured):
            scans.append({"patient": pid, "day": d, "sod_mm": s,
                          "change_pct": 100 * (s - measured[0]) / measured[0]})
        end = min(death, horizon_days)
        prog = recist.progression_day
        pfs = min(prog if not math.isnan(prog) else math.inf, death)
        resp = recist.response_day
        dor = (min(pfs, horizon_days) - resp) if not math.isnan(resp) else math.nan
        rows.append({
            "patient": pid,
            "bor": recist.bor,
            "bor_who": who.bor,
            "best_change_pct": recist.best_change_pct,
            "time_to_response_d": resp,
            "dor_d": dor,
            "dor_event": bool(not math.isnan(resp) and pfs <= horizon_days),
            "pfs_d": min(pfs, horizon_days),
            "pfs_event": bool(pfs <= horizon_days),
            "os_d": end,
            "os_event": bool(death <= horizon_days),
            "death_cause": cause if death <= horizon_days else "",
            "doses_given": n_given,
            "doses_scheduled": int(n_scheduled.get(pid, 0)),
            "courses": int(courses_of.get(pid, 0)),
        })
    endpoints = pd.concat([pd.DataFrame(rows), grades.reset_index(drop=True),
                           extremes.reset_index(drop=True)], axis=1)
    return endpoints, pd.DataFrame(scans)
