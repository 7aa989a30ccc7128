"""Clinical endpoints of virtual patients: response, survival, toxicity grades.

Mortality model [assumption, calibrated in scripts/calibrate_trials.py]: two competing
hazards along the simulated trajectory (:func:`death_days`),

- disease-driven death, growing with tumour burden, so that patients whose tumour
  disappears stop dying of it:
      h_disease(t) = h_disease * (V(t)/v_ref)^beta_burden                 per day
- treatment-related death, from the severity of the capillary leak syndrome beyond
  grade 2 (:func:`leak_severity`), so its risk grows with both the depth and the duration
  of the leak and is zero in a patient whose toxicity never passes grade 2:
      h_trd(t) = k_trd * s(t)^gamma_trd                                   per day
  Hypotension and renal failure (RCC; Fyfe et al. 1995, J Clin Oncol 13:688) and sepsis
  (melanoma; Atkins et al. 1999, J Clin Oncol 17:2105) caused the label's treatment-related
  deaths.
- catheter-related sepsis (:func:`sepsis_death_days`), a treatment-related death too: each
  course in which IV IL-2 was given (through a central venous catheter) brings sepsis with
  probability ``sepsis_per_course``, 8 of 86 IL-2 treatment episodes without antibiotic
  prophylaxis and none of 43 on oxacillin (Bock et al. 1990, J Clin Oncol 8:161), fatal in
  ``sepsis_fatality``, 2 of 20 septic IL-2 patients (Snydman et al. 1990, Ann Intern Med
  112:102). IL-2 impairs neutrophil chemotaxis, which is why the risk is the drug's. A trial
  whose protocol gives prophylaxis (``antibiotic_prophylaxis``) has none. Neither rate is
  fitted to a trial's deaths. [assumption: the risk is the same for every IV course, bolus or
  infusion, high or low dose; the death falls a day after the course's last IV dose
  (``SEPSIS_DELAY_D``), while the catheter is still in.]

The death time depends only on the trajectory before it, so the runner cuts a patient's
doses, scans and vitals at death (docs/design.md, "Death inside the simulation").

Toxicity grades follow CTCAE v5 where a simulated observable maps onto a term:
hypotension (SBP < 90: grade 2; < 80: 3; < 70: 4), oliguria (urine < 160 mL per
8 h: 1; < 80: 3), creatinine increased (x ULN 1.2 mg/dL: > 1: 1, > 1.5: 2, > 3: 3,
> 6: 4), confusion (score >= 1: 1, >= 2: 2, >= 3: 3), hypoxia (SpO2 < 92: 2,
< 88: 3), weight gain (>= 5%: 1, >= 10%: 2, >= 20%: 3).

Exposure-response toxicities (:func:`drive_toxicity_grades`): chills, diarrhoea, vomiting,
bilirubin increased and platelet count decreased share one cause, the peak ``D`` of the
model's cytokine drive (``cytokine_drive``, leak component). Patient i has a sensitivity
s_ie per event e, log-normal with median 1 and sigma ``DRIVE_OMEGA`` [assumption: independent
between events], drawn from the patient's stream 2, and reaches the severity

    x_ie = s_ie * D_i / theta_e

with theta_e the drive at which the median patient reaches grade 1, fitted to the label
incidence (scripts/calibrate_toxicity.py; ``calibration/toxicity.json``). x is read on each
term's CTCAE v5 scale [assumption: the severity is proportional to it]: diarrhoea, extra
stools per day (1: >= 1, 2: >= 4, 3: >= 7); vomiting, episodes per day (CTCAE v4.03: 1, 3,
6; v5 grades it by intervention); bilirubin, x ULN (1: > 1, 2: > 1.5, 3: > 3, 4: > 10);
platelets, LLN/count with LLN 150,000/mm3 (1: > 1, 2: > 2, 3: > 3, 4: > 6, i.e. below
75,000, 50,000, 25,000); chills (CTCAE has no number; 2: >= 2, 3: >= 4 [assumption]).

Peripheral oedema is mechanistic, read from the interstitial fluid excess Vi - Vi0 (L) of
the capillary leak: grade 1 once it is clinically evident, grades 2 and 3 by the limb volume
rise of CTCAE v5 "edema limbs" (> 10%, > 30%), the limb swelling by the same fraction as a
70 kg (70 L) body [assumption] (``OEDEMA_GRADE_L``).

Every random draw of a patient comes from its own stream
(:func:`~il2sim.population.streams.patient_rng`, re-exported here), so results do not depend
on how patients are chunked or distributed.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from importlib import resources

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from il2sim.assessment.response import RECIST, WHO, best_response, measure
from il2sim.population.population import sum_of_diameters
from il2sim.population.streams import patient_rng

__all__ = ["CR_ULN", "DRIVE_EVENTS", "DRIVE_OMEGA", "SEPSIS_FATALITY", "SEPSIS_PER_COURSE",
           "MortalityModel", "death_days", "drive_thresholds", "drive_toxicity_grades",
           "leak_severity", "patient_endpoints", "patient_rng", "sepsis_death_days",
           "toxicity_grades"]

CR_ULN = 1.2
"""Upper limit of normal of serum creatinine, mg/dL [assumption: adult reference range]."""
SBP_GRADE = (90.0, 80.0, 70.0)
"""Systolic pressure (mmHg) below which hypotension is grade 2, 3, 4 [assumption: CTCAE v5
grades hypotension by the intervention it needs; these pressures stand for it]."""
CR_GRADE = (1.5, 3.0, 6.0)
"""Creatinine (x ULN) above which creatinine increased is grade 2, 3, 4 (CTCAE v5)."""
SPO2_GRADE = (92.0, 88.0)
"""SpO2 (%) below which hypoxia is grade 2 (on exertion) and 3 (at rest; CTCAE v5)."""
SPO2_SEVERE = 80.0
"""SpO2 (%) at which the hypoxia term of the leak severity reaches 1 [assumption: CTCAE v5
gives hypoxia no numeric grade 4]."""
DRIVE_EVENTS: dict[str, tuple[float, ...]] = {
    "chills": (1.0, 2.0, 4.0),
    "diarrhoea": (1.0, 4.0, 7.0),
    "vomiting": (1.0, 3.0, 6.0),
    "bilirubin": (1.0, 1.5, 3.0, 10.0),
    "thrombocytopenia": (1.0, 2.0, 3.0, 6.0),
}
"""Exposure-response toxicities and the severities x at which each reaches grade 1, 2, ...
(module docstring)."""
DRIVE_OMEGA = 0.5
"""Log-normal sigma of the per-patient sensitivity to the cytokine drive [assumption: about
the spread of the peak drive itself between patients of the pivotal cohorts (log-SD 0.4)]."""
OEDEMA_GRADE_L = (2.5, 7.0, 21.0)
"""Interstitial excess (L) from which peripheral oedema is grade 1, 2, 3. Grade 1: the
interstitial volume "may expand by several liters before the abnormality is evident"
(Harrison's Principles of Internal Medicine, chapter Edema) [assumption: 2.5 L]; grades 2
and 3: 10% and 30% of a 70 L body (CTCAE v5 edema limbs)."""

SEPSIS_PER_COURSE = 8 / 86
"""Catheter-related sepsis per IV IL-2 treatment episode without antibiotic prophylaxis
(Bock et al. 1990, J Clin Oncol 8:161: 8 of 86; none of 43 on oxacillin)."""
SEPSIS_FATALITY = 2 / 20
"""Deaths among IL-2 patients with sepsis (Snydman et al. 1990, Ann Intern Med 112:102: 2 of
20)."""
SEPSIS_DELAY_D = 1.0
"""Days from a course's last IV dose to a sepsis death [assumption: within the catheter's
dwell, 3.8 days on average in Bock et al. 1990]."""
SEPSIS_STREAM = 5
"""The patient stream of the sepsis draws, one per course (:func:`sepsis_death_days`)."""


@dataclass(frozen=True)
class MortalityModel:
    """Hazards of disease-driven and treatment-related death (module docstring)."""

    h_disease: float = 1.2e-3      # 1/day at the reference burden
    v_ref: float = 50.0            # mL
    beta_burden: float = 0.5
    k_trd: float = 0.5             # 1/day at leak severity 1 (grade 4)
    gamma_trd: float = 2.0         # [assumption] deeper failure weighs more than longer
    sepsis_per_course: float = SEPSIS_PER_COURSE  # 0 under antibiotic prophylaxis
    sepsis_fatality: float = SEPSIS_FATALITY


def leak_severity(sbp: NDArray[np.float64], creatinine: NDArray[np.float64],
                  spo2: NDArray[np.float64]) -> NDArray[np.float64]:
    """Severity of the capillary leak syndrome beyond grade 2 (dimensionless):

        s = max(0, 80 - SBP)/10 + max(0, Cr/ULN - 3)/3 + max(0, 88 - SpO2)/8

    one term per organ failure by which the leak kills (circulation, kidney, lung). Each
    term is exactly 0 while its toxicity is at grade 2 or less (the grade-3 cuts
    ``SBP_GRADE``, ``CR_GRADE``, ``SPO2_GRADE``, as in :func:`toxicity_grades`) and 1 at grade
    4 (SBP 70 mmHg, creatinine 6 x ULN; SpO2 ``SPO2_SEVERE``). Arrays of any one shape.
    """
    hypotension = np.maximum(0.0, SBP_GRADE[1] - sbp) / (SBP_GRADE[1] - SBP_GRADE[2])
    renal = np.maximum(0.0, creatinine / CR_ULN - CR_GRADE[1]) / (CR_GRADE[2] - CR_GRADE[1])
    lung = np.maximum(0.0, SPO2_GRADE[1] - spo2) / (SPO2_GRADE[1] - SPO2_SEVERE)
    return np.asarray(hypotension + renal + lung, dtype=float)


def death_days(days: NDArray[np.float64], volume_ml: NDArray[np.float64],
               severity: NDArray[np.float64], patients: NDArray[np.int64], *, seed: int,
               mortality: MortalityModel
               ) -> tuple[NDArray[np.float64], list[str], NDArray[np.float64]]:
    """Each patient's day of death, its cause, and the leak exposure until then.

    On the simulation grid t_0 < ... < t_M (``days``; ``volume_ml`` and ``severity`` of shape
    (N, M+1)), each hazard keeps its value at the grid point before (left-point rule), so
    the cumulative hazard at t depends only on the trajectory up to t:

        H(t) = sum_{t_k < t} h(t_k) (min(t_{k+1}, t) - t_k)

    A cause's latent death time is the first t with H(t) = -log(u), u uniform from the
    patient's stream 1 (first draw: treatment, second: disease); the earlier one is the
    death, ``inf`` if neither comes by t_M. The exposure is the integral of s^gamma_trd
    to the death (or t_M), with the same rule.
    """
    m = mortality
    dt = np.diff(days)
    h_trd = m.k_trd * severity**m.gamma_trd
    h_dis = m.h_disease * (np.maximum(volume_ml, 0.0) / m.v_ref) ** m.beta_burden
    draws = np.array([patient_rng(seed, int(p), 1).uniform(size=2) for p in patients])
    draws = draws.reshape(len(patients), 2)
    t_trd = _first_passage(days, dt, h_trd, -np.log(draws[:, 0]))
    t_dis = _first_passage(days, dt, h_dis, -np.log(draws[:, 1]))
    death = np.minimum(t_trd, t_dis)
    cause = ["" if math.isinf(d) else ("treatment" if a <= b else "disease")
             for d, a, b in zip(death, t_trd, t_dis)]
    span = np.clip(np.minimum(days[1:], death[:, None]) - days[:-1], 0.0, None)
    exposure = np.sum(severity[:, :-1] ** m.gamma_trd * span, axis=1)
    return death, cause, exposure


def sepsis_death_days(doses: pd.DataFrame, patients: NDArray[np.int64], *, seed: int,
                      mortality: MortalityModel) -> NDArray[np.float64]:
    """Each patient's day of death from catheter-related sepsis (``inf``: none; module
    docstring). ``doses``: the simulation's dose log (``patient`` the row in ``patients``,
    ``route``, ``course``, ``status``, ``time_h``). Course k of patient p dies with
    probability ``sepsis_per_course*sepsis_fatality`` if any IV dose was given in it, by the
    draw of stream (``SEPSIS_STREAM``, k) of p, ``SEPSIS_DELAY_D`` after that course's last
    IV dose."""
    out = np.full(len(patients), math.inf)
    risk = mortality.sepsis_per_course * mortality.sepsis_fatality
    if risk <= 0 or doses.empty:
        return out
    iv = doses[(doses["status"] == "given").to_numpy() & (doses["route"] == "iv").to_numpy()]
    last = iv.groupby(["patient", "course"])["time_h"].max()
    for (row, course), t_h in last.items():
        u = patient_rng(seed, int(patients[int(row)]), SEPSIS_STREAM, int(course)).uniform()
        if u < risk:
            out[int(row)] = min(out[int(row)], float(t_h) / 24.0 + SEPSIS_DELAY_D)
    return out


def _first_passage(days: NDArray[np.float64], dt: NDArray[np.float64],
                   hazard: NDArray[np.float64], target: NDArray[np.float64]
                   ) -> NDArray[np.float64]:
    """First t with the left-point cumulative hazard equal to ``target`` (inf if none)."""
    cum = np.concatenate([np.zeros((len(hazard), 1)), np.cumsum(hazard[:, :-1] * dt, axis=1)],
                         axis=1)
    below = np.sum(cum < target[:, None], axis=1)       # >= 1, since cum[:, 0] = 0 < target
    out = np.full(len(hazard), math.inf)
    hit = np.flatnonzero(below < cum.shape[1])
    k = below[hit] - 1                                  # the interval [t_k, t_k+1) of death
    out[hit] = days[k] + (target[hit] - cum[hit, k]) / hazard[hit, k]
    return out


def _grade(value: NDArray[np.float64], cuts: list[tuple[float, int]], *,
           below: bool, inclusive: bool = False) -> NDArray[np.int64]:
    grade = np.zeros(value.shape, dtype=np.int64)
    for cut, g in cuts:
        hit = value < cut if below else (value >= cut if inclusive else value > cut)
        grade = np.where(hit, np.maximum(grade, g), grade)
    return grade


def toxicity_grades(extremes: pd.DataFrame) -> pd.DataFrame:
    """CTCAE-like grades from per-patient extremes of the vital observables."""
    return pd.DataFrame({
        "tox_hypotension_grade": _grade(extremes["sbp_min"].to_numpy(float),
                                        list(zip(SBP_GRADE, (2, 3, 4))), below=True),
        "tox_oliguria_grade": _grade(extremes["urine_min"].to_numpy(float),
                                     [(160, 1), (80, 3)], below=True),
        "tox_creatinine_grade": _grade(extremes["creatinine_max"].to_numpy(float) / CR_ULN,
                                       [(1, 1), *zip(CR_GRADE, (2, 3, 4))], below=False),
        "tox_confusion_grade": _grade(extremes["confusion_max"].to_numpy(float),
                                      [(0.999, 1), (1.999, 2), (2.999, 3)], below=False),
        "tox_hypoxia_grade": _grade(extremes["spo2_min"].to_numpy(float),
                                    list(zip(SPO2_GRADE, (2, 3))), below=True),
        "tox_weight_gain_grade": _grade(extremes["weight_gain_pct_max"].to_numpy(float),
                                        [(5, 1), (10, 2), (20, 3)], below=False),
    })


def drive_thresholds() -> dict[str, float]:
    """theta_e of each exposure-response toxicity, as fitted by scripts/calibrate_toxicity.py."""
    path = resources.files("il2sim.trial").joinpath("calibration/toxicity.json")
    data = json.loads(path.read_text())
    return {e: float(data["thresholds"][e]) for e in DRIVE_EVENTS}


def drive_toxicity_grades(extremes: pd.DataFrame, patients: NDArray[np.int64], *, seed: int,
                          thresholds: dict[str, float] | None = None) -> pd.DataFrame:
    """Grades of the exposure-response toxicities and peripheral oedema (module docstring).

    ``extremes``: per patient ``cytokine_drive_max`` and ``interstitial_excess_max`` (L);
    ``patients``: the patient ids, whose stream 2 gives the sensitivities (one normal per
    event, in the order of :data:`DRIVE_EVENTS`); ``thresholds``: theta_e (default
    :func:`drive_thresholds`).
    """
    theta = drive_thresholds() if thresholds is None else thresholds
    drive = extremes["cytokine_drive_max"].to_numpy(float)
    z = np.array([patient_rng(seed, int(p), 2).standard_normal(len(DRIVE_EVENTS))
                  for p in patients]).reshape(len(patients), len(DRIVE_EVENTS))
    out = {}
    for k, (event, cuts) in enumerate(DRIVE_EVENTS.items()):
        x = np.exp(DRIVE_OMEGA * z[:, k]) * drive / theta[event]
        out[f"tox_{event}_grade"] = _grade(x, [(c, g + 1) for g, c in enumerate(cuts)],
                                           below=False, inclusive=True)
    excess = extremes["interstitial_excess_max"].to_numpy(float)
    out["tox_oedema_grade"] = _grade(excess, list(zip(OEDEMA_GRADE_L, (1, 2, 3))),
                                     below=False, inclusive=True)
    return pd.DataFrame(out)


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
    death_day: NDArray[np.float64],
    death_cause: list[str],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Endpoints (one row per patient) and scans (one row per patient and scan).

    ``volume_ml``: tumour volume on the daily grid ``days``, shape (N, n_days);
    ``extremes``: per patient ``sbp_min``, ``sbp_min_day``, ``urine_min``,
    ``creatinine_max``, ``confusion_max``, ``spo2_min``, ``weight_gain_pct_max``,
    ``cytokine_drive_max``, ``interstitial_excess_max``;
    ``death_day`` (``inf``: none) and ``death_cause`` from :func:`death_days`; ``doses`` and
    ``extremes`` already cut at death.
    """
    rows, scans = [], []
    grades = pd.concat([toxicity_grades(extremes), drive_toxicity_grades(
        extremes, patients["patient"].to_numpy(), seed=seed)], axis=1)
    # dose counts per patient, counted once for the chunk
    given = doses[(doses["status"] == "given").to_numpy(dtype=bool)]
    n_scheduled = doses["patient"].value_counts()
    n_given_of = given["patient"].value_counts()
    courses_of = (given.groupby("patient")["course"].nunique() if "course" in doses
                  else pd.Series(dtype="int64"))
    for i, p in enumerate(patients.itertuples(index=False)):
        pid = int(p.patient)
        n_les = int(p.n_lesions)
        vol = volume_ml[i]
        n_given = int(n_given_of.get(pid, 0))
        death, cause = float(death_day[i]), death_cause[i]
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
