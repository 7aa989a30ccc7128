"""Lymphocyte pools driven by IL-2: Tregs, CD8 effectors, NK cells, CD4 helpers.

Pools are in blood-equivalent counts (cells/uL). For X in R (Treg), L (CD8),
N (NK), H (CD4 helper):

    dX/dt = d_cell*(X0 - X) + p_X*sig_X*X*(1 - X/(cap_X*X0))
    sig_R = occ_hi,  sig_L = s8*supp,  sig_N = sig_int*supp,
    sig_H = sig_int*ag,   supp = (1 + k_sup)/(1 + k_sup*R/R0),   ag = Tt/(Tt + K_ag),
    Tt = T + T_r (all tumour cells)

Tregs respond at picomolar IL-2 (high-affinity receptor), effectors need
nanomolar levels: low dose expands Tregs, high dose NK and CD8 cells (seeds;
Busse 2010). Helpers stimulated by tumour antigen make IL-2 at the tumour
(the seeds' first sentence):

    dIL_e/dt = k_il2_prod*(H/H0)*ag - k_il2_loss*IL_e          [pM]

During IL-2 exposure lymphocytes leave the blood (margination) and return
after: blood counts are pool * f_blood with f_blood = 1/(1 + k_marg*occ_int),
which gives the on-treatment lymphopenia and the rebound lymphocytosis.
"""

from __future__ import annotations

from il2sim.model.compose import Component
from il2sim.model.spec import Intermediate, Observable, Param, State

REFERENCE = "typical adult blood lymphocyte subsets (e.g. Bisset et al. 2004, Eur J Haematol " \
            "72:203)"


def immune_component() -> Component:
    cells = (("R", 50.0, "regulatory T cells (CD4+CD25+FoxP3+)"),
             ("L", 500.0, "CD8+ effector/memory T cells"),
             ("N", 250.0, "NK cells"),
             ("H", 850.0, "conventional CD4+ helper T cells"))
    return Component(
        name="immune",
        description="Treg, CD8, NK and CD4 helper pools with IL-2-driven proliferation, "
                    "Treg suppression, endogenous IL-2 and margination",
        states=tuple(State(n, v, "cell/uL", m, log=True) for n, v, m in cells)
        + (State("IL_e", 0.05, "pM", "endogenous IL-2 at the tumour site"),),
        params=tuple(Param(f"{n}0", v, "cell/uL", f"baseline {m}", REFERENCE, (1e-3, 1e5))
                     for n, v, m in cells)
        + (
            Param("d_cell", 0.003, "1/h", "lymphocyte turnover (t1/2 about 10 days)",
                  "assumption: lymphocyte lifespans of weeks"),
            Param("p_R", 0.04, "1/h", "maximal IL-2-driven Treg proliferation",
                  "assumption: about one division per 17 h at saturation"),
            Param("p_L", 0.04, "1/h", "maximal IL-2-driven CD8 proliferation", "assumption"),
            Param("p_N", 0.06, "1/h", "maximal IL-2-driven NK proliferation",
                  "assumption: about one division per 12 h at full signal, so NK counts rise "
                  "several-fold after a high-dose course"),
            Param("p_H", 0.02, "1/h", "antigen- and IL-2-driven helper proliferation",
                  "assumption"),
            Param("cap_R", 4.0, "1", "Treg expansion ceiling (fold over baseline)",
                  "assumption: Tregs expand 2-4 fold on IL-2"),
            Param("cap_L", 6.0, "1", "CD8 expansion ceiling", "assumption"),
            Param("cap_N", 15.0, "1", "NK expansion ceiling",
                  "assumption: NK counts rise most after high-dose IL-2"),
            Param("cap_H", 3.0, "1", "helper expansion ceiling", "assumption"),
            Param("k_sup", 1.0, "1", "Treg suppression of effector proliferation",
                  "assumption"),
            Param("K_ag", 1e9, "cell", "tumour burden giving half-maximal antigen stimulus",
                  "assumption: about 1 mL of tumour"),
            Param("k_il2_prod", 0.5, "pM/h", "endogenous IL-2 production by stimulated helpers",
                  "assumption: local IL-2 in the low picomolar range"),
            Param("k_il2_loss", 2.0, "1/h", "loss of endogenous IL-2 at the site",
                  "assumption: consumption and diffusion within an hour"),
            Param("k_marg", 4.0, "1", "margination of lymphocytes under IL-2",
                  "assumption: blood lymphocytes fall to about 20% during high-dose IL-2"),
        ),
        intermediates=(
            Intermediate("supp", "(1 + k_sup)/(1 + k_sup*R/R0)", "1", "Treg suppression factor"),
            Intermediate("ag", "(T + T_r)/(T + T_r + K_ag)", "1", "tumour antigen stimulus"),
            Intermediate("f_blood", "1/(1 + k_marg*occ_int)", "1", "fraction of pools in blood"),
        ),
        observables=(
            Observable("treg", "R*f_blood", "cell/uL", "blood Treg count"),
            Observable("cd8", "L*f_blood", "cell/uL", "blood CD8 count"),
            Observable("nk", "N*f_blood", "cell/uL", "blood NK count"),
            Observable("cd4", "(H + R)*f_blood", "cell/uL", "blood CD4 count"),
            Observable("lymphocytes", "(R + L + N + H)*f_blood", "cell/uL",
                       "blood T and NK lymphocytes"),
            Observable("treg_fraction", "R/(R + H)", "1", "Tregs among CD4 cells"),
        ),
        terms={
            "R": "d_cell*(R0 - R) + p_R*occ_hi*R*(1 - R/(cap_R*R0))",
            "L": "d_cell*(L0 - L) + p_L*s8*supp*L*(1 - L/(cap_L*L0))",
            "N": "d_cell*(N0 - N) + p_N*sig_int*supp*N*(1 - N/(cap_N*N0))",
            "H": "d_cell*(H0 - H) + p_H*sig_int*ag*H*(1 - H/(cap_H*H0))",
            "IL_e": "k_il2_prod*(H/H0)*ag - k_il2_loss*IL_e",
        },
    )
