"""Multi-arm trials: one virtual cohort randomised between arms (or crossed over), each arm
stored as its own run, the arms compared with intervals.

Each arm is a :class:`~il2sim.trial.runner.TrialSpec` with an
:class:`~il2sim.trial.allocation.Allocation`, streamed into the store by
:func:`~il2sim.trial.runner.stream_trial` as its own run (so it resumes, and ``il2sim
results`` and reports show it as any trial). The trial itself is a run-like record
(:meth:`~il2sim.store.ResultStore.create_analysis_run`, kind ``"comparison"``) whose
config lists the arms' run ids, with one analysis holding the arms side by side, the
comparisons (:func:`~il2sim.trial.comparison.compare_arms`) and the figures (Kaplan-Meier
by arm, forest plot).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from il2sim.model.fingerprint import model_version
from il2sim.model.library import get_model
from il2sim.store import ResultStore, TrialStore
from il2sim.trial.allocation import Allocation, split_total
from il2sim.trial.comparison import compare_arms, comparison_table, plot_forest
from il2sim.trial.errors import TrialError
from il2sim.trial.hiv import compare_hiv_arms, is_hiv, plot_cd4, visit_means
from il2sim.trial.plots import figure_png, plot_km
from il2sim.trial.runner import TrialSpec, counted_name, stream_trial
from il2sim.trial.stored import load_stored_trial

__all__ = ["COMPARISON_KIND", "COMPARISON_NAME", "ArmsResult", "MultiArmTrial",
           "load_arms", "run_arms"]

COMPARISON_KIND = "comparison"
"""Analysis kind of a multi-arm trial's record in the store."""
COMPARISON_NAME = "arms"
"""Name of the analysis holding the arms and their comparisons."""


@dataclass(frozen=True)
class MultiArmTrial:
    """Arms sharing one virtual cohort.

    Attributes:
        name: the trial's name.
        design: ``"randomised"`` or ``"crossover"`` (:mod:`il2sim.trial.allocation`).
        arms: one spec per arm, each with ``arm`` (its name) and ``allocation`` set.
        labels: each arm's label, in words.
        control: the arm every other arm is compared with.
    """

    name: str
    design: str
    arms: tuple[TrialSpec, ...]
    labels: tuple[str, ...]
    control: str

    def __post_init__(self) -> None:
        names = [a.arm for a in self.arms]
        if len(names) < 2 or len(set(names)) != len(names) or not all(names):
            raise TrialError(f"trial {self.name!r}: needs two or more arms with distinct "
                             f"names, got {names}")
        if self.control not in names:
            raise TrialError(f"trial {self.name!r}: no control arm {self.control!r}")
        if len(self.labels) != len(self.arms):
            raise TrialError(f"trial {self.name!r}: one label per arm")

    @property
    def seed(self) -> int:
        return self.arms[0].seed

    @property
    def cohort_size(self) -> int:
        """Virtual patients drawn for the trial."""
        allocation = self.arms[0].allocation
        assert allocation is not None
        return allocation.cohort_size

    @property
    def n_treated(self) -> int:
        """Patient simulations over all arms (the cohort once, or each arm's share)."""
        return sum(a.n_patients for a in self.arms)

    def resized(self, n_patients: int) -> MultiArmTrial:
        """The same trial with a cohort of ``n_patients``: randomised arms keep their shares
        (largest remainders), crossover arms all treat the new cohort."""
        first = self.arms[0].allocation
        assert first is not None
        if first.design == "crossover":
            sizes = (n_patients,) * len(self.arms)
        else:
            if n_patients < len(self.arms):
                raise TrialError(f"trial {self.name!r}: {n_patients} patients cannot fill "
                                 f"{len(self.arms)} arms")
            total = sum(first.sizes)
            sizes = split_total(n_patients, tuple(n / total for n in first.sizes))
        return dataclasses.replace(self, name=counted_name(self.name, n_patients), arms=tuple(
            dataclasses.replace(a, n_patients=sizes[k], name=counted_name(a.name, n_patients),
                                allocation=Allocation(first.design, sizes, k))
            for k, a in enumerate(self.arms)))

    def with_arms(self, **changes: Any) -> MultiArmTrial:
        """Every arm's spec with the same fields replaced (e.g. ``backend``)."""
        return dataclasses.replace(self, arms=tuple(dataclasses.replace(a, **changes)
                                                    for a in self.arms))


@dataclass(frozen=True)
class ArmsResult:
    """A stored multi-arm trial read back.

    Attributes:
        run_id: the trial's record; arm_runs: arm name -> its run id.
        summary: the headline numbers, one column per arm (``summary_table`` of each arm).
        comparisons: :func:`~il2sim.trial.comparison.compare_arms` against the control.
        endpoints: every arm's endpoints (column ``arm``).
        params: the record's settings (design, control, arms with labels and run ids).
    """

    run_id: str
    arm_runs: dict[str, str]
    summary: pd.DataFrame
    comparisons: pd.DataFrame
    endpoints: pd.DataFrame
    params: dict[str, Any]

    def comparison_table(self) -> pd.DataFrame:
        """The comparisons formatted for printing."""
        return comparison_table(self.comparisons)


def run_arms(trial: MultiArmTrial, store: TrialStore, *,
             progress: Callable[[int], None] | None = None,
             client: object | None = None) -> ArmsResult:
    """Run every arm into ``store`` (resuming stored chunks), then compare the arms and
    store the trial's record with its tables and figures; returns the result.

    Arguments as :func:`~il2sim.trial.runner.run_trial` (``progress`` counts patient
    simulations over all arms: :attr:`MultiArmTrial.n_treated`).
    """
    runs = {a.arm: stream_trial(a, store, progress=progress, client=client)
            for a in trial.arms}
    summaries, frames = [], []
    for spec in trial.arms:
        stored = load_stored_trial(store, runs[spec.arm])
        summaries.append(stored.summary().iloc[:, 0].rename(spec.arm))
        frames.append(stored.endpoints.drop(columns="run_id", errors="ignore")
                      .assign(arm=spec.arm))
    summary = pd.concat(summaries, axis=1)
    summary.columns.name = "arm"
    endpoints = pd.concat(frames, ignore_index=True)
    paired = trial.design == "crossover"
    hiv = is_hiv(endpoints)
    comparisons = (compare_hiv_arms if hiv else compare_arms)(endpoints, trial.control,
                                                              paired=paired)
    labels = dict(zip((a.arm for a in trial.arms), trial.labels))
    params: dict[str, Any] = {
        "design": trial.design, "control": trial.control, "seed": trial.seed,
        "cohort": trial.cohort_size,
        "arms": [{"name": a.arm, "label": labels[a.arm], "run_id": runs[a.arm],
                  "n_patients": a.n_patients} for a in trial.arms]}
    first = trial.arms[0]
    model = get_model(first.model)
    record = store.create_analysis_run(
        kind=COMPARISON_KIND, name=trial.name, model=first.model,
        model_version=model_version(model), seed=trial.seed, n_patients=trial.cohort_size,
        params=params)
    title = f"{trial.name} ({trial.design}, seed {trial.seed})"
    figures = ({"cd4": figure_png(plot_cd4(visit_means(store, runs), title=title), dpi=120)}
               if hiv else
               {"kaplan_meier": figure_png(plot_km(endpoints, by="arm", title=title), dpi=120),
                "forest": figure_png(plot_forest(comparisons, title=title), dpi=120)})
    store.save_analysis(record, COMPARISON_KIND, COMPARISON_NAME, params,
                        tables={"arms": summary, "comparisons": comparisons,
                                "comparison_table": comparison_table(comparisons)},
                        figures=figures, replace=True)
    return ArmsResult(record, runs, summary, comparisons, endpoints, params)


def load_arms(store: ResultStore, run_id: str) -> ArmsResult:
    """A stored multi-arm trial's record, with its arms' endpoints read from their runs."""
    analysis = store.load_analysis(run_id, COMPARISON_KIND, COMPARISON_NAME)
    params = dict(analysis.params)
    runs = {str(a["name"]): str(a["run_id"]) for a in params["arms"]}
    endpoints = pd.concat([store.table(r, "endpoints").drop(columns="run_id", errors="ignore")
                           .assign(arm=name) for name, r in runs.items()], ignore_index=True)
    return ArmsResult(run_id, runs, analysis.tables["arms"], analysis.tables["comparisons"],
                      endpoints, params)
