"""A trial's figures and tables on disk: summary, waterfall, swimmer, spider, KM, doses,
toxicity."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from il2sim.trial import plots
from il2sim.trial.statistics import summary_table

__all__ = ["LABEL_TOXICITY", "write_trial_outputs"]

# Any-grade rates in the 525 label patients (CLINICAL.md s4), for reference markers.
LABEL_TOXICITY = {"hypotension": 0.71, "oliguria": 0.63, "confusion": 0.34,
                  "creatinine": 0.33, "weight_gain": 0.16}


def write_trial_outputs(endpoints: pd.DataFrame, doses: pd.DataFrame, scans: pd.DataFrame,
                        out_dir: Path) -> list[Path]:
    """Write the summary table (CSV) and the standard trial figures (PNG) to ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    summary = summary_table(endpoints, doses)
    path = out_dir / "summary.csv"
    summary.to_csv(path)
    written.append(path)
    responders = endpoints["bor"].isin(["CR", "PR"]).any()
    figures: dict[str, Callable[[Path], Figure]] = {
        "waterfall.png": lambda p: plots.plot_waterfall(endpoints, path=p),
        "swimmer.png": lambda p: plots.plot_swimmer(endpoints, responders_only=bool(responders),
                                                    path=p),
        "spider.png": lambda p: plots.plot_spider(scans, endpoints, path=p),
        "kaplan_meier.png": lambda p: plots.plot_km(endpoints, path=p),
        "dose_delivery.png": lambda p: plots.plot_dose_delivery(doses, path=p),
        "toxicity.png": lambda p: plots.plot_toxicity(endpoints, reference=LABEL_TOXICITY,
                                                      path=p),
    }
    for name, draw in figures.items():
        draw(out_dir / name)
        written.append(out_dir / name)
    return written
