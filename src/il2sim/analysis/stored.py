"""Analyses stored with their run in the DuckDB result store.

Each function writes one analysis with :meth:`~il2sim.store.ResultStore.save_analysis`
(one transaction: parameters as JSON, tables as Parquet, figures as PNG) and returns the run
it is stored with. An optimisation or the sensitivity of a scenario belongs to no trial:
without ``run_id`` it gets its own analysis run
(:meth:`~il2sim.store.ResultStore.create_analysis_run`), listed by ``il2sim results``;
with ``run_id`` it is attached to that run (e.g. the trial whose population it used).
Biomarkers are always attached to the trial they analyse. ``il2sim report RUN`` renders
every analysis stored with the run (:func:`il2sim.analysis.report.report_html`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from il2sim.analysis.biomarkers import BiomarkerResult, plot_importance, plot_roc
from il2sim.analysis.optimize import OptimizationResult, plot_pareto
from il2sim.analysis.sensitivity import plot_sensitivity
from il2sim.store import ResultStore
from il2sim.trial.plots import figure_png

__all__ = ["figure_png", "save_biomarkers", "save_optimization", "save_sensitivity"]


def _model_version(model: str) -> str:
    from il2sim.model.fingerprint import model_version
    from il2sim.model.library import get_model

    return model_version(get_model(model))


def _target(store: ResultStore, run_id: str | None, *, kind: str, name: str, model: str,
            params: Mapping[str, Any], size: str) -> str:
    """``run_id``, or a new (or found again) analysis run for the analysis."""
    if run_id is not None:
        return run_id
    return store.create_analysis_run(kind=kind, name=name, model=model,
                                     model_version=_model_version(model),
                                     seed=_int(store, params, "seed"),
                                     n_patients=_int(store, params, size), params=params)


def save_optimization(store: ResultStore, result: OptimizationResult, *, name: str,
                      params: Mapping[str, Any], run_id: str | None = None,
                      model: str = "il2_qsp", replace: bool = True) -> str:
    """Store a regimen search: every candidate, the front summary and the Pareto plot.

    Main arguments:
        store: an open, writable store.
        result: what :func:`~il2sim.analysis.optimize.optimize` returned.
        name: the analysis' name (and the analysis run's, when one is created).
        params: the search settings (``seed`` and ``n_patients`` are required when no
            ``run_id`` is given: they identify the analysis run).

    Other arguments:
        run_id: attach to this run instead of creating an analysis run.
        model: the simulated model.
        replace: overwrite an analysis of the same name on the run.

    Returns:
        The run the analysis is stored with.

    Raises:
        StoreError: as :meth:`~il2sim.store.ResultStore.save_analysis`; a missing
            ``seed`` or ``n_patients`` without ``run_id``.
    """
    settings = {**params, "efficacy": result.efficacy, "toxicity": result.toxicity,
                "constraints": result.constraints, "conservative": result.conservative,
                "method": result.method, "label_on_front": bool(result.label["pareto"]),
                "dominating_label": list(result.dominating_label["name"]),
                "best": None if result.best is None else result.best.name}
    run = _target(store, run_id, kind="optimize", name=name, model=model, params=settings,
                  size="n_patients")
    table = result.table.drop(columns=["candidate"])
    figure = plot_pareto(result.table, efficacy=result.efficacy, toxicity=result.toxicity,
                         max_toxicity=result.max_toxicity)
    store.save_analysis(run, "optimize", name, settings,
                        tables={"Pareto front, label and best": _plain(result.summary()),
                                "all candidates": table},
                        figures={"Pareto front": figure_png(figure)}, replace=replace)
    return run


def save_sensitivity(store: ResultStore, indices: pd.DataFrame, *, name: str,
                     params: Mapping[str, Any], index: str = "ST",
                     convergence: pd.DataFrame | None = None, run_id: str | None = None,
                     model: str = "il2_qsp", replace: bool = True) -> str:
    """Store a Sobol' or Morris analysis: the indices, the convergence table, a tornado plot.

    Arguments as :func:`save_optimization`; ``indices`` from
    :func:`~il2sim.analysis.sensitivity.sobol` or :func:`~il2sim.analysis.sensitivity.morris`,
    ``index`` the plotted column, ``convergence`` from
    :func:`~il2sim.analysis.sensitivity.sobol_convergence` (optional).
    ``params`` needs ``seed`` and ``n`` (base sample) when no ``run_id`` is given.
    """
    settings = {**params, "index": index}
    run = _target(store, run_id, kind="sensitivity", name=name, model=model, params=settings,
                  size="n")
    tables = {"indices": _plain(indices)}
    if convergence is not None:
        tables["convergence"] = _plain(convergence)
    store.save_analysis(run, "sensitivity", name, settings, tables=tables,
                        figures={f"tornado ({index})": figure_png(
                            plot_sensitivity(indices, index=index, title=name))},
                        replace=replace)
    return run


def save_biomarkers(store: ResultStore, run_id: str, result: BiomarkerResult, *, name: str,
                    params: Mapping[str, Any], comparison: pd.DataFrame | None = None,
                    replace: bool = True) -> str:
    """Store a biomarker analysis with its trial: AUC, importances, ROC and importance plots.

    ``comparison`` (from :func:`~il2sim.analysis.biomarkers.compare_feature_sets`) answers
    whether baseline markers suffice or on-treatment ones add to them.
    """
    settings = {**params, "model": result.model, "auc": result.auc,
                "auc_low": result.auc_low, "auc_high": result.auc_high,
                "p_value": result.p_value, "n_patients": result.n_patients,
                "n_responders": result.n_responders, "folds": result.folds,
                "repeats": result.repeats, "seed": result.seed}
    summary = pd.DataFrame({"value": [f"{result.auc:.3f} ({result.auc_low:.3f}-"
                                      f"{result.auc_high:.3f})", f"{result.p_value:.3g}",
                                      f"{result.n_responders} of {result.n_patients}"]},
                           index=pd.Index(["cross-validated ROC AUC (95% CI)",
                                           "permutation p", "responders"], name="measure"))
    tables = {"summary": summary, "feature importance": _plain(result.importances)}
    if comparison is not None:
        tables["baseline against on-treatment markers"] = _plain(comparison)
    store.save_analysis(run_id, "biomarkers", name, settings, tables=tables,
                        figures={"ROC": figure_png(plot_roc(result)),
                                 "importance": figure_png(plot_importance(result))},
                        replace=replace)
    return run_id


def _int(store: ResultStore, params: Mapping[str, Any], key: str) -> int:
    from il2sim.store import StoreError

    value = params.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise StoreError(f"{store.path}: an analysis run needs an integer {key!r} in params, "
                         f"got {value!r}")
    return value


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy with object columns of mixed values as text (Parquet needs one type)."""
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object:
            values = out[column]
            if not values.map(lambda v: v is None or isinstance(v, str)).all():
                out[column] = values.map(lambda v: None if v is None else str(v))
    return out
