"""Aldesleukin (rIL-2) pharmacokinetics: two compartments, SC depot, tumour site.

Time in minutes; amounts in IU.

    dA_c/dt  = -(k10 + k12)*A_c + k21*A_p + ka_sc*A_sc + k_it*A_it   (+ IV infusion rate)
    dA_p/dt  =  k12*A_c - k21*A_p
    dA_sc/dt = -ka_sc*A_sc              (SC dose enters as F_sc * dose)
    dA_it/dt = -k_it*A_it               (intratumoral dose)
    C_plasma =  A_c / V1                (IU/mL)

Sources: Konrad MW et al., "Pharmacokinetics of recombinant interleukin 2 in
humans", Cancer Res 50:2009-2017 (1990): bolus 1e6 U/m2 gives about
650 U/mL, half-lives 12.9 and 85 min, 6-h infusion steady state 41 U/mL.
The rate constants are a two-compartment set derived from those numbers (il2sim's own
fit, not printed in the paper): V1 = 2.66 L for a 1.73 m2 adult.
Proleukin label: distribution half-life 13 min, elimination 85 min.
EU/Swiss product texts: SC bioavailability 31-47%, SC peak 2-6 h.
"""

from __future__ import annotations

import math

from il2sim.model.spec import DoseRoute, Model, Observable, Param, State

KONRAD = ("derived: 2-compartment fit to Konrad et al. 1990, Cancer Res 50:2009 (t1/2 12.9 "
          "and 85 min, 6-h infusion steady state 41 U/mL)")
LABEL_SC = "EU/Swiss aldesleukin product texts: SC bioavailability 31-47%"


def aldesleukin_pk() -> Model:
    """Two-compartment aldesleukin PK with SC depot and an intratumoral site."""
    return Model(
        name="aldesleukin_pk",
        title="Aldesleukin two-compartment PK with SC depot and tumour site",
        citation="Konrad MW, Hemstreet G, Hersh EM, et al. Pharmacokinetics of recombinant "
                 "interleukin 2 in humans. Cancer Res 50:2009-2017 (1990)",
        time_unit="min",
        states=(
            State("A_c", 0.0, "IU", "IL-2 in the central (plasma) compartment"),
            State("A_p", 0.0, "IU", "IL-2 in the peripheral compartment"),
            State("A_sc", 0.0, "IU", "IL-2 in the subcutaneous depot (bioavailable part)"),
            State("A_it", 0.0, "IU", "IL-2 in an injected tumour lesion"),
        ),
        params=(
            Param("V1", 2.66, "L", "central volume (plasma) for a 1.73 m2 adult", KONRAD,
                  (0.1, 50.0)),
            Param("k10", 0.0451, "1/min", "elimination from the central compartment", KONRAD),
            Param("k12", 0.00708, "1/min", "central to peripheral transfer", KONRAD),
            Param("k21", 0.00972, "1/min", "peripheral to central transfer", KONRAD),
            Param("F_sc", 0.39, "1", "SC bioavailability (middle of 31-47%)", LABEL_SC,
                  (0.0, 1.0)),
            Param("ka_sc", 0.0023, "1/min",
                  "SC absorption rate (t1/2 about 5 h)",
                  "derived: Konrad 1990 SC plateau about 2% of the 1e6 U/m2 bolus peak "
                  "(13 U/mL) for about 8 h, with F_sc and k10*V1", (0.0, 1.0)),
            Param("k_it", math.log(2) / 360.0, "1/min",
                  "drainage of an intratumoral dose into plasma (t1/2 6 h)",
                  "assumption: slow local release consistent with little systemic "
                  "toxicity after intralesional IL-2 (Radny et al. 2003, Br J Cancer 89:1620); "
                  "to be calibrated", (0.0, 1.0)),
        ),
        equations={
            "A_c": "-(k10 + k12)*A_c + k21*A_p + ka_sc*A_sc + k_it*A_it",
            "A_p": "k12*A_c - k21*A_p",
            "A_sc": "-ka_sc*A_sc",
            "A_it": "-k_it*A_it",
        },
        observables=(
            Observable("C_plasma", "A_c/(1000*V1)", "IU/mL", "plasma IL-2 concentration"),
            Observable("C_plasma_pM", "3.994*A_c/(1000*V1)", "pM",
                       "plasma IL-2 concentration (1 IU/mL = 3.994 pM, aldesleukin potency "
                       "and molar mass)"),
            Observable("CL", "1000*k10*V1", "mL/min", "clearance"),
        ),
        routes=(
            DoseRoute("iv", "A_c", "IU", "intravenous bolus or infusion"),
            DoseRoute("sc", "A_sc", "IU", "subcutaneous injection into the depot",
                      fraction="F_sc"),
            DoseRoute("it", "A_it", "IU", "injection into a tumour lesion"),
        ),
        notes="k_it is an assumption (no human intratumoral PK data in the sources).",
    )
