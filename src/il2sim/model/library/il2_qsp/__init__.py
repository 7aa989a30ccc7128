"""il2sim's flagship model of IL-2 therapy, composed of swappable components.

Components (one module each): ``pk`` (aldesleukin PK, SC and intratumoral
depots), ``ifn`` (interferon-alpha), ``local`` (tumour-site IL-2, oedema,
perfusion), ``receptors`` (occupancy, CD25, receptor-mediated clearance),
``immune`` (Treg, CD8, NK, helper pools, endogenous IL-2, margination),
``clone`` (the tumour-specific CTL clone that IL-2 expands within a course),
``tumour`` (growth, kill, necrosis, memory) and ``leak`` (vascular leak and its clinical
signs). Time in hours. Every parameter carries its source or an
``assumption`` tag; calibrations are listed in the component docstrings and in
``docs/models/il2_qsp.md``.
"""

from __future__ import annotations

from collections.abc import Sequence

from il2sim.model.compose import Component, compose
from il2sim.model.library.il2_qsp.clone import clone_component
from il2sim.model.library.il2_qsp.ifn import ifn_component
from il2sim.model.library.il2_qsp.immune import immune_component
from il2sim.model.library.il2_qsp.leak import leak_component
from il2sim.model.library.il2_qsp.local import local_component
from il2sim.model.library.il2_qsp.pk import pk_component
from il2sim.model.library.il2_qsp.receptors import receptor_component
from il2sim.model.library.il2_qsp.tumour import tumour_component
from il2sim.model.spec import Model

__all__ = ["default_components", "il2_qsp"]

CITATION = ("il2sim flagship model (this package), built on Konrad et al. 1990 (PK), "
            "Busse et al. 2010 PNAS 107:3058 (receptor competition), Kirschner & Panetta "
            "1998 (tumour-immune kill) and the Proleukin label (toxicity)")


def default_components() -> list[Component]:
    """The components of ``il2_qsp``, in dependency order (replace any to swap it)."""
    return [pk_component(), ifn_component(), local_component(), receptor_component(),
            immune_component(), clone_component(), tumour_component(), leak_component()]


def il2_qsp(components: Sequence[Component] | None = None) -> Model:
    """The composed QSP model; pass ``components`` to swap sub-models."""
    return compose("il2_qsp", "IL-2 therapy QSP model: PK, receptors, immune cells, tumour, "
                   "vascular leak, local therapy, interferon-alpha", CITATION, "h",
                   components if components is not None else default_components())
