"""Library comments say what was measured, not the benchmark suite's workload names.

``benchmarks/`` numbers its workloads (W1: 10,000 KP98 runs, W2: a 200-patient il2_qsp
cohort, ...); a docstring in ``src/`` that says "W2 batch" means nothing to a reader of the
library. This test fails on any such name under ``src/``.
"""

from __future__ import annotations

import re
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
WORKLOAD = re.compile(r"\bW\d+\b")
"""A workload name: W1, W2, ... (not a unit such as W/m2 or a name such as W_max)."""


def test_pattern_catches_the_workload_names() -> None:
    for text in ("profile of a 200-patient W2 batch", "W1 measured", "(W10)"):
        assert WORKLOAD.search(text), text
    for text in ("W_max", "HW2", "kW", "W/m2 power", "Wilks"):
        assert not WORKLOAD.search(text), text


def test_no_benchmark_workload_names_in_the_library() -> None:
    files = sorted(SRC.rglob("*.py")) + sorted(SRC.rglob("*.c"))
    assert len(files) > 50  # the scan sees the tree
    hits = [f"{path.relative_to(SRC)}:{n}: {line.strip()}"
            for path in files
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
            if WORKLOAD.search(line)]
    assert not hits, "say what was measured instead of:\n" + "\n".join(hits)
