"""A trial's standard figures: waterfall, swimmer, spider, KM, doses, toxicity."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from il2sim.trial import plots
from il2sim.trial.statistics import DoseDelivery, is_responder

__all__ = ["LABEL_TOXICITY", "TRIAL_FIGURES"]

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

