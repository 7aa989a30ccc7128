"""Kirschner & Panetta 1998: tumour, effector cells and IL-2 at the tumour site.

D. Kirschner and J. C. Panetta, "Modeling immunotherapy of the tumor-immune
interaction", J. Math. Biol. 37:235-252 (1998), doi:10.1007/s002850050127.
BioModels BIOMD0000000732. Time in days.

    dE/dt  = c*T - mu2*E + p1*E*IL/(g1 + IL) + s1
    dT/dt  = r2*T*(1 - b*T) - a*E*T/(g2 + T)
    dIL/dt = p2*E*T/(g3 + T) - mu3*IL + s2

``s1`` (adoptive cell therapy, cells/day) and ``s2`` (exogenous IL-2, IL-2
units/day) are treatment inputs driven by infusions on routes ``cells`` and
``il2``: the paper's constant treatments are one infusion over the whole
horizon; boluses on those routes add cells or IL-2 at an instant.

Departures from the paper: none in the equations. The curated SBML file writes
activation as ``p1*E*IL/g1`` (no ``+ IL``); this module keeps the paper's form.
All three states are integrated as logarithms (the tumour falls to 1e-30 cells
between relapses; see docs/design.md). IL-2 is in the paper's own
concentration units, declared here as ``arb``.
"""

from __future__ import annotations

from il2sim.model.spec import DoseRoute, Input, Model, Observable, Param, State

SOURCE = "Kirschner & Panetta 1998, J Math Biol 37:235, Table 1"


def kp1998() -> Model:
    """The published KP98 model with default parameters (c = 0.035)."""
    return Model(
        name="kp1998",
        title="Kirschner-Panetta 1998 tumour-effector-IL-2 model",
        citation="Kirschner D, Panetta JC. Modeling immunotherapy of the tumor-immune "
                 "interaction. J Math Biol 37:235-252 (1998). doi:10.1007/s002850050127",
        time_unit="day",
        states=(
            State("E", 1.0, "cell", "activated effector cells", log=True),
            State("T", 1e5, "cell", "tumour cells", log=True),
            State("IL", 1.0, "arb", "IL-2 concentration at the tumour site", log=True),
        ),
        params=(
            Param("c", 0.035, "1/day", "antigenicity: effector recruitment by tumour", SOURCE,
                  (0.0, 1.0)),
            Param("mu2", 0.03, "1/day", "effector death rate", SOURCE),
            Param("p1", 0.1245, "1/day", "IL-2-driven effector proliferation", SOURCE),
            Param("g1", 2e7, "arb", "half-saturation of IL-2 on effector growth", SOURCE),
            Param("r2", 0.18, "1/day", "tumour growth rate", SOURCE),
            Param("b", 1e-9, "1/cell", "inverse carrying capacity", SOURCE),
            Param("a", 1.0, "1/day", "maximal tumour kill rate by effectors", SOURCE),
            Param("g2", 1e5, "cell", "half-saturation of tumour kill", SOURCE),
            Param("p2", 5.0, "arb/cell/day", "IL-2 production by effectors", SOURCE),
            Param("g3", 1e3, "cell", "half-saturation of IL-2 production", SOURCE),
            Param("mu3", 10.0, "1/day", "IL-2 loss rate", SOURCE),
        ),
        inputs=(
            Input("s1", "cell/day", "adoptive cell therapy: effector source"),
            Input("s2", "arb/day", "exogenous IL-2 source"),
        ),
        equations={
            "E": "c*T - mu2*E + p1*E*IL/(g1 + IL) + s1",
            "T": "r2*T*(1 - b*T) - a*E*T/(g2 + T)",
            "IL": "p2*E*T/(g3 + T) - mu3*IL + s2",
        },
        observables=(
            Observable("tumour_fraction", "b*T", "1", "tumour size over carrying capacity"),
        ),
        routes=(
            DoseRoute("cells", "E", "cell", "adoptive transfer of effector cells (s1)",
                      input="s1"),
            DoseRoute("il2", "IL", "arb", "exogenous IL-2 at the tumour site (s2)", input="s2"),
        ),
        notes="Paper form p1*E*IL/(g1+IL); BIOMD0000000732 writes p1*E*IL/g1.",
    )
