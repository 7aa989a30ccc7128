"""Trials on a real local Dask cluster (loopback): identical to the serial run."""

from __future__ import annotations

import dataclasses
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from il2sim.model.library import get_model
from il2sim.population import LogNormal, Population, standard_covariates
from il2sim.store import ResultStore
from il2sim.trial.runner import (
    TrialSpec,
    dask_client,
    open_run,
    run_trial,
    simulate_chunk,
    stream_trial,
)

POP = Population(params={"ant": LogNormal(2.0, 1.0)}, covariates=standard_covariates("rcc"))
SPEC = TrialSpec("dask", n_patients=8, seed=5, population=POP, horizon_days=150.0,
                 max_courses=2, backend="native", chunk_size=2)


@pytest.fixture(scope="module")
def client() -> Iterator[object]:
    c = dask_client(workers=2)
    yield c
    cluster = c.cluster  # type: ignore[attr-defined]
    c.close()  # type: ignore[attr-defined]
    cluster.close()


def test_a_dask_run_equals_the_serial_run(client: object) -> None:
    serial = run_trial(SPEC)
    distributed = run_trial(SPEC, client=client)
    for name in ("endpoints", "doses", "scans"):
        pd.testing.assert_frame_equal(getattr(serial, name), getattr(distributed, name))


def test_a_dask_run_completes_an_interrupted_stored_run(client: object,
                                                       tmp_path: Path) -> None:
    db = tmp_path / "d.duckdb"
    patients = SPEC.population.sample(SPEC.n_patients, SPEC.seed)
    with ResultStore(db) as store:  # an interrupted run: chunks 0 and 1 are stored
        run_id = open_run(store, SPEC, get_model(SPEC.model))
        for k in (0, 1):
            store.write_chunk(run_id, k, simulate_chunk(SPEC, get_model(SPEC.model),
                                                        patients.iloc[2 * k: 2 * k + 2]))
    with ResultStore(db) as store:
        result = run_trial(SPEC, store=store, client=client)
        assert store.done_chunks(run_id) == {0, 1, 2, 3}
    serial = run_trial(SPEC).endpoints
    assert sorted(result.endpoints["patient"]) == list(range(8))
    pd.testing.assert_frame_equal(result.endpoints.drop(columns="run_id"), serial,
                                  check_dtype=False)


def test_a_killed_worker_loses_no_patient(client: object) -> None:
    """Kill a worker process while chunks are running: its tasks are rerun elsewhere."""

    spec = dataclasses.replace(SPEC, n_patients=16, chunk_size=1)
    killed: list[str] = []

    def kill_one_worker(_: int) -> None:
        if killed:
            return
        pids = client.run(os.getpid)  # type: ignore[attr-defined]
        address, pid = sorted(pids.items())[0]
        killed.append(address)
        os.kill(pid, signal.SIGKILL)  # the nanny starts a new worker

    result = run_trial(spec, client=client, progress=kill_one_worker)
    assert killed
    assert sorted(result.endpoints["patient"]) == list(range(16))
    pd.testing.assert_frame_equal(result.endpoints, run_trial(spec).endpoints)


def test_a_dask_run_streams_many_chunks_into_the_store(client: object, tmp_path: Path) -> None:
    """More chunks than the window of tasks in flight: each is submitted as one finishes,
    written once, and the stored trial equals the serial one."""
    spec = dataclasses.replace(SPEC, n_patients=20, chunk_size=1)
    with ResultStore(tmp_path / "w.duckdb") as store:
        run_id = stream_trial(spec, store, client=client)
        assert store.done_chunks(run_id) == set(range(20))
        stored = store.table(run_id, "endpoints").drop(columns="run_id")
    pd.testing.assert_frame_equal(stored, run_trial(spec).endpoints, check_dtype=False)
