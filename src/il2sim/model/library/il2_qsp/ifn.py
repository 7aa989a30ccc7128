"""Interferon-alpha as a second agent: SC depot, one compartment, slow effects.

    dB_sc/dt = -ka_ifn*B_sc,   dB/dt = ka_ifn*B_sc - ke_ifn*B,   C_ifn = B/(1000*v_ifn)
    de_ifn/dt = k_e_ifn*(C_ifn/(C_ifn + ec50_ifn) - e_ifn)
    MHC class I up-regulation  mhc = 1 + mhc_max*e_ifn  raising T-cell kill

Interferon slows the tumour cells' proliferation (a fraction ``imax_ifn*e_ifn`` of the cells
made), not their loss. A tumour's net growth is what is left of its cell production after
cell loss: the cell loss factor ``phi_loss`` (cells lost per cell made) is 0.8-0.9 or more
in human tumours of clinical size (Steel 1967, Eur J Cancer 3:381), which is why their
volume doubles in months while their cells divide in days. With the tumour's Gompertz net
growth ``g`` made of production ``g/(1 - phi_loss)`` and loss ``phi_loss*g/(1 - phi_loss)``
[assumption: loss a fixed share of production as the tumour grows],

    net growth under interferon = g*(1 - ifn_block),   ifn_block = imax_ifn*e_ifn/(1 - phi_loss)

so a tumour shrinks once interferon removes more of its production than its net growth
(``ifn_block`` > 1), and faster-growing tumours shrink faster. Only the ratio
``imax_ifn/(1 - phi_loss)`` is identified: ``phi_loss`` is fixed at the literature's 0.9 and
``imax_ifn`` differs between patients (the calibrated populations draw it: log-normal,
log-SD ``IMAX_IFN_SIGMA`` [assumption]), its median fitted to the responses of interferon
alone in Negrier et al. 1998 (N Engl J Med 338:1272: 11 of 147; ``scripts/calibrate_ifn.py``).
Before session 13 interferon scaled the net growth directly (``1 - imax_ifn*e_ifn``), so it
could stop a tumour but never shrink one, and interferon alone gave 0.7% responses.

PK from the interferon alfa-2b label (SC: tmax 3-12 h, elimination t1/2 2-3 h); the other
effect sizes (``mhc_max`` here, NK activation ``nk_ifn`` in the tumour component) are
assumptions.
"""

from __future__ import annotations

import math

from il2sim.model.compose import Component
from il2sim.model.spec import DoseRoute, Intermediate, Observable, Param, State

IMAX_IFN = 0.014
"""Median of ``imax_ifn`` in the calibrated populations, fitted by ``scripts/calibrate_ifn.py``."""
IMAX_IFN_SIGMA = 2.5
"""Log-SD of ``imax_ifn`` between patients [assumption: tumours differ widely in how much
interferon slows them, so that its responses come from a minority of sensitive tumours and
grow less than in proportion to how long it is given (10 against 52 weeks of 18 MIU three
times a week: 4.0% against 11.0%, where a log-SD of 1 gives 6.2% against 24.3%; prolonged
interferon alone gives responses in about 6-15% of RCC patients)]; not fitted."""
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
            Param("imax_ifn", IMAX_IFN, "1",
                  "maximal fall of the tumour cells' proliferation under interferon",
                  "calibrated: the largest likelihood of interferon alone's responses in "
                  "Negrier et al. 1998, N Engl J Med 338:1272 (11 of 147; "
                  "scripts/calibrate_ifn.py)", (0.0, 1.0)),
            Param("phi_loss", 0.9, "1", "tumour cell loss factor (cells lost per cell made)",
                  "Steel 1967, Eur J Cancer 3:381: 0.8-0.9 or more in human tumours of "
                  "clinical size", (0.0, 0.99)),
            Param("mhc_max", 1.0, "1", "maximal rise of T-cell kill through MHC class I",
                  "assumption"),
        ),
        intermediates=(
            Intermediate("C_ifn", "B/(1000*v_ifn)", "IU/mL", "interferon-alpha level"),
            Intermediate("ifn_block", "imax_ifn*e_ifn/(1 - phi_loss)", "1",
                         "fall of the tumour's net growth under interferon"),
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
