"""Peak memory of a W2 trial as the number of patients grows (issue "Fast ensembles", 5).

    .venv/bin/python benchmarks/memory.py                       # sizes 1000,2000,5000,10000
    .venv/bin/python benchmarks/memory.py --sizes 200,400 --modes stream

The W2 trial: the flagship ``il2_qsp`` under the label course with the label protocol's
hold rules, 2 years of follow-up after day 19, the calibrated melanoma population, the
native backend, chunks of 500 patients, every chunk written to a DuckDB result store
(``il2sim.store.ResultStore``). Each (mode, size) runs in a fresh process, which
reports its own peak resident set size (``ru_maxrss``):

- ``stream``: ``trial.runner.stream_trial(spec, store)``, chunk by chunk into the store,
  nothing kept between chunks;
- ``run_trial``: ``trial.runner.run_trial(spec, store=...)``, the same run, then the
  whole trial read back from the store and returned as DataFrames.

Flat peak RSS across sizes in ``stream`` mode is the bounded-memory property; growth in
``run_trial`` mode is the cost of returning the whole trial. Results go to
``benchmarks/results/memory.json`` and ``memory.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
CHUNK = 500
HORIZON_DAYS = 19.0 + 730.0


def _spec(n: int) -> Any:
    from il2sim.trial.calibrated import calibrated_mortality, calibrated_population
    from il2sim.trial.runner import TrialSpec

    return TrialSpec("memory-w2", n, 2024, calibrated_population("melanoma"),
                     mortality=calibrated_mortality("melanoma"), backend="native",
                     chunk_size=CHUNK, horizon_days=HORIZON_DAYS, max_courses=1,
                     indication="melanoma")


PROGRESS_EVERY = 20  # chunks between progress lines


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _count(store: Any, table: str) -> int:
    row = store.con.execute(f"SELECT count(*) FROM {table}").fetchone()
    return int(row[0]) if row else 0


def child(mode: str, n: int, db: Path, log: Path) -> dict[str, Any]:
    """Run one trial in this process; return time, peak RSS and what was stored.

    Every ``PROGRESS_EVERY`` chunks a JSON line (patients done, seconds, peak and current
    RSS) goes to stderr and to ``log`` (``benchmarks/memory_plot.py`` draws it)."""
    from il2sim.store import ResultStore
    from il2sim.trial.runner import run_trial, stream_trial

    spec = _spec(n)
    start = time.perf_counter()
    done = [0, 0]  # patients, chunks

    def report(k: int) -> None:  # a long run shows its course on stderr
        done[0] += k
        done[1] += 1
        if done[1] % PROGRESS_EVERY == 0:
            line = json.dumps({"patients_done": done[0], "seconds":
                               round(time.perf_counter() - start, 1),
                               "peak_rss_mib": round(_peak_mib(), 1),
                               "rss_mib": round(_rss_mib(), 1)})
            print(line, file=sys.stderr, flush=True)
            with log.open("a") as out:
                out.write(line + "\n")

    with ResultStore(db) as store:
        if mode == "stream":
            stream_trial(spec, store, progress=report)
        else:
            run_trial(spec, store=store)
        stored, doses = (_count(store, table) for table in ("patients", "doses"))
    seconds = time.perf_counter() - start
    return {"mode": mode, "n": n, "seconds": seconds, "peak_rss_mib": _peak_mib(),
            "patients_stored": stored, "dose_rows": doses,
            "db_mib": db.stat().st_size / 2**20}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,2000,5000,10000")
    parser.add_argument("--modes", default="stream,run_trial")
    parser.add_argument("--out", type=Path, default=ROOT / "results")
    parser.add_argument("--child", nargs=4, metavar=("MODE", "N", "DB", "LOG"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        mode, n, db, log = args.child
        print(json.dumps(child(mode, int(n), Path(db), Path(log))))
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    sizes = [int(s) for s in args.sizes.split(",")]
    modes = [m.strip() for m in args.modes.split(",")]
    if not set(modes) <= {"stream", "run_trial"}:
        parser.error("--modes: stream and/or run_trial")
    results: list[dict[str, Any]] = []
    load_start = os.getloadavg()
    for mode in modes:
        for n in sizes:
            with tempfile.TemporaryDirectory() as tmp:
                # the child's progress lines and errors go straight to this stderr
                log = args.out / f"memory_{mode}_{n}.jsonl"
                log.unlink(missing_ok=True)
                proc = subprocess.run([sys.executable, __file__, "--child", mode, str(n),
                                       str(Path(tmp) / "trial.duckdb"), str(log)],
                                      stdout=subprocess.PIPE, text=True, check=False)
            if proc.returncode != 0:
                return 1
            row = json.loads(proc.stdout.strip().splitlines()[-1])
            row["ms_per_patient"] = 1000 * row["seconds"] / n
            results.append(row)
            print(f"{mode:<10} {n:>7} patients: peak RSS {row['peak_rss_mib']:7.0f} MiB, "
                  f"{row['seconds']:7.1f} s ({row['ms_per_patient']:.1f} ms/patient), "
                  f"store {row['db_mib']:.0f} MiB", flush=True)
    machine = {"cpus": os.cpu_count(), "load_average_start": load_start,
               "load_average_end": os.getloadavg(), "date": time.strftime("%Y-%m-%d %H:%M"),
               "chunk_size": CHUNK, "horizon_days": HORIZON_DAYS}
    stream = [r for r in results if r["mode"] == "stream"]
    if stream:
        per = sum(r["seconds"] for r in stream) / sum(r["n"] for r in stream)
        machine["extrapolated_1e6_patients_hours"] = per * 1e6 / 3600
        print(f"1,000,000 patients at the streamed rate: {per * 1e6 / 3600:.1f} h on this "
              "machine")
    (args.out / "memory.json").write_text(json.dumps({"machine": machine, "runs": results},
                                                     indent=2))
    lines = ["| mode | patients | peak RSS | time | per patient | store size |",
             "|---|---|---|---|---|---|"]
    lines += [f"| {r['mode']} | {r['n']:,} | {r['peak_rss_mib']:.0f} MiB | "
              f"{r['seconds']:.0f} s | {r['ms_per_patient']:.1f} ms | {r['db_mib']:.0f} MiB |"
              for r in results]
    lines.append(f"\nLoad average {machine['load_average_start']} -> "
                 f"{machine['load_average_end']} on {machine['cpus']} CPUs; chunks of {CHUNK}.")
    (args.out / "memory.md").write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
