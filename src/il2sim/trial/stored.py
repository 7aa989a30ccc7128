"""A stored trial read back at any size: summary and figures without loading the dose log.

A 1,000,000-patient trial has tens of millions of dose rows and scans: too many to read
into memory, too many to draw one line or bar each. :func:`load_stored_trial` reads

* the endpoints of every patient (one row each), for the summary, survival and toxicity;
* the dose delivery per patient and course, counted by DuckDB in the store
  (:func:`stored_dose_delivery`, the SQL twin of
  :func:`~il2sim.trial.statistics.dose_delivery`);
* the scans of at most ``plotted`` patients, drawn at random (seeded), for the
  per-patient figures (waterfall, swimmer, spider), whose titles then say so.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from il2sim.store import TrialStore
from il2sim.trial.errors import TrialError
from il2sim.trial.hiv import hiv_summary, hiv_values, is_hiv, plot_cd4, visit_means
from il2sim.trial.outputs import TRIAL_FIGURES
from il2sim.trial.statistics import DoseDelivery, summary_table, summary_values

__all__ = ["PER_PATIENT_FIGURES", "PLOTTED_PATIENTS", "StoredTrial", "load_stored_trial",
           "stored_dose_delivery"]

PLOTTED_PATIENTS = 1000
"""Per-patient figures of a larger trial show this many patients, drawn at random."""

_STARTED = """
    WITH d AS (
        SELECT patient, course, status = 'given' AS given, status = 'held' AS held,
               coalesce(nullif(trim(CAST(reason AS VARCHAR)), ''), 'unspecified') AS reason
        FROM doses WHERE run_id = $run),
    started AS (SELECT patient, course FROM d GROUP BY patient, course HAVING bool_or(given)),
    s AS (SELECT d.* FROM d SEMI JOIN started USING (patient, course))
"""


def stored_dose_delivery(store: TrialStore, run_id: str) -> DoseDelivery:
    """Doses given and held per patient and course of a stored run, counted in the store.

    The same table as ``dose_delivery(store.table(run_id, "doses"))`` (started courses
    only, reasons of held doses most frequent first) without reading the dose log.
    """
    if store.table(run_id, "doses", patients=[]).columns.tolist() == ["run_id", "patient"]:
        counts = pd.DataFrame({"given": [], "held": []}, dtype="int64",
                              index=pd.MultiIndex.from_arrays([[], []],
                                                              names=["patient", "course"]))
        return DoseDelivery.from_counts(counts, pd.Series(dtype="int64"))
    params = {"run": run_id}
    counts = store.query(_STARTED + """
        SELECT patient, course, CAST(sum(CAST(given AS INTEGER)) AS BIGINT) AS given,
               CAST(sum(CAST(held AS INTEGER)) AS BIGINT) AS held
        FROM s GROUP BY patient, course ORDER BY patient, course""", params)
    held = store.query(_STARTED + """
        SELECT reason, count(*) AS n FROM s WHERE held GROUP BY reason
        ORDER BY n DESC, reason""", params)
    return DoseDelivery.from_counts(
        counts.set_index(["patient", "course"]),
        pd.Series(held["n"].to_numpy(dtype="int64"), index=held["reason"].astype(str)))


@dataclass(frozen=True)
class StoredTrial:
    """What the summary and the standard figures of a stored trial need.

    Attributes:
        endpoints: every patient's endpoints.
        delivery: dose delivery per patient and course, every patient.
        shown: endpoints of the patients drawn in per-patient figures (all when the trial
            has at most ``plotted`` patients).
        scans: the scans of the ``shown`` patients.
        visits: an HIV trial's mean CD4 at each visit
            (:func:`~il2sim.trial.hiv.visit_means`, every patient), else ``None``.
    """

    endpoints: pd.DataFrame
    delivery: DoseDelivery
    shown: pd.DataFrame
    scans: pd.DataFrame
    visits: pd.DataFrame | None = None

    def summary(self) -> pd.DataFrame:
        """The headline numbers (:func:`~il2sim.trial.statistics.summary_table`, or for an
        HIV trial :func:`~il2sim.trial.hiv.hiv_summary`)."""
        if self.visits is not None:
            return hiv_summary(self.endpoints)
        return summary_table(self.endpoints, self.delivery)

    def summary_values(self) -> pd.DataFrame:
        """The numbers of :meth:`summary`, unformatted: estimate, lower and upper in their own
        columns (:func:`~il2sim.trial.statistics.summary_values`, or for an HIV trial
        :func:`~il2sim.trial.hiv.hiv_values`); what ``summary.csv`` holds."""
        if self.visits is not None:
            return hiv_values(self.endpoints)
        return summary_values(self.endpoints, self.delivery)

    def figure(self, name: str, path: Path | None = None) -> Figure:
        """One of :data:`~il2sim.trial.outputs.TRIAL_FIGURES`, saved to ``path`` when
        given; those in :data:`PER_PATIENT_FIGURES` draw the ``shown`` patients."""
        if name not in TRIAL_FIGURES:
            raise TrialError(f"no figure {name!r}; known: {', '.join(TRIAL_FIGURES)}")
        per_patient = name in PER_PATIENT_FIGURES
        fig = TRIAL_FIGURES[name](self.shown if per_patient else self.endpoints,
                                  self.delivery, self.scans, None)
        n, k = len(self.endpoints), len(self.shown)
        if per_patient and k < n:
            ax = fig.axes[0]
            ax.set_title(f"{ax.get_title()}\n{k:,} patients drawn at random of {n:,}",
                         fontsize="medium")
        if path is not None:
            fig.savefig(path, dpi=120, bbox_inches="tight")
        return fig

    def write(self, out_dir: Path) -> list[Path]:
        """Write ``summary.csv`` (:meth:`summary_values`: numbers, not formatted text) and
        every figure as ``<name>.png`` to ``out_dir`` (an HIV trial: the CD4 count over time,
        ``cd4.png``)."""
        out_dir.mkdir(parents=True, exist_ok=True)
        written = [out_dir / "summary.csv"]
        self.summary_values().to_csv(written[0], index=False)
        if self.visits is not None:
            written.append(out_dir / "cd4.png")
            plot_cd4(self.visits, path=written[-1])
            return written
        for name in TRIAL_FIGURES:
            written.append(out_dir / f"{name}.png")
            self.figure(name, written[-1])
        return written


PER_PATIENT_FIGURES = frozenset({"waterfall", "swimmer", "spider"})
"""The standard figures that draw one mark per patient, and so show a random subset of a
large trial."""


def load_stored_trial(store: TrialStore, run_id: str, *, plotted: int = PLOTTED_PATIENTS,
                      seed: int = 0) -> StoredTrial:
    """Read a stored trial for its summary and figures, in memory linear in its patients
    (not in its doses or scans).

    Main arguments:
        store, run_id: the run.

    Other arguments:
        plotted: at most this many patients in per-patient figures.
        seed: of the random choice of those patients.
    """
    if plotted < 1:
        raise TrialError(f"plotted must be >= 1, got {plotted}")
    endpoints = store.table(run_id, "endpoints")
    patients = endpoints["patient"].to_numpy()
    if len(patients) > plotted:
        chosen = np.sort(np.random.default_rng(seed).choice(patients, plotted, replace=False))
        shown = endpoints[endpoints["patient"].isin(chosen)].reset_index(drop=True)
        scans = store.table(run_id, "scans", patients=chosen.tolist())
    else:
        shown, scans = endpoints, store.table(run_id, "scans")
    visits = visit_means(store, {"all": run_id}) if is_hiv(endpoints) else None
    return StoredTrial(endpoints=endpoints, delivery=stored_dose_delivery(store, run_id),
                       shown=shown, scans=scans, visits=visits)
