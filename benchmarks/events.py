"""Model events: the native backend against the reference (SciPy LSODA), as a ratio.

    .venv/bin/python benchmarks/events.py               # 100 patients and case 00966
    .venv/bin/python benchmarks/events.py --patients 20 --no-suite

Workload: Kirschner-Panetta 1998 (``kp1998``) with an IL-2 infusion ``s_on`` switched by
the tumour, hysteresis by two model events (on: ``T > 3e5`` sets ``s_on = 1e6`` arb/day;
off: ``T < 3e3`` sets it to 0), a state-triggered pattern that needs root finding. The
thresholds and rate are a benchmark's, not a treatment: they make most patients switch
0-8 times in 1000 days. Antigenicity ``c`` uniform in [0.005, 0.05] (seeded), 0-1000 days,
101 output times, both backends at rtol = atol = 1e-8 (and SciPy again at 1e-10, its
error then nearer the native one's at 1e-8), one process. With events the loop
integrates patient by patient (the Python event runner drives both backends), so the native
backend's threads do not matter. Error: max over outputs, states and the first 20 patients
of |x - x_ref| / |x_ref| (with a floor of 1e-9 of each state's peak) against SciPy LSODA at
rtol = atol = 1e-12.

Also, where the SBML Test Suite is present (``../shared/data/sbml-test-suite``), its case
00966 (about 100,000 event executions) on both backends, through
``scripts/sbml_test_suite.py``'s ``run_case`` (the native library is built before the
clock starts). Results go to ``benchmarks/results/events.json``. Times vary with the load of
a shared machine; the ratio is the number to read.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from il2sim import Event, Model, Param, get_model, simulate

HERE = Path(__file__).resolve().parent
RTOL = ATOL = 1e-8
TIGHT = 1e-10
"""SciPy's tolerance in a third row, for its time nearer the native backend's error."""
REF_TOL = 1e-12
ERROR_PATIENTS = 20


def switch_model() -> Model:
    """``kp1998`` with the tumour-switched IL-2 infusion ``s_on`` (see the module doc)."""
    kp = get_model("kp1998")
    equations = dict(kp.equations)
    equations["IL"] = equations["IL"] + " + s_on"
    s_on = Param("s_on", 0.0, "arb/day", "IL-2 infusion while the switch is on",
                 "benchmark workload", (0.0, math.inf))
    return dataclasses.replace(
        kp, name="kp1998_switch", params=(*kp.params, s_on), equations=equations,
        events=(Event("on", "T > 3e5", (("s_on", "1e6"),)),
                Event("off", "T < 3e3", (("s_on", "0"),))))


def _run(model: Model, backend: str, cs: NDArray[np.float64], times: NDArray[np.float64],
         tol: float) -> tuple[float, NDArray[np.float64], NDArray[np.float64]]:
    start = time.perf_counter()
    result = simulate(model, None, params={"c": cs}, times=times, backend=backend, rtol=tol,
                      atol=tol, on_failure="record")
    seconds = time.perf_counter() - start
    assert result.param_values is not None
    if list(result.status).count("ok") != len(cs):
        raise SystemExit(f"{backend}: failed patients: {result.message}")
    return seconds, result.states, result.param_values


def _error(x: NDArray[np.float64], ref: NDArray[np.float64]) -> float:
    floor = 1e-9 * np.abs(ref).max(axis=(0, 1), keepdims=True)
    return float(np.max(np.abs(x - ref) / (np.abs(ref) + floor)))


def kp_switch(n: int) -> dict[str, object]:
    model = switch_model()
    cs = np.random.default_rng(1).uniform(0.005, 0.05, n)
    times = np.linspace(0.0, 1000.0, 101)
    simulate(model, None, params={"c": cs[:1]}, times=times, backend="native")  # build
    _, ref, _ = _run(model, "scipy", cs[:ERROR_PATIENTS], times, REF_TOL)
    row: dict[str, object] = {"workload": f"kp1998 + IL-2 switch (2 events), {n} patients",
                              "rtol": RTOL, "atol": ATOL}
    for key, backend, tol in (("scipy", "scipy", RTOL), ("native", "native", RTOL),
                              ("scipy_tight", "scipy", TIGHT)):
        seconds, states, params = _run(model, backend, cs, times, tol)
        switches = (np.diff(params[:, :, -1], axis=1) != 0).sum(axis=1)
        row[key] = {"tol": tol, "seconds": seconds, "us_per_patient": 1e6 * seconds / n,
                        "max_rel_err": _error(states[:ERROR_PATIENTS], ref),
                        "switches_per_patient_mean": float(switches.mean()),
                        "switches_per_patient_max": int(switches.max())}
    return row


def suite_case(name: str) -> dict[str, object] | None:
    script = HERE.parent / "scripts" / "sbml_test_suite.py"
    spec = importlib.util.spec_from_file_location("sbml_test_suite", script)
    assert spec is not None and spec.loader is not None
    runner = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = runner
    spec.loader.exec_module(runner)
    case = runner.shared_cases() / name
    if not case.is_dir():
        return None
    runner.run_case(case, backend="native", timeout_s=0)  # builds the library
    row: dict[str, object] = {"workload": f"SBML Test Suite case {name}"}
    for backend in ("scipy", "native"):
        result = runner.run_case(case, backend=backend, timeout_s=0)
        row[backend] = {"status": result.status, "seconds": result.seconds}
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--patients", type=int, default=100)
    parser.add_argument("--no-suite", action="store_true", help="skip Test Suite case 00966")
    args = parser.parse_args()
    rows = [kp_switch(args.patients)]
    if not args.no_suite:
        row = suite_case("00966")
        if row is not None:
            rows.append(row)
    for row in rows:
        scipy, native = row["scipy"], row["native"]
        assert isinstance(scipy, dict) and isinstance(native, dict)
        row["ratio_scipy_over_native"] = scipy["seconds"] / native["seconds"]
        tight = row.get("scipy_tight")
        if isinstance(tight, dict):
            row["ratio_scipy_tight_over_native"] = tight["seconds"] / native["seconds"]
        print(json.dumps(row, indent=1))
    out = HERE / "results" / "events.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(rows, indent=1) + "\n")
    print(f"wrote {out.relative_to(HERE.parent)}")


if __name__ == "__main__":
    main()
