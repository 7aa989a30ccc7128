"""A trial's standard figures: waterfall, swimmer, spider, KM, doses, toxicity; the folder
they are written to, marked with the run and store they belong to."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from il2sim.config.errors import ConfigError
from il2sim.trial import plots
from il2sim.trial.statistics import DoseDelivery, is_responder

__all__ = ["LABEL_TOXICITY", "RUN_MARKER", "TRIAL_FIGURES", "check_folder", "mark_folder",
           "run_folder"]

# Any-grade rates in the 525 patients of the Proleukin label's adverse reactions table (the
# RCC and melanoma trials), for reference markers.
LABEL_TOXICITY = {"hypotension": 0.71, "oliguria": 0.63, "confusion": 0.34,
                  "creatinine": 0.33, "weight_gain": 0.16, "oedema": 0.28, "chills": 0.52,
                  "diarrhoea": 0.67, "vomiting": 0.50, "bilirubin": 0.40,
                  "thrombocytopenia": 0.37}


DrawFigure = Callable[[pd.DataFrame, pd.DataFrame | DoseDelivery, pd.DataFrame, Path | None],
                     Figure]
"""Draws one figure from a trial's ``(endpoints, doses, scans)`` (doses: the dose log or its
:class:`~il2sim.trial.statistics.DoseDelivery`), saving it when given a path."""

TRIAL_FIGURES: dict[str, DrawFigure] = {
    "waterfall": lambda e, d, s, path: plots.plot_waterfall(e, path=path),
    "swimmer": lambda e, d, s, path: plots.plot_swimmer(
        e, responders_only=bool(is_responder(e["bor"]).any()), path=path),
    "spider": lambda e, d, s, path: plots.plot_spider(s, e, path=path),
    "kaplan_meier": lambda e, d, s, path: plots.plot_km(e, path=path),
    "dose_delivery": lambda e, d, s, path: plots.plot_dose_delivery(d, path=path),
    "toxicity": lambda e, d, s, path: plots.plot_toxicity(e, reference=LABEL_TOXICITY,
                                                          path=path),
}
"""The standard trial figures, by name (files ``<name>.png``; the web app serves them too)."""



RUN_MARKER = ".il2sim-run.json"
"""The file in a trial's output folder naming the run and the store its files come from."""


def _owner(folder: Path) -> dict[str, str] | None:
    try:
        data = json.loads((folder / RUN_MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def check_folder(folder: Path, db: Path, *, force: bool = False) -> None:
    """Refuse to write a trial's files into ``folder`` when it holds the files of a run
    from another store (its :data:`RUN_MARKER`), unless ``force``: files are never
    replaced silently. Call it before the run starts.

    Raises:
        ConfigError: the folder belongs to another store's run.
    """
    owner = _owner(folder)
    if force or owner is None or owner.get("db") == str(db.resolve()):
        return
    raise ConfigError(str(folder), None, f"holds the files of run {owner.get('run_id')} of "
                      f"the store {owner.get('db')}; give --out DIR, or --force to replace them")


def mark_folder(folder: Path, run_id: str, db: Path) -> str | None:
    """Record in ``folder`` that its files are those of ``run_id`` in store ``db``; return
    the run whose files were there before (``run X``, or ``run X of the store Y`` for
    another store) when it was another one, else None."""
    before = _owner(folder)
    mine = {"run_id": run_id, "db": str(db.resolve())}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / RUN_MARKER).write_text(json.dumps(mine), encoding="utf-8")
    if before is None or before == mine:
        return None
    if before.get("db") == mine["db"]:
        return f"run {before.get('run_id')}"
    return f"run {before.get('run_id')} of the store {before.get('db')}"


def run_folder(run_id: str, db: Path, root: Path = Path("out")) -> Path | None:
    """The output folder under ``root`` that :func:`mark_folder` marked with ``run_id`` of
    store ``db`` (the most recently marked one), so that a later analysis of the run (its
    biomarker figures) lands next to the trial's figures; None when there is none."""
    mine = {"run_id": run_id, "db": str(db.resolve())}
    found = [marker.parent for marker in root.glob(f"**/{RUN_MARKER}")
             if _owner(marker.parent) == mine]
    return max(found, key=lambda folder: (folder / RUN_MARKER).stat().st_mtime, default=None)
