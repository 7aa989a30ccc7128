"""Draw the memory of streamed W2 trials over their course (issue "Fast ensembles", 5).

    .venv/bin/python benchmarks/memory_plot.py                 # every results/memory_*.jsonl
    .venv/bin/python benchmarks/memory_plot.py A.jsonl B.jsonl --out fig.png

Each ``.jsonl`` file is the progress log of one ``benchmarks/memory.py`` run (one line per
20 chunks: ``patients_done``, ``seconds``, ``peak_rss_mib``, ``rss_mib``). The figure has the
resident set size (solid) and its running peak (dashed) against patients done, one colour
per run, so a memory that grows with the number of patients shows as a rising line.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ROOT = Path(__file__).resolve().parent / "results"


def load(path: Path) -> dict[str, list[float]]:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    if not rows:
        raise SystemExit(f"{path}: no progress lines")
    return {key: [float(r[key]) for r in rows] for key in rows[0]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("logs", nargs="*", type=Path)
    parser.add_argument("--out", type=Path, default=ROOT / "memory.png")
    args = parser.parse_args(argv)
    logs = args.logs or sorted(ROOT.glob("memory_*.jsonl"))
    if not logs:
        raise SystemExit(f"no progress logs given or in {ROOT}")
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for k, path in enumerate(logs):
        run = load(path)
        patients = [p / 1000 for p in run["patients_done"]]
        colour = f"C{k}"
        ax.plot(patients, run["rss_mib"], color=colour, label=f"{path.stem}: RSS")
        ax.plot(patients, run["peak_rss_mib"], color=colour, linestyle="--",
                label=f"{path.stem}: peak")
    ax.set_xlabel("patients done (thousands)")
    ax.set_ylabel("MiB")
    ax.set_ylim(bottom=0)
    ax.grid(color="0.9")
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title("Memory of a streamed W2 trial (native backend, chunks of 500, DuckDB store)")
    fig.savefig(args.out, dpi=120, bbox_inches="tight")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
