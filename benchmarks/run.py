"""Benchmarks of the native backend against its peers, in one run.

    .venv/bin/python benchmarks/run.py            # full (a few minutes on 2 cores)
    .venv/bin/python benchmarks/run.py --quick    # smoke test (seconds)

W1  Kirschner-Panetta 1998 (``kp1998``), N parameter sets (10,000) with the antigenicity
    ``c`` uniform in [0.025, 0.05] (seeded), 0-1000 days, 101 output times,
    rtol = atol = 1e-6. Peers in the same run:
    - native: ``simulate(..., backend="native")`` over the whole batch (Rodas4 in C,
      POSIX threads over patients), end to end (parameter handling, event loop, observables);
    - SciPy LSODA (the reference backend) looping over patients, measured on a subset and
      scaled to N (said in the table);
    - libRoadRunner (CVODE) looping over patients on the same equations: the SBML export
      of ``kp1998`` (``il2sim.io.sbml_export``) when importable, else BIOMD0000000732 (whose
      activation term is ``p1*E*IL/g1``, not the paper's ``p1*E*IL/(g1 + IL)``). It
      integrates the cells linearly; il2sim integrates log(cells), so the same nominal
      tolerances mean different things: the error column is what to compare, and a
      tolerance sweep on a subset gives time at equal accuracy.
    Error: max over outputs, states and patients of |x - x_ref| / |x_ref| on the first
    ``n_ref`` patients, against the native backend at rtol = atol = 1e-12 (itself checked
    against SciPy Radau at 1e-10 on a few patients; its agreement is printed).

W2-lite  the flagship ``il2_qsp`` (21 states) under the label course (600,000 IU/kg every
    8 h, days 1-5 and 15-19) plus 60 days of follow-up, hourly outputs, rtol 1e-6,
    atol 1e-8, for 200 patients (weight 50-100 kg, seven parameters log-normal with
    20% spread, seeded). SciPy on a subset, scaled. Error against native at rtol 1e-10,
    atol 1e-12, with a floor of 1e-6 of each variable's peak (drug amounts decay to 1e-49
    between doses, far below any tolerance).

Profile: code generation (SymPy) and gcc for a cold library, time inside the C
integrator against the whole ``simulate`` call, and steps per simulation.

Results go to ``benchmarks/results/`` (``--quick``: ``benchmarks/results/quick/``) as JSON
and CSV; the machine's load average is recorded, since other work on a shared machine
slows every peer.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from il2sim import get_model, presets, simulate
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


def _native_with_stats(threads: int | None = None) -> tuple[str, NativeBackend]:
    """A native backend object registered under a private name, to read its counters."""
    backend = NativeBackend(threads=threads)
    name = f"native-bench-{id(backend)}"
    BACKENDS[name] = lambda method="LSODA": backend
    return name, backend


# ---------------------------------------------------------------------------------- W1
def _kp_sbml() -> tuple[str, str]:
    try:
        from il2sim.io.sbml_export import export_sbml

        return export_sbml(get_model("kp1998")), "SBML export of kp1998 (il2sim.io.sbml_export)"
    except Exception as exc:  # the exporter is optional here: fall back to the curated file
        shared = Path(os.environ.get("IL2SIM_SHARED", ROOT.parent.parent / "shared"))
        path = shared / "data/biomodels/BIOMD0000000732.xml"
        return path.read_text(), f"BIOMD0000000732 (file's p1*E*IL/g1 form; export failed: {exc})"


def _roadrunner(cs: Array, times: Array, tol: float, sbml: str,
                repeats: int = 1) -> tuple[Timing, Array, str]:
    import roadrunner

    rr = roadrunner.RoadRunner(sbml)
    rr.integrator.relative_tolerance = tol
    rr.integrator.absolute_tolerance = tol
    ids = [s for s in ("E", "T", "IL") if s in rr.model.getFloatingSpeciesIds()]
    if not ids:  # BIOMD0000000732 names
        ids = ["Immune_cells", "Tumor", "IL2"]
    selections = ["time", *[f"[{s}]" for s in ids]]
    out = np.empty((len(cs), len(times), 3))
    errors: list[str] = []

    def loop() -> None:
        errors.clear()
        for i, c in enumerate(cs):
            rr.resetAll()
            rr["c"] = float(c)
            try:
                res = rr.simulate(float(times[0]), float(times[-1]), len(times), selections)
                out[i] = np.asarray(res)[:, 1:]
            except RuntimeError as exc:  # CVODE failure: recorded, as il2sim does
                out[i] = np.nan
                errors.append(str(exc).split(";")[0])

    timing, _ = _timed(loop, repeats)
    rr.resetAll()
    atol_vector = np.asarray(rr.integrator.getAbsoluteToleranceVector()).tolist()
    note = f"CVODE, atol vector {atol_vector} (species-scaled by libRoadRunner)"
    if errors:
        note += f"; {len(errors)} failed: {errors[0]}"
    return timing, out, note


def workload_1(quick: bool, repeats: int) -> tuple[list[Row], dict[str, Any]]:
    kp = get_model("kp1998")
    n = 200 if quick else 10_000
    n_scipy = 10 if quick else 200
    n_ref = 10 if quick else 200
    n_rr = 100 if quick else n
    n_sweep = 0 if quick else 1000
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
    ref = sim("native", cs[:n_ref], 1e-12).states
    n_radau = 1 if quick else 4
    radau_tol = 1e-8 if quick else 1e-10
    radau = sim("scipy", cs[:n_radau], radau_tol, method="Radau").states
    info["reference"] = (f"native Rodas4 at rtol=atol=1e-12 on {n_ref} patients; SciPy Radau "
                         f"at {radau_tol:g} on {n_radau} differs by max rel "
                         f"{float(_rel_err(radau, ref[:n_radau]).max()):.2e}")

    rows: list[Row] = []
    load_library(kp)  # warm: the library build is profiled separately below
    for threads in (None, 1):
        name, backend = _native_with_stats(threads)
        sim(name, cs[:50])  # warm-up
        timing, r = _timed(partial(sim, name, cs), repeats)
        backend.stats = NativeStats()
        counted, _ = _timed(partial(sim, name, cs))  # once more, for the counters
        err = _rel_err(r.states[:n_ref], ref)
        label = "native (Rodas4, C)" + (", 1 thread" if threads == 1 else
                                        f", {default_threads()} threads")
        s = backend.stats
        rows.append(Row("W1 kp1998", label, f"{tol:g}", n, n, timing, float(err.max()),
                        float(np.median(err)), int((r.status != "ok").sum()),
                        note=f"{s.steps / n:.0f} steps/sim, {s.rhs_evaluations / n:.0f} f-evals"
                             f"/sim; {s.seconds_in_c:.2f} s in C of {counted.wall:.2f} s"))
        if threads is None:
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
    timing, states, note = _roadrunner(cs[:n_rr], times, tol, sbml, repeats)
    err = _rel_err(states[:n_ref], ref)
    bad = int((~np.isfinite(states).all(axis=(1, 2)) | (states < 0).any(axis=(1, 2))).sum())
    note = f"{bad} negative or failed; " + note
    rows.append(Row("W1 kp1998", "libRoadRunner loop", f"{tol:g}", n_rr, n,
                    timing.scaled(n / n_rr), float(err.max()), float(np.median(err)), bad,
                    note=note + ("" if n_rr == n else f"; measured on {n_rr}, scaled")))

    # time at equal accuracy: a tolerance sweep on a subset
    for sweep_tol in ((1e-8, 1e-10) if n_sweep else ()):
        sub = cs[:n_sweep]
        timing, r = _timed(partial(sim, "native", sub, sweep_tol), repeats)
        err = _rel_err(r.states[:n_ref], ref)
        rows.append(Row("W1 sweep", "native (Rodas4, C)", f"{sweep_tol:g}", n_sweep, n_sweep,
                        timing, float(err.max()), float(np.median(err)),
                        int((r.status != "ok").sum())))
        timing, states, note = _roadrunner(sub, times, sweep_tol, sbml, repeats)
        err = _rel_err(states[:n_ref], ref)
        rows.append(Row("W1 sweep", "libRoadRunner loop", f"{sweep_tol:g}", n_sweep, n_sweep,
                        timing, float(err.max()), float(np.median(err)), 0, note=note))
    return rows, info


# ---------------------------------------------------------------------------------- W2
VARIED = ("k10", "V1", "ant", "r_T", "ec50_perm", "p_L", "p_N")


def _qsp_patients(model: Model, n: int) -> tuple[dict[str, Array], dict[str, Array]]:
    rng = np.random.default_rng(7)
    params = {}
    for name in VARIED:
        p = model.param(name)
        params[name] = np.clip(p.value * rng.lognormal(0.0, 0.2, n), *p.bounds)
    weight = rng.uniform(50.0, 100.0, n)
    params["body_weight"] = weight
    return params, {"weight": weight}


def workload_2(quick: bool, repeats: int) -> tuple[list[Row], dict[str, Any]]:
    qsp = get_model("il2_qsp")
    n = 4 if quick else 200
    n_sub = 1 if quick else 10
    days = 19 + 60
    hours = np.arange(0.0, days * 24 + 1, 1.0)
    regimen = presets.label_high_dose()
    params, cov = _qsp_patients(qsp, n)
    rtol, atol = 1e-6, 1e-8
    info: dict[str, Any] = {"n": n, "days": days, "outputs": len(hours), "rtol": rtol,
                            "atol": atol, "varied": [*VARIED, "weight (50-100 kg)"]}

    def sim(backend: str, k: int, rtol: float = rtol, atol: float = atol) -> Any:
        return simulate(qsp, regimen, params={p: v[:k] for p, v in params.items()},
                        covariates={c: v[:k] for c, v in cov.items()}, times=hours,
                        backend=backend, rtol=rtol, atol=atol)

    def values(r: Any) -> Array:
        return np.concatenate([r.states, r.observables], axis=2)

    ref = values(sim("native", n_sub, rtol=1e-10, atol=1e-12))
    floor = 1e-6 * np.abs(ref).max(axis=(0, 1), keepdims=True)
    load_library(qsp)
    rows: list[Row] = []
    for threads in (None, 1):
        name, backend = _native_with_stats(threads)
        timing, r = _timed(partial(sim, name, n), repeats)
        backend.stats = NativeStats()
        counted, _ = _timed(partial(sim, name, n))  # once more, for the counters
        err = _rel_err(values(r)[:n_sub], ref, floor)
        s = backend.stats
        label = "native (Rodas4, C)" + (", 1 thread" if threads == 1 else
                                        f", {default_threads()} threads")
        rows.append(Row("W2 il2_qsp", label, "1e-6/1e-8", n, n, timing, float(err.max()),
                        float(np.median(err)), int((r.status != "ok").sum()),
                        note=f"{s.calls} segments; {s.steps / n:.0f} steps/sim; "
                             f"{s.seconds_in_c:.2f} s in C of {counted.wall:.2f} s"))
        if threads is None:
            info["native_profile"] = {"seconds_total": counted.wall,
                                      "seconds_in_c": s.seconds_in_c,
                                      "segments": s.calls, "steps_per_sim": s.steps / n}
    timing, r = _timed(partial(sim, "scipy", n_sub), repeats)
    err = _rel_err(values(r), ref, floor)
    rows.append(Row("W2 il2_qsp", "SciPy LSODA loop", "1e-6/1e-8", n_sub, n,
                    timing.scaled(n / n_sub), float(err.max()), float(np.median(err)),
                    int((r.status != "ok").sum()), note=f"measured on {n_sub}, scaled to {n}"))
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


def _short(peer: str) -> str:
    return peer.split()[0]


def _print(rows: list[Row]) -> None:
    header = (f"{'workload':<11} {'peer':<30} {'tol':<9} {'N meas':>6} {'wall/sim':>9} "
              f"{'CPU/sim':>9} {'sims/s':>7} {'max rel err':>11} {'median':>8} {'fail':>4}  "
              "ratio peer/native (wall, CPU); notes")
    print(header)
    print("-" * len(header))
    for r in rows:
        ratios = ", ".join(f"{_short(k)} {v:.1f}x/{r.cpu_ratios[k]:.1f}x"
                           for k, v in r.ratios.items())
        notes = "; ".join(x for x in (ratios, r.note) if x)
        print(f"{r.workload:<11} {r.peer:<30} {r.tol:<9} {r.n_measured:>6} "
              f"{r.per_sim_us:>7.0f}us {r.cpu_per_sim_us:>7.0f}us {r.throughput:>7.0f} "
              f"{r.max_rel_err:>11.2e} {r.median_rel_err:>8.1e} {r.failed:>4}  {notes}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="seconds-long smoke test")
    parser.add_argument("--out", type=Path, default=None, help="results folder")
    parser.add_argument("--repeats", type=int, default=0,
                        help="timed runs per peer, best kept (default 3, quick 1)")
    args = parser.parse_args(argv)
    out = args.out or ROOT / "results" / ("quick" if args.quick else "")
    out.mkdir(parents=True, exist_ok=True)
    machine = {"cpus": os.cpu_count(), "load_average_start": os.getloadavg(),
               "python": sys.version.split()[0], "platform": platform.platform(),
               "quick": args.quick, "date": time.strftime("%Y-%m-%d %H:%M:%S")}
    start = time.perf_counter()
    profile = build_profile(args.quick)
    repeats = args.repeats or (1 if args.quick else 3)
    machine["repeats"] = repeats
    rows1, info1 = workload_1(args.quick, repeats)
    rows2, info2 = workload_2(args.quick, repeats)
    rows = rows1 + rows2
    _ratios(rows)
    machine["load_average_end"] = os.getloadavg()
    machine["benchmark_seconds"] = time.perf_counter() - start
    _print(rows)
    print()
    for key, value in profile.items():
        print(f"  {key:<48} {value:6.2f} s")
    for label, info in (("W1", info1), ("W2", info2)):
        p = info.get("native_profile", {})
        if p:
            share = 100 * p["seconds_in_c"] / p["seconds_total"]
            print(f"  {label} native: {share:.0f}% of the simulate call inside the C integrator")
    print(f"  W1 reference: {info1['reference']}")
    print(f"  W1 libRoadRunner model: {info1['roadrunner_model']}")
    print(f"  load average start/end: {machine['load_average_start']} / "
          f"{machine['load_average_end']} on {machine['cpus']} cpus")
    result = {"machine": machine, "profile": profile, "w1": info1, "w2": info2,
              "rows": [{**asdict(r), "per_sim_us": r.per_sim_us,
                        "cpu_per_sim_us": r.cpu_per_sim_us, "throughput": r.throughput}
                       for r in rows]}
    (out / "results.json").write_text(json.dumps(result, indent=2, default=str))
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
    print(f"\nwritten: {out / 'results.json'}, {out / 'table.csv'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
