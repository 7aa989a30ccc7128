"""A stored trial read back for its summary and figures: the dose delivery counted in DuckDB
equals the one counted in pandas, and per-patient figures of a large trial show a seeded
random subset."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from il2sim.population import LogNormal, Population, standard_covariates
from il2sim.store import ResultStore
from il2sim.trial.outputs import TRIAL_FIGURES
from il2sim.trial.runner import TrialSpec, stream_trial
from il2sim.trial.statistics import dose_delivery, summary_table
from il2sim.trial.stored import PER_PATIENT_FIGURES, load_stored_trial, stored_dose_delivery

POP = Population(params={"ant": LogNormal(2.0, 1.0)}, covariates=standard_covariates("rcc"))
SPEC = TrialSpec("stored", n_patients=12, seed=3, population=POP, horizon_days=200.0,
                 max_courses=2, backend="native", chunk_size=6)


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ResultStore, str]]:
    with ResultStore(tmp_path_factory.mktemp("stored") / "t.duckdb") as store:
        yield store, stream_trial(SPEC, store)


def test_dose_delivery_counted_in_the_store_equals_pandas(
        stored: tuple[ResultStore, str]) -> None:
    store, run_id = stored
    doses = store.table(run_id, "doses")
    # the label protocol held doses here, for several reasons, and some courses never started
    assert (doses["status"] == "held").sum() > 20
    assert doses["reason"].nunique() >= 3
    expected, got = dose_delivery(doses), stored_dose_delivery(store, run_id)
    pd.testing.assert_frame_equal(got.counts, expected.counts)
    assert (got.n_listed, got.n_given, got.n_held) == (
        expected.n_listed, expected.n_given, expected.n_held)
    pd.testing.assert_frame_equal(got.reasons.sort_index(), expected.reasons.sort_index())
    assert list(got.reasons["n"]) == sorted(got.reasons["n"], reverse=True)


def test_the_summary_from_the_store_equals_the_summary_from_the_dose_log(
        stored: tuple[ResultStore, str]) -> None:
    store, run_id = stored
    endpoints = store.table(run_id, "endpoints")
    endpoints["arm"] = ["A" if p % 3 else "B" for p in endpoints["patient"]]  # two groups
    from_log = summary_table(endpoints, store.table(run_id, "doses"))
    from_store = summary_table(endpoints, stored_dose_delivery(store, run_id))
    pd.testing.assert_frame_equal(from_store, from_log)
    assert from_store.loc["doses held, %"].ne("-").all()


def test_per_patient_figures_show_a_seeded_random_subset(stored: tuple[ResultStore, str],
                                                         tmp_path: Path) -> None:
    store, run_id = stored
    trial = load_stored_trial(store, run_id, plotted=5, seed=1)
    assert len(trial.endpoints) == 12 and len(trial.shown) == 5
    shown = set(trial.shown["patient"])
    assert set(trial.scans["patient"]) <= shown
    everything = store.table(run_id, "scans")
    pd.testing.assert_frame_equal(
        trial.scans, everything[everything["patient"].isin(shown)].reset_index(drop=True))
    again = load_stored_trial(store, run_id, plotted=5, seed=1)
    assert set(again.shown["patient"]) == shown
    assert set(load_stored_trial(store, run_id, plotted=5, seed=2).shown["patient"]) != shown
    for name in TRIAL_FIGURES:
        title = trial.figure(name).axes[0].get_title()
        assert ("5 patients drawn at random of 12" in title) == (
            name in PER_PATIENT_FIGURES), name
    written = trial.write(tmp_path / "out")
    assert [p.name for p in written] == ["summary.csv", *(f"{n}.png" for n in TRIAL_FIGURES)]
    assert all(p.stat().st_size > 1000 for p in written[1:])


def test_a_small_trial_is_read_whole(stored: tuple[ResultStore, str]) -> None:
    store, run_id = stored
    trial = load_stored_trial(store, run_id)
    pd.testing.assert_frame_equal(trial.shown, trial.endpoints)
    pd.testing.assert_frame_equal(trial.scans, store.table(run_id, "scans"))
    assert "drawn at random" not in trial.figure("waterfall").axes[0].get_title()
    with pytest.raises(ValueError, match="no figure 'pie'"):
        trial.figure("pie")
    with pytest.raises(ValueError, match="plotted must be >= 1"):
        load_stored_trial(store, run_id, plotted=0)


def test_a_table_of_some_patients(stored: tuple[ResultStore, str]) -> None:
    store, run_id = stored
    doses = store.table(run_id, "doses")
    some = store.table(run_id, "doses", patients=[7, 2])
    pd.testing.assert_frame_equal(
        some, doses[doses["patient"].isin([2, 7])].reset_index(drop=True))
    assert store.table(run_id, "doses", patients=[]).empty
    never = store.table(run_id, "patients", patients=[1])  # written: one patient's row
    assert list(never["patient"]) == [1]


def test_a_run_without_a_dose_log_has_no_dose_delivery(stored: tuple[ResultStore, str],
                                                       tmp_path: Path) -> None:
    store, run_id = stored
    endpoints = store.table(run_id, "endpoints").drop(columns="run_id")
    with ResultStore(tmp_path / "bare.duckdb") as bare:
        bare_id = bare.create_run(name="bare", model="il2_qsp", model_version="x", seed=0,
                                  n_patients=12, chunk_size=12, config="{}")
        bare.write_chunk(bare_id, 0, {"endpoints": endpoints})
        delivery = stored_dose_delivery(bare, bare_id)
        assert (delivery.n_listed, delivery.n_held) == (0, 0) and delivery.counts.empty
        summary = load_stored_trial(bare, bare_id).summary()
    assert summary.loc["doses held, %"].eq("-").all()


def test_summary_csv_holds_numbers_that_match_the_printed_table(
        stored: tuple[ResultStore, str], tmp_path: Path) -> None:
    """summary.csv: estimate, lower and upper as numbers (issue 19), equal to the printed
    table and, for the ORR, to the exact (Clopper-Pearson) interval of SciPy."""
    from scipy.stats import binomtest

    store, run_id = stored
    trial = load_stored_trial(store, run_id)
    trial.write(tmp_path)
    table = pd.read_csv(tmp_path / "summary.csv")
    assert list(table.columns) == ["arm", "measure", "estimate", "lower", "upper", "interval"]
    assert all(table[c].dtype == float for c in ("estimate", "lower", "upper"))
    rows = table.set_index("measure")
    responders = int(trial.endpoints["bor"].isin(["CR", "PR"]).sum())
    exact = binomtest(responders, 12).proportion_ci(0.95, method="exact")
    assert rows.loc["ORR, %", ["estimate", "lower", "upper"]].tolist() == pytest.approx(
        [100 * responders / 12, 100 * exact.low, 100 * exact.high], rel=1e-9)
    assert rows.loc["ORR, %", "interval"] == "95% CI"
    printed = trial.summary().iloc[:, 0]
    orr = rows.loc["ORR, %"]
    assert printed["ORR, % (95% CI)"] == (
        f"{orr['estimate']:.1f} ({orr['lower']:.1f}-{orr['upper']:.1f})")
    given = rows.loc["doses given per course"]
    assert printed["doses given per course, median (range)"] == (
        f"{given['estimate']:g} ({given['lower']:.0f}-{given['upper']:.0f})")
    assert given["interval"] == "range"
