"""Tests for il2sim.model.compile: batched vs scalar, analytic Jacobian, internal coordinates.

Natural-form equations are written out by hand here (from the papers / model
docstrings), independently of the model's own strings, and compared with the
compiled functions in internal (log) coordinates: dy/dt = f(x)/x for log states.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from il2sim.model import (
    CompiledModel,
    DoseRoute,
    Input,
    Intermediate,
    Model,
    Observable,
    Param,
    State,
    compile_model,
    get_model,
)

Arr = NDArray[np.float64]
SRC = "test source"


def handmade() -> Model:
    """A log state X (logistic-like growth with saturation through an intermediate) and a
    linear state Y; a named input on X and an implicit-rate route on Y."""
    return Model(
        name="handmade",
        title="log state with intermediate",
        citation="test",
        time_unit="day",
        states=(State("X", 2.0, "cell", "population", log=True),
                State("Y", 0.5, "1", "signal")),
        params=(Param("r", 0.7, "1/day", "growth", SRC),
                Param("K", 3.0, "cell", "half-saturation", SRC),
                Param("cap", 100.0, "cell", "capacity", SRC),
                Param("d", 0.2, "1/day", "kill by Y", SRC),
                Param("q", 0.3, "1/day", "decay of Y", SRC)),
        inputs=(Input("u_x", "cell/day", "source of X"),),
        intermediates=(Intermediate("sat", "X/(K + X)", "1", "saturation"),
                       Intermediate("act", "r*sat", "1/day", "activity")),
        equations={"X": "act*X*(1 - X/cap) - d*X*Y + u_x", "Y": "sat - q*Y"},
        observables=(Observable("occ", "sat*Y", "1", "occupancy"),),
        routes=(DoseRoute("x_in", "X", "cell", "source of X", input="u_x"),
                DoseRoute("y_bolus", "Y", "1", "into Y")),
    )


def natural_handmade(x: Arr, p: Arr, u: Arr) -> Arr:
    X, Y = x
    r, K, cap, d, q = p
    sat = X / (K + X)
    return np.array([r * sat * X * (1 - X / cap) - d * X * Y + u[0], sat - q * Y + u[1]])


def natural_kp1998(x: Arr, p: Arr, u: Arr) -> Arr:
    """KP98 as printed (J Math Biol 37:235, eqs 1-3)."""
    E, T, IL = x
    c, mu2, p1, g1, r2, b, a, g2, p2, g3, mu3 = p
    s1, s2 = u
    return np.array([
        c * T - mu2 * E + p1 * E * IL / (g1 + IL) + s1,
        r2 * T * (1 - b * T) - a * E * T / (g2 + T),
        p2 * E * T / (g3 + T) - mu3 * IL + s2,
    ])


def natural_aldesleukin(x: Arr, p: Arr, u: Arr) -> Arr:
    A_c, A_p, A_sc, A_it = x
    V1, k10, k12, k21, F_sc, ka_sc, k_it = p
    return np.array([
        -(k10 + k12) * A_c + k21 * A_p + ka_sc * A_sc + k_it * A_it + u[0],
        k12 * A_c - k21 * A_p,
        -ka_sc * A_sc + u[1],
        -k_it * A_it + u[2],
    ])


NATURAL: dict[str, Callable[[Arr, Arr, Arr], Arr]] = {
    "kp1998": natural_kp1998,
    "aldesleukin_pk": natural_aldesleukin,
    "handmade": natural_handmade,
}


def get(name: str) -> Model:
    return handmade() if name == "handmade" else get_model(name)


def random_point(c: CompiledModel, rng: np.random.Generator) -> tuple[Arr, Arr, Arr]:
    """Random natural state x (log-uniform over several decades), parameters around the
    defaults (lognormal, kept inside the bounds) and inputs."""
    m = c.model
    x = 10.0 ** rng.uniform(-1.0, 5.0, len(m.state_names))
    p = np.array([pp.value for pp in m.params]) * np.exp(rng.normal(0.0, 0.3, len(m.params)))
    p = np.clip(p, [pp.bounds[0] for pp in m.params], [pp.bounds[1] for pp in m.params])
    u = rng.uniform(0.0, 50.0, len(c.input_names))
    return x, p, u


MODELS = ["kp1998", "aldesleukin_pk", "handmade"]


# --------------------------------------------------------------------------- structure


def test_input_names_and_route_inputs() -> None:
    kp = compile_model(get_model("kp1998"))
    assert kp.input_names == ("s1", "s2")  # named inputs only: no implicit rates
    assert kp.route_input == {"cells": 0, "il2": 1}
    assert kp.log_mask.tolist() == [True, True, True]
    pk = compile_model(get_model("aldesleukin_pk"))
    assert pk.input_names == ("rate_iv", "rate_sc", "rate_it")
    assert pk.route_input == {"iv": 0, "sc": 1, "it": 2}
    assert pk.log_mask.tolist() == [False] * 4
    hm = compile_model(handmade())
    assert hm.input_names == ("u_x", "rate_y_bolus")
    assert hm.route_input == {"x_in": 0, "y_bolus": 1}
    assert hm.log_mask.tolist() == [True, False]


def test_compile_is_cached_per_model_object() -> None:
    m = handmade()
    assert compile_model(m) is compile_model(m)
    assert compile_model(handmade()) is not compile_model(m)


# --------------------------------------------------------------------------- internal coords


@pytest.mark.parametrize("name", MODELS)
def test_rhs_one_equals_natural_equation_in_internal_coordinates(name: str) -> None:
    c = compile_model(get(name))
    rng = np.random.default_rng(20240611)
    for _ in range(20):
        x, p, u = random_point(c, rng)
        y = c.to_internal(x)
        f = NATURAL[name](x, p, u)
        expected = np.where(c.log_mask, f / x, f)
        got = c.rhs_one(0.0, y, p, u)
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12 * np.abs(f / x).max())


def test_kp1998_log_coordinates_by_hand_at_default_point() -> None:
    """dlogT/dt = r2*(1 - b*T) - a*E/(g2 + T) etc. at a fixed point, computed by hand."""
    c = compile_model(get_model("kp1998"))
    p = np.array(list(get_model("kp1998").default_params.values()))
    E, T, IL = 1e4, 1e6, 50.0
    s1, s2 = 2.0, 300.0
    out = c.rhs_one(0.0, np.log([E, T, IL]), p, np.array([s1, s2]))
    dE = 0.035 * T - 0.03 * E + 0.1245 * E * IL / (2e7 + IL) + s1
    dT = 0.18 * T * (1 - 1e-9 * T) - 1.0 * E * T / (1e5 + T)
    dIL = 5.0 * E * T / (1e3 + T) - 10.0 * IL + s2
    np.testing.assert_allclose(out, [dE / E, dT / T, dIL / IL], rtol=1e-12)


@pytest.mark.parametrize("name", MODELS)
def test_to_internal_to_natural_round_trip(name: str) -> None:
    c = compile_model(get(name))
    rng = np.random.default_rng(7)
    x = 10.0 ** rng.uniform(-30.0, 30.0, (5, c.n_states))
    y = c.to_internal(x)
    np.testing.assert_array_equal(y[:, c.log_mask], np.log(x[:, c.log_mask]))
    np.testing.assert_array_equal(y[:, ~c.log_mask], x[:, ~c.log_mask])
    np.testing.assert_allclose(c.to_natural(y), x, rtol=1e-13)
    # to_internal does not modify its argument
    x0 = x.copy()
    c.to_internal(x)
    np.testing.assert_array_equal(x, x0)


# --------------------------------------------------------------------------- batched vs scalar


@pytest.mark.parametrize("name", MODELS)
def test_batched_rhs_and_jac_equal_scalar_calls(name: str) -> None:
    c = compile_model(get(name))
    rng = np.random.default_rng(11)
    pts = [random_point(c, rng) for _ in range(9)]
    Y = np.array([c.to_internal(x) for x, _, _ in pts])
    P = np.array([p for _, p, _ in pts])
    U = np.array([u for _, _, u in pts])
    rhs = c.rhs(0.0, Y, P, U)
    jac = c.jac(0.0, Y, P, U)
    assert rhs.shape == (9, c.n_states)
    assert jac.shape == (9, c.n_states, c.n_states)
    for i in range(9):
        np.testing.assert_allclose(rhs[i], c.rhs_one(0.0, Y[i], P[i], U[i]), rtol=1e-13,
                                   atol=1e-300)
        np.testing.assert_allclose(jac[i], c.jac_one(0.0, Y[i], P[i], U[i]), rtol=1e-13,
                                   atol=1e-300)


# --------------------------------------------------------------------------- Jacobian


STEP = 1e-4  # relative step of the central differences


def fd_jacobian(c: CompiledModel, y: Arr, p: Arr, u: Arr) -> Arr:
    """Central differences of rhs_one."""
    n = len(y)
    J = np.zeros((n, n))
    for j in range(n):
        h = STEP * max(1.0, abs(y[j]))
        yp, ym = y.copy(), y.copy()
        yp[j] += h
        ym[j] -= h
        J[:, j] = (c.rhs_one(0.0, yp, p, u) - c.rhs_one(0.0, ym, p, u)) / (yp[j] - ym[j])
    return J


def assert_jacobian_close(J: Arr, fd: Arr, f: Arr, y: Arr) -> None:
    """Relative 1e-5, with an absolute floor of 100x the round-off of the difference
    quotients: eps * F_i / h_j, where F_i = |f_i| + sum_j |J_ij| max(1, |y_j|) bounds the
    size of the terms of row i (exact for linear terms; for an exp term its derivative
    with respect to its log is the term itself)."""
    scale = np.maximum(1.0, np.abs(y))
    F = np.abs(f) + (np.abs(fd) * scale[None, :]).sum(axis=1)
    floor = 100 * np.finfo(float).eps * F[:, None] / (STEP * scale[None, :])
    bad = np.abs(J - fd) > 1e-5 * np.abs(fd) + floor
    assert not bad.any(), f"analytic\n{J}\nfinite differences\n{fd}"


@pytest.mark.parametrize("name", MODELS)
def test_analytic_jacobian_matches_finite_differences(name: str) -> None:
    c = compile_model(get(name))
    rng = np.random.default_rng(3)
    pts = [random_point(c, rng) for _ in range(10)]
    Y = np.array([c.to_internal(x) for x, _, _ in pts])
    P = np.array([p for _, p, _ in pts])
    U = np.array([u for _, _, u in pts])
    batched = c.jac(0.0, Y, P, U)
    for i in range(len(pts)):
        fd = fd_jacobian(c, Y[i], P[i], U[i])
        f = c.rhs_one(0.0, Y[i], P[i], U[i])
        assert_jacobian_close(c.jac_one(0.0, Y[i], P[i], U[i]), fd, f, Y[i])
        assert_jacobian_close(batched[i], fd, f, Y[i])


def test_aldesleukin_jacobian_is_the_rate_matrix() -> None:
    m = get_model("aldesleukin_pk")
    c = compile_model(m)
    p = np.array(list(m.default_params.values()))
    V1, k10, k12, k21, F_sc, ka_sc, k_it = p
    expected = np.array([
        [-(k10 + k12), k21, ka_sc, k_it],
        [k12, -k21, 0.0, 0.0],
        [0.0, 0.0, -ka_sc, 0.0],
        [0.0, 0.0, 0.0, -k_it],
    ])
    J = c.jac_one(0.0, np.array([1e5, 2e4, 3e3, 10.0]), p, np.zeros(3))
    np.testing.assert_allclose(J, expected, rtol=1e-15, atol=0.0)


# --------------------------------------------------------------------------- inputs and routes


def test_route_without_input_adds_its_rate_to_the_state_derivative() -> None:
    m = get_model("aldesleukin_pk")
    c = compile_model(m)
    p = np.array(list(m.default_params.values()))
    zero = np.zeros(4)
    for k, state in enumerate(("A_c", "A_sc", "A_it")):  # routes iv, sc, it
        u = np.zeros(3)
        u[k] = 1234.5
        expected = np.zeros(4)
        expected[m.state_names.index(state)] = 1234.5  # exactly the rate; F_sc is not applied
        np.testing.assert_array_equal(c.rhs_one(0.0, zero, p, u), expected)
    # away from zero: the iv rate adds to dA_c/dt only
    y = np.array([5e4, 1e4, 2e3, 7.0])
    u = np.array([777.0, 0.0, 0.0])
    diff = c.rhs_one(0.0, y, p, u) - c.rhs_one(0.0, y, p, np.zeros(3))
    np.testing.assert_allclose(diff, [777.0, 0.0, 0.0, 0.0], rtol=1e-12, atol=1e-9)


def test_named_inputs_drive_kp1998_equations() -> None:
    m = get_model("kp1998")
    c = compile_model(m)
    p = np.array(list(m.default_params.values()))
    E, T, IL = 3e3, 2e5, 40.0
    y = np.log([E, T, IL])
    base = c.rhs_one(0.0, y, p, np.zeros(2))
    with_s1 = c.rhs_one(0.0, y, p, np.array([600.0, 0.0]))
    with_s2 = c.rhs_one(0.0, y, p, np.array([0.0, 8000.0]))
    np.testing.assert_allclose(with_s1 - base, [600.0 / E, 0.0, 0.0], rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(with_s2 - base, [0.0, 0.0, 8000.0 / IL], rtol=1e-10, atol=1e-14)
    # routes cells and il2 drive exactly those inputs
    assert c.input_names[c.route_input["cells"]] == "s1"
    assert c.input_names[c.route_input["il2"]] == "s2"


def test_handmade_routes() -> None:
    c = compile_model(handmade())
    p = np.array([0.7, 3.0, 100.0, 0.2, 0.3])
    X, Y = 4.0, 0.5
    y = np.array([math.log(X), Y])
    base = c.rhs_one(0.0, y, p, np.zeros(2))
    d_in = c.rhs_one(0.0, y, p, np.array([2.0, 0.0])) - base
    d_bolus = c.rhs_one(0.0, y, p, np.array([0.0, 0.25])) - base
    np.testing.assert_allclose(d_in, [2.0 / X, 0.0], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(d_bolus, [0.0, 0.25], rtol=1e-12, atol=1e-15)


# --------------------------------------------------------------------------- observables


def test_observables() -> None:
    m = get_model("aldesleukin_pk")
    c = compile_model(m)
    p = np.array(list(m.default_params.values()))
    x = np.array([[2.66e5, 0.0, 0.0, 0.0], [1.33e5, 1.0, 1.0, 1.0]])
    obs = c.observe(0.0, x, np.tile(p, (2, 1)), np.zeros((2, 3)))
    # C = A_c/(1000 V1) IU/mL; 1 IU/mL = 3.994 pM; CL = 1000 k10 V1 mL/min
    np.testing.assert_allclose(obs[:, 0], [100.0, 50.0], rtol=1e-14)
    np.testing.assert_allclose(obs[:, 1], [399.4, 199.7], rtol=1e-14)
    np.testing.assert_allclose(obs[:, 2], [1000 * 0.0451 * 2.66] * 2, rtol=1e-14)
    hm = compile_model(handmade())
    occ = hm.observe(0.0, np.array([[6.0, 0.5]]), np.array([[0.7, 3.0, 100.0, 0.2, 0.3]]),
                     np.zeros((1, 2)))
    assert occ[0, 0] == pytest.approx(6.0 / 9.0 * 0.5, rel=1e-14)


# --------------------------------------------------------------------------- extreme states


def test_kp1998_no_overflow_at_tiny_states() -> None:
    """States around 1e-350 (log -800): exponentials are merged, so no inf*0 or inf/inf."""
    m = get_model("kp1998")
    c = compile_model(m)
    p = np.array(list(m.default_params.values()))
    c_, mu2, p1, g1, r2, b, a, g2, p2, g3, mu3 = p
    rng = np.random.default_rng(5)
    Y = rng.uniform(-810.0, -790.0, (8, 3))
    U = np.zeros((8, 2))
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        batched = c.rhs(0.0, Y, np.tile(p, (8, 1)), U)
        jac = c.jac(0.0, Y, np.tile(p, (8, 1)), U)
    assert np.all(np.isfinite(batched)) and np.all(np.isfinite(jac))
    for i, (yE, yT, yIL) in enumerate(Y):
        one = c.rhs_one(0.0, Y[i], p, U[i])
        assert np.all(np.isfinite(one))
        assert np.all(np.isfinite(c.jac_one(0.0, Y[i], p, U[i])))
        # The natural form divided by x, written with merged exponents by hand.
        expected = [
            c_ * math.exp(yT - yE) - mu2 + p1 * math.exp(yIL) / (g1 + math.exp(yIL)),
            r2 * (1 - b * math.exp(yT)) - a * math.exp(yE) / (g2 + math.exp(yT)),
            p2 * math.exp(yE + yT - yIL) / (g3 + math.exp(yT)) - mu3,
        ]
        np.testing.assert_allclose(one, expected, rtol=1e-12)
        np.testing.assert_allclose(batched[i], expected, rtol=1e-12)
    # and the growth terms dominate as expected: dlogT/dt = r2, dlogIL/dt = -mu3
    np.testing.assert_allclose(batched[:, 1], r2, rtol=1e-12)
    np.testing.assert_allclose(batched[:, 2], -mu3, rtol=1e-12)


def test_compiled_source_is_cached_on_disk(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """A new process (here: a new model object) reuses the generated source."""
    from il2sim.model import compile as compile_module
    from il2sim.model.library.kp1998 import kp1998

    monkeypatch.setenv("IL2SIM_CACHE", str(tmp_path))
    first = compile_model(kp1998())
    files = list((tmp_path / "python").glob("kp1998-*.json"))
    assert len(files) == 1
    again = compile_module._load(kp1998())
    assert again is not None and again.source == first.source
    y = np.log(np.array([[1.0, 1e5, 1.0]]))
    p = np.array([[q.value for q in kp1998().params]])
    u = np.zeros((1, 2))
    np.testing.assert_array_equal(again.rhs(0.0, y, p, u), first.rhs(0.0, y, p, u))
    # a changed model has another fingerprint and is compiled anew
    base = kp1998()
    changed = Model(base.name, base.title, base.citation, base.time_unit, base.states,
                    base.params, {**base.equations, "IL": "-mu3*IL + s2"}, base.inputs,
                    base.intermediates, base.observables, base.routes)
    assert compile_module._load(changed) is None
