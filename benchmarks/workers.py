"""When a local Dask cluster (``il2sim trial --workers N``) pays: wall time of the RCC
example trial serially and on N worker processes, at several sizes.

    .venv/bin/python benchmarks/workers.py                      # 64 .. 1024 patients, 2 workers
    .venv/bin/python benchmarks/workers.py --sizes 255 1024 --workers 2 --repeats 3

Each run is :func:`il2sim.trial.runner.stream_trial` of ``examples/trials/rcc.toml`` resized
to n patients into a new store (nothing resumes); the Dask time includes starting and
closing the local cluster (:func:`il2sim.trial.runner.dask_client`), as ``--workers`` does.
A small serial run first warms the compiled model. Prints the median wall times and their
ratio; :data:`il2sim.cli.DASK_MIN_PATIENTS_PER_WORKER` comes from these numbers
(docs/design.md, "When Dask pays").
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from il2sim.config.trial import load_trial_file
from il2sim.store import ResultStore
from il2sim.trial.runner import TrialSpec, dask_client, stream_trial

TRIAL = Path(__file__).resolve().parents[1] / "examples" / "trials" / "rcc.toml"


def _wall(spec: TrialSpec, workers: int | None, db: Path) -> float:
    start = time.perf_counter()
    client = None if workers is None else dask_client(workers=workers)
    try:
        with ResultStore(db) as store:
            stream_trial(spec, store, client=client)
    finally:
        if client is not None:
            cluster = getattr(client, "cluster", None)
            client.close()  # type: ignore[attr-defined]
            if cluster is not None:
                cluster.close()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 255, 512, 1024])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    base = load_trial_file(TRIAL)
    assert isinstance(base, TrialSpec)
    print(f"{os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f} at the start; "
          f"chunks of {base.chunk_size} patients")
    print(f"{'patients':>8} {'serial s':>9} {f'{args.workers} workers s':>12} {'ratio':>6}")
    with tempfile.TemporaryDirectory() as tmp:
        runs = iter(range(10**6))
        _wall(base.resized(4), None, Path(tmp) / "warm.duckdb")
        for n in args.sizes:
            spec = base.resized(n)
            serial, dask = [], []
            for _ in range(args.repeats):  # alternate, so that load drifts hit both
                serial.append(_wall(spec, None, Path(tmp) / f"{next(runs)}.duckdb"))
                dask.append(_wall(spec, args.workers, Path(tmp) / f"{next(runs)}.duckdb"))
            s, d = statistics.median(serial), statistics.median(dask)
            print(f"{n:>8} {s:>9.1f} {d:>12.1f} {d / s:>6.2f}", flush=True)
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
