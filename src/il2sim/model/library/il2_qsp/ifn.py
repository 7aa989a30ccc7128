"""Interferon-alpha as a second agent: SC depot, one compartment, slow effects.

    dB_sc/dt = -ka_ifn*B_sc,   dB/dt = ka_ifn*B_sc - ke_ifn*B,   C_ifn = B/(1000*v_ifn)
    de_ifn/dt = k_e_ifn*(C_ifn/(C_ifn + ec50_ifn) - e_ifn)
    antiproliferative factor  1 - imax_ifn*e_ifn  on tumour growth
    MHC class I up-regulation  mhc = 1 + mhc_max*e_ifn  raising T-cell kill

PK from the interferon alfa-2b label (SC: tmax 3-12 h, elimination t1/2 2-3 h);
effect sizes are assumptions to be calibrated on the IL-2 + IFN trials (Negrier et al.
1998, N Engl J Med 338:1272: 18.6% with both vs 6.5% IL-2 alone; the Cytokine Working
Group's phase II trials, Dutcher et al. 1997, found similar rates with and without IFN).
"""

from __future__ import annotations

import math

from il2sim.model.compose import Component
from il2sim.model.spec import DoseRoute, Intermediate, Observable, Param, State

LABEL = "interferon alfa-2b (Intron A) label: SC tmax 3-12 h, elimination t1/2 2-3 h"


def ifn_component() -> Component:
    return Component(
        name="ifn",
        description="interferon-alpha SC PK; antiproliferative and MHC-raising effects",
        states=(
            State("B_sc", 0.0, "IU", "interferon-alpha in the SC depot"),
            State("B", 0.0, "IU", "interferon-alpha in the body"),
            State("e_ifn", 0.0, "1", "interferon-alpha effect (0-1)"),
        ),
        params=(
            Param("ka_ifn", 0.15, "1/h", "SC absorption of interferon-alpha", LABEL),
            Param("ke_ifn", math.log(2) / 2.5, "1/h", "interferon-alpha elimination", LABEL),
            Param("v_ifn", 30.0, "L", "interferon-alpha volume of distribution",
                  "assumption: extracellular water (label Vd about 0.4 L/kg)"),
            Param("ec50_ifn", 10.0, "IU/mL", "interferon level for half-maximal effect",
                  "assumption"),
            Param("k_e_ifn", 0.02, "1/h", "onset and offset of interferon effects",
                  "assumption: effects develop over days"),
            Param("imax_ifn", 0.3, "1", "maximal antiproliferative effect",
                  "assumption", (0.0, 1.0)),
            Param("mhc_max", 1.0, "1", "maximal rise of T-cell kill through MHC class I",
                  "assumption"),
        ),
        intermediates=(
            Intermediate("C_ifn", "B/(1000*v_ifn)", "IU/mL", "interferon-alpha level"),
            Intermediate("mhc", "1 + mhc_max*e_ifn", "1", "MHC class I expression factor"),
        ),
        observables=(Observable("ifn_plasma", "C_ifn", "IU/mL", "interferon-alpha level"),),
        routes=(DoseRoute("ifn_sc", "B_sc", "IU", "subcutaneous interferon-alpha"),),
        terms={
            "B_sc": "-ka_ifn*B_sc",
            "B": "ka_ifn*B_sc - ke_ifn*B",
            "e_ifn": "k_e_ifn*(C_ifn/(C_ifn + ec50_ifn) - e_ifn)",
        },
    )
