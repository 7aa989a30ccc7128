"""IL-2 receptor occupancy, CD25 up-regulation and receptor-mediated clearance.

Binding is fast against everything else, so occupancies are quasi-steady:

    occ_hi  = C/(C + Kd_hi)      alpha-beta-gamma (CD25+): Tregs, activated T cells, Kd ~ 10 pM
    occ_int = C/(C + Kd_int)     beta-gamma: NK, memory/effector CD8, Kd ~ 1.9 nM

with C the plasma IL-2 (systemic) or the tumour-site IL-2 (``_site``). CD8 cells
up-regulate CD25 under IL-2 signalling (positive feedback, Busse et al. 2010
PNAS 107:3058): a fraction ``a8`` carries the high-affinity receptor,

    s8 = a8*occ_hi + (1 - a8)*sig_int
    da8/dt = k_cd25_on*s8*(1 - a8) - k_cd25_off*(a8 - a8_0)

Signalling through the intermediate-affinity receptor is peak-dependent and desensitises
under sustained exposure. STAT5 signalling induces its own inhibitor, CIS (Cish), a
checkpoint of IL-2/IL-15 responses in NK cells (Delconte et al. 2016, Nat Immunol 17:816),
and NK cells kept in IL-15 without a break lose their function while intermittent exposure
keeps it (Felices et al. 2018, JCI Insight 3:e96219). With ``X`` the feedback (0-1):

    dX/dt = k_cis*occ_int*(1 - X) - k_cis_off*X
    sig_int = occ_int^N_INT*(1 - X),   sig_int_site = occ_int_site^N_INT*(1 - X)

The power ``N_INT`` is the peak dependence: NK and CD8 cells are activated by nanomolar
IL-2 (lymphokine-activated killing needs high concentrations: Grimm et al. 1982, J Exp Med
155:1823), as a switch rather than in proportion to occupancy [assumption: the form].
``N_INT`` 4 was chosen (session 13) from a scan against the calibration set's regimen
contrasts, in which only the plasma profile differs: a low-dose bolus every 8 h (Yang et al.
2003, J Clin Oncol 21:3127: peaks near 2,000 IU/mL, occupancy about 0.8, 13.3% against
21.2% at high dose) keeps much of the high dose's effect, while a continuous infusion of
more drug (Negrier et al. 1998, N Engl J Med 338:1272: a steady 250 IU/mL, occupancy about
0.35, 6.5%) loses most of it. With the square (``N_INT`` 2, until session 12) the infusion
gave more responses than the bolus (16.7% against 14.5%): under every regimen the CD25+
CD8 cells' high-affinity signal carries most of the kill, and the infusion raised CD25 as
much as the bolus (docs/calibration.md, "Regimen dependence").

``sig_int`` is what NK and CD8 cells act on (proliferation, cytotoxicity, cytokine release,
and the CD25 up-regulation of CD8 cells; binding, clearance and margination follow the
occupancy). A bolus every 8 h gives a high peak and a trough in which the feedback decays;
a continuous infusion gives a lower, constant occupancy that keeps it on. [assumption: the
feedback's form, k_cis and k_cis_off]

Receptor-bearing cells internalise IL-2 (target-mediated clearance rising as
lymphocytes expand; Konrad 1990 anephric patients):

    dA_c/dt += -(vmax_treg*R/R0*occ_hi + vmax_eff*(L/L0*s8 + N/N0*occ_int))
"""

from __future__ import annotations

from il2sim.model.compose import Component
from il2sim.model.spec import Intermediate, Observable, Param, State

KD_HI = "Fallon & Lauffenburger 2000, Biotechnol Prog 16:905: surface Kd 11.1 pM, rounded"
N_INT = 4
"""Power of the intermediate-affinity occupancy in its signal (peak dependence; an integer
written into the equations, so that the signal and its Jacobian stay finite at zero
occupancy)."""
KD_INT_PM = 1900.0
"""Intermediate-affinity (IL-2R beta-gamma) receptor Kd, pM (:data:`KD_INT`)."""
KD_INT = ("Caligiuri et al. 1990, J Exp Med 171:1527: CD16+ NK cells (most blood NK cells) carry "
          "only intermediate-affinity receptors, Kd about 1.9 nM by Scatchard analysis")


def receptor_component(n_int: int = N_INT) -> Component:
    """The receptor component; ``n_int``, the power of the intermediate-affinity occupancy in
    its signal (the model's :data:`N_INT`; other values for the scans that chose it)."""
    return Component(
        name="receptors",
        description="quasi-steady receptor occupancy, CD25 up-regulation on CD8, "
                    "receptor-mediated IL-2 clearance",
        states=(State("a8", 0.05, "1", "fraction of CD8 effectors expressing CD25"),
                State("X", 0.0, "1", "CIS feedback on intermediate-affinity signalling (0-1)")),
        params=(
            Param("Kd_hi", 10.0, "pM", "high-affinity (alpha-beta-gamma) receptor Kd", KD_HI),
            Param("Kd_int", KD_INT_PM, "pM", "intermediate-affinity (beta-gamma) receptor Kd",
                  KD_INT),
            Param("a8_0", 0.05, "1", "CD25+ fraction of CD8 cells without IL-2",
                  "assumption: a small activated fraction in cancer patients", (0.0, 1.0)),
            Param("k_cd25_on", 0.1, "1/h", "IL-2-driven CD25 up-regulation",
                  "assumption: CD25 rises within about a day of IL-2 signalling "
                  "(Busse et al. 2010)"),
            Param("k_cd25_off", 0.02, "1/h", "CD25 loss without signal",
                  "assumption: t1/2 about 35 h"),
            Param("k_cis", 0.1, "1/h", "build-up of the feedback at full occupancy",
                  "assumption: NK function is lost over days of uninterrupted cytokine, not "
                  "hours (Felices et al. 2018, JCI Insight 3:e96219)"),
            Param("k_cis_off", 0.05, "1/h", "decay of the feedback",
                  "assumption: t1/2 about 14 h, so rest restores function (Felices et al. "
                  "2018)"),
            Param("vmax_treg", 3000.0, "IU/h", "maximal IL-2 uptake by baseline Tregs",
                  "assumption: about 10 mL/min extra clearance at C = Kd_hi; to be "
                  "calibrated on low-dose PK"),
            Param("vmax_eff", 30000.0, "IU/h", "maximal IL-2 uptake by baseline NK and CD8",
                  "assumption: negligible against renal clearance at high dose"),
        ),
        intermediates=(
            Intermediate("occ_hi", "C_pM/(C_pM + Kd_hi)", "1", "high-affinity occupancy"),
            Intermediate("occ_int", "C_pM/(C_pM + Kd_int)", "1", "intermediate occupancy"),
            Intermediate("sig_int", f"occ_int**{n_int}*(1 - X)", "1",
                         "intermediate-affinity signal (NK, CD8)"),
            Intermediate("s8", "a8*occ_hi + (1 - a8)*sig_int", "1", "IL-2 signal in CD8"),
            Intermediate("occ_hi_site", "C_site_pM/(C_site_pM + Kd_hi)", "1",
                         "high-affinity occupancy at the tumour"),
            Intermediate("occ_int_site", "C_site_pM/(C_site_pM + Kd_int)", "1",
                         "intermediate occupancy at the tumour"),
            Intermediate("sig_int_site", f"occ_int_site**{n_int}*(1 - X)", "1",
                         "intermediate-affinity signal at the tumour"),
            Intermediate("s8_site", "a8*occ_hi_site + (1 - a8)*sig_int_site", "1",
                         "IL-2 signal in CD8 at the tumour"),
        ),
        observables=(
            Observable("cd25_cd8", "a8", "1", "CD25+ fraction of CD8 cells"),
            Observable("occupancy_hi", "occ_hi", "1", "high-affinity receptor occupancy"),
            Observable("occupancy_int", "occ_int", "1", "intermediate receptor occupancy"),
            Observable("cis_feedback", "X", "1", "CIS feedback on beta-gamma signalling"),
        ),
        terms={
            "a8": "k_cd25_on*s8*(1 - a8) - k_cd25_off*(a8 - a8_0)",
            "X": "k_cis*occ_int*(1 - X) - k_cis_off*X",
            "A_c": "-(vmax_treg*R/R0*occ_hi + vmax_eff*(L/L0*s8 + N/N0*occ_int))",
        },
    )
