"""The injected tumour site: local IL-2, oedema and perfusion.

IL-2 injected into a lesion (state ``A_it`` of the PK component) is diluted in
the tumour volume; with plasma and endogenous IL-2 it sets the tumour-site level

    V_tum = (T + T_r)/cells_per_ml,   C_it = A_it/(V_tum + v_site_min)        [IU/mL]
    C_site_pM = C_pM + 3.994*C_it + IL_e

Local IL-2 causes oedema and inflammation (Den Otter et al. 2008, Cancer Immunol Immunother
57(7), review of local IL-2; the necrosis mechanism is the group's hypothesis), which
lowers perfusion
(oxygen and nutrient supply) of the lesion:

    doed/dt = k_oed*(e_oed*C_it/(C_it + ec50_oed) - oed),   perf = 1/(1 + oed)
"""

from __future__ import annotations

from il2sim.model.compose import Component
from il2sim.model.spec import Intermediate, Observable, Param, State


def local_component() -> Component:
    return Component(
        name="local",
        description="tumour-site IL-2 (local injection, plasma, endogenous), oedema, perfusion",
        states=(State("oed", 0.0, "1", "local oedema and inflammation of the lesion"),),
        params=(
            Param("cells_per_ml", 1e9, "cell/mL", "tumour cell density",
                  "textbook: about 1e9 cells per cm3 of tumour (Del Monte 2009, Cell Cycle "
                  "8:505)"),
            Param("v_site_min", 1.0, "mL", "smallest volume an injection spreads into",
                  "assumption"),
            Param("e_oed", 3.0, "1", "maximal local oedema", "assumption"),
            Param("ec50_oed", 1000.0, "IU/mL", "local IL-2 for half-maximal oedema",
                  "assumption"),
            Param("k_oed", 0.05, "1/h", "onset and resolution of local oedema",
                  "assumption: oedema builds and resolves over about a day"),
        ),
        intermediates=(
            Intermediate("V_tum", "(T + T_r)/cells_per_ml", "mL", "tumour volume"),
            Intermediate("C_it", "A_it/(V_tum + v_site_min)", "IU/mL",
                         "IL-2 from intratumoral injection at the site"),
            Intermediate("C_site_pM", "C_pM + 3.994*C_it + IL_e", "pM", "IL-2 at the tumour"),
            Intermediate("perf", "1/(1 + oed)", "1", "relative tumour perfusion"),
        ),
        observables=(
            Observable("il2_tumour_site", "C_site_pM/3.994", "IU/mL", "IL-2 at the tumour"),
            Observable("tumour_perfusion", "perf", "1", "relative perfusion of the lesion"),
        ),
        terms={"oed": "k_oed*(e_oed*C_it/(C_it + ec50_oed) - oed)"},
    )
