"""W2 on the 100-patient subsample of ``run.py``: time and accuracy per tolerance pair.

    .venv/bin/python benchmarks/w2_tolerances.py

The W2 error of ``run.py`` is dominated by absolute errors at the level of ``atol`` in
linear states that decay towards 0 after the course (weight gain 2e-6 % against a peak of
5.4 %: below the floor of 1e-6 of the peak), so this sweep tightens ``atol`` separately.
Same patients, grid, protocol, reference (native Rodas4 at 1e-10/1e-12) and error measure as
``run.py``'s W2; native (Rodas5P, 2 threads; one Rodas4 row) and the roadrunner backend;
best of 2. Writes ``results/w2_tolerances.json``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as bench  # noqa: E402

from il2sim import get_model, simulate  # noqa: E402
from il2sim.protocol import ProtocolDecider  # noqa: E402
from il2sim.trial.calibrated import calibrated_population  # noqa: E402

SETTINGS = [("native", 1e-6, 1e-8), ("native", 1e-6, 1e-10), ("native", 2e-6, 1e-10),
            ("native", 1e-7, 1e-11), ("native", 1e-8, 1e-12), ("native-Rodas4", 1e-6, 1e-10),
            ("roadrunner", 1e-9, 1e-11), ("roadrunner", 1e-9, 1e-13),
            ("roadrunner", 1e-10, 1e-13)]


def main() -> int:
    qsp = get_model("il2_qsp")
    regimen, protocol = bench._label_course()
    hours = bench._trial_grid(regimen, 749.0)
    patients = calibrated_population("melanoma").sample(10_000, 2024)
    sub = np.sort(np.random.default_rng(5).choice(10_000, 100, replace=False))
    args = bench._patient_args(qsp, patients.iloc[sub])

    def sim(backend: str, rtol: float, atol: float, method: str = "LSODA") -> Any:
        return simulate(qsp, regimen, times=hours, backend=backend, rtol=rtol, atol=atol,
                        method=method, on_failure="record", decider=ProtocolDecider(protocol),
                        **args)

    def values(r: Any) -> Any:
        return np.concatenate([r.states, r.observables], axis=2)

    load_start = os.getloadavg()
    ref = values(sim("native", 1e-10, 1e-12, "Rodas4"))  # not the measured Rodas5P
    floor = 1e-6 * np.abs(ref).max(axis=(0, 1), keepdims=True) + 1e-12
    rows = []
    for backend, rtol, atol in SETTINGS:
        method = backend.partition("-")[2] or "LSODA"
        timing, r = bench._timed(partial(sim, backend.partition("-")[0], rtol, atol, method), 2)
        err = bench._rel_err(values(r), ref, floor)
        row = {"backend": backend, "rtol": rtol, "atol": atol,
               "wall_ms_per_patient": 1000 * timing.wall / len(sub),
               "cpu_ms_per_patient": 1000 * timing.cpu / len(sub),
               "max_rel_err": float(err.max()), "median_rel_err": float(np.median(err)),
               "failed": int((r.status != "ok").sum())}
        rows.append(row)
        print(f"{backend:<10} rtol {rtol:<6g} atol {atol:<6g} {row['wall_ms_per_patient']:7.1f} "
              f"ms wall {row['cpu_ms_per_patient']:6.1f} ms CPU  max rel err "
              f"{row['max_rel_err']:.2e}  median {row['median_rel_err']:.1e}", flush=True)
    out = Path(__file__).resolve().parent / "results" / "w2_tolerances.json"
    out.write_text(json.dumps({"load_average": [load_start, os.getloadavg()],
                               "date": time.strftime("%Y-%m-%d %H:%M"), "rows": rows},
                              indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
