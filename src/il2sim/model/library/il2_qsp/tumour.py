"""Tumour growth, immune kill, necrosis of an injected lesion, and immune memory.

Two clones share Gompertz growth (Norton 1988, Cancer Res 48:7067), slowed by poor perfusion
and by interferon (which can reverse it: ``ifn_block``, interferon component); how fast
differs between patients (metastatic RCC lesions grew 0.08 to 7.87 cm a year, Oda et al.
2001, Int J Urol 8:473; metastases' growth rates are log-normal, Spratt & Spratt 1964, Ann
Surg 159:161), so the calibrated populations draw ``r_T`` per patient (log-SD 1.0
[assumption], ``scripts/calibrate_trials.py``). The clones are immune-sensitive cells ``T``
and escape variants ``T_r`` whose antigenicity is a fraction ``esc`` of the tumour's
(antigen-loss variants; tumour heterogeneity is why responses are often partial). How much
the variants lose differs between tumours: "hard" HLA class I lesions (beta2-microglobulin
mutation, loss of chromosome 6p) leave them invisible, "soft" regulatory ones partly visible
(Garrido et al. 2010, Int J Cancer 127:249; Restifo et al. 1996, J Natl Cancer Inst 88:100),
so the calibrated populations draw ``esc`` per patient (log-normal around the median 0.05,
log-SD 1.2, at most 1 [assumption]). It decides which complete responses last: a complete
response leaves an escape clone below detection, which immune memory holds only when the
variants are visible enough (durable CRs had a median ``esc`` of 0.19, relapsing ones 0.06,
in the RCC trial). Immune memory, built while IL-2 acts on a dying tumour, mops up a small
escape clone once the tumour is small enough to reach; a large clone keeps growing. Kill by
CD8 and NK cells is limited by access to large tumours (effector-limited, as in Kirschner &
Panetta 1998):

    dT/dt   = T*(growth - kill_eff - kill_mem - kill_nec)
    dT_r/dt = T_r*(growth - esc*(kill_eff + kill_mem) - kill_nec)
    growth   = r_T*perf*(1 - ifn_block)*(log(K_T) - log(T + T_r))
    access   = g_T/(g_T + T + T_r)
    kill_eff = ant*access*(k_L*(L/L0)*(a_L0 + s8_site)*mhc
                           + k_N*(N/N0)*(a_N0 + sig_int_site + nk_ifn*e_ifn) + kill_clone)
    kill_mem = k_M*M*ant*access,    kill_nec = k_nec*oed

``sig_int_site`` is the desensitising intermediate-affinity signal (receptor component);
``kill_clone`` the tumour-specific clone's (clone component);
interferon-alpha raises NK activity (``nk_ifn*e_ifn``) and MHC class I (``mhc``).
``ant`` is the tumour's antigenicity (heterogeneous between patients). Killed
cells release antigen; with IL-2 signalling at the site they build immune memory
``M`` (0-1), which decays over years (animals cured by local IL-2 are specifically immune
to the tumour: Maas et al. 1991, Cancer Immunol Immunother 33:389; Den Otter et al. 2008):

    dM/dt = k_mem*killed/(killed + K_kill)*sig_int_site*(1 - M) - d_M*M

Size: V = (T + T_r)/cells_per_ml (mL); equivalent-sphere diameter (6V/pi)^(1/3).
"""

from __future__ import annotations

import math

from il2sim.model.compose import Component
from il2sim.model.spec import DoseRoute, Intermediate, Observable, Param, State

R_T = math.log(2) / 2400 / math.log(100)
"""Median Gompertz growth rate (1/h): a volume doubling time of 100 days at 1% of the plateau."""


def tumour_component(initial_cells: float = 3e10, resistant_fraction: float = 0.01) -> Component:
    return Component(
        name="tumour",
        description="Gompertz tumour, CD8/NK kill, local necrosis, immune memory",
        states=(
            State("T", initial_cells * (1 - resistant_fraction), "cell",
                  "immune-sensitive tumour cells", log=True),
            State("T_r", initial_cells * resistant_fraction, "cell",
                  "immune-escape tumour cells", log=True),
            State("M", 0.0, "1", "tumour-specific immune memory (0-1)"),
        ),
        params=(
            Param("K_T", 1e12, "cell", "Gompertz plateau (about 1 kg of tumour)",
                  "assumption: metastatic burden plateau (Norton 1988)"),
            Param("r_T", R_T, "1/h", "Gompertz growth rate",
                  "assumption: doubling time about 100 days at 1% of the plateau, typical of "
                  "metastatic RCC and melanoma (the median; growth differs between patients "
                  "a hundredfold, Oda et al. 2001, Int J Urol 8:473: the calibrated "
                  "populations sample it)"),
            Param("esc", 0.05, "1", "relative antigenicity of escape variants",
                  "assumption: antigen-loss variants are barely recognised (the median; "
                  "varies between patients with the kind of HLA class I loss, Garrido et al. "
                  "2010, Int J Cancer 127:249: the calibrated populations sample it)",
                  (0.0, 1.0)),
            Param("g_T", 1e9, "cell", "tumour size halving immune access",
                  "assumption: effector-limited kill (KP98 g2 scaled to clinical burdens)"),
            Param("k_L", 2e-3, "1/h", "CD8 kill rate per baseline CD8 count", "assumption"),
            Param("k_N", 1e-3, "1/h", "NK kill rate per baseline NK count", "assumption"),
            Param("a_L0", 0.1, "1", "CD8 cytotoxic activity without IL-2", "assumption"),
            Param("a_N0", 0.1, "1", "NK cytotoxic activity without IL-2", "assumption"),
            Param("ant", 1.0, "1", "tumour antigenicity (immunogenicity)",
                  "assumption: varies between patients; the trial population samples it",
                  (0.0, 1e4)),
            Param("k_nec", 7.5e-4, "1/h", "necrosis of a poorly perfused injected lesion",
                  "calibrated: the largest likelihood of Radny et al. 2003, Br J Cancer "
                  "89:1620 (every treated metastasis cleared in 15 of 24 melanoma patients, "
                  "209 of 245 lesions, the lesion count weighed by its design effect, about "
                  "9; scripts/calibrate_local.py: 71% and 81% simulated); 3 MIU weekly x 4 "
                  "then gives 49% objective responses (300 patients), below "
                  "the 50-70% of Den Otter et al. 2008, Cancer Immunol Immunother 57(7) "
                  "review"),
            Param("nk_ifn", 0.5, "1", "NK cytotoxic activity raised by interferon-alpha",
                  "assumption: type I interferons activate NK cytotoxicity (Biron et al. "
                  "1999, Annu Rev Immunol 17:189), half the IL-2-driven maximum"),
            Param("k_M", 0.05, "1/h", "kill rate of full immune memory",
                  "assumption: mops up a small escape clone in complete responders"),
            Param("k_mem", 0.005, "1/h", "memory formation under antigen release and IL-2",
                  "assumption"),
            Param("K_kill", 1e7, "cell/h", "antigen release for half-maximal memory formation",
                  "assumption"),
            Param("d_M", 1e-5, "1/h", "loss of immune memory (t1/2 about 8 years)",
                  "assumption"),
        ),
        intermediates=(
            Intermediate("access", "g_T/(g_T + T + T_r)", "1", "immune access to the tumour"),
            Intermediate(
                "kill_eff",
                "ant*access*(k_L*(L/L0)*(a_L0 + s8_site)*mhc"
                " + k_N*(N/N0)*(a_N0 + sig_int_site + nk_ifn*e_ifn) + kill_clone)",
                "1/h", "effector kill per tumour cell"),
            Intermediate("kill_mem", "k_M*M*ant*access", "1/h", "memory kill per tumour cell"),
            Intermediate("kill_nec", "k_nec*oed", "1/h", "necrosis per tumour cell"),
            Intermediate("growth", "r_T*perf*(1 - ifn_block)*(log(K_T) - log(T + T_r))",
                         "1/h", "Gompertz growth per tumour cell"),
            Intermediate("killed", "(T + esc*T_r)*(kill_eff + kill_mem) + (T + T_r)*kill_nec",
                         "cell/h", "tumour cells killed"),
        ),
        observables=(
            Observable("tumour_volume", "V_tum", "mL", "tumour volume"),
            Observable("tumour_diameter", "10*(6*V_tum/pi)**(1/3)", "mm",
                       "diameter of a sphere of the tumour's volume"),
            Observable("immune_memory", "M", "1", "tumour-specific immune memory"),
            Observable("resistant_fraction", "T_r/(T + T_r)", "1",
                       "fraction of escape variants in the tumour"),
        ),
        routes=(DoseRoute("challenge", "T", "cell", "tumour cell inoculation (rechallenge)"),),
        terms={
            "T": "T*(growth - kill_eff - kill_mem - kill_nec)",
            "T_r": "T_r*(growth - esc*(kill_eff + kill_mem) - kill_nec)",
            "M": "k_mem*killed/(killed + K_kill)*sig_int_site*(1 - M) - d_M*M",
        },
    )
