"""de Pillis, Gu & Radunskaya 2006: the paper's qualitative results under il2sim regimens.

Published results checked (J Theor Biol 238:841), patient 9 parameters:
- a strong immune system suppresses a tumour that grows to carrying capacity (1/b) when
  the immune system is weak;
- chemotherapy pulses every 5 days clear a tumour that pulses every 10 days cannot;
- combined chemo-immunotherapy clears a tumour where chemotherapy alone and
  immunotherapy alone both fail.
All three reproduce. The scenarios are ours (the paper's exact initial conditions and
doses were not available): "strong" is the model's default healthy immune system at its
tumour-free equilibrium (C = alpha/beta, N = e*C/f, L = 100); "weak" has N, L and C at
1 % or 0.1 % of it (10 % or 1 % for the combination). Chemotherapy is a 1-day infusion
of 5 drug units/day (the pulse of a public reproduction); immunotherapy is 1e9 CD8+ cells
over day 7 and six 0.45-day IL-2 infusions of 5e6 IU/L/day from day 8 (a Rosenberg-style
course, as the same reproduction codes it). No model parameter is tuned. The scenarios
were picked from a scan of tumour size (1e6-5e8) and immune strength (1, 0.1, 0.01); the
outcomes hold over the ranges the tests state. Extinction is the threshold T < 1 cell.

Patient 10 (m = 9.12 /day, unverified, see the module docstring) is checked for what the
value implies: CD8+ cells die within hours, and the 5-day chemotherapy course that clears
patient 9's 1e8-cell tumour does not clear patient 10's.
"""

from __future__ import annotations

import numpy as np
import pytest

from il2sim import Bolus, Infusion, Model, ModelError, Regimen, Schedule, get_model, simulate
from il2sim.model.library.depillis2006 import depillis2006

P9 = get_model("depillis2006")
P10 = get_model("depillis2006_p10")
TOL = {"rtol": 1e-8, "atol": 1e-8}
EXTINCT = 1.0  # cells
CARRYING = 1 / P9.param("b").value
TIMES = np.linspace(0, 150, 151)


def weak(model_initial: dict[str, float], factor: float, tumour: float) -> dict[str, float]:
    """Initial state with NK, CD8+ and circulating lymphocytes scaled by ``factor``."""
    return {"T": tumour, **{k: model_initial[k] * factor for k in ("N", "L", "C")}}


def chemo(every_days: int, course_days: int = 90) -> Regimen:
    """1-day chemotherapy infusions of 5 drug units/day every ``every_days`` for a course."""
    return Regimen.of(Infusion(rate="5 arb/day", duration="1 day", route="chemo"),
                      Schedule(every=f"{every_days} day", count=course_days // every_days))


def immunotherapy() -> Regimen:
    """1e9 CD8+ T cells infused over day 7, then six IL-2 infusions from day 8."""
    til = Regimen.of(Infusion(rate="1e9 cell/day", duration="1 day", route="cells"),
                     Schedule(at=["7 day"]))
    il2 = Regimen.of(Infusion(rate="5e6 IU/L/day", duration="0.45 day", route="il2"),
                     Schedule(every="0.7 day", count=6, start="8 day"))
    return til + il2


def final_tumour(regimen: Regimen | None, initial: dict[str, float], model: Model = P9) -> float:
    r = simulate(model, regimen, initial=initial, times=TIMES, **TOL)
    return float(r["T"][0, -1])


def test_registry_and_patients() -> None:
    assert P9.name == "depillis2006" and P10.name == "depillis2006_p10"
    assert P9.param("m").value == 0.204 and P10.param("m").value == 9.12
    assert P10.param("s").value == 0.512 and P10.param("alpha").value == 5e8
    with pytest.raises(ModelError, match="patient must be 9 or 10"):
        depillis2006(11)
    # default state: the healthy immune system at its tumour-free equilibrium
    x0, p = P9.initial_state, P9.default_params
    assert x0["C"] == pytest.approx(p["alpha"] / p["beta"])
    assert x0["N"] == pytest.approx(p["e"] * x0["C"] / p["f"])


@pytest.mark.parametrize("factor", [1e-2, 1e-3])
def test_strong_immune_system_suppresses_weak_one_lets_tumour_grow(factor: float) -> None:
    strong = simulate(P9, None, initial={"T": 1e6}, times=TIMES, **TOL)["T"][0]
    assert strong[30] < EXTINCT and strong.max() <= 1.01e6
    weak_run = simulate(P9, None, initial=weak(P9.initial_state, factor, 1e6), times=TIMES,
                        **TOL)["T"][0]
    assert weak_run[30] > 0.99 * CARRYING


def test_strength_is_relative_to_tumour_size() -> None:
    """The healthy immune system clears 1e7 cells but not 1e8; at 10 % it loses 1e7."""
    assert final_tumour(None, {"T": 1e7}) < EXTINCT
    assert final_tumour(None, weak(P9.initial_state, 1e-1, 1e7)) > 0.99 * CARRYING
    assert final_tumour(None, {"T": 1e8}) > 0.99 * CARRYING  # too large for the immune system


@pytest.mark.parametrize("tumour", [1e8, 5e8])
def test_chemotherapy_every_5_days_clears_what_every_10_days_cannot(tumour: float) -> None:
    initial = {"T": tumour}
    assert final_tumour(None, initial) > 0.99 * CARRYING
    assert final_tumour(chemo(10), initial) > 0.99 * CARRYING  # regrows between pulses
    assert final_tumour(chemo(5), initial) < EXTINCT


@pytest.mark.parametrize("factor", [1e-1, 1e-2])
def test_combination_succeeds_where_either_alone_fails(factor: float) -> None:
    initial = weak(P9.initial_state, factor, 1e7)
    assert final_tumour(chemo(10), initial) > 0.99 * CARRYING
    assert final_tumour(immunotherapy(), initial) > 0.99 * CARRYING
    assert final_tumour(chemo(10) + immunotherapy(), initial) < EXTINCT


def test_il2_alone_barely_acts() -> None:
    """I stays far below g_I = 2e7 IU/L: at its peak the IL-2 proliferation term is under
    2 % of the CD8+ death rate (dP06's weak IL-2 effect, the gap the 2009 update closed)."""
    il2 = Regimen.of(Infusion(rate="5e6 IU/L/day", duration="0.45 day", route="il2"),
                     Schedule(every="0.7 day", count=6, start="8 day"))
    r = simulate(P9, il2, times=np.linspace(0, 15, 151), **TOL)
    p = P9.default_params
    peak = r["I"][0].max()
    assert 1e5 < peak < 5e5
    assert p["p_I"] * peak / (p["g_I"] + peak) < 0.02 * p["m"]


def test_routes_drive_inputs_and_jump_states_exactly() -> None:
    """An infusion drives v_M (M = v/gamma*(1 - exp(-gamma*t))); a bolus jumps I."""
    g, mu = P9.param("gamma").value, P9.param("mu_I").value
    times = np.array([0.0, 0.25, 0.5, 1.0, 2.0])
    reg = (Regimen.of(Infusion(rate="5 arb/day", duration="1 day", route="chemo"),
                      Schedule(at=["0 h"]))
           + Regimen.of(Bolus("1e6 IU/L", route="il2"), Schedule(at=["0 h"])))
    r = simulate(P9, reg, times=times, rtol=1e-10, atol=1e-12)
    during = 5 / g * (1 - np.exp(-g * times[:4]))
    after = during[-1] * np.exp(-g * 1.0)
    np.testing.assert_allclose(r["M"][0], [*during, after], rtol=1e-7)
    np.testing.assert_allclose(r["I"][0], 1e6 * np.exp(-mu * times), rtol=1e-7)


def test_patient_10_cd8_pool_decays_within_hours() -> None:
    """m = 9.12 /day (half-life 1.8 h) against 0.204 /day for patient 9 (3.4 days)."""
    initial = {"T": 1e-20, "L": 100.0}
    after = {}
    for model in (P9, P10):
        r = simulate(model, None, initial=initial, times=[0.0, 1.0], **TOL)
        after[model.name] = float(r["L"][0, -1])
    assert 75 < after["depillis2006"] < 85
    assert after["depillis2006_p10"] < 0.02


def test_patient_10_needs_more_than_the_chemotherapy_that_clears_patient_9() -> None:
    assert final_tumour(chemo(5), {"T": 1e8}, P9) < EXTINCT
    assert final_tumour(chemo(5), {"T": 1e8}, P10) > 0.99 * CARRYING
    # a small tumour is still controlled untreated by patient 10's healthy immune system
    assert final_tumour(None, {"T": 1e6}, P10) < EXTINCT


def test_cd8_kill_is_the_papers_d_term() -> None:
    """D is coded d/(1 + s*(T/L)^l); it equals the paper's d*(L/T)^l/(s + (L/T)^l)."""
    reg = chemo(10) + immunotherapy()
    r = simulate(P9, reg, initial=weak(P9.initial_state, 0.1, 1e7), times=np.linspace(0, 12, 25),
                 **TOL)
    p = P9.default_params
    ratio = (r["L"][0] / r["T"][0]) ** p["l"]
    np.testing.assert_allclose(r["cd8_kill"][0], p["d"] * ratio / (p["s"] + ratio), rtol=1e-12)


def test_cleared_tumour_stays_finite_and_positive_for_long_runs() -> None:
    """After clearance T falls by hundreds of decades; log states keep it positive."""
    r = simulate(P9, None, times=np.linspace(0, 300, 31), **TOL)
    assert r.status[0] == "ok"
    assert np.all(np.isfinite(r.states)) and np.all(r.states[0, :, :4] > 0)
    assert r["T"][0, -1] < 1e-200
