"""The JAX/diffrax backend (optional) against exact solutions and SciPy.

- the exact-solution checks of ``test_exact.py`` (bolus decay, infusion steady state,
  superposition, Bateman depot, log-state jumps, convergence, per-kg/m2 doses, batches,
  failures) rerun with ``backend="jax"``;
- the generated JAX right-hand side equals the compiled Python one on every library model
  and on a model using every function an equation may contain;
- agreement with the SciPy reference (rtol 1e-6 on reported outputs, both at tight
  tolerances) on every library model untreated, on KP98 over 1000 days across the
  antigenicity range, and on ``il2_qsp`` under the label course for 60 days (the same
  cases and tolerances as ``test_native_backend.py``);
- failed patients recorded with a reason (step size underflow, too many steps); a
  segment at rounding level; float64 without touching JAX's global setting; one
  compilation per shape; a clear error when JAX is not installed.

JIT compilation costs seconds per model, solver and shape bucket: the fast tests share the
few compilations of the exact-solution checks; every case that needs another is marked slow.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import test_exact
from one_compartment import KA, F, K, V, one_compartment
from test_native_backend import EXACT_CHECKS, _assert_agree, _name

from il2sim import (
    Bolus,
    EngineError,
    Model,
    Param,
    Regimen,
    Schedule,
    State,
    compile_model,
    get_model,
    list_models,
    presets,
    simulate,
)
from il2sim.engine import BACKENDS
from il2sim.engine.jax_backend import SOLVERS, JaxBackend, jax_rhs  # imports no JAX

KP = get_model("kp1998")
jaxsim = partial(simulate, backend="jax")


@pytest.fixture
def diffrax() -> object:
    """Skips the test when the optional JAX extra is not installed."""
    return pytest.importorskip("diffrax")


needs_jax = pytest.mark.usefixtures("diffrax")


@needs_jax
@pytest.mark.parametrize("check", EXACT_CHECKS, ids=_name)
def test_exact_solutions_hold_with_the_jax_backend(
        check: Callable[[], None], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(test_exact, "simulate", jaxsim)
    check()


@needs_jax
def test_the_failure_message_says_why() -> None:
    r = jaxsim(test_exact.BLOWUP, None, params={"q": [0.01, 1.0]}, times=[0.0, 5.0])
    assert list(r.status) == ["ok", "failed"]
    assert "step size underflow between t=0 and t=5" in r.message[1]
    assert r["x"][0, -1] == pytest.approx(1 / (1 - 0.05), rel=1e-5)  # exact: 1/(1 - q t)


@needs_jax
@pytest.mark.slow
def test_too_many_steps_fails_the_patient_with_a_message() -> None:
    cm = compile_model(KP)
    y = cm.to_internal(np.array([[1.0, 1e5, 1.0]] * 2))
    p = np.tile([q.value for q in KP.params], (2, 1))
    p[1, 0] = 0.02
    u, t_eval = np.zeros((2, 2)), np.array([0.0, 500.0])
    seg = JaxBackend().integrate(cm, 0.0, 1000.0, y, p, u, t_eval, rtol=1e-6, atol=1e-6)
    assert seg.ok.all()
    seg = JaxBackend(max_steps=20).integrate(cm, 0.0, 1000.0, y, p, u, t_eval, rtol=1e-6,
                                             atol=1e-6)
    assert not seg.ok.any()
    assert "more than 20 steps between t=0 and t=1000" in seg.message[0]
    assert np.isnan(seg.y_end).all() and np.isnan(seg.y_eval).all()


@needs_jax
def test_a_segment_at_rounding_level_is_not_a_failure() -> None:
    """Two breakpoints a rounding error apart give a segment no step size can resolve."""
    cm = compile_model(KP)
    y = cm.to_internal(np.array([[1.0, 1e5, 1.0]]))
    p = np.array([[q.value for q in KP.params]])
    t0 = 1000.0
    seg = JaxBackend().integrate(cm, t0, np.nextafter(t0, 2000.0), y, p, np.zeros((1, 2)),
                                 np.array([t0]), rtol=1e-6, atol=1e-6)
    assert seg.ok.all()
    np.testing.assert_allclose(seg.y_end, y, rtol=1e-12, atol=1e-9)
    np.testing.assert_array_equal(seg.y_eval[:, 0], y)


EVERY_FUNCTION = Model(
    name="every_function", title="every function an equation may use", citation="test",
    time_unit="h",
    states=(State("a", 1.0, "1", "linear"), State("b", 2.0, "1", "log state", log=True),
            State("c", 0.5, "1", "linear")),
    params=(Param("k", 0.3, "1/h", "rate", "test"),),
    equations={
        "a": "k*Max(a, b, 1) - Min(a, c) + Abs(a - 1) + sqrt(b) + tanh(c) + log(b)"
             " + pi*Heaviside(k - 0.2)",
        "b": "k*b*exp(-a) + Piecewise((a, a > 1), (c, c < 0.7), (0, True)) + sin(a) + cos(b)"
             " + tan(c/4)",
        "c": "-k*c + asin(c/2) + acos(c/3) + atan(a) + floor(3*a) + ceiling(b) + sin(t)",
    },
)


@needs_jax
@pytest.mark.parametrize("name", [*(m.name for m in list_models()), "every_function"])
def test_generated_jax_equals_the_compiled_python(name: str) -> None:
    import jax

    model = EVERY_FUNCTION if name == "every_function" else get_model(name)
    cm = compile_model(model)
    rhs = jax.jit(jax_rhs(model))
    rng = np.random.default_rng(7)
    n, npar, nin = len(model.states), len(model.params), len(cm.input_names)
    x0 = np.array([s.initial for s in model.states])
    p0 = np.array([q.value for q in model.params])
    with jax.enable_x64(True):
        for _ in range(5):
            x = np.abs(x0 * rng.lognormal(0.0, 0.5, n)) + rng.uniform(0.1, 2.0, n)
            if model is EVERY_FUNCTION:  # inside the domains of asin, acos, log
                x = rng.uniform(0.1, 1.8, n)
            y = cm.to_internal(x)
            p = p0 * rng.lognormal(0.0, 0.1, npar)
            u = rng.uniform(0.0, 1.0, nin)
            f = np.asarray(rhs(0.5, y, p, u))
            assert f.dtype == np.float64
            np.testing.assert_allclose(f, cm.rhs_one(0.5, y, p, u), rtol=1e-12, atol=1e-300)


@needs_jax
@pytest.mark.slow
@pytest.mark.parametrize("name", [m.name for m in list_models() if m.name != "il2_qsp"])
def test_agrees_with_scipy_on_every_library_model_untreated(name: str) -> None:
    """(``il2_qsp`` is compared under the label course below: one JIT compile, not two.)"""
    model = get_model(name)
    times = np.linspace(0, 100, 101)
    tight = {"rtol": 1e-10, "atol": 1e-12}
    _assert_agree(jaxsim(model, None, times=times, **tight),
                  simulate(model, None, times=times, **tight), atol=1e-12)


@needs_jax
@pytest.mark.slow
@pytest.mark.parametrize("step_to_outputs", [False, True])
def test_agrees_with_scipy_on_kp1998_over_1000_days(step_to_outputs: bool) -> None:
    cs = [0.005, 0.01, 0.02, 0.035, 0.05]
    times = np.linspace(0, 1000, 201)
    tight = {"rtol": 1e-12, "atol": 1e-12}
    backend = JaxBackend(step_to_outputs=step_to_outputs)
    BACKENDS["jax-test-kp"] = lambda method="LSODA": backend
    try:
        a = simulate(KP, None, params={"c": cs}, times=times, backend="jax-test-kp", **tight)
    finally:
        del BACKENDS["jax-test-kp"]
    b = simulate(KP, None, params={"c": cs}, times=times, **tight)
    _assert_agree(a, b, atol=1e-12)
    assert a["T"][0].min() < 1e-30  # the deep crash regime is in the comparison


@needs_jax
@pytest.mark.slow
def test_agrees_with_scipy_on_il2_qsp_under_the_label_course() -> None:
    """The first day of the label course (3 doses, 8 h apart) and half a day after it."""
    qsp = get_model("il2_qsp")
    hours = np.arange(0.0, 36 + 1, 1.0)
    args = {"times": hours, "covariates": {"weight": 70.0}}
    a = jaxsim(qsp, presets.label_high_dose(), rtol=1e-10, atol=1e-12, **args)
    b = simulate(qsp, presets.label_high_dose(), rtol=1e-11, atol=1e-13, **args)
    _assert_agree(a, b, atol=1e-12)
    assert len(a.dose_log) == 5  # doses at 0, 8, 16, 24 and 32 h


@needs_jax
def test_a_patient_does_not_depend_on_its_batch() -> None:
    """Batch padding and vectorisation leave each patient's solution as computed alone."""
    ks = [0.05, 0.1, 0.2]
    regimen = Regimen.of(Bolus("100 IU"), Schedule(at=["0 h"]))
    alone = jaxsim(one_compartment(), regimen, params={"k": ks[1:2]}, times=[0.0, 30.0])
    batch = jaxsim(one_compartment(), regimen, params={"k": ks}, times=[0.0, 30.0])
    np.testing.assert_allclose(alone.states[0], batch.states[1], rtol=1e-12)


@needs_jax
def test_a_per_state_atol_is_used() -> None:
    """A loose atol on the depot only: the central amount stays accurate (exact Bateman);
    a per-state atol equal to a scalar one gives the same numbers."""
    regimen = Regimen.of(Bolus("1000 IU", route="sc"), Schedule(at=["0 h"]))
    times = np.linspace(0.0, 48.0, 49)
    loose = jaxsim(one_compartment(), regimen, times=times, rtol=1e-10,
                   atol={"A": 1e-12, "A_d": 1e-1})
    exact = F * 1000 * KA / (V * (KA - K)) * (np.exp(-K * times) - np.exp(-KA * times))
    np.testing.assert_allclose(loose["C"][0], exact, rtol=1e-6, atol=1e-6)
    scalar = jaxsim(one_compartment(), regimen, times=times, rtol=1e-8, atol=1e-8)
    vector = jaxsim(one_compartment(), regimen, times=times, rtol=1e-8,
                    atol={"A": 1e-8, "A_d": 1e-8})
    assert np.array_equal(scalar.states, vector.states)


@needs_jax
def test_one_compilation_per_shape_and_float64_without_the_global_flag() -> None:
    """New doses, tolerances and segment times reuse the compiled solve; il2sim computes in
    float64 inside ``jax.enable_x64`` and leaves JAX's global setting as it was."""
    import jax

    backend = JaxBackend()
    BACKENDS["jax-test-stats"] = lambda method="LSODA": backend
    flag = jax.config.jax_enable_x64
    try:
        model = one_compartment()
        times = np.linspace(0.0, 48.0, 13)
        for amount, tol in (("100 IU", 1e-8), ("300 IU", 1e-10)):
            r = simulate(model, Regimen.of(Bolus(amount), Schedule(at=["0 h", "12 h"])),
                         times=times, backend="jax-test-stats", rtol=tol, atol=tol)
            d = float(amount.split()[0])
            exact = d * (np.exp(-K * times) + np.where(times >= 12, np.exp(-K * (times - 12)),
                                                       0.0))
            # 1e-9 at rtol 1e-10 (measured 2.5e-10): out of reach in float32 (eps 1.2e-7)
            np.testing.assert_allclose(r["A"][0], exact, rtol=100 * tol)
    finally:
        del BACKENDS["jax-test-stats"]
    stats = backend.stats
    assert stats.calls == 4 and stats.compiles <= 1
    assert jax.config.jax_enable_x64 == flag


@needs_jax
def test_method_names_are_accepted_or_a_clear_error() -> None:
    assert SOLVERS["LSODA"] == SOLVERS["BDF"] == SOLVERS["Radau"] == "Kvaerno5"
    assert SOLVERS["RK45"] == "Dopri5"
    assert JaxBackend(method="Kvaerno3").name == "jax"
    with pytest.raises(EngineError, match="unknown method 'euler' for the jax backend"):
        JaxBackend(method="euler")
    with pytest.raises(EngineError, match="max_steps must be a positive integer"):
        JaxBackend(max_steps=0)


@needs_jax
@pytest.mark.slow
@pytest.mark.parametrize("method", ["RK45", "Kvaerno3"])
def test_other_methods_give_the_exact_bolus(method: str) -> None:
    backend = JaxBackend(method=method)
    BACKENDS["jax-test-method"] = lambda method="LSODA": backend
    try:
        r = simulate(one_compartment(), Regimen.of(Bolus("1000 IU"), Schedule(at=["0 h"])),
                     times=[10.0], backend="jax-test-method", rtol=1e-10, atol=1e-12)
    finally:
        del BACKENDS["jax-test-method"]
    assert r["A"][0, 0] == pytest.approx(1000 * math.exp(-1.0), rel=1e-8)


def test_without_jax_the_error_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "diffrax", None)  # import diffrax now fails
    with pytest.raises(EngineError, match=r"pip install 'il2sim\[jax\]'"):
        jaxsim(one_compartment(), None, times=[0.0, 1.0])
    assert simulate(one_compartment(), None, times=[0.0, 1.0]).status[0] == "ok"


@needs_jax
@pytest.mark.slow
def test_the_benchmark_peer_measures_w1(monkeypatch: pytest.MonkeyPatch) -> None:
    """``benchmarks/jax_peer.py``: the W1 row for ``run.py``, on a few patients."""
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[2] / "benchmarks"))
    from jax_peer import w1_jax_row

    cs = np.array([0.03, 0.04, 0.045])
    times = np.linspace(0.0, 1000.0, 11)
    ref = simulate(KP, None, params={"c": cs}, times=times, backend="native", rtol=1e-12,
                   atol=1e-12).states
    row = w1_jax_row(cs, times, 1e-6, ref)
    assert row is not None and row["failed"] == 0 and row["n_total"] == 3
    assert 0 < row["max_rel_err"] < 1e-2 and len(row["timing"]) == 2
    assert "jax" in BACKENDS and not any(k.startswith("jax-bench") for k in BACKENDS)
