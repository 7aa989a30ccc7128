"""The tumour-specific clone of il2_qsp (clone component) against exact solutions."""

from __future__ import annotations

import numpy as np
import pytest

from il2sim import get_model, simulate
from il2sim.model.compose import Component, compose
from il2sim.model.library.il2_qsp.clone import clone_component
from il2sim.model.spec import Param

QSP = get_model("il2_qsp")


def _clone_alone(s8: float, supp: float, ag: float, ant: float) -> Component:
    """The symbols the clone reads from other components, held constant."""
    fixed = {"s8": s8, "supp": supp, "ag": ag, "ant": ant, "mhc": 1.0}
    return Component(name="held", description="constant inputs of the clone",
                     params=tuple(Param(k, v, "1", k, "test") for k, v in fixed.items()))


@pytest.mark.parametrize(("s8", "ant"), [(1.0, 1.5), (0.4, 6.0)])
def test_clone_expands_logistically_under_a_constant_signal(s8: float, ant: float) -> None:
    """Without contraction (d_C = 0) and with the signal held, dCc/dt = r*Cc*(1 - Cc/cap)
    with r = p_C*s8*supp*stim, stim = ag*(ant/ant50)/(1 + ant/ant50): the logistic
    Cc(t) = cap/(1 + (cap - 1)*exp(-r*t)) from Cc(0) = 1."""
    supp, ag = 0.8, 0.9
    model = compose("clone", "clone alone", "test", "h",
                    [_clone_alone(s8, supp, ag, ant), clone_component()]).with_params(d_C=0.0)
    p = model.default_params
    hours = np.linspace(0.0, 96.0, 9)
    r = simulate(model, None, times=hours, rtol=1e-10, atol=1e-12)
    q = ant / p["ant50"]
    rate = p["p_C"] * s8 * supp * ag * q / (1 + q)
    exact = p["cap_C"] / (1 + (p["cap_C"] - 1) * np.exp(-rate * hours))
    np.testing.assert_allclose(r["tumour_clone"][0], exact, rtol=1e-6)
    assert exact[-1] > 100  # the test spans the expansion, not only its start


def test_expanded_clone_contracts_to_its_precursors_without_il2() -> None:
    """No IL-2 in plasma: s8 = 0, so dCc/dt = -d_C*(Cc - 1), Cc = 1 + (Cc0 - 1)*exp(-d_C*t)."""
    hours = np.array([0.0, 24.0, 72.0, 240.0])
    r = simulate(QSP, None, times=hours, initial={"Cc": 500.0}, rtol=1e-10, atol=1e-12)
    d = QSP.default_params["d_C"]
    np.testing.assert_allclose(r["tumour_clone"][0], 1 + 499 * np.exp(-d * hours), rtol=1e-6)

