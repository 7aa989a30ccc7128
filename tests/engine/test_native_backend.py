"""The native backend (generated C, Rodas5P, threads) against exact solutions and SciPy.

- the exact-solution checks of ``test_exact.py`` (bolus decay, infusion steady state,
  superposition, Bateman depot, log-state jumps, convergence, failures) rerun with
  ``backend="native"``;
- the generated C right-hand side and Jacobian equal the compiled Python ones on every
  library model;
- agreement with the SciPy reference (rtol 1e-6 on reported outputs, both at tight
  tolerances) on every library model untreated, on KP98 over 1000 days across the
  antigenicity range, and on ``il2_qsp`` under the label course for 60 days;
- failed patients recorded; a batch result identical whatever the number of threads;
  safe in a process forked after use; a clear error without a C compiler.

Libraries are cached on disk (``IL2SIM_CACHE`` or the XDG cache), so only a first run
pays for code generation and gcc.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import subprocess
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import test_exact
from numpy.typing import NDArray
from one_compartment import KA, F, K, V, one_compartment

from il2sim import (
    Bolus,
    EngineError,
    Regimen,
    Schedule,
    SimulationResult,
    compile_model,
    get_model,
    list_models,
    presets,
    simulate,
)
from il2sim.engine import native_backend
from il2sim.engine.native_backend import NativeBackend, NativeBuildError, load_library

KP = get_model("kp1998")
native = partial(simulate, backend="native")

EXACT_CHECKS: list[Callable[[], None]] = [
    test_exact.test_bolus_decay_is_exponential,
    test_exact.test_infusion_reaches_rate_over_clearance_and_decays_after_stop,
    test_exact.test_repeated_boluses_superpose,
    test_exact.test_output_at_a_dose_time_is_after_the_dose,
    test_exact.test_depot_follows_the_bateman_function,
    test_exact.test_log_state_bolus_jumps_exactly,
    test_exact.test_error_falls_as_tolerances_tighten,
    partial(test_exact.test_every_method_gives_the_exact_bolus, "LSODA"),
    test_exact.test_per_kg_doses_scale_with_each_patients_weight,
    test_exact.test_per_m2_doses_use_mosteller_bsa,
    test_exact.test_batch_parameters_give_each_patient_its_own_solution,
    test_exact.test_a_failed_patient_is_recorded_not_dropped,
    test_exact.test_a_single_failed_simulation_raises,
]


def _name(check: Callable[[], None]) -> str:
    return getattr(check, "__name__", None) or check.func.__name__  # type: ignore[attr-defined]


@pytest.mark.parametrize("check", EXACT_CHECKS, ids=_name)
def test_exact_solutions_hold_with_the_native_backend(
        check: Callable[[], None], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(test_exact, "simulate", native)
    check()


def test_the_failure_message_says_why() -> None:
    r = native(test_exact.BLOWUP, None, params={"q": [0.01, 1.0]}, times=[0.0, 5.0])
    assert list(r.status) == ["ok", "failed"]
    assert "step size underflow at t=1" in r.message[1]


def test_too_many_steps_fails_the_patient_with_a_message() -> None:
    cm = compile_model(KP)
    y = cm.to_internal(np.array([[1.0, 1e5, 1.0]] * 2))
    p = np.tile([q.value for q in KP.params], (2, 1))
    p[1, 0] = 0.02
    u, t_eval = np.zeros((2, 2)), np.array([0.0, 500.0])
    seg = NativeBackend().integrate(cm, 0.0, 1000.0, y, p, u, t_eval, rtol=1e-6, atol=1e-6)
    assert seg.ok.all()
    seg = NativeBackend(max_steps=20).integrate(cm, 0.0, 1000.0, y, p, u, t_eval, rtol=1e-6,
                                                atol=1e-6)
    assert not seg.ok.any()
    assert "more than 20 steps between t=0 and t=1000" in seg.message[0]
    assert np.isnan(seg.y_end).all() and np.isnan(seg.y_eval).all()


def test_a_segment_at_rounding_level_is_not_a_failure() -> None:
    """Two breakpoints a rounding error apart give a segment no step size can resolve."""
    cm = compile_model(KP)
    y = cm.to_internal(np.array([[1.0, 1e5, 1.0]]))
    p = np.array([[q.value for q in KP.params]])
    t0 = 1000.0
    seg = NativeBackend().integrate(cm, t0, np.nextafter(t0, 2000.0), y, p, np.zeros((1, 2)),
                                    np.array([t0]), rtol=1e-6, atol=1e-6)
    assert seg.ok.all()
    np.testing.assert_allclose(seg.y_end, y, rtol=1e-12, atol=1e-9)
    np.testing.assert_array_equal(seg.y_eval[:, 0], y)


@pytest.mark.parametrize("name", [m.name for m in list_models()])
def test_generated_c_equals_the_compiled_python(name: str) -> None:
    model = get_model(name)
    cm = compile_model(model)
    lib = load_library(model)
    rng = np.random.default_rng(7)
    n, npar, nin = len(model.states), len(model.params), len(cm.input_names)
    assert (lib.n_states, lib.n_params, lib.n_inputs) == (n, npar, nin)
    x0 = np.array([s.initial for s in model.states])
    p0 = np.array([q.value for q in model.params])
    for _ in range(5):
        x = np.abs(x0 * rng.lognormal(0.0, 0.5, n)) + rng.uniform(0.1, 2.0, n)
        y = cm.to_internal(x)
        p = p0 * rng.lognormal(0.0, 0.1, npar)
        u = rng.uniform(0.0, 1.0, nin)
        # inputs 0 (the generated code skips u*exp(...) then) and positive
        for uu in (np.zeros(nin), u):
            f, jac = lib.eval(0.5, y, p, uu)
            np.testing.assert_allclose(f, cm.rhs_one(0.5, y, p, uu), rtol=1e-12, atol=1e-300)
            np.testing.assert_allclose(jac, cm.jac_one(0.5, y, p, uu), rtol=1e-12,
                                       atol=1e-300)


def _assert_agree(a: SimulationResult, b: SimulationResult, *, atol: float,
                  rtol: float = 1e-6) -> None:
    """Outputs agree to ``rtol``, with an absolute floor of ``atol`` (the tight runs'
    absolute tolerance) plus 1e-9 of each variable's peak: an amount that decays to 1e-49
    is solver noise below any tolerance in both backends."""
    assert list(a.status) == list(b.status) == ["ok"] * a.n_patients
    for values_a, values_b in ((a.states, b.states), (a.observables, b.observables)):
        scale = np.abs(values_b).max(axis=(0, 1), keepdims=True)
        excess = np.abs(values_a - values_b) - (rtol * np.abs(values_b) + 1e-9 * scale + atol)
        worst = np.unravel_index(np.argmax(excess), excess.shape)
        assert excess.max() <= 0, (worst, values_a[worst], values_b[worst])


@pytest.mark.parametrize("name", [m.name for m in list_models()])
def test_agrees_with_scipy_on_every_library_model_untreated(name: str) -> None:
    model = get_model(name)
    times = np.linspace(0, 100, 101)
    tight = {"rtol": 1e-10, "atol": 1e-12}
    _assert_agree(native(model, None, times=times, **tight),
                  simulate(model, None, times=times, **tight), atol=1e-12)


def test_agrees_with_scipy_on_kp1998_over_1000_days() -> None:
    cs = [0.005, 0.01, 0.02, 0.035, 0.05]
    times = np.linspace(0, 1000, 201)
    tight = {"rtol": 1e-12, "atol": 1e-12}
    a = native(KP, None, params={"c": cs}, times=times, **tight)
    b = simulate(KP, None, params={"c": cs}, times=times, **tight)
    _assert_agree(a, b, atol=1e-12)
    assert a["T"][0].min() < 1e-30  # the deep crash regime is in the comparison


def test_agrees_with_scipy_on_il2_qsp_under_the_label_course() -> None:
    qsp = get_model("il2_qsp")
    hours = np.arange(0.0, 60 * 24 + 1, 1.0)
    args = {"times": hours, "covariates": {"weight": 70.0}}
    a = native(qsp, presets.label_high_dose(), rtol=1e-10, atol=1e-12, **args)
    b = simulate(qsp, presets.label_high_dose(), rtol=1e-11, atol=1e-13, **args)
    _assert_agree(a, b, atol=1e-12)
    assert len(a.dose_log) == 28


@pytest.mark.parametrize(("method", "other"), [("Rodas5P", "Rodas4"), ("Rodas4", "Rodas5P")])
def test_error_falls_with_the_tolerance_on_kp1998(method: str, other: str) -> None:
    """Against the other method at 1e-13 (an independent tableau): the error falls at least
    10x per 100x tolerance and stays within 1e4 x the tolerance over 1000 days (the global
    error of an oscillation that crashes below 1e-30, many local errors long)."""
    cs = [0.02, 0.035]  # deep crashes (T < 1e-30) and damped oscillations
    times = np.linspace(0, 1000, 101)
    ref = native(KP, None, params={"c": cs}, times=times, rtol=1e-13, atol=1e-13,
                 method=other).states
    errors = []
    tols = (1e-5, 1e-7, 1e-9, 1e-11)
    for tol in tols:
        x = native(KP, None, params={"c": cs}, times=times, rtol=tol, atol=tol,
                   method=method).states
        errors.append(float(np.max(np.abs(x / ref - 1))))
    assert all(b < a / 10 for a, b in zip(errors, errors[1:])), errors
    assert all(e < 1e4 * tol for e, tol in zip(errors, tols)), errors


def _kp_batch(n: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    cm = compile_model(KP)
    rng = np.random.default_rng(3)
    p = np.tile([q.value for q in KP.params], (n, 1))
    p[:, 0] = rng.uniform(0.005, 0.05, n)
    return cm.to_internal(np.tile([1.0, 1e5, 1.0], (n, 1))), p


def test_a_batch_is_identical_whatever_the_number_of_threads(
        monkeypatch: pytest.MonkeyPatch) -> None:
    cm = compile_model(KP)
    y, p = _kp_batch(64)
    u = np.zeros((64, 2))
    t_eval = np.linspace(0, 400, 41)[:-1]
    runs = [NativeBackend(threads=k).integrate(cm, 0.0, 400.0, y, p, u, t_eval, rtol=1e-6,
                                               atol=1e-6) for k in (1, 2, 3)]
    for other in runs[1:]:
        assert np.array_equal(runs[0].y_eval, other.y_eval)
        assert np.array_equal(runs[0].y_end, other.y_end)
    # and through simulate, with the thread count from the environment
    results = []
    for k in ("1", "2"):
        monkeypatch.setenv("IL2SIM_THREADS", k)
        results.append(native(KP, None, params={"c": p[:, 0]}, times=t_eval).states)
    assert np.array_equal(results[0], results[1])


def _final_tumour(cs: list[float]) -> float:
    r = native(KP, None, params={"c": cs}, times=[0.0, 200.0])
    return float(r["T"][:, -1].sum())


# JAX, imported by other tests in this process, warns about any fork; the forked workers
# here run native code only
@pytest.mark.filterwarnings("ignore:os.fork\\(\\) was called:RuntimeWarning")
def test_a_process_forked_after_use_still_runs_batches() -> None:
    """Threads live for one call: a forked worker does not inherit a dead thread pool
    (libgomp's did, and such a worker hung)."""
    cs = [0.02, 0.03, 0.04, 0.05]
    expected = _final_tumour(cs)  # threads were used in this process
    with multiprocessing.get_context("fork").Pool(2) as pool:
        results = pool.map_async(_final_tumour, [cs, cs]).get(timeout=120)
    assert results == [expected, expected]


def test_a_patient_does_not_depend_on_its_batch() -> None:
    y, p = _kp_batch(8)
    alone = native(KP, None, params={"c": p[5:6, 0]}, times=[0.0, 300.0])
    batch = native(KP, None, params={"c": p[:, 0]}, times=[0.0, 300.0])
    assert np.array_equal(alone.states[0], batch.states[5])


def test_a_per_state_atol_is_used() -> None:
    """A loose atol on the depot only: the central amount stays accurate (exact Bateman)."""
    regimen = Regimen.of(Bolus("1000 IU", route="sc"), Schedule(at=["0 h"]))
    times = np.linspace(0.0, 48.0, 49)
    loose = native(one_compartment(), regimen, times=times, rtol=1e-10,
                   atol={"A": 1e-12, "A_d": 1e-1})
    exact = F * 1000 * KA / (V * (KA - K)) * (np.exp(-K * times) - np.exp(-KA * times))
    np.testing.assert_allclose(loose["C"][0], exact, rtol=1e-6, atol=1e-6)
    cm = compile_model(KP)
    y, p = _kp_batch(2)
    u, t_eval = np.zeros((2, 2)), np.array([0.0, 100.0])
    scalar = NativeBackend().integrate(cm, 0.0, 200.0, y, p, u, t_eval, rtol=1e-8, atol=1e-8)
    vector = NativeBackend().integrate(cm, 0.0, 200.0, y, p, u, t_eval, rtol=1e-8,
                                       atol=np.full(3, 1e-8))
    assert np.array_equal(scalar.y_eval, vector.y_eval)


def test_method_names_are_accepted_or_a_clear_error() -> None:
    assert NativeBackend(method="LSODA").name == "native"
    assert NativeBackend(method="Rodas4").name == "native"
    assert NativeBackend(method="Rodas5P").name == "native"
    with pytest.raises(EngineError, match="unknown method 'euler'"):
        NativeBackend(method="euler")
    r = native(one_compartment(), Regimen.of(Bolus("1000 IU"), Schedule(at=["0 h"])),
               times=[10.0], method="BDF", rtol=1e-10, atol=1e-12)
    assert r["A"][0, 0] == pytest.approx(1000 * math.exp(-1.0), rel=1e-8)


def test_a_missing_compiler_is_a_clear_error(monkeypatch: pytest.MonkeyPatch,
                                             tmp_path: Path) -> None:
    model = one_compartment()  # a fresh model object: not in the in-memory cache
    monkeypatch.setenv("IL2SIM_CACHE", str(tmp_path))
    monkeypatch.setenv("CC", "no-such-compiler-il2sim")
    with pytest.raises(NativeBuildError, match="needs a C compiler.*no-such-compiler"):
        native(model, None, times=[0.0, 1.0])


def test_libraries_are_cached_on_disk_by_content(monkeypatch: pytest.MonkeyPatch,
                                                 tmp_path: Path) -> None:
    monkeypatch.setenv("IL2SIM_CACHE", str(tmp_path))
    first = load_library(one_compartment())
    assert first.build_seconds > 0
    assert first.path.parent == tmp_path / "native"
    assert first.path.with_suffix(".c").read_text().count("il2_rhs_jac") >= 1
    monkeypatch.setenv("CC", "no-such-compiler-il2sim")  # loading needs no compiler
    second = load_library(one_compartment())  # same content, new object: from disk
    assert second.path == first.path and second.build_seconds == 0
    monkeypatch.delenv("CC")
    other = load_library(one_compartment(log_central=True))
    assert other.path != first.path
    assert native_backend.cache_dir() == tmp_path / "native"


@pytest.mark.slow
def test_the_benchmark_runs_in_quick_mode(tmp_path: Path) -> None:
    """``benchmarks/run.py --quick``: every peer runs and the table is written."""
    script = Path(__file__).resolve().parents[2] / "benchmarks" / "run.py"
    proc = subprocess.run([sys.executable, str(script), "--quick", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "libRoadRunner" in proc.stdout and "SciPy LSODA" in proc.stdout
    rows = json.loads((tmp_path / "results.json").read_text())["rows"]
    native_w1 = [r for r in rows if r["workload"] == "W1 kp1998" and "native" in r["peer"]]
    assert native_w1 and all(r["failed"] == 0 and r["max_rel_err"] < 1e-2 for r in native_w1)
    w2 = {r["peer"] for r in rows if r["workload"] == "W2 il2_qsp"}
    assert any("roadrunner backend" in p for p in w2) and any("SciPy" in p for p in w2)
    w3 = [r for r in rows if r["workload"] == "W3 Sobol" and "native" in r["peer"]]
    assert w3 and w3[0]["n_total"] == 8 * (2 * 12 + 2) and w3[0]["failed"] == 0
    assert "| W1 kp1998 |" in (tmp_path / "table.md").read_text()


@pytest.mark.slow
def test_the_memory_benchmark_streams_a_trial_into_a_store(tmp_path: Path) -> None:
    """``benchmarks/memory.py`` at a tiny size: every patient reaches the DuckDB store in
    both modes and the peak RSS is reported."""
    script = Path(__file__).resolve().parents[2] / "benchmarks" / "memory.py"
    proc = subprocess.run([sys.executable, str(script), "--sizes", "12", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    runs = json.loads((tmp_path / "memory.json").read_text())["runs"]
    assert [r["mode"] for r in runs] == ["stream", "run_trial"]
    # every patient in both modes, the same dose log (28 doses each, fewer for a patient who
    # dies during the course: the log is cut at death)
    assert all(r["patients_stored"] == 12 and 0 < r["dose_rows"] <= 12 * 28 for r in runs)
    assert runs[0]["dose_rows"] == runs[1]["dose_rows"]
    assert all(r["peak_rss_mib"] > 0 for r in runs)
