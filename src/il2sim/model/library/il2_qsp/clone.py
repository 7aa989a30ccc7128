"""A tumour-specific cytotoxic T-cell clone that IL-2 expands within a course.

The CD8 pool of the immune component is the whole blood compartment: its kill reads the
pool's IL-2 signal and grows at most ``cap_L``-fold. The cells that recognise the tumour
are a clone within it. Primed by the tumour's antigen, they carry the high-affinity
receptor (activated T cells express CD25; Kalia et al. 2010, Immunity 32:91: sustained
CD25 and IL-2 signalling drive the expansion of terminal effector CD8 cells) and expand
by orders of magnitude within a week, then contract (acute CD8 responses expand
antigen-specific clones 10^3-10^5-fold in about a week and lose 90-95% of them over the
following weeks: Murali-Krishna et al. 1998, Immunity 8:177; Badovinac et al. 2002, Nat
Immunol 3:619). With ``Cc`` the clone's size relative to its precursor count (1 without
IL-2):

    dCc/dt = p_C*s8*supp*stim_c*Cc*(1 - Cc/cap_C) - d_C*(Cc - 1)
    stim_c = ag*(ant/ant50)/(1 + ant/ant50)
    kill_clone = k_C*Cc*mhc     (the tumour component's kill_eff adds ant*access*kill_clone)

``s8`` is the CD8 cells' IL-2 signal (receptor component: CD25-carrying cells respond at
picomolar IL-2), ``supp`` the Treg suppression and ``ag`` the tumour antigen stimulus
(immune component), ``mhc`` interferon's rise of MHC class I (interferon component). The
clone needs IL-2 and its antigen together, and its kill scales with antigenicity again, so
the response is steep in ``ant``: immunogenic tumours respond within the course, others
barely. It is the model's account of responses within the first course (at least 90% of
the pivotal trials' responders; docs/calibration.md, "When responses appear"): without it
the responses built up over four or five courses (12-21% by the first scan), with it 30-44%
at the calibrated populations, 40-43% since its strength differs between patients (session
15). Because the clone reads the saturable high-affinity signal,
a low dose expands it nearly as much as a high dose, and an SC depot as much as a bolus;
what the high dose adds is the nanomolar, intermediate-affinity activation of NK and
bystander CD8 cells (receptor component, ``N_INT``). So the clone's strength against the
pooled effectors (``k_C``) sets how much of the high dose's effect other regimens keep
(docs/validation.md, session 14: McDermott 2005's SC arm is overestimated).
[assumption, every value but ``k_C``'s population median: no clone sizes under IL-2 therapy
are in the calibration set; the values are those first explored in session 11
(docs/calibration.md, "When responses appear"), chosen so that the expansion lasts about a
course. ``k_C`` differs between patients with their tumour-specific precursors
(``K_C_SIGMA``); its median is fitted to the RCC regimen contrasts of Yang 2003 and Negrier
1998 (``scripts/calibrate_posterior.py``); the default ``K_C`` makes a fully expanded clone
kill about ten times what the expanded CD8 and NK pools do]
"""

from __future__ import annotations

from il2sim.model.compose import Component
from il2sim.model.spec import Intermediate, Observable, Param, State

K_C = 2e-4
"""The clone's kill per fold (1/h), the model's default: at a thousandfold expansion 0.2/h per
unit antigenicity and access, about ten times the fully expanded CD8 and NK pools' kill
[assumption]. The calibrated populations draw it per patient (``K_C_SIGMA``) and fit its
median (``scripts/calibrate_posterior.py``)."""
K_C_SIGMA = 1.0
"""Between-patient log-SD of ``k_C`` [assumption]. ``Cc`` counts the clone relative to its
precursors, so ``k_C`` scales with how many tumour-specific precursors a patient has; tetramer
counts of tumour-antigen-specific CD8 cells in melanoma patients' blood differ between
patients by orders of magnitude (Lee et al. 1999, Nat Med 5:677). 1.0 spans a hundredfold
over the middle 95% of patients."""

EXPANSION = ("Murali-Krishna et al. 1998, Immunity 8:177: antigen-specific CD8 T cells expand "
             "10^3-10^5-fold in about a week of an acute response")


def clone_component() -> Component:
    return Component(
        name="clone",
        description="tumour-specific CTL clone expanded by IL-2 and the tumour's antigen",
        states=(State("Cc", 1.0, "1", "tumour-specific CTL clone, fold over its precursors",
                      log=True),),
        params=(
            Param("p_C", 0.3, "1/h", "maximal IL-2- and antigen-driven clone proliferation",
                  "assumption: activated CD8 cells divide every 6-8 h at full stimulus; with "
                  "the stimulus at its median a few divisions a day (" + EXPANSION + ")"),
            Param("cap_C", 1000.0, "1", "clone expansion ceiling (fold over its precursors)",
                  "assumption: the lower end of acute expansions (" + EXPANSION + ")"),
            Param("d_C", 0.01, "1/h", "contraction of the expanded clone",
                  "assumption: t1/2 about 3 days, 90-95% lost within 2-3 weeks (Badovinac "
                  "et al. 2002, Nat Immunol 3:619)"),
            Param("k_C", K_C, "1/h", "kill rate per fold of the clone",
                  "assumption: at a thousandfold expansion 0.2/h per unit antigenicity and "
                  "access, about ten times the fully expanded CD8 and NK pools' kill; "
                  "scales with the patient's tumour-specific precursors, so the calibrated "
                  f"populations draw it per patient (log-SD {K_C_SIGMA}) and fit its median "
                  "to the RCC regimen contrasts (scripts/calibrate_posterior.py)"),
            Param("ant50", 1.5, "1", "antigenicity half-maximal for priming the clone",
                  "assumption: the order of the calibrated populations' median "
                  "antigenicity"),
        ),
        intermediates=(
            Intermediate("stim_c", "ag*(ant/ant50)/(1 + ant/ant50)", "1",
                         "antigen stimulus of the clone"),
            Intermediate("kill_clone", "k_C*Cc*mhc", "1/h",
                         "clone kill per tumour cell per unit antigenicity and access"),
        ),
        observables=(
            Observable("tumour_clone", "Cc", "1",
                       "tumour-specific CTL clone, fold over its precursors"),
        ),
        terms={"Cc": "p_C*s8*supp*stim_c*Cc*(1 - Cc/cap_C) - d_C*(Cc - 1)"},
    )
