"""Run a virtual trial: sample, simulate in chunks under the protocol, score, store.

Patients are simulated in chunks (independent of each other: every random draw of
a patient is seeded by (seed, patient)), so a trial gives the same numbers
whatever the chunk size, and a killed run resumes from the chunks already in
the store without losing or duplicating a patient.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from il2sim.dosing.regimen import Regimen
from il2sim.engine.simulate import simulate
from il2sim.model.fingerprint import model_version
from il2sim.model.library import get_model
from il2sim.model.spec import Model
from il2sim.population.population import Population
from il2sim.protocol import (
    Protocol,
    ProtocolDecider,
    Scans,
    label_protocol,
    no_drug_protocol,
    regimen_protocol,
)
from il2sim.store import DATA_TABLES, RunStore
from il2sim.trial.allocation import Allocation
from il2sim.trial.endpoints import (
    MortalityModel,
    death_days,
    leak_severity,
    patient_endpoints,
    sepsis_death_days,
)
from il2sim.trial.errors import TrialError
from il2sim.trial.hiv import HIV, simulate_hiv_chunk
from il2sim.trial.lesions import lesion_diameters, lesion_endpoints, lesion_inputs, lesion_slots
from il2sim.units import parse_quantity

__all__ = ["SimulationInputs", "TrialResult", "TrialSpec", "counted_name", "dask_client",
           "open_run", "run_trial", "simulate_chunk", "simulation_inputs", "stream_trial"]

_COUNT = re.compile(r"\bn = \d[\d,]*")


def counted_name(name: str, n_patients: int) -> str:
    """``name`` with the patient count written in it ("... (pivotal, n = 255)") set to
    ``n_patients``, so that a trial run with ``--patients 100`` is not named after the
    file's 255; a name without a count is returned unchanged."""
    return _COUNT.sub(f"n = {n_patients:,}", name)


VITALS = ("sbp", "urine_8h", "creatinine", "confusion", "spo2", "weight_gain_pct",
          "interstitial_excess", "cytokine_drive")


@dataclass(frozen=True)
class TrialSpec:
    """One arm of a virtual trial.

    ``plan``: the :class:`~il2sim.protocol.Protocol` the arm follows. Without one,
    ``protocol`` builds it: ``"label"`` (:func:`~il2sim.protocol.label_protocol` at ``dose``
    per kg, ``max_courses`` every ``course_interval_days``), ``"regimen"`` (the given
    ``regimen``, every dose given) or ``"none"`` (no study drug). Times in days.
    ``indication = "hiv"``: an HIV trial (:mod:`il2sim.trial.hiv`).
    """

    name: str
    n_patients: int
    seed: int
    population: Population
    model: str = "il2_qsp"
    protocol: str = "label"
    dose: str = "600000 IU/kg"
    max_courses: int = 5
    course_interval_days: float = 84.0
    regimen: Regimen | None = None
    plan: Protocol | None = None
    horizon_days: float = 5 * 365.25
    first_scan_day: float = 47.0
    scan_interval_days: float = 56.0
    mortality: MortalityModel = field(default_factory=MortalityModel)
    backend: str = "scipy"
    chunk_size: int = 16
    rtol: float = 1e-6
    atol: float = 1e-8
    indication: str = ""
    arm: str = ""
    allocation: Allocation | None = None

    def __post_init__(self) -> None:
        if self.protocol not in ("label", "regimen", "none"):
            raise TrialError(f"trial {self.name!r}: protocol must be 'label', 'regimen' or "
                             "'none'")
        if self.protocol == "regimen" and self.regimen is None and self.plan is None:
            raise TrialError(f"trial {self.name!r}: protocol 'regimen' needs a regimen")
        if self.n_patients < 1 or self.chunk_size < 1:
            raise TrialError(f"trial {self.name!r}: n_patients and chunk_size must be >= 1")
        if self.allocation is not None and \
                self.n_patients != self.allocation.sizes[self.allocation.arm]:
            raise TrialError(f"trial {self.name!r}: n_patients {self.n_patients} differs "
                             f"from the allocation's {self.allocation.sizes[self.allocation.arm]}")

    def cohort(self) -> pd.DataFrame:
        """The arm's patients: ``population.sample(n_patients, seed)``, or, under an
        :class:`~il2sim.trial.allocation.Allocation`, this arm's rows of the whole trial's
        cohort ``population.sample(allocation.cohort_size, seed)`` (patient ids kept)."""
        if self.allocation is None:
            return self.population.sample(self.n_patients, self.seed)
        whole = self.population.sample(self.allocation.cohort_size, self.seed)
        return whole.iloc[self.allocation.rows(self.seed)].reset_index(drop=True)

    def treatment(self) -> Protocol:
        """The protocol the arm's patients follow."""
        if self.plan is not None:
            return self.plan
        if self.protocol == "label":
            return label_protocol(self.dose, self.max_courses, self.course_interval_days)
        if self.protocol == "none":
            return no_drug_protocol()
        assert self.regimen is not None
        return regimen_protocol(self.regimen)

    def resized(self, n_patients: int) -> TrialSpec:
        """The same trial with ``n_patients`` patients, the count in its name updated
        (:func:`counted_name`)."""
        return dataclasses.replace(self, n_patients=n_patients,
                                   name=counted_name(self.name, n_patients))

    def describe(self) -> dict[str, object]:
        d = asdict(self)
        d["population"] = repr(self.population)
        d["regimen"] = self.regimen.describe() if self.regimen else None
        d["plan"] = self.plan.describe() if self.plan is not None else None
        for key in ("arm", "allocation"):  # a single-arm trial's config (and run id) as before
            if not d[key]:
                del d[key]
        return d


def _no_rows() -> pd.DataFrame:
    return pd.DataFrame({"patient": pd.Series(dtype="int64")})


@dataclass(frozen=True)
class TrialResult:
    """A trial's tables (:data:`il2sim.store.DATA_TABLES`): a tumour trial has ``scans``,
    an HIV trial ``visits``; the other is empty."""

    spec: TrialSpec
    patients: pd.DataFrame
    doses: pd.DataFrame
    scans: pd.DataFrame
    endpoints: pd.DataFrame
    visits: pd.DataFrame = field(default_factory=_no_rows)


def _output_days(spec: TrialSpec, regimen: Regimen) -> tuple[np.ndarray, np.ndarray]:
    """A daily grid to the horizon plus a 1-h grid while doses are scheduled."""
    daily = np.arange(0.0, math.floor(spec.horizon_days) + 1.0)
    dose_days = regimen.events()["time_h"].to_numpy() / 24.0
    fine = [np.arange(math.floor(d), math.floor(d) + 2.0, 1 / 24) for d in np.unique(
        np.floor(dose_days))]
    grid = np.unique(np.concatenate([daily, *fine])) if fine else daily
    return grid[grid <= spec.horizon_days], daily


@dataclass(frozen=True)
class SimulationInputs:
    """What :func:`~il2sim.engine.simulate.simulate` is given for a chunk of a trial's
    patients, besides the output times (which must include ``scan_days``, in the model's
    time unit, where the protocol reads the tumour): the arm's regimen, per-patient
    parameters, initial states and covariates, and the protocol's decider with the
    patients' scans."""

    regimen: Regimen
    params: dict[str, np.ndarray]
    initial: dict[str, np.ndarray]
    covariates: dict[str, np.ndarray]
    decider: ProtocolDecider
    scan_days: np.ndarray
    lesion_diameters: np.ndarray | None = None  # (N, lesions) mm, for a model of lesions


def simulation_inputs(spec: TrialSpec, model: Model, patients: pd.DataFrame) -> SimulationInputs:
    """The simulation inputs of sampled ``patients`` (rows of :meth:`TrialSpec.cohort`).

    Parameters: the columns named after a parameter of ``model``, and ``body_weight`` from
    ``weight``; initial states: the ``initial_<state>`` columns (the patient's tumour);
    covariates: ``weight``, ``height``, ``bsa``; the decider follows ``spec.treatment()``
    with the trial's scans (:class:`~il2sim.protocol.Scans`: ids, lesion counts, seed and
    the scan days from ``first_scan_day`` every ``scan_interval_days`` before the horizon).
    For a model of several lesions (:func:`~il2sim.trial.lesions.lesion_slots`), each
    patient's lesions are drawn (``lesion_diameters``) and the regimen, parameters and initial
    states are the lesions' (:func:`~il2sim.trial.lesions.lesion_inputs`: doses by size).
    Not for an HIV trial (:mod:`il2sim.trial.hiv`).
    """
    if spec.indication == HIV:
        raise TrialError(f"trial {spec.name!r}: an HIV trial's inputs are built by "
                         "il2sim.trial.hiv")
    protocol = spec.treatment()
    scan_days = np.arange(spec.first_scan_day, spec.horizon_days, spec.scan_interval_days)
    per_day = float(parse_quantity("1 day", what="day").to(model.time_unit).magnitude)
    params = {c: patients[c].to_numpy(float) for c in patients.columns if c in model.param_names}
    if "body_weight" in model.param_names and "weight" in patients:
        params["body_weight"] = patients["weight"].to_numpy(float)
    initial = {c.removeprefix("initial_"): patients[c].to_numpy(float)
               for c in patients.columns if c.startswith("initial_")}
    covariates = {c: patients[c].to_numpy(float) for c in ("weight", "height", "bsa")
                  if c in patients}
    decider = ProtocolDecider(protocol, scans=Scans(
        patients["patient"].to_numpy(), patients["n_lesions"].to_numpy(int), spec.seed,
        scan_days * per_day))
    regimen = protocol.regimen()
    slots = lesion_slots(model)
    if not slots:
        return SimulationInputs(regimen, params, initial, covariates, decider, scan_days)
    diameters = lesion_diameters(patients, slots, spec.seed)
    regimen, params, initial = lesion_inputs(model, regimen, params, initial, diameters)
    return SimulationInputs(regimen, params, initial, covariates, decider, scan_days, diameters)


def simulate_chunk(spec: TrialSpec, model: Model,
                   patients: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Simulate and score one chunk of patients; returns the frames to store."""
    if spec.indication == HIV:
        return simulate_hiv_chunk(spec, model, patients)
    inputs = simulation_inputs(spec, model, patients)
    diameters = inputs.lesion_diameters
    grid_days, daily = _output_days(spec, inputs.regimen)
    scan_days = inputs.scan_days
    grid_days = np.union1d(grid_days, scan_days)  # the protocol reads the tumour at the scans
    per_day = float(parse_quantity("1 day", what="day").to(model.time_unit).magnitude)
    result = simulate(model, inputs.regimen, inputs.params, grid_days * per_day,
                      covariates=inputs.covariates, initial=inputs.initial,
                      backend=spec.backend, rtol=spec.rtol, atol=spec.atol,
                      on_failure="record", decider=inputs.decider)
    ids = patients["patient"].to_numpy()
    ok = result.ok
    # death inside the simulation: its time depends only on the trajectory before it, so
    # cutting every dose, scan and vital sign after it is stopping the simulation there
    vit = {v: result[v] for v in VITALS}
    death = np.full(len(ids), math.inf)
    cause = np.full(len(ids), "", dtype=object)
    exposure = np.full(len(ids), math.nan)
    death[ok], causes, exposure[ok] = death_days(
        grid_days, result["tumour_volume"][ok],
        leak_severity(vit["sbp"][ok], vit["creatinine"][ok], vit["spo2"][ok]), ids[ok],
        seed=spec.seed, mortality=spec.mortality)
    cause[ok] = causes
    sepsis = sepsis_death_days(result.dose_log, ids, seed=spec.seed, mortality=spec.mortality)
    first = ok & (sepsis < death)  # an earlier death from sepsis is the death
    death[first], cause[first] = sepsis[first], "treatment"
    alive = grid_days[None, :] <= death[:, None]
    vit = {v: np.where(alive, x, np.nan) for v, x in vit.items()}
    doses = result.dose_log.copy()
    doses = doses[doses["time_h"].to_numpy() / 24.0 < death[doses["patient"].to_numpy()]]
    doses["patient"] = ids[doses["patient"].to_numpy()]
    on_daily = np.isin(grid_days, daily)
    volume = result["tumour_volume"][:, on_daily]
    lowest = np.nanargmin(np.where(np.isnan(vit["sbp"]), np.inf, vit["sbp"]), axis=1)
    extremes = pd.DataFrame({
        "sbp_min": np.nanmin(vit["sbp"], axis=1),
        "sbp_min_day": grid_days[lowest],
        "urine_min": np.nanmin(vit["urine_8h"], axis=1),
        "creatinine_max": np.nanmax(vit["creatinine"], axis=1),
        "confusion_max": np.nanmax(vit["confusion"], axis=1),
        "spo2_min": np.nanmin(vit["spo2"], axis=1),
        "weight_gain_pct_max": np.nanmax(vit["weight_gain_pct"], axis=1),
        "interstitial_excess_max": np.nanmax(vit["interstitial_excess"], axis=1),
        "cytokine_drive_max": np.nanmax(vit["cytokine_drive"], axis=1),
        "leak_exposure": exposure,
    })
    endpoints, scans = patient_endpoints(
        patients[ok].reset_index(drop=True), daily, volume[ok], extremes[ok].reset_index(
            drop=True), doses[doses["patient"].isin(ids[ok])], seed=spec.seed,
        horizon_days=spec.horizon_days, scan_days=scan_days, death_day=death[ok],
        death_cause=list(cause[ok]))
    if diameters is not None:  # a model of several lesions: each patient's own
        volumes = np.stack([result[f"tumour_volume_{k}"][:, on_daily]
                            for k in range(1, diameters.shape[1] + 1)], axis=1)
        endpoints = endpoints.merge(lesion_endpoints(
            patients[ok].reset_index(drop=True), daily, volumes[ok], diameters[ok],
            seed=spec.seed, scan_days=scan_days, death_day=death[ok]), on="patient")
    frame = patients.copy()
    frame["status"] = result.status
    frame["message"] = list(result.message)
    frame["baseline_sod_mm"] = patients.get("sod_mm", np.nan)
    endpoints.insert(1, "arm", spec.arm or spec.name)
    return {"patients": frame, "doses": doses, "scans": scans, "endpoints": endpoints}


def run_trial(spec: TrialSpec, *, store: RunStore | None = None,
              progress: Callable[[int], None] | None = None,
              client: object | None = None) -> TrialResult:
    """Run the trial, serially or on a Dask cluster, resuming from ``store`` if given.

    Main arguments:
        spec: the trial.

    Other arguments:
        store: an :class:`il2sim.store.ResultStore` (any :class:`~il2sim.store.RunStore`):
            the trial is run by :func:`stream_trial` (chunks already stored are not
            recomputed, nothing is kept in memory between chunks) and read back from it.
        progress: called with the number of patients of each finished chunk.
        client: a ``dask.distributed.Client``: chunks become independent tasks (retried up
            to twice if a worker fails). Results are identical to the serial run, since
            every patient's random draws are seeded by (seed, patient).
    """
    if store is not None:
        run_id = stream_trial(spec, store, progress=progress, client=client)
        tables = {name: store.table(run_id, name) for name in DATA_TABLES}
    else:
        collected: dict[int, dict[str, pd.DataFrame]] = {}

        def keep(k: int, frames: dict[str, pd.DataFrame]) -> None:
            collected[k] = frames

        _run_chunks(spec, get_model(spec.model), set(), keep, progress, client)
        tables = {name: pd.concat([collected[k].get(name, _no_rows()) for k in
                                   sorted(collected)], ignore_index=True)
                  for name in DATA_TABLES}
    return TrialResult(spec, tables["patients"], tables["doses"], tables["scans"],
                       tables["endpoints"], tables["visits"])


def stream_trial(spec: TrialSpec, store: RunStore, *,
                 progress: Callable[[int], None] | None = None,
                 client: object | None = None) -> str:
    """Run the trial into ``store`` chunk by chunk and return its run id.

    Each chunk is written (in this process, the single writer) as it completes and then
    dropped, so memory does not grow with the number of chunks: beyond the sampled
    cohort, a run holds one chunk (serial) or a bounded window of chunks (Dask). Chunks
    already in the store are not recomputed, so a killed run resumes where it stopped.
    Arguments as :func:`run_trial`.
    """
    model = get_model(spec.model)
    run_id = open_run(store, spec, model)
    done = store.done_chunks(run_id)

    def write(k: int, frames: dict[str, pd.DataFrame]) -> None:
        store.write_chunk(run_id, k, frames)

    _run_chunks(spec, model, done, write, progress, client)
    store.finish(run_id)
    return run_id


DASK_WINDOW = 4
"""Chunks in flight per Dask worker: more keep workers busy, fewer bound the memory."""


def _run_chunks(spec: TrialSpec, model: Model, done: set[int],
                finished: Callable[[int, dict[str, pd.DataFrame]], None],
                progress: Callable[[int], None] | None, client: object | None) -> None:
    """Simulate every chunk not in ``done`` and hand each one's frames to ``finished``."""
    patients = spec.cohort()
    starts = range(0, spec.n_patients, spec.chunk_size)

    def chunk(k: int) -> pd.DataFrame:
        return patients.iloc[starts[k]: starts[k] + spec.chunk_size]

    if progress is not None and done:
        progress(sum(len(chunk(k)) for k in done))
    todo = iter([k for k in range(len(starts)) if k not in done])
    if client is None:
        for k in todo:
            finished(k, simulate_chunk(spec, model, chunk(k)))
            if progress is not None:
                progress(len(chunk(k)))
        return
    from distributed import as_completed

    def submit(k: int) -> object:
        return client.submit(_remote_chunk, spec, chunk(k), k,  # type: ignore[attr-defined]
                             pure=False, retries=2)

    workers = max(1, len(client.scheduler_info().get("workers", {})))  # type: ignore[attr-defined]
    first = [submit(k) for k in itertools.islice(todo, DASK_WINDOW * workers)]
    running = as_completed(first)  # type: ignore[no-untyped-call]
    for future in running:
        k, frames = future.result()
        future.release()
        finished(k, frames)
        if progress is not None:
            progress(len(frames["patients"]))
        following = next(todo, None)
        if following is not None:
            running.add(submit(following))  # type: ignore[no-untyped-call]


def _remote_chunk(spec: TrialSpec, patients: pd.DataFrame, k: int
                  ) -> tuple[int, dict[str, pd.DataFrame]]:
    """A chunk as a Dask task: the worker builds (and caches) the model itself."""
    return k, simulate_chunk(spec, get_model(spec.model), patients)


def open_run(store: RunStore, spec: TrialSpec, model: Model) -> str:
    """Create the trial's run in ``store``, or find it again to resume it.

    The config stored with the run includes the model version, so a changed model
    starts a new run instead of mixing patients of two models."""
    version = model_version(model)
    config = json.dumps({**spec.describe(), "model_version": version}, default=str,
                        sort_keys=True)
    return store.create_run(
        name=spec.name, model=spec.model, model_version=version, seed=spec.seed,
        n_patients=spec.n_patients, chunk_size=spec.chunk_size, config=config)


def dask_client(*, workers: int | None = None, scheduler: str | None = None) -> object:
    """A Dask client: on an existing scheduler, or on a local cluster of ``workers``
    processes bound to loopback (each worker's native backend uses one thread)."""
    from distributed import Client, LocalCluster

    if scheduler is not None:
        return Client(scheduler)  # type: ignore[no-untyped-call]
    cluster = LocalCluster(  # type: ignore[no-untyped-call]
        n_workers=workers or 2, threads_per_worker=1, processes=True, host="127.0.0.1",
        dashboard_address=None, env={"IL2SIM_THREADS": "1"})
    return Client(cluster)  # type: ignore[no-untyped-call]
