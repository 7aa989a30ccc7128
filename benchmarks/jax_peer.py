"""The JAX/diffrax backend as a peer of the W1 benchmark (``benchmarks/run.py``).

    .venv/bin/python benchmarks/jax_peer.py            # W1 at 1,000 sets, jax vs native
    .venv/bin/python benchmarks/jax_peer.py --n 200    # smaller

``run.py`` can add the row with :func:`w1_jax_row`: it takes the W1 inputs (antigenicities,
output times, tolerance, the reference trajectories of the first patients) and returns the
fields of a ``run.py`` ``Row`` as a dict (``timing`` as ``(wall, cpu)``), so this file
does not import ``run.py``. Without JAX installed it returns None.

What is timed: ``simulate(kp1998, backend="jax")`` end to end, after one warm-up call on
the full batch (JIT compilation is per process and batch shape: its time is reported
separately as ``compile_s``). The error is measured as in ``run.py``: max over outputs and
states of |x - x_ref| / |x_ref| per patient, against native Rodas4 at rtol = atol = 1e-12.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from importlib.util import find_spec
from typing import Any

import numpy as np
from numpy.typing import NDArray

from il2sim import get_model, simulate
from il2sim.engine import BACKENDS

Array = NDArray[np.float64]

__all__ = ["w1_jax_row"]


def _rel_err(x: Array, ref: Array) -> Array:
    """Per patient: max over outputs and states of |x - ref| / |ref| (as run.py)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        err = np.abs(x - ref) / np.abs(ref)
    err = np.where(x == ref, 0.0, np.where(np.isnan(err), np.inf, err))
    return np.asarray(err.reshape(err.shape[0], -1).max(axis=1))


def _timed(fn: Any, repeats: int) -> tuple[float, float, Any]:
    wall = cpu = float("inf")
    out = None
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        out = fn()
        wall = min(wall, time.perf_counter() - start)
        cpu = min(cpu, time.process_time() - start_cpu)
    return wall, cpu, out


def w1_jax_row(cs: Array, times: Array, tol: float, ref: Array, *, repeats: int = 1,
               method: str = "Kvaerno5", step_to_outputs: bool = False
               ) -> dict[str, Any] | None:
    """W1 (KP98, one antigenicity per patient) with ``backend="jax"``.

    Main arguments:
        cs: antigenicity ``c`` per patient (N).
        times: output times (days).
        tol: rtol = atol.
        ref: reference states of the first patients, ``(n_ref, len(times), 3)``.

    Other arguments:
        repeats: timed runs, best kept.
        method, step_to_outputs: the :class:`~il2sim.engine.jax_backend.JaxBackend`
            options (interpolated outputs by default; True ends a step at every output).

    Returns:
        ``run.py`` Row fields (``workload``, ``peer``, ``tol``, ``n_measured``,
        ``n_total``, ``timing`` = (wall, cpu), ``max_rel_err``, ``median_rel_err``,
        ``failed``, ``note``) plus ``compile_s``; None when JAX or diffrax is missing.
    """
    if find_spec("jax") is None or find_spec("diffrax") is None:
        return None
    from il2sim.engine.jax_backend import JaxBackend, JaxStats

    kp = get_model("kp1998")
    backend = JaxBackend(method=method, step_to_outputs=step_to_outputs)
    name = f"jax-bench-{id(backend)}"
    BACKENDS[name] = lambda method="LSODA": backend
    try:
        def run() -> Any:
            return simulate(kp, None, params={"c": cs}, times=times, backend=name, rtol=tol,
                            atol=tol)

        start = time.perf_counter()
        run()  # compiles for this batch shape
        compile_s = time.perf_counter() - start
        backend.stats = JaxStats()
        wall, cpu, result = _timed(run, repeats)
        stats = backend.stats
    finally:
        del BACKENDS[name]
    n = len(cs)
    err = _rel_err(result.states[:len(ref)], ref)
    import jax

    device = jax.devices()[0]
    outputs = "steps to outputs" if step_to_outputs else "interpolated"
    return {
        "workload": "W1 kp1998",
        "peer": f"jax ({method}, {outputs}, {device.platform})",
        "tol": f"{tol:g}", "n_measured": n, "n_total": n, "timing": (wall, cpu),
        "max_rel_err": float(err.max()), "median_rel_err": float(np.median(err)),
        "failed": int((result.status != "ok").sum()), "compile_s": compile_s,
        "note": (f"{stats.steps / (n * repeats):.0f} steps/sim, "
                 f"{stats.rejected / (n * repeats):.0f} rejected/sim; first call (JIT "
                 f"compile) {compile_s:.1f} s; device {device.device_kind}"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="parameter sets")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs, best kept")
    parser.add_argument("--tol", type=float, default=1e-6)
    parser.add_argument("--method", default="Kvaerno5")
    parser.add_argument("--out", default=None, help="write the rows as JSON here")
    args = parser.parse_args(argv)
    kp = get_model("kp1998")
    rng = np.random.default_rng(20240611)  # the seed and range of run.py's W1
    cs = rng.uniform(0.025, 0.05, args.n)
    times = np.linspace(0.0, 1000.0, 101)
    n_ref = min(200, args.n)
    ref = simulate(kp, None, params={"c": cs[:n_ref]}, times=times, backend="native",
                   method="Rodas4", rtol=1e-12, atol=1e-12).states
    rows = []
    for step_to_outputs in (False, True):
        row = w1_jax_row(cs, times, args.tol, ref, repeats=args.repeats, method=args.method,
                         step_to_outputs=step_to_outputs)
        if row is None:
            print("JAX or diffrax is not installed: pip install 'il2sim[jax]'")
            return 1
        rows.append(row)

    def native() -> Any:
        return simulate(kp, None, params={"c": cs}, times=times, backend="native",
                        rtol=args.tol, atol=args.tol)

    native()
    wall, cpu, r = _timed(native, args.repeats)
    err = _rel_err(r.states[:n_ref], ref)
    rows.append({"workload": "W1 kp1998", "peer": "native (Rodas5P, C)", "tol": f"{args.tol:g}",
                 "n_measured": args.n, "n_total": args.n, "timing": (wall, cpu),
                 "max_rel_err": float(err.max()), "median_rel_err": float(np.median(err)),
                 "failed": int((r.status != "ok").sum()), "note": ""})
    print(f"W1 kp1998, N = {args.n}, rtol = atol = {args.tol:g}, best of {args.repeats}; "
          f"load average {os.getloadavg()} on {os.cpu_count()} cpus ({platform.machine()})")
    for x in rows:
        w, c = x["timing"]
        print(f"  {x['peer']:<42} {1e6 * w / args.n:7.0f} us/sim wall {1e6 * c / args.n:7.0f} "
              f"us/sim CPU   max rel err {x['max_rel_err']:.2e}  median "
              f"{x['median_rel_err']:.1e}  failed {x['failed']}  {x['note']}")
    for x in rows[:-1]:
        print(f"  {x['peer']} / native: {x['timing'][0] / wall:.1f}x wall, "
              f"{x['timing'][1] / cpu:.1f}x CPU")
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(rows, fh, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
