"""Benchmarks of the native backend against its peers, in one run.

    .venv/bin/python benchmarks/run.py                  # W1, W2, W3 (about an hour on 2 cores)
    .venv/bin/python benchmarks/run.py --only w1        # one workload
    .venv/bin/python benchmarks/run.py --quick          # smoke test (seconds)

W1  Kirschner-Panetta 1998 (``kp1998``), 10,000 parameter sets with the antigenicity ``c``
    uniform in [0.025, 0.05] (seeded), 0-1000 days, 101 output times, rtol = atol = 1e-6,
    and tighter native and libRoadRunner settings to find each one's cost at the accuracy
    bar (max relative error < 1e-4). Peers in the same run:
    - native: ``simulate(..., backend="native")`` over the whole batch (Rodas5P in C,
      POSIX threads over patients), end to end (parameter handling, event loop, observables);
      one row with the previous default, Rodas4, for comparison;
    - SciPy LSODA (the reference backend) looping over patients, on 200, scaled to N;
    - libRoadRunner (CVODE) looping over all N patients on il2sim's SBML export of
      ``kp1998``, once with its absolute tolerance on every state ("atol as given") and
      once with the roadrunner backend's translation of il2sim's tolerance on log(cells)
      ("log-state atol mapped", relative control at every size);
    - the same libRoadRunner loops over N worker processes (``--rr-processes``, default the
      native backend's thread count, so both may use all cores): a spawn-context pool whose
      workers each load the SBML into their own RoadRunner, warmed before the clock starts,
      one contiguous chunk of the patients each; wall time of the map in the parent, CPU time
      the parent's plus the sum of the workers'; states checked identical to one process;
    - AMICI (``amici_peer.py``; optional, ``benchmarks/requirements-amici.txt``, skipped with
      a printed notice when not installed): CVODES on the same SBML export compiled to C++
      (build time reported apart), ``c`` set per simulation, ``run_simulations`` over all N
      with the native backend's thread count (OpenMP) and with one thread, at rtol/atol
      1e-6/1e-6, 1e-8/1e-10 and 1e-10/1e-12; CPU time is the process's (all threads).
    Error: max over outputs, states and patients of |x - x_ref| / |x_ref| on the first 200
    patients, against native Rodas4 at rtol = atol = 1e-12 (a different tableau from the
    measured Rodas5P; itself checked against SciPy Radau at 1e-10 on a few patients; its
    agreement is printed).

W2  the flagship ``il2_qsp`` under the label course (600,000 IU/kg every 8 h, days 1-5 and
    15-19) with the label protocol's hold and stop rules, follow-up to day 749 (2 years after
    the course), the trial runner's output grid (daily, hourly on dose days), 10,000 patients
    of the calibrated melanoma population, rtol 1e-6 and atol 1e-10 (atol 1e-8 leaves an
    atol-level error in linear states that decay to 0). Native runs all of them (chunks of
    1,000), and the subsample at other tolerances; the
    roadrunner backend (several tolerances) and SciPy LSODA run the same random 100 patients,
    extrapolated to 10,000 (said in the table). The roadrunner backend runs in this process
    and over N worker processes (a contiguous part of the 100 each, one ``simulate`` call per
    part, results checked identical to one process); every process loads the model into
    libRoadRunner before the clock starts. Error on those 100 against native Rodas4 at rtol
    1e-10, atol 1e-12, with a floor of 1e-6 of each variable's peak plus 1e-12.
    ``w2_tolerances.py`` sweeps atol separately on the same 100.

W3  Sobol' indices (SALib via ``il2sim.analysis.sensitivity``, base 2,048, second order:
    53,248 simulations) of log10 tumour volume at day 749 for 12 parameters of W2's model at
    +-30%, W2's protocol and tolerances, native only; the peers' time (SciPy, libRoadRunner
    in one and in N processes) is extrapolated from their W2 time per simulation.

Profile: code generation (SymPy) and gcc for a cold library, time inside the C integrator
against the whole ``simulate`` call, steps per simulation.

Results go to ``benchmarks/results/`` (``--quick``: ``benchmarks/results/quick/``) as JSON,
CSV and a markdown table with the accuracy-bar comparison (native against the cheapest row
at the bar of each peer group: SciPy, libRoadRunner in one process, libRoadRunner over N
processes, AMICI on one thread, AMICI on N threads); the load average is recorded, since
other work on a shared machine slows every peer (compare CPU times).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import re
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple

import amici_peer
import numpy as np
import rr_pool
from numpy.typing import NDArray

from il2sim import get_model, simulate
from il2sim.engine import BACKENDS
from il2sim.engine.native_backend import (
    NativeBackend,
    NativeStats,
    default_threads,
    load_library,
)
from il2sim.model import compile_model
from il2sim.model.codegen_c import c_source
from il2sim.model.spec import Model

ROOT = Path(__file__).resolve().parent
Array = NDArray[np.float64]


@dataclass
class Row:
    """One line of the table."""

    workload: str
    peer: str
    tol: str
    n_measured: int
    n_total: int
    timing: Timing  # for n_total (scaled when n_measured < n_total)
    max_rel_err: float
    median_rel_err: float
    failed: int
    note: str = ""
    ratios: dict[str, float] = field(default_factory=dict)  # wall time, peer / this
    cpu_ratios: dict[str, float] = field(default_factory=dict)  # CPU time, peer / this

    @property
    def per_sim_us(self) -> float:
        return 1e6 * self.timing.wall / self.n_total

    @property
    def cpu_per_sim_us(self) -> float:
        return 1e6 * self.timing.cpu / self.n_total

    @property
    def throughput(self) -> float:
        return self.n_total / self.timing.wall


class Timing(NamedTuple):
    """Wall time, and CPU time of the process (all threads): on a shared machine the CPU
    time of a single-threaded loop is the load-independent measure of its work."""

    wall: float
    cpu: float

    def scaled(self, factor: float) -> Timing:
        return Timing(self.wall * factor, self.cpu * factor)


def _timed(fn: Callable[[], Any], repeats: int = 1) -> tuple[Timing, Any]:
    """Best wall and CPU time of ``repeats`` runs (as timeit: other load only adds time)."""
    wall = cpu = float("inf")
    out = None
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        out = fn()
        wall = min(wall, time.perf_counter() - start)
        cpu = min(cpu, time.process_time() - start_cpu)
    return Timing(wall, cpu), out


def _rel_err(x: Array, ref: Array, floor: Array | float = 0.0) -> Array:
    """Per patient: max over outputs and variables of |x - ref| / (|ref| + floor)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        err = np.abs(x - ref) / (np.abs(ref) + floor)
    err = np.where(x == ref, 0.0, np.where(np.isnan(err), np.inf, err))
    return np.asarray(err.reshape(err.shape[0], -1).max(axis=1))


def _native_with_stats(threads: int | None = None,
                       method: str = "Rodas5P") -> tuple[str, NativeBackend]:
    """A native backend object registered under a private name, to read its counters."""
    backend = NativeBackend(method=method, threads=threads)
    name = f"native-bench-{id(backend)}"
    BACKENDS[name] = lambda method="LSODA": backend
    return name, backend


# ---------------------------------------------------------------------------------- W1
def _kp_sbml() -> tuple[str, str]:
    try:
        from il2sim.sbml.write import export_sbml

        return export_sbml(get_model("kp1998")), "SBML export of kp1998 (il2sim.sbml.write)"
    except Exception as exc:  # the exporter is optional here: fall back to the curated file
        shared = Path(os.environ.get("IL2SIM_SHARED", ROOT.parent.parent / "shared"))
        path = shared / "data/biomodels/BIOMD0000000732.xml"
        return path.read_text(), f"BIOMD0000000732 (file's p1*E*IL/g1 form; export failed: {exc})"


def _roadrunner(cs: Array, times: Array, tol: float, sbml: str, repeats: int = 1, *,
                log_floor: float | None = None) -> tuple[Timing, Array, str]:
    """libRoadRunner looping over antigenicities in this process. ``log_floor``: None gives
    every state the absolute tolerance ``tol`` (the nominal setting); a number gives the cell
    states ``tol * log_floor``, the translation of il2sim's tolerance on log(cells) that the
    roadrunner backend uses (relative control of the cells at every size)."""
    import roadrunner

    rr = roadrunner.RoadRunner(sbml)
    ids = rr_pool.rr_ids(rr)
    rr_pool.rr_configure(rr, tol, log_floor)
    out = np.empty((len(cs), len(times), 3))
    errors: list[str] = []
    grid = [float(t) for t in times]

    def loop() -> None:
        nonlocal out, errors
        out, errors = rr_pool.rr_loop(rr, ids, cs, grid)

    timing, _ = _timed(loop, repeats)
    rr.resetAll()
    atol_vector = np.asarray(rr.integrator.getAbsoluteToleranceVector()).tolist()
    note = f"CVODE, atol vector {[float(f'{a:.3g}') for a in atol_vector]}"
    if errors:
        note += f"; {len(errors)} failed: {errors[0][:60]}"
    return timing, out, note


def _roadrunner_pool(pool: rr_pool.PeerPool, cs: Array, tol: float, repeats: int = 1, *,
                     log_floor: float | None = None) -> tuple[Timing, Array, list[str]]:
    """The same loop over ``pool.processes`` worker processes, one contiguous chunk of the
    antigenicities each; states in the order of ``cs``. CPU time: the parent's plus the
    workers' (each worker's ``process_time`` over its chunk)."""
    tasks = [(cs[lo:hi], tol, log_floor) for lo, hi in rr_pool.chunks(len(cs), pool.processes)]
    wall, cpu, out = pool.run(rr_pool.w1_chunk, tasks, repeats)
    states = np.concatenate([o[0] for o in out])
    return Timing(wall, cpu), states, [e for o in out for e in o[1]]


def _processes_label(processes: int) -> str:
    return f", {processes} processes"


RR_NOMINAL = "libRoadRunner loop, atol as given"
RR_MAPPED = "libRoadRunner loop, log-state atol mapped"
RR_BACKEND = "libRoadRunner (roadrunner backend)"
NATIVE = "native (Rodas5P, C)"
NATIVE_R4 = "native (Rodas4, C)"


def workload_1(quick: bool, repeats: int, processes: int = 1
               ) -> tuple[list[Row], dict[str, Any]]:
    kp = get_model("kp1998")
    n = 200 if quick else 10_000
    n_scipy = 10 if quick else 200
    n_ref = 10 if quick else 200
    n_rr = 100 if quick else n
    rng = np.random.default_rng(20240611)
    cs = rng.uniform(0.025, 0.05, n)
    times = np.linspace(0.0, 1000.0, 101)
    tol = 1e-6
    info: dict[str, Any] = {"n": n, "c_range": [0.025, 0.05], "times": "0..1000 day, 101",
                            "rtol": tol, "atol": tol}

    def sim(backend: str, c: Array, t: float = tol, **kw: Any) -> Any:
        return simulate(kp, None, params={"c": c}, times=times, backend=backend, rtol=t,
                        atol=t, **kw)

    # reference (and its own check against an independent method)
    ref = sim("native", cs[:n_ref], 1e-12, method="Rodas4").states  # not the measured method
    n_radau = 1 if quick else 4
    radau_tol = 1e-8 if quick else 1e-10
    radau = sim("scipy", cs[:n_radau], radau_tol, method="Radau").states
    info["reference"] = (f"native Rodas4 at rtol=atol=1e-12 on {n_ref} patients (the measured "
                         "native rows use Rodas5P unless labelled Rodas4); SciPy Radau "
                         f"at {radau_tol:g} on {n_radau} differs by max rel "
                         f"{float(_rel_err(radau, ref[:n_radau]).max()):.2e}")

    rows: list[Row] = []
    load_library(kp)  # warm: the library build is profiled separately below
    settings = [(None, tol, "Rodas5P"), (1, tol, "Rodas5P"), (None, 1e-7, "Rodas5P"),
                (None, 1e-7, "Rodas4")]
    if not quick:
        settings += [(None, 7e-8, "Rodas5P"), (None, 5e-8, "Rodas5P")]
    for threads, ntol, method in settings:
        name, backend = _native_with_stats(threads, method)
        sim(name, cs[:50], ntol)  # warm-up
        timing, r = _timed(partial(sim, name, cs, ntol), repeats)
        backend.stats = NativeStats()
        counted, _ = _timed(partial(sim, name, cs, ntol))  # once more, for the counters
        err = _rel_err(r.states[:n_ref], ref)
        label = (NATIVE if method == "Rodas5P" else NATIVE_R4) + (
            ", 1 thread" if threads == 1 else f", {default_threads()} threads")
        s = backend.stats
        rows.append(Row("W1 kp1998", label, f"{ntol:g}", n, n, timing, float(err.max()),
                        float(np.median(err)), int((r.status != "ok").sum()),
                        note=f"{s.steps / n:.0f} steps/sim, {s.rhs_evaluations / n:.0f} f-evals"
                             f"/sim; {s.seconds_in_c:.2f} s in C of {counted.wall:.2f} s"))
        if threads is None and ntol == tol and method == "Rodas5P":
            info["native_profile"] = {"seconds_total": counted.wall,
                                      "seconds_in_c": s.seconds_in_c,
                                      "steps_per_sim": s.steps / n,
                                      "rejected_per_sim": s.rejected / n,
                                      "rhs_evals_per_sim": s.rhs_evaluations / n,
                                      "jacobians_per_sim": s.jacobians / n}

    timing, r = _timed(lambda: sim("scipy", cs[:n_scipy]), repeats)
    err = _rel_err(r.states, ref[:n_scipy])
    rows.append(Row("W1 kp1998", "SciPy LSODA loop", f"{tol:g}", n_scipy, n,
                    timing.scaled(n / n_scipy), float(err.max()), float(np.median(err)),
                    int((r.status != "ok").sum()), note=f"measured on {n_scipy}, scaled to {n}"))

    sbml, source = _kp_sbml()
    info["roadrunner_model"] = source
    rr_settings = [(RR_NOMINAL, tol, None), (RR_MAPPED, tol, 1e-200), (RR_MAPPED, 1e-8, 1e-200)]
    if not quick:
        rr_settings.insert(2, (RR_MAPPED, 1e-7, 1e-200))
    pool_payload = (sbml, [float(t) for t in times])
    with ExitStack() as stack:  # the worker pool: created and warmed before any timing
        pool = None if processes < 2 else stack.enter_context(
            rr_pool.PeerPool(processes, "w1", pool_payload, warm_arg=float(cs[0])))
        for label, rtol, floor in rr_settings:
            timing, states, note = _roadrunner(cs[:n_rr], times, rtol, sbml, repeats,
                                               log_floor=floor)
            err = _rel_err(states[:n_ref], ref)
            bad = int((~np.isfinite(states).all(axis=(1, 2)) | (states < 0).any(axis=(1, 2)))
                      .sum())
            scaled = "" if n_rr == n else f"; measured on {n_rr}, scaled"
            rows.append(Row("W1 kp1998", label, f"{rtol:g}", n_rr, n, timing.scaled(n / n_rr),
                            float(err.max()), float(np.median(err)), bad,
                            note=f"{bad} negative or failed; {note}{scaled}"))
            if pool is None:
                continue
            timing, pooled, errors = _roadrunner_pool(pool, cs[:n_rr], rtol, repeats,
                                                      log_floor=floor)
            # a wrong split or order of the chunks would show here
            if not np.array_equal(pooled, states, equal_nan=True):
                raise AssertionError(f"{label} at {rtol:g}: the states of {processes} "
                                     "processes differ from those of one")
            failed = f"; {len(errors)} failed: {errors[0][:60]}" if errors else ""
            rows.append(Row("W1 kp1998", label + _processes_label(processes), f"{rtol:g}",
                            n_rr, n, timing.scaled(n / n_rr), float(err.max()),
                            float(np.median(err)), bad,
                            note=f"{bad} negative or failed; {processes} worker processes, "
                                 f"one contiguous chunk each, states identical to the "
                                 f"single-process loop; CPU = sum over the processes"
                                 f"{failed}{scaled}"))
    rows += _amici_rows(cs, times, ref, sbml, repeats, info)
    return rows, info


AMICI_TOLERANCES = [(1e-6, 1e-6), (1e-8, 1e-10), (1e-10, 1e-12)]  # (rtol, atol)


def _amici_rows(cs: Array, times: Array, ref: Array, sbml: str, repeats: int,
                info: dict[str, Any]) -> list[Row]:
    """AMICI on all of W1's patients (``amici_peer``) at each (rtol, atol) of the sweep, with
    the native backend's thread count and with one thread; none, and a printed notice, when
    AMICI is not installed."""
    reason = amici_peer.unavailable()
    if reason is not None:
        print(f"W1: AMICI peer skipped: {reason}", flush=True)
        info["amici"] = f"skipped: {reason}"
        return []
    model, build_seconds, build_note = amici_peer.load(sbml)
    info["amici"] = build_note
    info["amici_build_seconds"] = build_seconds
    n, rows = len(cs), []
    for rtol, atol in AMICI_TOLERANCES:
        tol = f"{rtol:g}" if rtol == atol else f"{rtol:g}/{atol:g}"
        for threads in dict.fromkeys((default_threads(), 1)):
            amici_peer.simulate(model, cs[:50], times, rtol, atol, threads)  # warm-up
            timing, batch = _timed(
                partial(amici_peer.simulate, model, cs, times, rtol, atol, threads), repeats)
            states = batch.states
            err = _rel_err(states[:len(ref)], ref)
            bad = int((~np.isfinite(states).all(axis=(1, 2)) | (states < 0).any(axis=(1, 2)))
                      .sum())
            label = amici_peer.PEER + (", 1 thread" if threads == 1 else f", {threads} threads")
            rows.append(Row("W1 kp1998", label, tol, n, n, timing, float(err.max()),
                            float(np.median(err)), bad,
                            note=f"{bad} negative or failed ({batch.failed} failed in AMICI); "
                                 f"{amici_peer.steps_per_simulation(batch.results):.0f} "
                                 f"steps/sim; run_simulations(num_threads={threads}) "
                                 f"{batch.run_seconds:.2f} s of {batch.seconds:.2f} s (last "
                                 f"batch; the rest ExpData set-up and reading x); "
                                 f"{build_note}"))
    return rows


# ---------------------------------------------------------------------------------- W2
def _label_course() -> tuple[Any, Any]:
    """The label course's regimen and its protocol (one course)."""
    from il2sim.protocol import label_protocol

    protocol = label_protocol("600000 IU/kg", 1)
    return protocol.regimen(), protocol


def _trial_grid(regimen: Any, horizon_days: float) -> Array:
    """The trial runner's output grid (hours): daily to the horizon, hourly on dose days."""
    daily = np.arange(0.0, np.floor(horizon_days) + 1.0)
    dose_days = np.unique(np.floor(regimen.events()["time_h"].to_numpy() / 24.0))
    fine = [np.arange(d, d + 2.0, 1 / 24) for d in dose_days]
    grid = np.unique(np.concatenate([daily, *fine]))
    return np.asarray(grid[grid <= horizon_days] * 24.0)


def _patient_args(model: Model, patients: Any) -> dict[str, Any]:
    """simulate() arguments for sampled patients, as ``trial.runner.simulate_chunk``."""
    params = {c: patients[c].to_numpy(float) for c in patients.columns
              if c in model.param_names}
    params["body_weight"] = patients["weight"].to_numpy(float)
    initial = {c.removeprefix("initial_"): patients[c].to_numpy(float)
               for c in patients.columns if c.startswith("initial_")}
    covariates = {c: patients[c].to_numpy(float) for c in ("weight", "height", "bsa")
                  if c in patients}
    return {"params": params, "initial": initial, "covariates": covariates}


def workload_2(quick: bool, repeats: int, processes: int = 1
               ) -> tuple[list[Row], dict[str, Any]]:
    """Flagship model, label course with the label's hold rules, 2 years of follow-up."""
    from il2sim.protocol import ProtocolDecider
    from il2sim.trial.calibrated import calibrated_population

    qsp = get_model("il2_qsp")
    n = 40 if quick else 10_000
    n_sub = 4 if quick else 100
    chunk = 1000
    horizon = 19.0 + (30.0 if quick else 730.0)
    regimen, protocol = _label_course()
    hours = _trial_grid(regimen, horizon)
    patients = calibrated_population("melanoma").sample(n, 2024)
    sub = np.sort(np.random.default_rng(5).choice(n, n_sub, replace=False))
    rtol, atol = 1e-6, 1e-10  # atol 1e-8: an atol-level error in decaying linear states
    info: dict[str, Any] = {
        "n": n, "n_subsample": n_sub, "horizon_days": horizon, "outputs": len(hours),
        "rtol": rtol, "atol": atol, "patients": "calibrated melanoma population, seed 2024",
        "treatment": "label course (600,000 IU/kg q8h days 1-5 and 15-19, 28 doses) with "
                     "label protocol hold/stop rules"}

    def sim(backend: str, idx: NDArray[np.intp], rtol: float = rtol, atol: float = atol,
            method: str = "LSODA") -> Any:
        return simulate(qsp, regimen, times=hours, backend=backend, rtol=rtol, atol=atol,
                        method=method, on_failure="record", decider=ProtocolDecider(protocol),
                        **_patient_args(qsp, patients.iloc[idx]))

    def values(r: Any) -> Array:
        return np.concatenate([r.states, r.observables], axis=2)

    ref_result = sim("native", sub, rtol=1e-10, atol=1e-12, method="Rodas4")
    ref = values(ref_result)
    # floor: 1e-6 of each variable's peak, plus the reference's atol (a variable that is
    # exactly 0 in the reference, such as an unused dose route, is 1e-20 in CVODE)
    floor = 1e-6 * np.abs(ref).max(axis=(0, 1), keepdims=True) + 1e-12
    n_check = 1 if quick else 2
    check = values(sim("scipy", sub[:n_check], rtol=1e-10, atol=1e-12))
    info["reference"] = (f"native Rodas4 at rtol 1e-10, atol 1e-12 on the {n_sub}-patient "
                         f"subsample; SciPy LSODA at the same tolerances on {n_check} differs "
                         f"by max rel {float(_rel_err(check, ref[:n_check], floor).max()):.2e}"
                         " (floor 1e-6 of each variable's peak + 1e-12)")
    held_ref = ref_result.dose_log["status"].to_numpy()
    load_library(qsp)
    rows: list[Row] = []

    # native over all N patients, chunk by chunk (bounded memory), the subsample kept
    name, backend = _native_with_stats(None)
    sub_values = np.empty_like(ref)
    failed = 0
    held = 0

    def run_all() -> None:
        nonlocal failed, held
        failed = held = 0
        for lo in range(0, n, chunk):
            idx = np.arange(lo, min(n, lo + chunk))
            r = sim(name, idx)
            failed += int((r.status != "ok").sum())
            held += int((r.dose_log["status"] == "held").sum())
            mine = (sub >= lo) & (sub < lo + chunk)
            sub_values[mine] = values(r)[sub[mine] - lo]

    timing, _ = _timed(run_all)
    err = _rel_err(sub_values, ref, floor)
    s = backend.stats
    rows.append(Row("W2 il2_qsp", f"{NATIVE}, {default_threads()} threads", f"{rtol:g}/{atol:g}",
                    n, n,
                    timing, float(err.max()), float(np.median(err)), failed,
                    note=f"all {n} patients in chunks of {chunk}; {held / n:.1f} doses held "
                         f"per patient; {s.steps / n:.0f} steps/sim; {s.seconds_in_c:.1f} s in "
                         f"C of {timing.wall:.1f} s"))
    info["native_profile"] = {"seconds_total": timing.wall, "seconds_in_c": s.seconds_in_c,
                              "segments_per_chunk": s.calls / max(1, -(-n // chunk)),
                              "steps_per_sim": s.steps / n,
                              "rejected_per_sim": s.rejected / n}

    def subsample_row(label: str, backend_name: str, r_tol: float, a_tol: float,
                      note: str = "") -> Any:
        timing, r = _timed(partial(sim, backend_name, sub, r_tol, a_tol), repeats)
        err = _rel_err(values(r), ref, floor)
        same = int((r.dose_log["status"].to_numpy() != held_ref).sum())
        rows.append(Row("W2 il2_qsp", label, f"{r_tol:g}/{a_tol:g}", n_sub, n,
                        timing.scaled(n / n_sub), float(err.max()), float(np.median(err)),
                        int((r.status != "ok").sum()),
                        note=f"measured on the {n_sub}-patient subsample, scaled to {n}; "
                             f"{same} dose decisions differ from the reference" +
                             (f"; {note}" if note else "")))
        return r

    def pool_row(pool: rr_pool.PeerPool, single: Any, r_tol: float, a_tol: float,
                 note: str) -> None:
        """The roadrunner backend on the subsample split over the pool's processes, checked
        equal to the single-process result ``single``."""
        tasks = [(lo, hi, r_tol, a_tol) for lo, hi in rr_pool.chunks(n_sub, pool.processes)]
        wall, cpu, out = pool.run(rr_pool.w2_chunk, tasks, repeats)
        vals = np.concatenate([o[0] for o in out])
        status = np.concatenate([o[1] for o in out])
        doses = np.concatenate([o[2] for o in out])
        if not (np.array_equal(vals, values(single), equal_nan=True)
                and np.array_equal(status, np.asarray(single.status))
                and np.array_equal(doses, single.dose_log["status"].to_numpy())):
            raise AssertionError(f"W2 roadrunner backend at {r_tol:g}/{a_tol:g}: "
                                 f"{pool.processes} processes differ from one")
        err = _rel_err(vals, ref, floor)
        same = int((doses != held_ref).sum())
        rows.append(Row("W2 il2_qsp", RR_BACKEND + _processes_label(pool.processes),
                        f"{r_tol:g}/{a_tol:g}", n_sub, n,
                        Timing(wall, cpu).scaled(n / n_sub), float(err.max()),
                        float(np.median(err)), int((status != "ok").sum()),
                        note=f"measured on the {n_sub}-patient subsample, scaled to {n}; "
                             f"{same} dose decisions differ from the reference; {note}; "
                             f"{pool.processes} worker processes, one contiguous part of the "
                             "subsample each, results identical to one process; CPU = sum "
                             "over the processes"))

    name1, _ = _native_with_stats(None)
    for r_tol, a_tol in ((1e-6, 1e-8), (1e-7, 1e-9), (1e-6, 1e-10)):
        subsample_row(f"{NATIVE}, {default_threads()} threads", name1, r_tol, a_tol)
    name4, _ = _native_with_stats(None, "Rodas4")
    subsample_row(f"{NATIVE_R4}, {default_threads()} threads", name4, 1e-6, 1e-10)
    rr_tols = [(1e-6, 1e-10), (1e-8, 1e-10)] + ([] if quick else [
        (1e-6, 1e-8), (1e-9, 1e-11), (1e-9, 1e-13), (1e-10, 1e-13)])
    rr_note = "CVODE, log-state atol mapped"
    sim("roadrunner", sub[:1])  # warm: load the model into libRoadRunner before timing
    payload = ("il2_qsp", regimen, hours, protocol, _patient_args(qsp, patients.iloc[sub]))
    with ExitStack() as stack:  # the worker pool: created and warmed before any timing
        pool = None if processes < 2 else stack.enter_context(
            rr_pool.PeerPool(processes, "w2", payload))
        for r_tol, a_tol in rr_tols:
            single = subsample_row(RR_BACKEND, "roadrunner", r_tol, a_tol, rr_note)
            if pool is not None:
                pool_row(pool, single, r_tol, a_tol, rr_note)
    subsample_row("SciPy LSODA loop", "scipy", rtol, atol)
    return rows, info


# ---------------------------------------------------------------------------------- W3
W3_PARAMS = ("V1", "k10", "ant", "r_T", "ec50_perm", "pmax", "p_L", "p_N", "k_mem", "K_kill",
             "k_sup", "body_weight")


def workload_3(quick: bool, w2_rows: list[Row]) -> tuple[list[Row], dict[str, Any]]:
    """Sobol' indices of the log10 tumour volume at the end of W2's follow-up."""
    from il2sim.analysis.sensitivity import Problem, sobol
    from il2sim.protocol import ProtocolDecider

    qsp = get_model("il2_qsp")
    base = 8 if quick else 2048
    horizon = 19.0 + (30.0 if quick else 730.0)
    regimen, protocol = _label_course()
    times = np.array([0.0, horizon * 24.0])
    problem = Problem(W3_PARAMS, tuple((0.7 * qsp.param(p).value, 1.3 * qsp.param(p).value)
                                       for p in W3_PARAMS))
    chunk = 4096
    name, backend = _native_with_stats(None)
    failed = 0

    def func(x: Array) -> Array:
        nonlocal failed
        y = np.empty(len(x))
        for lo in range(0, len(x), chunk):
            part = x[lo: lo + chunk]
            params = {p: part[:, j] for j, p in enumerate(W3_PARAMS)}
            r = simulate(qsp, regimen, params=params, times=times,
                         covariates={"weight": params["body_weight"]}, backend=name,
                         rtol=1e-6, atol=1e-10, on_failure="record",
                         decider=ProtocolDecider(protocol))
            failed += int((r.status != "ok").sum())
            with np.errstate(divide="ignore", invalid="ignore"):
                y[lo: lo + chunk] = np.log10(r["tumour_volume"][:, -1])
        return y

    timing, frame = _timed(lambda: sobol(func, problem, n=base, seed=11,
                                         calc_second_order=True, num_resamples=100))
    n_sims = int(frame.attrs["n_evaluations"])
    rows = [Row("W3 Sobol", f"{NATIVE}, {default_threads()} threads", "1e-6/1e-10", n_sims,
                n_sims, timing, float("nan"), float("nan"), failed,
                note=f"Saltelli design, base {base}, {len(W3_PARAMS)} parameters +-30%, "
                     "second order; output log10 tumour volume at the end; analysis included")]
    for row in w2_rows:  # peers: their measured W2 time per simulation
        if row.peer.startswith("native") or row.tol not in ("1e-6/1e-10", "1e-06/1e-10"):
            continue
        rows.append(Row("W3 Sobol", row.peer, row.tol, 0, n_sims,
                        row.timing.scaled(n_sims / row.n_total), float("nan"), float("nan"), 0,
                        note="extrapolated from its W2 time per simulation (not run)"))
    top = frame.sort_values("ST", ascending=False).head(5)
    info = {"n_simulations": n_sims, "base": base, "horizon_days": horizon,
            "params": list(W3_PARAMS), "ranges": "nominal x [0.7, 1.3]",
            "output": "log10 tumour_volume at the horizon",
            "top_total_indices": {str(k): [float(v["ST"]), float(v["ST_conf"])]
                                  for k, v in top.iterrows()},
            "dropped": frame.attrs.get("dropped")}
    return rows, info


# ----------------------------------------------------------------------------- profile
def build_profile(quick: bool) -> dict[str, float]:
    """Cold costs: SymPy compile (shared with SciPy), C generation, gcc, per model."""
    out: dict[str, float] = {}
    for name in ("kp1998",) if quick else ("kp1998", "il2_qsp"):
        model = get_model(name)
        fresh = Model(model.name, model.title, model.citation, model.time_unit, model.states,
                      model.params, model.equations, model.inputs, model.intermediates,
                      model.observables, model.routes)  # a new object: no in-memory caches
        timing, _ = _timed(partial(compile_model, fresh))
        out[f"{name}: compile_model (SymPy, Python)"] = timing.wall
        timing, _ = _timed(partial(c_source, fresh))
        out[f"{name}: C generation (SymPy)"] = timing.wall
        with tempfile.TemporaryDirectory() as tmp:
            old = os.environ.get("IL2SIM_CACHE")
            os.environ["IL2SIM_CACHE"] = tmp
            try:
                lib = load_library(fresh)
            finally:
                if old is None:
                    del os.environ["IL2SIM_CACHE"]
                else:
                    os.environ["IL2SIM_CACHE"] = old
        out[f"{name}: C generation + gcc (cold library)"] = lib.build_seconds
    return out


# ------------------------------------------------------------------------------- report
ACCURACY_BAR = 1e-4


def _family(peer: str) -> str:
    for family in ("native", "libRoadRunner", "SciPy", "AMICI"):
        if peer.startswith(family):
            return family
    return peer


def _group(peer: str) -> str:
    """The family, with libRoadRunner split by its number of processes and AMICI by its
    threads: the accuracy-bar summary compares native against the best single-process and
    the best multi-process libRoadRunner row, and the best one- and N-thread AMICI row."""
    family = _family(peer)
    if family == "AMICI":
        match = re.search(r", (\d+ threads?)$", peer)
        return f"{family}, {match.group(1)}" if match else family
    if family != "libRoadRunner":
        return family
    match = re.search(r", (\d+) processes$", peer)
    return f"{family}, {match.group(1)} processes" if match else f"{family}, 1 process"


def _ratios(rows: list[Row]) -> None:
    """For native rows: peer time / native time, wall and CPU, within a workload and tol."""
    groups: dict[tuple[str, str], list[Row]] = {}
    for row in rows:
        groups.setdefault((row.workload, row.tol), []).append(row)
    for group in groups.values():
        for row in group:
            if not row.peer.startswith("native"):
                continue
            peers = [o for o in group if not o.peer.startswith("native")]
            row.ratios = {o.peer: o.timing.wall / row.timing.wall for o in peers}
            row.cpu_ratios = {o.peer: o.timing.cpu / row.timing.cpu for o in peers}


def at_accuracy_bar(rows: list[Row]) -> list[dict[str, Any]]:
    """Per workload: the cheapest row (CPU time) of each group (``_group``: native, SciPy,
    libRoadRunner in one process, libRoadRunner over N processes, AMICI on one thread, AMICI
    on N threads) whose max relative error is below the bar, and the peers' time over
    native's (wall and CPU)."""
    out: list[dict[str, Any]] = []
    for workload in dict.fromkeys(r.workload for r in rows):
        mine = [r for r in rows if r.workload == workload]
        best: dict[str, Row] = {}
        for r in mine:
            if not r.max_rel_err < ACCURACY_BAR or r.failed:
                continue
            group = _group(r.peer)  # by CPU time: wall time moves with the machine's load
            if group not in best or r.timing.cpu < best[group].timing.cpu:
                best[group] = r
        native = best.get("native")
        if native is None:
            continue
        for group in dict.fromkeys(_group(r.peer) for r in mine):
            if group == "native":
                continue
            entry = {"workload": workload, "group": group,
                     "native": f"{native.peer} at {native.tol}",
                     "native_err": native.max_rel_err}
            peer = best.get(group)
            if peer is None:
                out.append({**entry, "peer": f"{group}: no measured tolerance reaches the bar",
                            "peer_err": float("nan"), "wall_ratio": float("nan"),
                            "cpu_ratio": float("nan")})
            else:
                out.append({**entry, "peer": f"{peer.peer} at {peer.tol}",
                            "peer_err": peer.max_rel_err,
                            "wall_ratio": peer.timing.wall / native.timing.wall,
                            "cpu_ratio": peer.timing.cpu / native.timing.cpu})
    return out


def _print(rows: list[Row]) -> None:
    header = (f"{'workload':<11} {'peer':<56} {'tol':<10} {'N meas':>6} {'wall/sim':>10} "
              f"{'CPU/sim':>10} {'sims/s':>7} {'max rel err':>11} {'median':>8} {'fail':>4}  "
              "ratio peer/native (wall/CPU); notes")
    print(header)
    print("-" * len(header))
    for r in rows:
        ratios = ", ".join(f"{k} {v:.1f}x/{r.cpu_ratios[k]:.1f}x" for k, v in r.ratios.items())
        notes = "; ".join(x for x in (ratios, r.note) if x)
        print(f"{r.workload:<11} {r.peer:<56} {r.tol:<10} {r.n_measured:>6} "
              f"{_us(r.per_sim_us):>10} {_us(r.cpu_per_sim_us):>10} {r.throughput:>7.0f} "
              f"{r.max_rel_err:>11.2e} {r.median_rel_err:>8.1e} {r.failed:>4}  {notes}")


def _bar_group(b: dict[str, Any]) -> str:
    """What an accuracy-bar entry compares native with: its peer group, stated in full."""
    group = str(b.get("group") or _group(b["peer"].split(" at ")[0]))
    if group.startswith("AMICI"):
        return group + (" (one simulation at a time)" if group.endswith(" 1 thread")
                        else " (OpenMP threads over simulations)")
    if group.startswith("libRoadRunner"):
        many = not group.endswith(", 1 process")
        return (group.replace("processes", "worker processes (best of them)") if many
                else group + " (best single-process row)")
    return group


def _us(value: float) -> str:
    return f"{value:.0f} us" if value < 10_000 else f"{value / 1000:.1f} ms"


def _markdown(rows: list[Row], bar: list[dict[str, Any]], machine: dict[str, Any]) -> str:
    lines = ["| workload | peer | tol | N measured | per sim (wall) | CPU per sim | sims/s | "
             "max rel err | failed | note |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        err = "-" if np.isnan(r.max_rel_err) else f"{r.max_rel_err:.1e}"
        lines.append(f"| {r.workload} | {r.peer} | {r.tol} | {r.n_measured:,} of "
                     f"{r.n_total:,} | {_us(r.per_sim_us)} | {_us(r.cpu_per_sim_us)} | "
                     f"{r.throughput:,.0f} | {err} | {r.failed} | {r.note} |")
    lines += ["", f"At the accuracy bar (max relative error < {ACCURACY_BAR:g}), the cheapest "
              "setting (CPU time) of each peer group; libRoadRunner in one process and "
              "libRoadRunner over worker processes are separate groups, as are AMICI on one "
              "thread and on several:", "",
              "| workload | native | compared with | peer | peer/native wall | "
              "peer/native CPU |", "|---|---|---|---|---|---|"]
    for b in bar:
        if not np.isfinite(b["peer_err"]):  # no setting of this peer reaches the bar
            lines.append(f"| {b['workload']} | {b['native']} ({b['native_err']:.1e}) | "
                         f"{_bar_group(b)} | {b['peer']} | - | - |")
            continue
        lines.append(f"| {b['workload']} | {b['native']} ({b['native_err']:.1e}) | "
                     f"{_bar_group(b)} | {b['peer']} ({b['peer_err']:.1e}) | "
                     f"{b['wall_ratio']:.1f}x | {b['cpu_ratio']:.1f}x |")
    lines += ["", f"Machine: {machine['cpus']} CPUs, load average (1, 5, 15 min) at start "
              f"{machine['load_average_start']}, at end {machine['load_average_end']}; "
              f"{machine['date']}; {machine['benchmark_seconds']:.0f} s in all."]
    return "\n".join(lines) + "\n"


def _rereport(out: Path) -> int:
    data = json.loads((out / "results.json").read_text())
    rows = []
    for d in data["rows"]:
        timing = Timing(*d["timing"])
        rows.append(Row(d["workload"], d["peer"], d["tol"], d["n_measured"], d["n_total"],
                        timing, d["max_rel_err"], d["median_rel_err"], d["failed"], d["note"],
                        d["ratios"], d["cpu_ratios"]))
    data["accuracy_bar"] = bar = at_accuracy_bar(rows)
    (out / "results.json").write_text(json.dumps(data, indent=2, default=str))
    (out / "table.md").write_text(_markdown(rows, bar, data["machine"]))
    for b in bar:
        print(f"{b['workload']} [{_bar_group(b)}]: {b['peer']} / {b['native']}: "
              f"{b['wall_ratio']:.1f}x wall, {b['cpu_ratio']:.1f}x CPU")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="seconds-long smoke test")
    parser.add_argument("--out", type=Path, default=None, help="results folder")
    parser.add_argument("--repeats", type=int, default=0,
                        help="timed runs per peer, best kept (default 3, quick 1)")
    parser.add_argument("--only", default="w1,w2,w3",
                        help="comma-separated workloads to run (default w1,w2,w3)")
    parser.add_argument("--rr-processes", type=int, default=0,
                        help="worker processes of the multi-process libRoadRunner rows "
                             "(default: the native backend's threads, at least 2 with "
                             "--quick; 1: single-process rows only)")
    parser.add_argument("--rereport", action="store_true",
                        help="rewrite table.md and the accuracy-bar summary of an existing "
                             "results.json in --out (no simulation)")
    args = parser.parse_args(argv)
    if args.rereport:
        return _rereport(args.out or ROOT / "results")
    only = {w.strip().lower() for w in args.only.split(",") if w.strip()}
    if not only <= {"w1", "w2", "w3"}:
        parser.error(f"--only: unknown workloads {sorted(only - {'w1', 'w2', 'w3'})}")
    out = args.out or ROOT / "results" / ("quick" if args.quick else "")
    out.mkdir(parents=True, exist_ok=True)
    machine: dict[str, Any] = {
        "cpus": os.cpu_count(), "load_average_start": os.getloadavg(),
        "python": sys.version.split()[0], "platform": platform.platform(),
        "quick": args.quick, "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "threads": default_threads(),
        "note": "shared machine: other work adds to every wall time; ratios measured in the "
                "same run and CPU times are the load-independent comparison"}
    start = time.perf_counter()
    profile = build_profile(args.quick)
    repeats = args.repeats or (1 if args.quick else 3)
    machine["repeats"] = repeats
    # --quick runs the multi-process path even where one core would give no such row
    processes = args.rr_processes or max(default_threads(), 2 if args.quick else 1)
    machine["roadrunner_processes"] = processes
    rows: list[Row] = []
    infos: dict[str, Any] = {}
    w2_rows: list[Row] = []
    if "w1" in only:
        rows1, infos["w1"] = workload_1(args.quick, repeats, processes)
        rows += rows1
    if "w2" in only or "w3" in only:
        w2_rows, infos["w2"] = workload_2(args.quick, 1, processes)
        rows += w2_rows if "w2" in only else []
    if "w3" in only:
        rows3, infos["w3"] = workload_3(args.quick, w2_rows)
        rows += rows3
    _ratios(rows)
    bar = at_accuracy_bar(rows)
    machine["load_average_end"] = os.getloadavg()
    machine["benchmark_seconds"] = time.perf_counter() - start
    _print(rows)
    print()
    for b in bar:
        print(f"  at max rel err < {ACCURACY_BAR:g}, {b['workload']} [{_bar_group(b)}]: "
              f"{b['peer']} / {b['native']}: {b['wall_ratio']:.1f}x wall, "
              f"{b['cpu_ratio']:.1f}x CPU")
    for key, value in profile.items():
        print(f"  {key:<48} {value:6.2f} s")
    for label, info in infos.items():
        p = info.get("native_profile", {})
        if p:
            share = 100 * p["seconds_in_c"] / p["seconds_total"]
            print(f"  {label} native: {share:.0f}% of the simulate call inside the C integrator")
        if "reference" in info:
            print(f"  {label} reference: {info['reference']}")
        if "amici" in info:
            print(f"  {label} AMICI: {info['amici']}")
    if "w3" in infos:
        print(f"  W3 top total Sobol indices: {infos['w3']['top_total_indices']}")
    print(f"  load average start/end: {machine['load_average_start']} / "
          f"{machine['load_average_end']} on {machine['cpus']} cpus")
    result = {"machine": machine, "profile": profile, **infos, "accuracy_bar": bar,
              "rows": [{**asdict(r), "per_sim_us": r.per_sim_us,
                        "cpu_per_sim_us": r.cpu_per_sim_us, "throughput": r.throughput}
                       for r in rows]}
    (out / "results.json").write_text(json.dumps(result, indent=2, default=str))
    (out / "table.md").write_text(_markdown(rows, bar, machine))
    with (out / "table.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["workload", "peer", "tol", "n_measured", "n_total", "wall_s", "cpu_s",
                         "wall_per_sim_us", "cpu_per_sim_us", "throughput_per_s",
                         "max_rel_err", "median_rel_err", "failed", "wall_ratios",
                         "cpu_ratios", "note"])
        for r in rows:
            writer.writerow([r.workload, r.peer, r.tol, r.n_measured, r.n_total,
                             f"{r.timing.wall:.4g}", f"{r.timing.cpu:.4g}",
                             f"{r.per_sim_us:.4g}", f"{r.cpu_per_sim_us:.4g}",
                             f"{r.throughput:.4g}", f"{r.max_rel_err:.3g}",
                             f"{r.median_rel_err:.3g}", r.failed,
                             "; ".join(f"{k}={v:.2f}" for k, v in r.ratios.items()),
                             "; ".join(f"{k}={v:.2f}" for k, v in r.cpu_ratios.items()),
                             r.note])
    print(f"\nwritten: {out / 'results.json'}, {out / 'table.md'}, {out / 'table.csv'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
