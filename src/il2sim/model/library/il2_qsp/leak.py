"""Vascular (capillary) leak syndrome: fluid shifts and their clinical signs.

No published mechanistic model was found; this one is an
[assumption] built on Starling exchange with lymph return (Guyton & Hall,
Textbook of Medical Physiology, ch. 16). Capillary permeability rises through an
effect compartment driven by plasma IL-2 and activated lymphocytes:

    dP/dt = k_perm*(pmax*C/(C + ec50_perm) + p_act*(act - a8_0) - P),   perm = 1 + P
    act   = (L/L0)*a8 + (N/N0)*occ_int      (a8_0 at baseline)
    dVp/dt = intake - urine - j0*perm*Vp/Vp0 + j0*(1 + k_lymph*(Vi/Vi0 - 1))
    dVi/dt = j0*perm*Vp/Vp0 - j0*(1 + k_lymph*(Vi/Vi0 - 1))

ec50_perm is set by the anchor that plasma IL-2 near 550 U/mL raised the albumin
escape rate from 9.4 to 14.9 %/h (x1.59; Ballmer-Weber et al. 1995, Br J Cancer 71:78:
549 +/- 315 U/mL after SC IL-2, intravascular albumin pool unchanged). Haemodynamics:

    MAP  = map0*(Vp/Vp0)^alpha_v*(1 - vd_max*P/(P + p50_vd))     (volume loss, vasodilation)
    SBP  = sbp0*MAP/map0,   HR = hr0*(map0/MAP)^beta_hr
    urine = u0*(MAP/map0)^n_renal,   GFR ~ (MAP/map0)^n_renal
    dCr/dt = k_cr*(cr0 - (MAP/map0)^n_renal*Cr)
    SpO2 = 98 - smax_o2*x^2/(x^2 + x50^2),  x = Vi/Vi0 - 1   (pulmonary oedema)
    dCf/dt = k_cf*(cfmax*C/(C + ec50_cf) - Cf)                (confusion score 0-4)
    dDcy/dt = k_cy*((N/N0)*occ_int - Dcy)                      (cytokine drive)

The cytokine drive ``Dcy`` is IL-2 signalling through the intermediate-affinity receptor
of the NK pool (its size times its occupancy), low-pass filtered [assumption: NK and
memory-CD8 cells release the TNF-alpha, IL-1 and IFN-gamma behind the constitutional and
gastrointestinal toxicity of high-dose IL-2: plasma TNF-alpha rose from 14 to 765 pg/mL
2 h after a bolus (Mier et al. 1988, J Clin Immunol 8:426), and the daily toxicity score
(fever, chills, hypotension) tracked serum IFN-gamma, both peaking on the 5th day of daily
IL-2 (Cancer Immunol Immunother 1991, 34:49, PMID 1760811)]. It is one shared state: the
exposure-response toxicities (chills, diarrhoea, vomiting, bilirubin, thrombocytopenia)
are graded from its peak (``il2sim.trial.endpoints.drive_toxicity_grades``), so their
dependence on dose and schedule comes from it alone.

Calibration [assumption]: a typical 70 kg patient on the label regimen becomes
hypotensive (SBP < 90 mmHg) within the first cycle, as 71% of label patients
did, gains a few kg and recovers after IL-2 stops (checked in the tests).
"""

from __future__ import annotations

import math

from il2sim.model.compose import Component
from il2sim.model.spec import Intermediate, Observable, Param, State

GUYTON = "Guyton & Hall, Textbook of Medical Physiology: normal adult values"
# Ballmer-Weber et al. 1995, Br J Cancer 71:78: plasma IL-2 near 550 U/mL raised albumin
# escape from 9.4 to 14.9 %/h.
ANCHOR_IL2, ANCHOR_RISE = 550.0, 14.9 / 9.4 - 1.0
PMAX = 15.0


def _ec50_perm(pmax: float) -> float:
    """EC50 that puts the permeability rise at the anchor: pmax*C/(C + EC50) = rise."""
    return ANCHOR_IL2 * (pmax / ANCHOR_RISE - 1.0)


def leak_component() -> Component:
    return Component(
        name="leak",
        description="capillary leak: permeability effect, plasma and interstitial fluid, "
                    "blood pressure, heart rate, urine, creatinine, SpO2, confusion, "
                    "cytokine drive",
        states=(
            State("P", 0.0, "1", "rise of capillary permeability over baseline"),
            State("Vp", 3.0, "L", "plasma volume"),
            State("Vi", 12.0, "L", "interstitial fluid volume"),
            State("Cr", 1.0, "mg/dL", "serum creatinine"),
            State("Cf", 0.0, "1", "confusion score (0-4)"),
            State("Dcy", 0.0, "1", "cytokine drive (filtered NK intermediate-receptor signal)"),
        ),
        params=(
            Param("Vp0", 3.0, "L", "normal plasma volume", GUYTON),
            Param("Vi0", 12.0, "L", "normal interstitial volume", GUYTON),
            Param("j0", 0.125, "L/h", "normal net capillary filtration = lymph flow (3 L/day)",
                  GUYTON),
            Param("k_lymph", 10.0, "1", "rise of lymph flow with interstitial volume",
                  "assumption: lymph flow rises several-fold with oedema (Guyton)"),
            Param("u0", 0.06, "L/h", "normal urine output (and matching intake)", GUYTON),
            Param("pmax", PMAX, "1", "maximal permeability rise from plasma IL-2",
                  "assumption: calibrated to hypotension in a typical label patient"),
            Param("ec50_perm", _ec50_perm(PMAX), "IU/mL",
                  "plasma IL-2 for half-maximal permeability rise",
                  "derived: x1.59 albumin escape at 550 U/mL given pmax "
                  "(Ballmer-Weber et al. 1995, Br J Cancer 71:78)"),
            Param("p_act", 0.3, "1", "permeability rise per unit lymphocyte activation",
                  "assumption: cytokines from activated lymphocytes"),
            Param("k_perm", 0.06, "1/h", "onset and offset of the permeability effect",
                  "assumption: leak builds over days of dosing and resolves within days"),
            Param("map0", 93.0, "mmHg", "baseline mean arterial pressure", GUYTON),
            Param("sbp0", 120.0, "mmHg", "baseline systolic pressure", GUYTON),
            Param("hr0", 75.0, "1/min", "baseline heart rate", GUYTON),
            Param("alpha_v", 1.5, "1", "pressure sensitivity to plasma volume", "assumption"),
            Param("vd_max", 0.75, "1", "maximal IL-2 vasodilation (fall of MAP)",
                  "assumption: nitric-oxide-mediated vasodilation", (0.0, 1.0)),
            Param("p50_vd", 1.0, "1", "permeability rise for half-maximal vasodilation",
                  "assumption"),
            Param("beta_hr", 1.5, "1", "baroreflex gain of heart rate", "assumption"),
            Param("n_renal", 3.0, "1", "steepness of renal output on pressure",
                  "assumption: oliguria below a MAP of about 65 mmHg"),
            Param("cr0", 1.0, "mg/dL", "baseline creatinine", GUYTON),
            Param("k_cr", math.log(2) / 4.0, "1/h", "creatinine elimination at normal GFR",
                  "textbook: creatinine t1/2 about 4 h at normal GFR"),
            Param("smax_o2", 20.0, "%", "maximal fall of SpO2 with pulmonary oedema",
                  "assumption"),
            Param("x50_o2", 0.6, "1", "interstitial expansion for half-maximal SpO2 fall",
                  "assumption"),
            Param("cfmax", 4.0, "1", "maximal confusion score", "assumption"),
            Param("ec50_cf", 1500.0, "IU/mL", "plasma IL-2 for half-maximal confusion",
                  "assumption: confusion in 34% of label patients"),
            Param("k_cf", 0.03, "1/h", "onset of confusion", "assumption: builds over days"),
            Param("k_cy", 1.0 / 24.0, "1/h", "rise and fall of the cytokine drive",
                  "assumption: a day, so the drive builds over days of 8-hourly doses as "
                  "toxicity and IFN-gamma did (Cancer Immunol Immunother 1991, 34:49)"),
            Param("body_weight", 70.0, "kg", "body weight before treatment",
                  "covariate (70 kg reference adult)", (20.0, 300.0)),
        ),
        intermediates=(
            Intermediate("act", "(L/L0)*a8 + (N/N0)*occ_int", "1", "lymphocyte activation"),
            Intermediate("MAP", "map0*(Vp/Vp0)**alpha_v*(1 - vd_max*P/(P + p50_vd))", "mmHg",
                         "mean arterial pressure"),
            Intermediate("renal", "(MAP/map0)**n_renal", "1", "relative renal perfusion"),
            Intermediate("x_oed", "Vi/Vi0 - 1", "1", "interstitial expansion"),
            Intermediate("filtration", "j0*(1 + P)*Vp/Vp0", "L/h", "capillary filtration"),
            Intermediate("lymph", "j0*(1 + k_lymph*(Vi/Vi0 - 1))", "L/h", "lymph return"),
        ),
        observables=(
            Observable("map", "MAP", "mmHg", "mean arterial pressure"),
            Observable("sbp", "sbp0*MAP/map0", "mmHg", "systolic blood pressure"),
            Observable("heart_rate", "hr0*(map0/MAP)**beta_hr", "1/min", "heart rate"),
            Observable("urine_8h", "8000*u0*renal", "mL", "urine output per 8-h shift"),
            Observable("creatinine", "Cr", "mg/dL", "serum creatinine"),
            Observable("spo2", "98 - smax_o2*x_oed**2/(x_oed**2 + x50_o2**2)", "%",
                       "oxygen saturation"),
            Observable("confusion", "Cf", "1", "confusion score (0-4)"),
            Observable("weight_gain", "Vp + Vi - Vp0 - Vi0", "kg", "weight gain (fluid)"),
            Observable("weight_gain_pct", "100*(Vp + Vi - Vp0 - Vi0)/body_weight", "%",
                       "weight gain over baseline"),
            Observable("permeability", "1 + P", "1", "relative capillary permeability"),
            Observable("interstitial_excess", "Vi - Vi0", "L",
                       "interstitial fluid above normal (oedema)"),
            Observable("cytokine_drive", "Dcy", "1",
                       "cytokine drive of the exposure-response toxicities"),
        ),
        terms={
            "P": "k_perm*(pmax*C_iu/(C_iu + ec50_perm) + p_act*(act - a8_0) - P)",
            "Vp": "u0 - u0*renal - filtration + lymph",
            "Vi": "filtration - lymph",
            "Cr": "k_cr*(cr0 - renal*Cr)",
            "Cf": "k_cf*(cfmax*C_iu/(C_iu + ec50_cf) - Cf)",
            "Dcy": "k_cy*((N/N0)*occ_int - Dcy)",
        },
    )
