"""Finding a run's output folder from the marker its trial left there."""

from __future__ import annotations

import os
from pathlib import Path

from il2sim.trial.outputs import mark_folder, run_folder


def test_run_folder_finds_the_marked_folder_of_the_run_and_store(tmp_path: Path) -> None:
    root = tmp_path / "out"
    store, other = tmp_path / "a.duckdb", tmp_path / "b.duckdb"
    mark_folder(root / "rcc", "run1", store)
    mark_folder(root / "b" / "rcc", "run1", other)   # the same run id in another store
    mark_folder(root / "melanoma", "run2", store)
    assert run_folder("run1", store, root) == root / "rcc"
    assert run_folder("run1", other, root) == root / "b" / "rcc"
    assert run_folder("run2", store, root) == root / "melanoma"
    assert run_folder("run3", store, root) is None
    assert run_folder("run1", store, tmp_path / "nowhere") is None
    # Marked twice (a rerun into another --out): the latest.
    mark_folder(root / "again", "run1", store)
    os.utime(root / "rcc" / ".il2sim-run.json", (0, 0))
    assert run_folder("run1", store, root) == root / "again"
