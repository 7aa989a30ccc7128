"""The native backend's integrators (Rodas5P, Rodas4), sparse LU and step carrying.

- both methods pass the exact-solution checks and agree with each other on KP98 through
  its deep tumour crashes;
- the pivot plan of :mod:`il2sim.engine.sparse_lu` factorises exactly (numpy LU of the
  permuted matrix has the same fill), the generated C solves ``W x = b`` as numpy does on
  ``il2_qsp``'s Jacobian pattern, and a matrix whose fixed pivots fail the threshold test is
  solved by the dense LU instead;
- carrying the step size over doses changes no result beyond the tolerance, and the first
  step of a segment is never a false "underflow" (an infusion into an empty central
  compartment while other states are large: found in the W2 benchmark at rtol 3e-6).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
import pytest
import test_exact
from test_native_backend import EXACT_CHECKS, _name

from il2sim import EngineError, compile_model, get_model, list_models, presets, simulate
from il2sim.engine.native_backend import NativeBackend, jacobian_pattern, load_library
from il2sim.engine.native_rodas import (
    METHODS,
    RODAS4,
    RODAS5P,
    RosenbrockMethod,
    integrator_c,
)
from il2sim.engine.sparse_lu import plan, sparse_lu_c

KP = get_model("kp1998")
QSP = get_model("il2_qsp")


@pytest.mark.parametrize("method", list(METHODS))
@pytest.mark.parametrize("check", EXACT_CHECKS, ids=_name)
def test_exact_solutions_hold_with_each_method(check: Callable[[], None], method: str,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(test_exact, "simulate",
                        partial(simulate, backend="native", method=method))
    check()


@pytest.mark.parametrize("m", [RODAS4, RODAS5P], ids=lambda m: m.name)
def test_the_tableaus_have_their_order_on_linear_problems(m: RosenbrockMethod) -> None:
    """A transcription check of the coefficients: on y' = lam*y one step of the transformed
    form gives y_new = R(z) y with z = h*lam, and R(z) - exp(z) = O(z^(p+1)) for a method
    of order p (the embedded solution y_new - k_s: order p - 1); R(-inf) = 0 (L-stable).
    (On linear problems Rodas5P is even of order 6, so only a lower bound is checked.)"""
    s = m.stages

    def step(z: float) -> tuple[float, float]:
        # (1/gamma - z) k_i = z (1 + sum a_ij k_j) + sum C_ij k_j, in units of y = 1
        k = np.zeros(s)
        for i in range(s):
            rhs = z * (1.0 + sum(m.a[i][j] * k[j] for j in range(i))) \
                + sum(m.c_mat[i][j] * k[j] for j in range(i))
            k[i] = rhs / (1.0 / m.gamma - z)
        new = 1.0 + float(sum(m.b[j] * k[j] for j in range(s)))
        return new, new - float(k[-1])

    order = m.err_order + 1
    # halving z divides the error by at least 2^(p+1) (embedded: 2^p); z large enough
    # that the errors are far above rounding
    (n1, e1), (n2, e2) = step(-0.2), step(-0.1)
    x1, x2 = np.exp(-0.2), np.exp(-0.1)
    assert abs(n1 - x1) / abs(n2 - x2) > 0.7 * 2 ** (order + 1)
    assert abs(e1 - x1) / abs(e2 - x2) > 0.7 * 2 ** order
    assert abs(n2 - x2) < 1e-8 and abs(e2 - x2) < 1e-6
    assert abs(step(-1e9)[0]) < 1e-6


def test_the_methods_agree_through_kp1998_crashes() -> None:
    cs = [0.005, 0.02, 0.035, 0.05]
    times = np.linspace(0, 1000, 201)
    runs = [simulate(KP, None, params={"c": cs}, times=times, backend="native", method=m,
                     rtol=1e-12, atol=1e-12) for m in METHODS]
    assert runs[0]["T"][0].min() < 1e-30  # c = 0.005: the deep crash regime
    np.testing.assert_allclose(runs[0].states, runs[1].states, rtol=1e-7, atol=0)


def test_the_default_native_method_is_rodas5p_and_others_are_refused() -> None:
    assert NativeBackend().integrator == "Rodas5P"
    assert NativeBackend(method="LSODA").integrator == "Rodas5P"
    assert NativeBackend(method="Rodas4").integrator == "Rodas4"
    with pytest.raises(EngineError, match="with backend='native', Rodas4, Rodas5P"):
        simulate(KP, None, times=[0.0, 1.0], method="Rodas5P")  # SciPy backend
    with pytest.raises(EngineError, match="unknown native integrator 'Euler'"):
        load_library(KP, "Euler")
    assert "Rodas5P integrator" in integrator_c("Rodas5P")


def test_the_pivot_plan_reproduces_a_dense_lu() -> None:
    """Elimination in the plan's order on a matrix with the pattern fills only where the
    plan says, and its factors multiply back to the permuted matrix."""
    pattern = jacobian_pattern(QSP)
    pl = plan(pattern)
    n = len(pl.order)
    assert sorted(pl.order) == list(range(n))
    rng = np.random.default_rng(11)
    w = np.where(pattern, rng.normal(size=(n, n)), 0.0) + np.diag(rng.uniform(20, 30, n))
    perm = np.array(pl.order)
    a = w[np.ix_(perm, perm)].copy()
    for k in range(n):  # unpivoted LU of the permuted matrix
        a[k + 1:, k] /= a[k, k]
        a[k + 1:, k + 1:] -= np.outer(a[k + 1:, k], a[k, k + 1:])
    nonzero = np.abs(a) > 1e-14 * np.abs(a).max()
    assert not (nonzero & ~pl.filled[np.ix_(perm, perm)]).any()
    lower = np.tril(a, -1) + np.eye(n)
    upper = np.triu(a)
    np.testing.assert_allclose(lower @ upper, w[np.ix_(perm, perm)], rtol=1e-12, atol=1e-12)
    assert 10 * pl.flops < pl.dense_flops  # il2_qsp: 82 multiply-adds against 3542


def test_the_generated_sparse_solve_matches_numpy_and_falls_back_when_unsafe() -> None:
    lib = load_library(QSP)
    pattern = jacobian_pattern(QSP)
    n = pattern.shape[0]
    rng = np.random.default_rng(5)
    for scale in (1e-3, 1e-1, 1.0, 1e3):  # the diagonal 1/(h*gamma): small to large steps
        w = np.where(pattern, rng.normal(size=(n, n)), 0.0)
        w[np.diag_indices(n)] += rng.uniform(1, 2, n) / scale
        b = rng.normal(size=n)
        x, used = lib.linear_solve(w, b)
        if scale <= 0.1:  # diagonally dominant: the fixed pivots pass the test
            assert used == "sparse"
        np.testing.assert_allclose(w @ x, b, rtol=1e-10, atol=1e-10 * np.abs(b).max())
        np.testing.assert_allclose(x, np.linalg.solve(w, b), rtol=1e-9, atol=1e-12)
    # a pivot made tiny against its row and the entries below it: dense LU instead (a pivot
    # whose row has nothing right of it adds nothing to other rows and is always safe)
    pl = plan(pattern)
    k = next(k for k in pl.order if pl.below[k] and pl.right[k])
    w = np.where(pattern, 1.0, 0.0) + np.eye(n)
    w[k, k] = 1e-9
    b = rng.normal(size=n)
    x, used = lib.linear_solve(w, b)
    assert used == "dense"
    np.testing.assert_allclose(x, np.linalg.solve(w, b), rtol=1e-8)
    assert lib.linear_solve(np.zeros((n, n)), b)[1] == "singular"


def test_small_or_dense_patterns_keep_the_dense_lu() -> None:
    assert "#define IL2_SPARSE_LU 0" in sparse_lu_c(jacobian_pattern(KP))  # 3 x 3
    assert "#define IL2_SPARSE_LU 0" in sparse_lu_c(np.ones((8, 8), dtype=bool))
    assert "#define IL2_SPARSE_LU 1" in sparse_lu_c(jacobian_pattern(QSP))


@pytest.mark.parametrize("name", [m.name for m in list_models()])
def test_every_library_model_agrees_between_methods(name: str) -> None:
    model = get_model(name)
    times = np.linspace(0, 100, 51)
    runs = [simulate(model, None, times=times, backend="native", method=m, rtol=1e-10,
                     atol=1e-12) for m in METHODS]
    for x, y in ((runs[0].states, runs[1].states), (runs[0].observables, runs[1].observables)):
        scale = np.abs(y).max(axis=(0, 1), keepdims=True)
        assert (np.abs(x - y) <= 1e-6 * np.abs(y) + 1e-9 * scale + 1e-12).all()


def test_carrying_the_step_over_doses_keeps_the_result() -> None:
    """The loop starts each segment with the last step size (native backend); the same
    label course integrated with a fresh first-step estimate per segment (plain
    ``integrate``) agrees to the tolerance."""
    hours = np.arange(0.0, 25 * 24 + 1, 2.0)
    args = {"times": hours, "covariates": {"weight": [60.0, 80.0]}}
    carried = simulate(QSP, presets.label_high_dose(), backend="native", rtol=1e-9,
                       atol=1e-11, **args)

    class Fresh:  # no integrate_from: the loop calls integrate
        name = "native"

        def __init__(self) -> None:
            self.inner = NativeBackend()

        def integrate(self, *args: Any, **kwargs: Any) -> Any:
            return self.inner.integrate(*args, **kwargs)

    from il2sim.engine import BACKENDS
    BACKENDS["native-fresh-test"] = lambda method="LSODA": Fresh()
    try:
        fresh = simulate(QSP, presets.label_high_dose(), backend="native-fresh-test",
                         rtol=1e-9, atol=1e-11, **args)
    finally:
        del BACKENDS["native-fresh-test"]
    assert list(carried.status) == list(fresh.status) == ["ok", "ok"]
    scale = np.abs(fresh.states).max(axis=(0, 1), keepdims=True)
    # the vasopressor state's right-hand side has a kink at the pressure supportive care
    # defends (Max(0, map_rescue - MAP)); through a kink a Rosenbrock method's error estimate
    # loses its order, so two step sequences agree there to 1e-5 (measured 1.3e-6), the
    # smooth states to 1e-6
    rel = np.where(np.array(QSP.state_names) == "Pr", 1e-5, 1e-6)
    assert (np.abs(carried.states - fresh.states)
            <= rel * np.abs(fresh.states) + 1e-9 * scale + 1e-10).all()


def test_an_infusion_into_an_empty_compartment_is_not_an_underflow() -> None:
    """At a loose rtol the first-step estimate for an infusion into a central compartment at
    0 (other states large) was below the rounding level of t = 336 h: every patient failed
    with "step size underflow" at the second cycle. It now starts at the floor and grows."""
    cm = compile_model(QSP)
    lib = load_library(QSP)
    x0 = np.array([s.initial for s in QSP.states])
    y = cm.to_internal(x0[None, :])
    y[0, 0] = 0.0  # the central IL-2 amount (linear state)
    p = np.array([[q.value for q in QSP.params]])
    u = np.zeros((1, lib.n_inputs))
    u[0, 0] = 2.15e8  # IU/h: 600,000 IU/kg over 15 min for a 90 kg patient
    for first in (0.0, 1e-3):
        seg = NativeBackend().integrate_from(cm, 336.0, 336.25, y, p, u, np.array([336.1]),
                                             np.array([first]), rtol=3e-6, atol=1e-10)
        assert seg.ok.all(), seg.message
        assert seg.next_step is not None and seg.next_step[0] > 0
        assert 0.5 * 2.15e8 * 0.25 < seg.y_end[0, 0] < 2.15e8 * 0.25  # infused, some cleared


@pytest.mark.parametrize("name", [m.name for m in list_models()])
def test_observables_in_c_equal_the_compiled_python(name: str) -> None:
    """``simulate`` computes a native result's observables in C (``il2_observe``): the same
    values as ``CompiledModel.observe`` at random points, per-patient parameters and inputs
    (0 and positive), and the same through ``simulate``."""
    model = get_model(name)
    cm = compile_model(model)
    lib = load_library(model)
    rng = np.random.default_rng(3)
    n, nt = 4, 5
    x0 = np.array([s.initial for s in model.states])
    x = np.abs(x0 * rng.lognormal(0.0, 0.5, (n, nt, len(x0)))) + rng.uniform(0.1, 2.0,
                                                                             (n, nt, len(x0)))
    p = np.array([q.value for q in model.params]) * rng.lognormal(0.0, 0.1,
                                                                  (n, len(model.params)))
    u = rng.uniform(0.0, 1.0, (n, nt, len(cm.input_names)))
    u[:, ::2] = 0.0
    t = np.linspace(0.0, 4.0, nt)
    fast = lib.observe(t, x, p, u, threads=2)
    slow = cm.observe(np.tile(t, n), x.reshape(n * nt, -1), np.repeat(p, nt, axis=0),
                      u.reshape(n * nt, -1)).reshape(n, nt, -1)
    np.testing.assert_allclose(fast, slow, rtol=1e-12, atol=1e-300)
    times = np.linspace(0, 20, 5)
    native = simulate(model, None, times=times, backend="native")
    in_python = cm.observe(np.tile(times, 1), native.states.reshape(len(times), -1),
                           np.repeat(native.params.to_numpy(float), len(times), axis=0),
                           np.zeros((len(times), len(cm.input_names))))
    np.testing.assert_allclose(native.observables[0], in_python, rtol=1e-12, atol=1e-300)
