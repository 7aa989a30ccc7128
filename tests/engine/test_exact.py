"""The engine against exact solutions of linear pharmacokinetics.

One-compartment model dA/dt = -k*A (+ infusion rate), C = A/V, and a depot
dA_d/dt = -ka*A_d feeding it. Exact solutions (Gibaldi & Perrier,
Pharmacokinetics, 2nd ed., ch. 1-2):

- bolus:        C(t) = D/V * exp(-k t)
- infusion:     C(t) = R/(k V) * (1 - exp(-k t)) during, steady state R/CL, CL = k V
- superposition: C(t) = sum_i D/V exp(-k (t - t_i)) over doses given by t
- depot (Bateman): C(t) = F D ka / (V (ka - k)) * (exp(-k t) - exp(-ka t))
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from one_compartment import KA, MODEL, F, K, V, one_compartment

from il2sim import (
    Bolus,
    Depot,
    EngineError,
    Infusion,
    Model,
    Param,
    Regimen,
    Schedule,
    SimulationError,
    State,
    simulate,
)

TIMES = np.linspace(0.0, 48.0, 97)


def test_bolus_decay_is_exponential() -> None:
    r = simulate(MODEL, Regimen.of(Bolus("1000 IU"), Schedule(at=["0 h"])), times=TIMES,
                 rtol=1e-10, atol=1e-12)
    exact = 1000 / V * np.exp(-K * TIMES)
    np.testing.assert_allclose(r["C"][0], exact, rtol=1e-7)


def test_infusion_reaches_rate_over_clearance_and_decays_after_stop() -> None:
    rate = 50.0  # IU/h for 40 h
    r = simulate(MODEL, Regimen.of(Infusion(rate=f"{rate} IU/h", duration="40 h"),
                                   Schedule(at=["0 h"])), times=TIMES, rtol=1e-10, atol=1e-12)
    during = TIMES <= 40
    exact = np.where(during, rate / (K * V) * (1 - np.exp(-K * TIMES)),
                     rate / (K * V) * (1 - math.exp(-K * 40)) * np.exp(-K * (TIMES - 40)))
    np.testing.assert_allclose(r["C"][0], exact, rtol=1e-7, atol=1e-10)
    # steady state = R / CL with CL = k V
    assert r["C"][0][TIMES == 40][0] == pytest.approx(rate / (K * V), rel=0.02)


def test_repeated_boluses_superpose() -> None:
    doses = [0.0, 6.0, 12.0, 30.0]
    r = simulate(MODEL, Regimen.of(Bolus("200 IU"), Schedule(at=[f"{t} h" for t in doses])),
                 times=TIMES, rtol=1e-10, atol=1e-12)
    exact = sum(np.where(t <= TIMES, 200 / V * np.exp(-K * (TIMES - t)), 0.0) for t in doses)
    np.testing.assert_allclose(r["C"][0], exact, rtol=1e-7)


def test_output_at_a_dose_time_is_after_the_dose() -> None:
    r = simulate(MODEL, Regimen.of(Bolus("100 IU"), Schedule(at=["0 h", "10 h"])),
                 times=[10.0], rtol=1e-10, atol=1e-12)
    assert r["A"][0, 0] == pytest.approx(100 * math.exp(-K * 10) + 100, rel=1e-8)


def test_depot_follows_the_bateman_function() -> None:
    r = simulate(MODEL, Regimen.of(Depot("1000 IU", route="sc"), Schedule(at=["0 h"])),
                 times=TIMES, rtol=1e-10, atol=1e-12)
    exact = F * 1000 * KA / (V * (KA - K)) * (np.exp(-K * TIMES) - np.exp(-KA * TIMES))
    np.testing.assert_allclose(r["C"][0], exact, rtol=1e-7, atol=1e-10)
    log = r.dose_log
    assert log["amount"].iloc[0] == pytest.approx(F * 1000)


def test_log_state_bolus_jumps_exactly() -> None:
    model = one_compartment(log_central=True)
    r = simulate(model, Regimen.of(Bolus("1000 IU"), Schedule(at=["2 h"])), times=TIMES,
                 rtol=1e-10, atol=1e-12)
    exact = (1e-3 * np.exp(-K * TIMES)
             + np.where(TIMES >= 2, 1000 * np.exp(-K * (TIMES - 2)), 0.0))
    np.testing.assert_allclose(r["A"][0], exact, rtol=1e-7)


def test_error_falls_as_tolerances_tighten() -> None:
    exact = 1000 / V * np.exp(-K * TIMES)
    errors = []
    for tol in (1e-3, 1e-5, 1e-7, 1e-9):
        r = simulate(MODEL, Regimen.of(Bolus("1000 IU"), Schedule(at=["0 h"])), times=TIMES,
                     rtol=tol, atol=tol * 1e-3)
        errors.append(np.max(np.abs(r["C"][0] - exact) / exact))
    assert all(b < a for a, b in zip(errors, errors[1:])), errors
    assert errors[-1] < 1e-7
    assert errors[0] > 10 * errors[-1]


@pytest.mark.parametrize("method", ["LSODA", "BDF", "Radau", "RK45"])
def test_every_method_gives_the_exact_bolus(method: str) -> None:
    r = simulate(MODEL, Regimen.of(Bolus("1000 IU"), Schedule(at=["0 h", "24 h"])),
                 times=TIMES, method=method, rtol=1e-9, atol=1e-11)
    exact = 1000 / V * (np.exp(-K * TIMES) + np.where(TIMES >= 24,
                                                      np.exp(-K * (TIMES - 24)), 0.0))
    np.testing.assert_allclose(r["C"][0], exact, rtol=1e-6)


def test_per_kg_doses_scale_with_each_patients_weight() -> None:
    weights = np.array([50.0, 70.0, 100.0])
    r = simulate(MODEL, Regimen.of(Bolus("10 IU/kg"), Schedule(at=["0 h"])), times=[0.0],
                 covariates={"weight": weights})
    np.testing.assert_allclose(r["A"][:, 0], 10 * weights)
    assert list(r.dose_log["patient"]) == [0, 1, 2]


def test_per_m2_doses_use_mosteller_bsa() -> None:
    r = simulate(MODEL, Regimen.of(Bolus("100 IU/m**2"), Schedule(at=["0 h"])), times=[0.0],
                 covariates={"weight": 70.0, "height": 175.0})
    assert r["A"][0, 0] == pytest.approx(100 * math.sqrt(70 * 175 / 3600))


def test_batch_parameters_give_each_patient_its_own_solution() -> None:
    ks = np.array([0.05, 0.1, 0.2, 0.4])
    r = simulate(MODEL, Regimen.of(Bolus("1000 IU"), Schedule(at=["0 h"])), params={"k": ks},
                 times=TIMES, rtol=1e-10, atol=1e-12)
    exact = 1000 / V * np.exp(-ks[:, None] * TIMES[None, :])
    np.testing.assert_allclose(r["C"], exact, rtol=1e-7)
    assert list(r.status) == ["ok"] * 4


BLOWUP = Model(
    name="blowup", title="x' = x^2", citation="test: finite-time blow-up at t = 1/x0",
    time_unit="h", states=(State("x", 1.0, "1", "blows up at 1/x0"),),
    params=(Param("q", 1.0, "1/h", "rate", "test"),), equations={"x": "q*x**2"},
)


def test_a_failed_patient_is_recorded_not_dropped() -> None:
    r = simulate(BLOWUP, None, params={"q": [0.01, 1.0, 0.02]}, times=[0.0, 5.0])
    assert list(r.status) == ["ok", "failed", "ok"]
    assert r.message[1] != ""
    assert np.isnan(r["x"][1, -1])
    assert r["x"][0, -1] == pytest.approx(1 / (1 - 0.05), rel=1e-5)


def test_a_single_failed_simulation_raises() -> None:
    with pytest.raises(SimulationError, match="patient 0 failed"):
        simulate(BLOWUP, None, params={"q": 1.0}, times=[0.0, 5.0])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"params": {"kk": 1.0}}, "no parameter 'kk'"),
        ({"params": {"F": 1.5}}, "'F' = 1.5 .* outside its bounds"),
        ({"times": []}, "empty save times"),
        ({"times": [3.0, 1.0]}, "sorted"),
        ({"times": [-1.0, 1.0]}, ">= 0"),
        ({"params": {"k": [0.1, 0.2]}, "covariates": {"weight": [1.0, 2.0, 3.0]}},
         "inconsistent batch sizes"),
        ({"covariates": {"age": 50}}, "unknown covariate 'age'"),
        ({"initial": {"Z": 1.0}}, "no state 'Z'"),
        ({"backend": "nope"}, "unknown backend"),
    ],
)
def test_bad_input_is_a_clear_error(kwargs: dict[str, object], match: str) -> None:
    args: dict[str, object] = {"times": [0.0, 1.0]}
    args.update(kwargs)
    with pytest.raises(EngineError, match=match):
        simulate(MODEL, None, **args)  # type: ignore[arg-type]


def test_dose_on_an_unknown_route_or_in_a_wrong_unit_is_an_error() -> None:
    with pytest.raises(EngineError, match="no dose route 'it'"):
        simulate(MODEL, Regimen.of(Bolus("1 IU", route="it"), Schedule(at=["0 h"])),
                 times=[1.0])
    with pytest.raises(EngineError, match="cell"):
        simulate(MODEL, Regimen.of(Bolus("5 cell"), Schedule(at=["0 h"])), times=[1.0])
    with pytest.raises(EngineError, match="weight"):
        simulate(MODEL, Regimen.of(Bolus("5 IU/kg"), Schedule(at=["0 h"])), times=[1.0])


def test_result_tables_are_tidy() -> None:
    r = simulate(MODEL, Regimen.of(Bolus("1000 IU"), Schedule(at=["0 h"])),
                 params={"k": [0.1, 0.2]}, times=[0.0, 1.0, 2.0])
    wide = r.to_frame()
    assert list(wide.columns) == ["patient", "time (h)", "A (IU)", "A_d (IU)", "C (IU/L)"]
    assert len(wide) == 6
    long = r.to_frame(long=True)
    assert list(long.columns) == ["patient", "time (h)", "variable", "unit", "value"]
    assert set(long["variable"]) == {"A", "A_d", "C"}
    assert set(zip(long["variable"], long["unit"])) == {("A", "IU"), ("A_d", "IU"),
                                                        ("C", "IU/L")}
    assert len(long) == 18
    at = long[(long["patient"] == 1) & (long["time (h)"] == 1.0) & (long["variable"] == "C")]
    assert at["value"].iloc[0] == pytest.approx(500 * math.exp(-0.2), rel=1e-5)


@pytest.mark.parametrize(("kwargs", "match"), [({"method": "lsoda"}, "unknown method 'lsoda'"),
                                               ({"rtol": -1.0}, "rtol must be in")])
def test_bad_integrator_options_are_errors(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(EngineError, match=match):
        simulate(MODEL, None, times=[0.0, 1.0], **kwargs)  # type: ignore[arg-type]
