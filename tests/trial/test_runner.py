"""Virtual trials: reproducibility, chunking, resume, and the stored run."""

from __future__ import annotations

import dataclasses
import gc
import weakref
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from il2sim.model.library import get_model
from il2sim.population import LogNormal, Population, standard_covariates
from il2sim.store import ResultStore
from il2sim.trial.runner import (
    TrialSpec,
    open_run,
    run_trial,
    simulate_chunk,
    simulation_inputs,
    stream_trial,
)

POP = Population(params={"ant": LogNormal(2.0, 1.0)}, covariates=standard_covariates("rcc"))
SPEC = TrialSpec("small", n_patients=6, seed=11, population=POP, horizon_days=200.0,
                 max_courses=2, backend="native", chunk_size=3)


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return run_trial(SPEC).endpoints


def test_same_seed_same_numbers_whatever_the_chunking(reference: pd.DataFrame) -> None:
    again = run_trial(dataclasses.replace(SPEC, chunk_size=2)).endpoints
    pd.testing.assert_frame_equal(reference, again)


def test_a_different_seed_gives_other_patients(reference: pd.DataFrame) -> None:
    other = run_trial(dataclasses.replace(SPEC, seed=12)).endpoints
    assert not other["best_change_pct"].equals(reference["best_change_pct"])


def test_endpoints_are_consistent(reference: pd.DataFrame) -> None:
    e = reference
    assert list(e["patient"]) == list(range(6))
    assert set(e["bor"]) <= {"CR", "PR", "SD", "PD", "NE"}
    assert (e["pfs_d"] <= e["os_d"] + 1e-9).all()
    responders = e["bor"].isin(["CR", "PR"])
    assert e.loc[responders, "time_to_response_d"].notna().all()
    assert e.loc[~responders, "time_to_response_d"].isna().all()
    assert (e["doses_given"] <= e["doses_scheduled"]).all()
    assert ((e["sbp_min"] < 90) == (e["tox_hypotension_grade"] >= 2)).all()


def test_a_stored_run_resumes_without_losing_or_duplicating(tmp_path: Path,
                                                            reference: pd.DataFrame) -> None:
    db = tmp_path / "trial.duckdb"
    with ResultStore(db) as store:
        # an interrupted run: only the first chunk made it to the store
        patients = SPEC.population.sample(SPEC.n_patients, SPEC.seed)
        run_id = open_run(store, SPEC, get_model(SPEC.model))
        store.write_chunk(run_id, 0, simulate_chunk(SPEC, get_model(SPEC.model),
                                                    patients.iloc[:3]))
    with ResultStore(db) as store:
        result = run_trial(SPEC, store=store)
        assert store.done_chunks(run_id) == {0, 1}
        stored = store.table(run_id, "endpoints")
    assert sorted(stored["patient"]) == list(range(6))
    pd.testing.assert_frame_equal(result.endpoints.drop(columns="run_id"),
                                  reference, check_dtype=False)


def test_stream_trial_keeps_no_chunk_in_memory(tmp_path: Path, reference: pd.DataFrame,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A chunk's frames are dropped once written: a trial's memory does not grow with its
    number of chunks (issue 5, item 5). Control: run_trial without a store keeps them."""
    from il2sim.trial import runner

    made: list[weakref.ref[pd.DataFrame]] = []
    alive: list[int] = []  # frames still alive each time a chunk is reported done

    def tracked(*args: object) -> dict[str, pd.DataFrame]:
        frames = simulate_chunk(*args)  # type: ignore[arg-type]
        made.extend(weakref.ref(f) for f in frames.values())
        return frames

    def count(_: int) -> None:
        gc.collect()
        alive.append(sum(ref() is not None for ref in made))

    monkeypatch.setattr(runner, "simulate_chunk", tracked)
    with ResultStore(tmp_path / "s.duckdb") as store:
        run_id = stream_trial(SPEC, store, progress=count)
        stored = store.table(run_id, "endpoints").drop(columns="run_id")
    assert len(made) == 2 * 4 and max(alive) <= 4
    pd.testing.assert_frame_equal(stored, reference, check_dtype=False)
    made.clear()
    alive.clear()
    kept = run_trial(SPEC, progress=count)
    assert alive[-1] == 2 * 4
    pd.testing.assert_frame_equal(kept.endpoints, reference)


def test_simulation_inputs_are_the_sampled_patients() -> None:
    # the chunk's own patients, tumours, covariates and scans reach the simulation
    model = get_model(SPEC.model)
    chunk = SPEC.cohort().iloc[2:5]
    inputs = simulation_inputs(SPEC, model, chunk)
    assert set(inputs.initial) == {c.removeprefix("initial_") for c in chunk
                                   if c.startswith("initial_")} != set()
    for state, values in inputs.initial.items():
        np.testing.assert_array_equal(values, chunk[f"initial_{state}"])
    np.testing.assert_array_equal(inputs.params["ant"], chunk["ant"])
    np.testing.assert_array_equal(inputs.params["body_weight"], chunk["weight"])
    np.testing.assert_array_equal(inputs.covariates["bsa"], chunk["bsa"])
    scans = inputs.decider.scans
    assert scans is not None and scans.times is not None
    np.testing.assert_array_equal(scans.patients, [2, 3, 4])
    np.testing.assert_array_equal(scans.n_lesions, chunk["n_lesions"])
    np.testing.assert_array_equal(inputs.scan_days, [47.0, 103.0, 159.0])  # day 47, every 56
    np.testing.assert_array_equal(scans.times, inputs.scan_days * 24.0)    # model time: h
    assert scans.seed == SPEC.seed
