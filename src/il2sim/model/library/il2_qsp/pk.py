"""Aldesleukin PK: two compartments, SC depot, tumour-site depot (time in hours).

    dA_c/dt  = -(k10 + k12)*A_c + k21*A_p + ka_sc*A_sc + k_it*A_it   (+ IV rate)
    dA_p/dt  =  k12*A_c - k21*A_p
    dA_sc/dt = -ka_sc*A_sc,     dA_it/dt = -k_it*A_it
    C_iu = A_c/(1000*V1) [IU/mL],   C_pM = 3.994*C_iu   (1 IU/mL = 3.994 pM)

The rate constants are those of :mod:`il2sim.model.library.aldesleukin_pk`
(the two-compartment set derived from Konrad et al. 1990, Cancer Res 50:2009) converted
from 1/min to 1/h.
Receptor-mediated clearance is added by the receptor component.
"""

from __future__ import annotations

import math

from il2sim.model.compose import Component
from il2sim.model.spec import DoseRoute, Intermediate, Observable, Param, State

KONRAD = ("derived: 2-compartment fit to Konrad et al. 1990, Cancer Res 50:2009 (t1/2 12.9 "
          "and 85 min, 6-h infusion steady state 41 U/mL)")


def pk_component() -> Component:
    return Component(
        name="pk",
        description="aldesleukin two-compartment PK with SC depot and tumour-site depot",
        states=(
            State("A_c", 0.0, "IU", "IL-2 in plasma"),
            State("A_p", 0.0, "IU", "IL-2 in the peripheral compartment"),
            State("A_sc", 0.0, "IU", "IL-2 in the subcutaneous depot (bioavailable part)"),
            State("A_it", 0.0, "IU", "IL-2 injected into the tumour, not yet drained"),
        ),
        params=(
            Param("V1", 2.66, "L", "central (plasma) volume", KONRAD, (0.1, 50.0)),
            Param("k10", 0.0451 * 60, "1/h", "renal elimination from plasma", KONRAD),
            Param("k12", 0.00708 * 60, "1/h", "plasma to peripheral", KONRAD),
            Param("k21", 0.00972 * 60, "1/h", "peripheral to plasma", KONRAD),
            Param("F_sc", 0.39, "1", "SC bioavailability (31-47%)",
                  "EU/Swiss aldesleukin product texts", (0.0, 1.0)),
            Param("ka_sc", 0.0023 * 60, "1/h", "SC absorption rate",
                  "derived: Konrad 1990 SC level about 2% of the bolus peak "
                  "(see aldesleukin_pk)"),
            Param("k_it", math.log(2) / 6.0, "1/h", "drainage of intratumoral IL-2 to plasma",
                  "assumption: t1/2 6 h, slow local release (hardly any systemic toxicity "
                  "after intralesional IL-2: Radny et al. 2003, Br J Cancer 89:1620)"),
        ),
        intermediates=(
            Intermediate("C_iu", "A_c/(1000*V1)", "IU/mL", "plasma IL-2"),
            Intermediate("C_pM", "3.994*C_iu", "pM", "plasma IL-2, molar"),
        ),
        observables=(
            Observable("il2_plasma", "C_iu", "IU/mL", "plasma IL-2 concentration"),
            Observable("il2_plasma_pM", "C_pM", "pM", "plasma IL-2 concentration"),
        ),
        routes=(
            DoseRoute("iv", "A_c", "IU", "intravenous bolus or infusion"),
            DoseRoute("sc", "A_sc", "IU", "subcutaneous injection", fraction="F_sc"),
            DoseRoute("it", "A_it", "IU", "injection into the tumour"),
        ),
        terms={
            "A_c": "-(k10 + k12)*A_c + k21*A_p + ka_sc*A_sc + k_it*A_it",
            "A_p": "k12*A_c - k21*A_p",
            "A_sc": "-ka_sc*A_sc",
            "A_it": "-k_it*A_it",
        },
    )
