"""A validation stored in the DuckDB result store, with the model version it scored.

:func:`save_validation` writes one analysis of kind ``"validation"`` on its own analysis run
(:meth:`~il2sim.store.ResultStore.create_analysis_run`; its config holds the trials, the
replicates and the model version, so a changed model or design gets a new record): the
tables ``scores``, ``values`` and ``scorecard``, and the forest and calibration figures as
PNG. ``il2sim results`` lists it, ``il2sim report RUN`` and the web app's results page show
it; :func:`load_validation` reads it back.
"""

from __future__ import annotations

from collections.abc import Sequence

from il2sim.analysis.stored import figure_png
from il2sim.model.fingerprint import model_version
from il2sim.model.library import get_model
from il2sim.store import ResultStore
from il2sim.validation.atlas import PublishedTrial
from il2sim.validation.plots import plot_calibration, plot_forest
from il2sim.validation.run import LEVEL, Validation

__all__ = ["KIND", "RULE", "load_validation", "save_validation"]

KIND = "validation"
NAME = "published trials"
RULE = ("compatible when the published value (a count as its fraction of the published n; "
        "'at least' as a half-line; a reported range as that range) meets the simulated "
        f"{LEVEL:.0%} prediction interval over replicate trials of the published size")


def save_validation(store: ResultStore, validation: Validation,
                    trials: Sequence[PublishedTrial]) -> str:
    """Store ``validation`` (replacing the same one) and return its run id."""
    models = sorted({t.model for t in trials})
    versions = {m: model_version(get_model(m)) for m in models}
    params = {"trials": [t.id for t in trials], "replicates": validation.replicates,
              "model_versions": versions, "rule": RULE}
    run_id = store.create_analysis_run(
        kind=KIND, name=f"validation: {', '.join(t.id.split('_')[0] for t in trials)}",
        model=models[0], model_version=versions[models[0]], seed=min(t.seed for t in trials),
        n_patients=sum(a.n for t in trials for a in t.arms), params=params)
    figures = {f"forest {t.id}": figure_png(plot_forest(validation.scores, t.id))
               for t in trials}
    figures["calibration"] = figure_png(plot_calibration(validation.scores))
    store.save_analysis(run_id, KIND, NAME, params,
                        tables={"scorecard": validation.scorecard(),
                                "scores": validation.scores, "values": validation.values},
                        figures=figures, replace=True)
    return run_id


def load_validation(store: ResultStore, run_id: str) -> tuple[Validation, list[str]]:
    """The stored validation of ``run_id`` and the ids of its trials."""
    analysis = store.load_analysis(run_id, KIND, NAME)
    return (Validation(analysis.tables["scores"], analysis.tables["values"],
                       int(analysis.params["replicates"])), list(analysis.params["trials"]))
