"""Vascular (capillary) leak syndrome: fluid shifts and their clinical signs.

No published mechanistic model was found; this one is an
[assumption] built on Starling exchange with lymph return (Guyton & Hall,
Textbook of Medical Physiology, ch. 16). Capillary permeability rises through an
effect compartment driven by plasma IL-2 and activated lymphocytes:

    dP/dt = k_perm*(pmax*C/(C + ec50_perm) + p_act*(act - a8_0) - P),   perm = 1 + P
    act   = (L/L0)*a8 + (N/N0)*sig_int      (a8_0 at baseline)
    dVp/dt = u0 + fluid - urine - j0*perm*Vp/Vp0 + j0*(1 + k_lymph*(Vi/Vi0 - 1))
    dVi/dt = j0*perm*Vp/Vp0 - j0*(1 + k_lymph*(Vi/Vi0 - 1))

ec50_perm is set by the anchor that plasma IL-2 near 550 U/mL raised the albumin
escape rate from 9.4 to 14.9 %/h (x1.59; Ballmer-Weber et al. 1995, Br J Cancer 71:78:
549 +/- 315 U/mL after SC IL-2, intravascular albumin pool unchanged). Haemodynamics:

    MAP  = map0*(Vp/Vp0)^alpha_v*(1 - vd_max*Q/(Q + p50_vd))*(1 + Pr)   (volume, vasodilation,
    Q    = P + g_no*E                                                  pressors)
    dE/dt = k_endo*(Dcy - E)                     (endothelial activation: NO, angiopoietin-2)
    z    = max(0, map_rescue - MAP)/w_rescue                   (shortfall below the target)
    dPr/dt = k_pr*(pr_max*z/(1 + z) - Pr),   fluid = q_fluid*z/(1 + z)   (supportive care)
    SBP  = sbp0*MAP/map0,   HR = hr0*(map0/MAP)^beta_hr
    auto = h(MAP)/h(map0),  h(x) = 1/(1 + (map50_gfr/x)^n_ar)        (autoregulated GFR)
    rv   = 1/(1 + g_rv*max(0, 1 - MAP/map0))    (neurohumoral renal vasoconstriction)
    gfr  = auto*rv*(1 - K)
    dK/dt = k_inj*(1 - auto)*(1 - K) - k_krec*K                 (ischaemic kidney injury)
    urine = u0*gfr*(MAP/map0)^n_pn*(Vp/Vp0)^n_vol      (pressure- and volume-regulated)
    dCr/dt = k_cr*(cr0 - gfr*Cr)
    dA_c/dt += k10*f_ren*(1 - gfr)*A_c             (IL-2 is cleared mostly by the kidney)
    SpO2 = 98 - smax_o2*x^2/(x^2 + x50^2),  x = Vi/Vi0 - 1   (pulmonary oedema)
    dCf/dt = k_cf*(cfmax*Dcy/(Dcy + dc50_cf) - Cf)            (confusion score 0-4)
    dDcy/dt = k_cy*((N/N0)*sig_int - Dcy)                      (cytokine drive)

Supportive care is part of the regimen as given: hypotension is treated with limited
crystalloid boluses and early vasopressors (phenylephrine), titrated to keep the systolic
pressure above about 90 mmHg, and a dose is withheld only when the pressure stays low despite
them (Schwartzentruber 2001, J Immunother 24:287, guidelines for the safe administration of
high-dose IL-2; Proleukin label: hold for "systolic BP < 90 mm Hg with increasing requirements
for pressors"). The model titrates both by the pressure's shortfall ``z`` [assumption: a
proportional controller with the time constant of bedside titration, an hour]: a leak that
outgrows the support leaves the pressure below 90 mmHg with ever more pressor support given,
which is when the label's rule withholds the dose (:data:`il2sim.protocol.LABEL_HOLDS` reads
the lowest systolic pressure of the shift before the dose); the fluid given is part of the
weight gain, the oedema and the pulmonary oedema it brings.

Vasodilation has two parts: the direct effect that follows the permeability ``P`` within
hours, and a slow one, ``E``, that the cytokine drive builds over days. Activated
lymphocytes' TNF-alpha, IFN-gamma and IL-1 induce NO synthase: serum nitrate rose 8- to
10-fold during high-dose IL-2 (Hibbs et al. 1992, J Clin Invest 89:867) and kept rising
through a 120-h infusion in step with IL-6 (Locker et al. 2000, Eur Cytokine Netw 11:391);
an NO-synthase inhibitor restored the blood pressure of dogs made hypotensive by IL-2
(Kilbourn et al. 1994, J Appl Physiol 76:1130); plasma angiopoietin-2, which loosens the
endothelium, rose from 2.5 to 16.0 ng/mL by the penultimate day of a high-dose cycle and
to 18.6 on the last (Gores et al. 2014, Shock 42:115). So the hypotension of a cycle is
cumulative, and a dose late in a cycle meets a more dilated circulation than the first.
[assumption: ``E`` follows the cytokine drive with a half-life of 2 days, as the markers
were still rising on the last day of a 5-day course; ``g_no`` makes the slow, NO part of
the vasodilation equal to the direct part at the end of the typical patient's first
high-dose cycle, as NO-synthase inhibition reversed most of the hypotension in dogs.]

The kidney separates filtration from urine volume, as physiology does (Guyton & Hall, chs.
26-29): the glomerular filtration rate is autoregulated (its myogenic part), flat above a
mean pressure of about 75-80 mmHg and falling steeply below it; urine volume follows the
filtration, the pressure (pressure natriuresis, steepened by the renin-angiotensin-
aldosterone system and antidiuretic hormone that vasodilation and underfilling switch on)
and the plasma volume, as IL-2's prerenal azotaemia with a fractional sodium excretion below
1% showed (Belldegrun et al. 1987, Ann Intern Med 106:817). Hypoperfusion below the
autoregulated range injures the tubules (``K``), which recover over days after IL-2 stops
(creatinine back to baseline in 62% of patients by 7 days, 84% by 14 and 95% by 30;
Belldegrun 1987; in the model the recovery is faster, docs/calibration.md).

The filtration rate falls also while the pressure is still within the autoregulated range:
as the vasodilated circulation unloads the baroreceptors, sympathetic nerves and
angiotensin II constrict the kidney's vessels (Guyton & Hall, ch. 26), so ``rv`` falls with
the mean pressure's fall below baseline and recovers as soon as the pressure does
[assumption: a hyperbolic fall, one gain ``g_rv``]. IL-2's renal failure was prerenal, with a
fractional sodium excretion of 0.04-0.07% (intact tubules: Belldegrun 1987; Webb et al.
1988, Clin Nephrol 30:141), a tenfold plasma renin and a creatinine clearance falling from 101
to 36 mL/min under continuous infusion (Cochat et al. 1991, Pediatr Nephrol 5:33); the peak
creatinine rose on average by 140% over baseline in a course's first cycle and 242% in its
second (2.6 and 3.8 mg/dL; Belldegrun et al. 1989, J Urol, 135 patients), and ``g_rv`` is
fitted to the first (x2.40). [An earlier form driven by the slow endothelial state ``E``
kept the kidney constricted for days after the last dose, so the fluid that returned from
the tissues could not be excreted and the pressure overshot to 150 mmHg after each cycle;
patients instead diurese within days of stopping.] The fall of filtration during a cycle
lengthens aldesleukin's half-life (next), so the doses of a cycle's last days act longer.
Aldesleukin is cleared mainly by the kidney (about 120 mL/min, consistent with filtration:
Konrad et al. 1990, Cancer Res 50:2009; 40% of it remained in anephric patients on
haemodialysis: Kamikawa et al. 2008, Ther Apher Dial 12), so its renal share ``f_ren`` = 0.6
scales with the filtration rate.
Confusion follows the cytokine drive [assumption: the neuropsychiatric toxicity of IL-2 is a
cytokine effect that builds over days of dosing and resolves after (Denicoff et al. 1987, Ann
Intern Med 107:293)], as the other constitutional toxicities do.

The cytokine drive ``Dcy`` is IL-2 signalling through the intermediate-affinity receptor
of the NK pool (its size times its signal ``sig_int``), low-pass filtered [assumption: NK and
memory-CD8 cells release the TNF-alpha, IL-1 and IFN-gamma behind the constitutional and
gastrointestinal toxicity of high-dose IL-2: plasma TNF-alpha rose from 14 to 765 pg/mL
2 h after a bolus (Mier et al. 1988, J Clin Immunol 8:426), and the daily toxicity score
(fever, chills, hypotension) tracked serum IFN-gamma, both peaking on the 5th day of daily
IL-2 (Cancer Immunol Immunother 1991, 34:49, PMID 1760811)]. It is one shared state: it
drives confusion (which holds doses), and the exposure-response toxicities (chills,
diarrhoea, vomiting, bilirubin, thrombocytopenia) are graded from its peak
(``il2sim.trial.endpoints.drive_toxicity_grades``), so their dependence on dose and schedule
comes from it alone.

Calibration: ``g_rv`` to the measured cycle-1 creatinine rise (Belldegrun 1989), ``n_pn``,
``dc50_cf`` and ``x50_o2`` to the label's oliguria (63%), confusion (34%) and dyspnoea (43%)
by ``scripts/calibrate_leak.py`` (record in ``il2sim/trial/calibration/leak.json``; ``g_no``
re-derived from its anchor by ``scripts/derive_g_no.py``), the populations' ``pmax`` to
hypotension (71%) by ``scripts/calibrate_trials.py``; the label's creatinine count, weight
gain, oedema, the doses given and the kidneys' recovery are checks, not targets
(docs/calibration.md). A typical 70 kg patient on the label regimen becomes hypotensive
within the first cycle and recovers after IL-2 stops (checked in the tests).
"""

from __future__ import annotations

import math

from il2sim.model.compose import Component
from il2sim.model.spec import Intermediate, Observable, Param, State

GUYTON = "Guyton & Hall, Textbook of Medical Physiology: normal adult values"
# Ballmer-Weber et al. 1995, Br J Cancer 71:78: plasma IL-2 near 550 U/mL raised albumin
# escape from 9.4 to 14.9 %/h.
ANCHOR_IL2, ANCHOR_RISE = 550.0, 14.9 / 9.4 - 1.0
PMAX = 25.0
G_NO = 12.9575
G_RV = 5.8033


def _ec50_perm(pmax: float) -> float:
    """EC50 that puts the permeability rise at the anchor: pmax*C/(C + EC50) = rise."""
    return ANCHOR_IL2 * (pmax / ANCHOR_RISE - 1.0)


def leak_component() -> Component:
    return Component(
        name="leak",
        description="capillary leak: permeability effect, plasma and interstitial fluid, "
                    "blood pressure, heart rate, kidney (filtration, urine, injury, creatinine), "
                    "SpO2, confusion, cytokine drive",
        states=(
            State("Pr", 0.0, "1", "vasopressor support (fractional rise of MAP)"),
            State("K", 0.0, "1", "ischaemic kidney (tubular) injury (0-1)"),
            State("P", 0.0, "1", "rise of capillary permeability over baseline"),
            State("E", 0.0, "1", "slow endothelial activation (NO synthase, angiopoietin-2)"),
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
                  "assumption: the reference patient of the permeability anchor; the "
                  "calibrated populations' medians are fitted to hypotension in 71% of "
                  "label patients (scripts/calibrate_trials.py; calibration/rcc.json, "
                  "melanoma.json)"),
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
            Param("map_rescue", 70.0, "mmHg", "mean pressure supportive care defends",
                  "assumption: a systolic pressure of 90 mmHg (Schwartzentruber 2001, "
                  "J Immunother 24:287)"),
            Param("w_rescue", 5.0, "mmHg", "pressure shortfall scale of supportive care",
                  "assumption: support is half its maximum 5 mmHg below the target and two "
                  "thirds of it 10 mmHg below"),
            Param("pr_max", 0.3, "1", "largest rise of MAP from vasopressors",
                  "assumption: phenylephrine at the doses used on a ward raises MAP by up to "
                  "about 30%"),
            Param("k_pr", 1.0, "1/h", "titration rate of vasopressors",
                  "assumption: adjusted hourly"),
            Param("k_endo", math.log(2) / 48.0, "1/h", "build-up and decay of endothelial "
                  "activation", "assumption: half-life 2 days; nitrate and angiopoietin-2 were "
                  "still rising on the last day of a 5-day course (Locker et al. 2000, Eur "
                  "Cytokine Netw 11:391; Gores et al. 2014, Shock 42:115)"),
            Param("g_no", G_NO, "1", "vasodilation (as permeability rise) per unit endothelial "
                  "activation", "assumption: NO vasodilation equal to the direct part at the end "
                  "of the typical patient's first high-dose cycle (the calibrated RCC median "
                  "pmax; NO-synthase inhibition reversed IL-2 hypotension: Kilbourn et al. "
                  "1994, J Appl Physiol 76:1130); "
                  "derived: g_no*E = P at day 5 (scripts/derive_g_no.py, fixed-point "
                  "iteration), checked by tests/model/test_il2_qsp.py"),
            Param("q_fluid", 0.05, "L/h", "largest rate of rescue fluid",
                  "assumption: up to about 1.2 L a day in boluses, limited to avoid fluid "
                  "overload (Schwartzentruber 2001, J Immunother 24:287)"),
            Param("beta_hr", 1.5, "1", "baroreflex gain of heart rate", "assumption"),
            Param("map50_gfr", 55.0, "mmHg", "mean pressure halving the filtration rate",
                  "assumption: GFR autoregulated down to a MAP of about 75-80 mmHg and falling "
                  "steeply below (Guyton & Hall, ch. 26)"),
            Param("n_ar", 10.0, "1", "steepness of the filtration rate below autoregulation",
                  "assumption: GFR about 95% of baseline at a MAP of 73, 85% at 65 and half "
                  "at 55 mmHg"),
            Param("n_vol", 2.0, "1", "sensitivity of urine volume to plasma volume",
                  "assumption: urine rises with blood volume beyond what pressure explains "
                  "(Guyton & Hall, ch. 29)"),
            Param("n_pn", 0.9714, "1", "steepness of pressure natriuresis",
                  "calibrated: oliguria in 63% of label patients (scripts/calibrate_leak.py, "
                  "calibration/leak.json)"),
            Param("g_rv", G_RV, "1", "renal vasoconstriction per unit fall of the mean "
                  "pressure (fraction of baseline)", "calibrated: the cycle-1 peak creatinine "
                  "x2.40 of baseline (Belldegrun et al. 1989, J Urol; "
                  "scripts/calibrate_leak.py, calibration/leak.json)"),
            Param("k_inj", 0.02, "1/h", "tubular injury under renal hypoperfusion",
                  "assumption: injury builds over hours of pressure below autoregulation"),
            Param("k_krec", math.log(2) / 72.0, "1/h", "recovery of tubular injury",
                  "assumption: t1/2 3 days (creatinine back to baseline in 62% of patients "
                  "by 7 days, 95% by 30: Belldegrun et al. 1987, Ann Intern Med 106:817; "
                  "the renal vasoconstriction ends with the hypotension)"),
            Param("f_ren", 0.6, "1", "renal share of aldesleukin's clearance",
                  "Kamikawa et al. 2008, Ther Apher Dial 12 [pages not checked]: clearance "
                  "50.5 mL/min in anephric patients on haemodialysis, 40% of normal (about "
                  "120 mL/min: Konrad et al. 1990, Cancer Res 50:2009)", (0.0, 1.0)),
            Param("cr0", 1.0, "mg/dL", "baseline creatinine", GUYTON),
            Param("k_cr", math.log(2) / 4.0, "1/h", "creatinine elimination at normal GFR",
                  "textbook: creatinine t1/2 about 4 h at normal GFR"),
            Param("smax_o2", 20.0, "%", "maximal fall of SpO2 with pulmonary oedema",
                  "assumption"),
            Param("x50_o2", 0.2222, "1", "interstitial expansion for half-maximal SpO2 fall",
                  "calibrated: dyspnoea (SpO2 < 92%) in 43% of label patients (scripts/"
                  "calibrate_leak.py, calibration/leak.json)"),
            Param("cfmax", 4.0, "1", "maximal confusion score", "assumption"),
            Param("dc50_cf", 0.2319, "1", "cytokine drive for half-maximal confusion",
                  "calibrated: confusion in 34% of label patients (Proleukin label; "
                  "scripts/calibrate_leak.py, calibration/leak.json)"),
            Param("k_cf", 0.03, "1/h", "onset of confusion", "assumption: builds over days"),
            Param("k_cy", 1.0 / 24.0, "1/h", "rise and fall of the cytokine drive",
                  "assumption: a day, so the drive builds over days of 8-hourly doses as "
                  "toxicity and IFN-gamma did (Cancer Immunol Immunother 1991, 34:49)"),
            Param("body_weight", 70.0, "kg", "body weight before treatment",
                  "covariate (70 kg reference adult)", (20.0, 300.0)),
        ),
        intermediates=(
            Intermediate("act", "(L/L0)*a8 + (N/N0)*sig_int", "1", "lymphocyte activation"),
            Intermediate("Q_vd", "P + g_no*E", "1", "vasodilating drive (direct and NO)"),
            Intermediate("MAP", "map0*(Vp/Vp0)**alpha_v*(1 - vd_max*Q_vd/(Q_vd + p50_vd))*(1 + Pr)",
                         "mmHg", "mean arterial pressure"),
            Intermediate("z_rescue", "Max(0, map_rescue - MAP)/w_rescue", "1",
                         "pressure shortfall seen by supportive care (none above the target)"),
            Intermediate("fluid", "q_fluid*z_rescue/(1 + z_rescue)", "L/h", "rescue fluid"),
            Intermediate("auto", "(1 + (map50_gfr/map0)**n_ar)/(1 + (map50_gfr/MAP)**n_ar)", "1",
                         "autoregulated filtration rate"),
            Intermediate("rv", "1/(1 + g_rv*Max(0, 1 - MAP/map0))", "1",
                         "renal perfusion left by neurohumoral renal vasoconstriction"),
            Intermediate("gfr", "auto*rv*(1 - K)", "1", "glomerular filtration rate, relative"),
            Intermediate("urine", "u0*gfr*(MAP/map0)**n_pn*(Vp/Vp0)**n_vol", "L/h", "urine output"),
            Intermediate("x_oed", "Vi/Vi0 - 1", "1", "interstitial expansion"),
            Intermediate("filtration", "j0*(1 + P)*Vp/Vp0", "L/h", "capillary filtration"),
            Intermediate("lymph", "j0*(1 + k_lymph*(Vi/Vi0 - 1))", "L/h", "lymph return"),
        ),
        observables=(
            Observable("map", "MAP", "mmHg", "mean arterial pressure"),
            Observable("sbp", "sbp0*MAP/map0", "mmHg", "systolic blood pressure"),
            Observable("heart_rate", "hr0*(map0/MAP)**beta_hr", "1/min", "heart rate"),
            Observable("urine_8h", "8000*urine", "mL", "urine output per 8-h shift"),
            Observable("creatinine", "Cr", "mg/dL", "serum creatinine"),
            Observable("spo2", "98 - smax_o2*x_oed**2/(x_oed**2 + x50_o2**2)", "%",
                       "oxygen saturation"),
            Observable("pressor_support", "Pr", "1", "vasopressor support (rise of MAP)"),
            Observable("rescue_fluid", "fluid", "L/h", "rate of rescue fluid"),
            Observable("filtration_rate", "gfr", "1",
                       "glomerular filtration rate, relative to baseline"),
            Observable("kidney_injury", "K", "1", "ischaemic kidney injury (0-1)"),
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
            "E": "k_endo*(Dcy - E)",
            "K": "k_inj*(1 - auto)*(1 - K) - k_krec*K",
            "Pr": "k_pr*(pr_max*z_rescue/(1 + z_rescue) - Pr)",
            "Vp": "u0 + fluid - urine - filtration + lymph",
            "Vi": "filtration - lymph",
            "Cr": "k_cr*(cr0 - gfr*Cr)",
            "Cf": "k_cf*(cfmax*Dcy/(Dcy + dc50_cf) - Cf)",
            "A_c": "k10*f_ren*(1 - gfr)*A_c",
            "Dcy": "k_cy*((N/N0)*sig_int - Dcy)",
        },
    )
