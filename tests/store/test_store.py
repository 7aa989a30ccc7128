"""The result store: round trips, atomic chunks, resume, a killed writer, Parquet, errors."""

from __future__ import annotations

import json
import os
import runpy
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from il2sim.store import DATA_TABLES, ResultStore, StoreError, partial_warning

CONFIG = json.dumps({"model": "aldesleukin_pk", "n": 40})
RUN: dict[str, Any] = dict(name="trial", model="aldesleukin_pk", model_version="1", seed=7,
                           n_patients=40, chunk_size=10, config=CONFIG)


def chunk_frames(chunk: int, chunk_size: int = 10) -> dict[str, pd.DataFrame]:
    """A chunk's results: one row per patient, a dose and a few scans each."""
    patients = np.arange(chunk * chunk_size, (chunk + 1) * chunk_size)
    times = np.array([0.0, 1.0, 2.0])
    return {
        "patients": pd.DataFrame({"patient": patients, "weight": 60.0 + patients,
                                  "arm": np.where(patients % 2, "high", "low")}),
        "doses": pd.DataFrame({"patient": patients, "time": 0.0, "amount": 1e6}),
        "scans": pd.DataFrame({"patient": np.repeat(patients, len(times)),
                               "time": np.tile(times, len(patients)),
                               "value": np.repeat(patients, len(times)) * 0.5}),
    }


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ResultStore]:
    with ResultStore(tmp_path / "trial.duckdb") as opened:
        yield opened


def patient_counts(store: ResultStore, run_id: str) -> dict[str, pd.Series]:
    return {name: store.table(run_id, name)["patient"].value_counts().sort_index()
            for name in DATA_TABLES if name != "endpoints"}


# --------------------------------------------------------------------------- round trip


def test_round_trip_keeps_values_and_types(store: ResultStore) -> None:
    run = store.create_run(**{**RUN, "n_patients": 4, "chunk_size": 4})
    frame = pd.DataFrame({
        "patient": [2, 0, 3, 1],
        "age": np.array([71, 54, 38, 66], dtype=np.int64),
        "weight": [80.5, np.nan, 61.25, 1e-300],
        "arm": ["high", None, "low", "é-unicode"],
        "responder": [True, False, False, True],
    })
    store.write_chunk(run, 0, {"endpoints": frame})
    back = store.table(run, "endpoints")
    assert list(back.columns) == ["run_id", "patient", "age", "weight", "arm", "responder"]
    assert (back["run_id"] == run).all()
    expected = frame.sort_values("patient").reset_index(drop=True).astype({"patient": "int32"})
    pd.testing.assert_frame_equal(back.drop(columns="run_id"), expected)


def test_table_order_is_patient_then_time(store: ResultStore) -> None:
    run = store.create_run(**{**RUN, "n_patients": 2, "chunk_size": 2})
    frame = pd.DataFrame({"patient": [1, 0, 1, 0], "time": [2.0, 1.0, 0.0, 0.0],
                          "value": [1.0, 2.0, 3.0, 4.0]})
    store.write_chunk(run, 0, {"scans": frame})
    back = store.table(run, "scans")
    assert back[["patient", "time"]].values.tolist() == [[0, 0.0], [0, 1.0], [1, 0.0], [1, 2.0]]


def test_later_chunks_may_reorder_columns_and_widen_lossless(store: ResultStore) -> None:
    run = store.create_run(**{**RUN, "n_patients": 3, "chunk_size": 1})
    store.write_chunk(run, 0, {"endpoints": pd.DataFrame({"patient": [0], "k": [1], "x": [0.5]})})
    # columns in another order; an integral float and a NaN into BIGINT; an int into DOUBLE
    store.write_chunk(run, 1, {"endpoints": pd.DataFrame({"x": [2], "k": [3.0], "patient": [1]})})
    store.write_chunk(run, 2, {"endpoints": pd.DataFrame({"patient": [2], "k": [np.nan],
                                                          "x": [1.5]})})
    back = store.table(run, "endpoints")
    assert back["k"].tolist()[:2] == [1, 3] and pd.isna(back["k"].iloc[2])
    assert back["x"].tolist() == [0.5, 2.0, 1.5]


def test_a_table_never_written_reads_empty(store: ResultStore) -> None:
    run = store.create_run(**RUN)
    assert list(store.table(run, "doses").columns) == ["run_id", "patient"]
    assert store.table(run, "doses").empty


# --------------------------------------------------------------------------- atomic chunks


def test_chunk_with_a_mismatched_frame_writes_nothing(store: ResultStore) -> None:
    run = store.create_run(**RUN)
    store.write_chunk(run, 0, chunk_frames(0))
    before = {name: store.table(run, name) for name in ("patients", "doses", "scans")}
    bad = chunk_frames(1)
    bad["scans"] = bad["scans"].assign(unit="pg/mL")  # written after patients
    with pytest.raises(StoreError, match=r"chunk 1: table 'scans'.*extra \['unit'\]"):
        store.write_chunk(run, 1, bad)
    for name, frame in before.items():
        pd.testing.assert_frame_equal(store.table(run, name), frame)
    assert store.done_chunks(run) == {0}
    assert store.query("SELECT count(*) AS n FROM chunks WHERE chunk = 1")["n"][0] == 0
    store.write_chunk(run, 1, chunk_frames(1))  # the same chunk, fixed, goes in
    assert store.done_chunks(run) == {0, 1}


def test_failed_first_write_leaves_no_table(store: ResultStore) -> None:
    run = store.create_run(**RUN)
    frames = chunk_frames(0)
    frames["endpoints"] = pd.DataFrame({"patient": [0], "note": [None]})  # type unknown
    with pytest.raises(StoreError, match=r"table 'endpoints': columns \['note'\] have no values"):
        store.write_chunk(run, 0, frames)
    tables = set(store.query("SELECT table_name FROM duckdb_tables()")["table_name"])
    assert tables == {"meta", "runs", "chunks", "analyses", "analysis_tables",
                      "analysis_figures", "run_columns",
                      "run_writers"}  # patients, doses, ... rolled back
    assert store.done_chunks(run) == set()


def test_runs_of_different_kinds_share_a_store(store: ResultStore) -> None:
    """A second run writing other columns (an HIV trial after a tumour trial) widens the
    table; each run reads back exactly its own columns and values, and its later chunks
    must keep its columns."""
    tumour = store.create_run(**RUN)
    store.write_chunk(tumour, 0, chunk_frames(0))
    before = store.table(tumour, "endpoints")
    hiv = store.create_run(**{**RUN, "name": "hiv", "seed": 99})
    frames = {"endpoints": pd.DataFrame({"patient": [0, 1], "cd4_mean": [612.5, 480.0]})}
    store.write_chunk(hiv, 0, frames)
    pd.testing.assert_frame_equal(store.table(tumour, "endpoints"), before)
    got = store.table(hiv, "endpoints")
    assert got.columns.tolist() == ["run_id", "patient", "cd4_mean"]
    assert got["cd4_mean"].tolist() == [612.5, 480.0]
    with pytest.raises(StoreError, match=r"chunk 1: table 'endpoints'.*missing \['cd4_mean'\]"):
        store.write_chunk(hiv, 1, {"endpoints": pd.DataFrame({"patient": [2]})})


def test_any_exception_mid_chunk_rolls_back(store: ResultStore,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    run = store.create_run(**RUN)
    append: Callable[..., None] = ResultStore._append
    calls: list[str] = []

    def fail_on_third(self: ResultStore, run_id: str, chunk: int, name: str,
                      *args: Any) -> None:
        calls.append(name)
        if len(calls) == 3:
            raise RuntimeError("simulated crash")
        append(self, run_id, chunk, name, *args)

    monkeypatch.setattr(ResultStore, "_append", fail_on_third)
    with pytest.raises(RuntimeError, match="simulated crash"):
        store.write_chunk(run, 0, chunk_frames(0))
    monkeypatch.undo()
    assert store.done_chunks(run) == set()
    assert all(store.table(run, name).empty for name in DATA_TABLES)
    store.write_chunk(run, 0, chunk_frames(0))
    assert len(store.table(run, "patients")) == 10


def test_a_chunk_is_written_once(store: ResultStore) -> None:
    run = store.create_run(**RUN)
    store.write_chunk(run, 0, chunk_frames(0))
    with pytest.raises(StoreError, match="chunk 0 is already written"):
        store.write_chunk(run, 0, chunk_frames(0))
    with pytest.raises(StoreError, match="table 'patients': patient 9 is already written"):
        store.write_chunk(run, 1, {"patients": chunk_frames(0)["patients"].tail(1)})
    assert len(store.table(run, "patients")) == 10


# --------------------------------------------------------------------------- runs and resume


def test_create_run_twice_resumes(tmp_path: Path) -> None:
    path = tmp_path / "trial.duckdb"
    with ResultStore(path) as store:
        run = store.create_run(**RUN)
        assert store.create_run(**RUN) == run
        store.write_chunk(run, 0, chunk_frames(0))
        store.write_chunk(run, 2, chunk_frames(2))
    with ResultStore(path) as store:
        assert store.create_run(**RUN) == run
        assert store.done_chunks(run) == {0, 2}
        runs = store.runs()
        assert runs["run_id"].tolist() == [run]
        row = runs.iloc[0]
        assert (row["status"], row["config"], row["seed"], row["chunks_done"]) == (
            "running", CONFIG, 7, 2)
        assert row["il2sim_version"] and pd.isna(row["finished"])


def _dead_pid() -> int:
    """The id of a process that has exited (and was reaped)."""
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    return int(done.stdout)


def test_a_run_whose_writer_is_gone_reads_as_interrupted(tmp_path: Path) -> None:
    path = tmp_path / "trial.duckdb"
    with ResultStore(path) as store:
        run = store.create_run(**RUN)
        store.write_chunk(run, 0, chunk_frames(0))
        live = store.run(run)
        assert (live["status"], live["patients_done"]) == ("running", 10)  # we write it
        assert partial_warning(live) == ("the run is running: results may be partial "
                                         "(10 of 40 patients stored)")
        store.con.execute("UPDATE run_writers SET pid = ?", [_dead_pid()])
    with ResultStore(path, read_only=True) as store:
        gone = store.run(run)
        assert gone["status"] == "interrupted"
        assert partial_warning(gone) == (
            "the run is interrupted: results may be partial (10 of 40 patients stored); run "
            "the same trial file with the same --db to resume it")
    with ResultStore(path) as store:  # resumed: this process writes it again
        assert store.create_run(**RUN) == run and store.run(run)["status"] == "running"
        for chunk in range(1, 4):
            store.write_chunk(run, chunk, chunk_frames(chunk))
        store.finish(run)
        assert partial_warning(store.run(run)) is None
        store.delete_run(run)
        assert store.query("SELECT count(*) AS n FROM run_writers")["n"][0] == 0


@pytest.mark.parametrize("fmt", ["csv", "parquet", "json"])
def test_export_query_writes_the_rows_of_query(store: ResultStore, tmp_path: Path,
                                               fmt: str) -> None:
    run = store.create_run(**RUN)
    store.write_chunk(run, 0, chunk_frames(0))
    sql = "SELECT patient, weight, arm FROM patients ORDER BY patient -- a comment"
    path = tmp_path / f"rows.{fmt}"
    assert store.export_query(sql, path, fmt) == 10  # type: ignore[arg-type]
    read = {"csv": pd.read_csv, "parquet": pd.read_parquet,
            "json": lambda p: pd.read_json(p, orient="records")}[fmt]
    pd.testing.assert_frame_equal(read(path), store.query(sql), check_dtype=False)
    with pytest.raises(StoreError, match="only SELECT statements"):
        store.export_query("DELETE FROM patients", path, fmt)  # type: ignore[arg-type]
    with pytest.raises(StoreError, match="format must be one of csv, parquet, json"):
        store.export_query(sql, path, "xlsx")  # type: ignore[arg-type]


def test_run_ids(store: ResultStore) -> None:
    run = store.create_run(**RUN)
    assert len(run) == 12
    assert store.create_run(**{**RUN, "seed": 8}) != run
    assert store.create_run(**{**RUN, "config": CONFIG + " "}) != run
    assert store.create_run(**RUN, run_id="mine-1") == "mine-1"
    with pytest.raises(StoreError, match="run 'mine-1': exists with a different config"):
        store.create_run(**{**RUN, "config": "{}"}, run_id="mine-1")
    with pytest.raises(StoreError, match="run 'mine-1': exists with the same config but "
                                         "different chunk_size 10 \\(asked 5\\)"):
        store.create_run(**{**RUN, "chunk_size": 5}, run_id="mine-1")
    with pytest.raises(StoreError, match="run_id must be"):
        store.create_run(**RUN, run_id="x'; DROP TABLE runs; --")


def test_finish_failed_resume_and_done(store: ResultStore) -> None:
    run = store.create_run(**RUN)
    store.write_chunk(run, 0, chunk_frames(0))
    with pytest.raises(StoreError, match=r"cannot finish as done: 3 chunk\(s\) not written "
                                         r"\(1, 2, 3\)"):
        store.finish(run)
    store.finish(run, "failed")
    with pytest.raises(StoreError, match="is failed"):
        store.write_chunk(run, 1, chunk_frames(1))
    assert store.create_run(**RUN) == run  # a failed run resumes
    for chunk in range(1, 4):
        store.write_chunk(run, chunk, chunk_frames(chunk))
    store.finish(run)
    row = store.runs().iloc[0]
    assert row["status"] == "done" and not pd.isna(row["finished"])
    assert store.create_run(**RUN) == run and store.done_chunks(run) == {0, 1, 2, 3}


def test_delete_run(store: ResultStore) -> None:
    keep = store.create_run(**RUN)
    gone = store.create_run(**{**RUN, "seed": 99})
    for run in (keep, gone):
        store.write_chunk(run, 0, chunk_frames(0))
    store.delete_run(gone)
    assert store.runs()["run_id"].tolist() == [keep]
    assert store.query("SELECT DISTINCT run_id FROM scans")["run_id"].tolist() == [keep]
    assert store.query("SELECT count(*) AS n FROM chunks")["n"][0] == 1
    with pytest.raises(StoreError, match="unknown run id"):
        store.done_chunks(gone)


# --------------------------------------------------------------------------- a killed writer

WRITER = '''
import sys, time
import numpy as np, pandas as pd
from il2sim.store import ResultStore

def frames(chunk, chunk_size, n_obs):
    patients = np.arange(chunk * chunk_size, (chunk + 1) * chunk_size)
    return {
        "patients": pd.DataFrame({"patient": patients, "weight": 60.0 + patients}),
        "scans": pd.DataFrame({"patient": np.repeat(patients, n_obs),
                               "time": np.tile(np.arange(n_obs, dtype=float), len(patients)),
                               "value": np.repeat(patients, n_obs) * 0.5}),
    }

RUN = dict(name="killed", model="m", model_version="1", seed=1, n_patients=60, chunk_size=10,
           config="x = 1")

if __name__ == "__main__":
    path, stop_after = sys.argv[1], int(sys.argv[2])
    store = ResultStore(path)
    run = store.create_run(**RUN)
    for chunk in range(6):
        store.write_chunk(run, chunk, frames(chunk, 10, 500))
        print(chunk, flush=True)
        if chunk == stop_after:
            time.sleep(120)  # killed here, between chunks
'''


@pytest.mark.parametrize("stop_after", [2, -1], ids=["between-chunks", "while-writing"])
def test_killed_writer_leaves_whole_chunks_and_resumes(tmp_path: Path, stop_after: int) -> None:
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    path = tmp_path / "trial.duckdb"
    child = subprocess.Popen([sys.executable, str(script), str(path), str(stop_after)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        for line in child.stdout:  # wait for chunk 2, or (while-writing) chunk 0
            if int(line) == max(stop_after, 0):
                break
        if stop_after >= 0:
            time.sleep(0.1)
            with pytest.raises(StoreError, match="another process has it open"):
                ResultStore(path)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        _, err = child.communicate(timeout=10)
    assert child.returncode == -signal.SIGKILL, err

    writer: dict[str, Any] = runpy.run_path(str(script))
    with ResultStore(path) as store:
        run = store.create_run(**writer["RUN"])
        done = store.done_chunks(run)
        if stop_after >= 0:
            assert done == {0, 1, 2}
        else:
            assert done >= {0}
        # integrity: each written chunk whole, nothing of any other chunk
        expected = sorted(p for c in done for p in range(c * 10, c * 10 + 10))
        patients = store.table(run, "patients")
        assert patients["patient"].tolist() == expected
        counts = store.table(run, "scans")["patient"].value_counts()
        assert sorted(counts.index) == expected and (counts == 500).all()
        assert store.query("SELECT sum(n) AS n FROM chunks")["n"][0] == len(expected)

        for chunk in sorted(set(range(store.n_chunks(run))) - done):
            store.write_chunk(run, chunk, writer["frames"](chunk, 10, 500))
        store.finish(run)
        assert store.table(run, "patients")["patient"].tolist() == list(range(60))
        counts = store.table(run, "scans")["patient"].value_counts()
        assert sorted(counts.index) == list(range(60)) and (counts == 500).all()


# --------------------------------------------------------------------------- reading out


def test_parquet_export_equals_the_tables(store: ResultStore, tmp_path: Path) -> None:
    run = store.create_run(**RUN)
    other = store.create_run(**{**RUN, "seed": 99})
    for chunk in range(4):
        store.write_chunk(run, chunk, chunk_frames(chunk))
    store.write_chunk(other, 0, chunk_frames(0))
    files = store.export_parquet(run, tmp_path / "it's here")
    assert [f.name for f in files] == ["runs.parquet", "patients.parquet", "doses.parquet",
                                       "scans.parquet"]
    for name in ("patients", "doses", "scans"):
        back = pq.read_table(tmp_path / "it's here" / f"{name}.parquet").to_pandas()
        pd.testing.assert_frame_equal(back, store.table(run, name))
    runs = pq.read_table(files[0]).to_pandas()
    assert runs["run_id"].tolist() == [run] and runs["config"][0] == CONFIG


def test_query_reads_only(store: ResultStore) -> None:
    run = store.create_run(**RUN)
    store.write_chunk(run, 0, chunk_frames(0))
    out = store.query("SELECT count(*) AS n FROM scans WHERE run_id = ? AND time > ?",
                      [run, 0.5])
    assert out["n"][0] == 20
    for sql, problem in [("DELETE FROM runs", "only SELECT statements are allowed, got DELETE"),
                         ("SELECT 1; SELECT 2", "exactly one statement, got 2"),
                         ("SELECT * FROM nowhere", "nowhere")]:
        with pytest.raises(StoreError, match=problem):
            store.query(sql)
    assert store.runs()["run_id"].tolist() == [run]


def test_read_only_store(tmp_path: Path) -> None:
    path = tmp_path / "trial.duckdb"
    with pytest.raises(StoreError, match="no such file"):
        ResultStore(path, read_only=True)
    with ResultStore(path) as store:
        run = store.create_run(**RUN)
        store.write_chunk(run, 0, chunk_frames(0))
    with ResultStore(path, read_only=True) as one, ResultStore(path, read_only=True) as two:
        assert len(one.table(run, "patients")) == len(two.table(run, "patients")) == 10
        with pytest.raises(StoreError, match="write_chunk: the store is open read-only"):
            one.write_chunk(run, 1, chunk_frames(1))


# --------------------------------------------------------------------------- errors


def test_errors_name_the_problem(store: ResultStore, tmp_path: Path) -> None:
    run = store.create_run(**RUN)
    cases: list[tuple[Callable[[], object], str]] = [
        (lambda: store.table("nope", "patients"), "run 'nope': unknown run id"),
        (lambda: store.table(run, "patients; DROP TABLE runs"),
         "unknown table 'patients; DROP TABLE runs'; the data tables are patients, doses"),
        (lambda: store.write_chunk(run, 0, {"runs": chunk_frames(0)["patients"]}),
         "unknown table 'runs'"),
        (lambda: store.write_chunk(run, 4, chunk_frames(0)),
         r"chunk must be an integer in \[0, 4\), got 4"),
        (lambda: store.write_chunk(run, 0, {"patients": pd.DataFrame({"id": [1]})}),
         "chunk 0: table 'patients': no 'patient' column"),
        (lambda: store.write_chunk(run, 0, {"patients": pd.DataFrame({"patient": [0.5]})}),
         "column 'patient' must hold integers"),
        (lambda: store.write_chunk(run, 0, {"patients": pd.DataFrame(
            {"patient": [0], "run_id": ["x"]})}), "has a 'run_id' column"),
        (lambda: store.finish(run, "ok"),  # type: ignore[arg-type]
         "status must be 'done' or 'failed'"),
        (lambda: store.create_run(**{**RUN, "seed": -1}), "seed must be an integer"),
        (lambda: store.create_run(**{**RUN, "chunk_size": 0}), "chunk_size must be a positive"),
        (lambda: store.export_parquet("nope", tmp_path), "unknown run id"),
    ]
    for call, problem in cases:
        with pytest.raises(StoreError, match=problem) as info:
            call()
        assert "\n" not in str(info.value)
        assert str(info.value).startswith(str(store.path))
    store.close()
    with pytest.raises(StoreError, match="the store is closed"):
        store.runs()


def test_opening_something_else_fails(tmp_path: Path) -> None:
    junk = tmp_path / "junk.duckdb"
    junk.write_bytes(b"not a database" * 1000)
    with pytest.raises(StoreError, match="junk.duckdb: cannot open"):
        ResultStore(junk)
    import duckdb

    other = tmp_path / "other.duckdb"
    with duckdb.connect(str(other)) as con:
        con.execute("CREATE TABLE runs (x INT)")
    with pytest.raises(StoreError, match="not an il2sim result store"):
        ResultStore(other)
    newer = tmp_path / "newer.duckdb"
    ResultStore(newer).close()
    with duckdb.connect(str(newer)) as con:
        con.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(StoreError, match="schema version 99, this il2sim reads versions 1 and 2"):
        ResultStore(newer)


# --------------------------------------------------------------------------- analyses


def _png() -> bytes:
    import io

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(1, 1))
    FigureCanvasAgg(fig)
    fig.add_subplot().plot([0, 1], [1, 0])
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def test_analysis_round_trip_keeps_tables_figures_and_params(store: ResultStore) -> None:
    run = store.create_run(**RUN)
    indices = pd.DataFrame({"S1": [0.31, 0.44, 0.0], "ST": [0.56, 0.44, np.inf],
                            "note": ["a", None, "é"], "keep": [True, False, True],
                            "n": np.array([1, 2, 3], dtype=np.int64)},
                           index=pd.Index(["x1", "x2", "x3"], name="input"))
    empty = pd.DataFrame({"a": pd.Series(dtype=float)})
    png = _png()
    params = {"method": "sobol", "n": 1024, "bounds": [[-3.14, 3.14]], "ratio": float("nan")}
    store.save_analysis(run, "sensitivity", "ishigami", params,
                        tables={"indices": indices, "empty": empty}, figures={"tornado": png})
    store.save_analysis(run, "biomarkers", "response", {"model": "logistic"})
    listed = store.analyses(run)
    assert listed[["kind", "name", "tables", "figures"]].values.tolist() == [
        ["sensitivity", "ishigami", 2, 1], ["biomarkers", "response", 0, 0]]
    back = store.load_analysis(run, "sensitivity", "ishigami")
    assert back.title == "sensitivity: ishigami"
    assert list(back.tables) == ["indices", "empty"]
    pd.testing.assert_frame_equal(back.tables["indices"], indices)
    pd.testing.assert_frame_equal(back.tables["empty"], empty)
    assert back.figures == {"tornado": png}
    assert back.params["n"] == 1024 and back.params["bounds"] == [[-3.14, 3.14]]
    assert np.isnan(back.params["ratio"])
    assert store.load_analysis(run, "biomarkers", "response").tables == {}


def test_analysis_replace_delete_and_run_deletion(store: ResultStore) -> None:
    run = store.create_run(**RUN)
    store.save_analysis(run, "other", "a", {"v": 1}, tables={"t": pd.DataFrame({"x": [1]})})
    with pytest.raises(StoreError, match="already stored; pass replace=True"):
        store.save_analysis(run, "other", "a", {"v": 2})
    store.save_analysis(run, "other", "a", {"v": 2}, replace=True)
    again = store.load_analysis(run, "other", "a")
    assert again.params == {"v": 2} and again.tables == {}
    assert store.query("SELECT count(*) AS n FROM analysis_tables")["n"][0] == 0
    store.delete_analysis(run, "other", "a")
    assert store.analyses(run).empty
    store.save_analysis(run, "other", "b", {}, figures={"f": _png()})
    store.delete_run(run)
    assert store.query("SELECT count(*) AS n FROM analyses")["n"][0] == 0
    assert store.query("SELECT count(*) AS n FROM analysis_figures")["n"][0] == 0


def test_a_failed_analysis_save_writes_nothing(store: ResultStore) -> None:
    run = store.create_run(**RUN)
    bad = pd.DataFrame({"x": [object(), object()]})
    with pytest.raises(StoreError, match="table 'bad' cannot be stored as Parquet"):
        store.save_analysis(run, "other", "a", {}, tables={"good": pd.DataFrame({"x": [1]}),
                                                          "bad": bad})
    with pytest.raises(StoreError, match="figure 'f' must be PNG bytes"):
        store.save_analysis(run, "other", "a", {}, figures={"f": b"GIF89a"})
    assert store.analyses().empty
    assert store.query("SELECT count(*) AS n FROM analysis_tables")["n"][0] == 0


def test_analysis_errors_name_the_problem(store: ResultStore) -> None:
    run = store.create_run(**RUN)
    cases: list[tuple[Callable[[], object], str]] = [
        (lambda: store.save_analysis("nope", "other", "a", {}), "run 'nope': unknown run id"),
        (lambda: store.save_analysis(run, "tarot", "a", {}), "unknown analysis kind 'tarot'"),
        (lambda: store.save_analysis(run, "other", " ", {}), "analysis name must be 1-200"),
        (lambda: store.save_analysis(run, "other", "a", [1]),  # type: ignore[arg-type]
         "params must be a mapping"),
        (lambda: store.save_analysis(run, "other", "a", {}, tables={"t": [1]}),  # type: ignore[dict-item]
         "table 't' must be a pandas DataFrame"),
        (lambda: store.load_analysis(run, "other", "zz"), r"no analysis other 'zz' \(stored: none"),
        (lambda: store.delete_analysis(run, "other", "zz"), "no analysis other 'zz'"),
    ]
    for call, problem in cases:
        with pytest.raises(StoreError, match=problem) as info:
            call()
        assert "\n" not in str(info.value)


def test_analysis_run_record_is_listed_and_found_again(tmp_path: Path) -> None:
    path = tmp_path / "a.duckdb"
    args: dict[str, Any] = dict(kind="optimize", name="optimize rcc", model="il2_qsp",
                                model_version="1", seed=3, n_patients=20,
                                params={"candidates": 4, "space": {"dose": [1, 2]}})
    with ResultStore(path) as store:
        run = store.create_analysis_run(**args)
        assert store.create_analysis_run(**args) == run
        row = store.runs().set_index("run_id").loc[run]
        assert row["status"] == "done" and row["chunks_done"] == 0
        assert json.loads(row["config"]) == {"analysis": "optimize", **args["params"]}
        store.save_analysis(run, "optimize", "search", {}, tables={"t": pd.DataFrame({"x": [1]})})
        with pytest.raises(StoreError, match="unknown analysis kind"):
            store.create_analysis_run(**{**args, "kind": "x"})
    with ResultStore(path, read_only=True) as store:
        assert store.analyses()["name"].tolist() == ["search"]
        with pytest.raises(StoreError, match="read-only"):
            store.save_analysis(run, "optimize", "again", {})


def test_a_store_from_before_analyses_opens_and_gains_them(tmp_path: Path) -> None:
    import duckdb

    path = tmp_path / "old.duckdb"
    with ResultStore(path) as store:
        run = store.create_run(**RUN)
        store.write_chunk(run, 0, chunk_frames(0))
    with duckdb.connect(str(path)) as con:  # as written before the analysis tables existed
        for table in ("analysis_tables", "analysis_figures", "analyses"):
            con.execute(f"DROP TABLE {table}")
    with ResultStore(path, read_only=True) as store:
        assert store.analyses(run).empty and len(store.table(run, "patients")) == 10
        with pytest.raises(StoreError, match="the file has no analyses"):
            store.load_analysis(run, "other", "a")
    with ResultStore(path) as store:
        store.save_analysis(run, "other", "a", {"v": 1})
        assert store.analyses(run)["name"].tolist() == ["a"]


def _version_1(path: Path) -> None:
    """Rewrite a store as schema version 1 wrote it: one table ``observations`` holding the
    scans and the visits (the columns of both kinds of run, NULL in the other's rows),
    ``run_columns`` naming it."""
    import duckdb

    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE observations AS SELECT * FROM scans "
                    "UNION ALL BY NAME SELECT * FROM visits")
        con.execute("DROP TABLE scans")
        con.execute("DROP TABLE visits")
        con.execute("UPDATE run_columns SET name = 'observations' "
                    "WHERE name IN ('scans', 'visits')")
        con.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")


def _hiv_visits(patients: list[int]) -> pd.DataFrame:
    return pd.DataFrame({"patient": np.repeat(patients, 2), "day": [0.0, 28.0] * len(patients),
                         "cd4": np.arange(2.0 * len(patients)) + 450.0,
                         "viral_load": 20.0})


def test_a_version_1_store_is_read_and_moved_to_version_2(tmp_path: Path) -> None:
    """A file of schema version 1 (a tumour trial's scans and an HIV trial's visits in one
    table ``observations``) opens: read-only through views with the new names, leaving the
    file as it was; for writing it is moved to ``scans`` and ``visits``, each run's rows and
    columns exactly as written, and its runs resume."""
    import duckdb

    path = tmp_path / "old.duckdb"
    with ResultStore(path) as store:
        tumour = store.create_run(**RUN)
        store.write_chunk(tumour, 0, chunk_frames(0))
        hiv = store.create_run(**{**RUN, "name": "hiv", "seed": 99})
        store.write_chunk(hiv, 0, {"patients": pd.DataFrame({"patient": [0, 1]}),
                                   "visits": _hiv_visits([0, 1])})
        expected = {(run, name): store.table(run, name) for run in (tumour, hiv)
                    for name in DATA_TABLES}
    assert expected[tumour, "scans"].columns.tolist() == ["run_id", "patient", "time", "value"]
    assert expected[hiv, "visits"].columns.tolist() == ["run_id", "patient", "day", "cd4",
                                                        "viral_load"]
    assert expected[tumour, "visits"].columns.tolist() == ["run_id", "patient"]
    _version_1(path)
    with duckdb.connect(str(path)) as con:
        written = con.execute("SELECT count(*) FROM observations").fetchone()[0]
    assert written == len(expected[tumour, "scans"]) + len(expected[hiv, "visits"]) == 34

    def same_as_written(store: ResultStore) -> None:
        for (run, name), frame in expected.items():
            pd.testing.assert_frame_equal(store.table(run, name), frame, obj=f"{run} {name}")
        assert store.run_tables(tumour) == ["patients", "doses", "scans"]
        assert store.run_tables(hiv) == ["patients", "visits"]
        assert store.query("SELECT count(*) AS n FROM visits")["n"].tolist() == [4]

    with ResultStore(path, read_only=True) as store:
        same_as_written(store)
        assert len(store.query("SELECT * FROM observations")) == 34  # still in the file
    with duckdb.connect(str(path), read_only=True) as con:  # the reader changed nothing
        assert con.execute("SELECT value FROM meta WHERE key = 'schema_version'"
                           ).fetchone()[0] == "1"
        assert con.execute("SELECT count(*) FROM observations").fetchone()[0] == 34
    with ResultStore(path) as store:
        same_as_written(store)
        with pytest.raises(StoreError, match="'observations' is now 'scans', a tumour "
                                             "trial's, and 'visits', an HIV trial's"):
            store.query("SELECT * FROM observations")
        store.write_chunk(hiv, 1, {"patients": pd.DataFrame({"patient": [10]}),
                                   "visits": _hiv_visits([10])})
        store.write_chunk(tumour, 1, chunk_frames(1))
        assert len(store.table(hiv, "visits")) == 6 and len(store.table(tumour, "scans")) == 60
    with duckdb.connect(str(path), read_only=True) as con:
        tables = {t for (t,) in con.execute("SELECT table_name FROM duckdb_tables()"
                                            ).fetchall()}
        assert {"scans", "visits"} <= tables and "observations" not in tables
        assert con.execute("SELECT value FROM meta WHERE key = 'schema_version'"
                           ).fetchone()[0] == "2"


# ------------------------------------------------------------------------- memory limit

def _memory_limit_bytes(store: ResultStore) -> float:
    text = store.con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    number, unit = text.split()
    return float(number) * {"KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40}[unit]


def _write_incompressible(store: ResultStore, n: int, size: int, *,
                          seed: int) -> tuple[float, float]:
    """Write n patients in chunks of ``size`` with random (incompressible) scans;
    check every row arrived; return DuckDB's memory in use and the file's size (bytes)."""
    run_id = store.create_run(**dict(RUN, n_patients=n, chunk_size=size))
    rng = np.random.default_rng(seed)
    for k in range(n // size):
        frames = chunk_frames(k, size)
        frames["scans"]["value"] = rng.normal(size=3 * size)
        store.write_chunk(run_id, k, frames)
    assert store.con.execute("SELECT count(*) FROM scans WHERE run_id = ?",
                             [run_id]).fetchone()[0] == n * 3
    used = store.con.execute("SELECT sum(memory_usage_bytes) FROM duckdb_memory()"
                             ).fetchone()[0]
    on_disk = store.con.execute("SELECT sum(total_blocks * block_size) FROM "
                                "pragma_database_size()").fetchone()[0]
    return float(used), float(on_disk)


def test_the_store_caps_duckdbs_memory(tmp_path: Path) -> None:
    """DuckDB keeps written table data in its buffer pool up to its memory limit (default 80%
    of RAM: a long streamed trial grew by ~0.5 KB per patient); the store sets 512 MB, a
    caller may choose, and a bad value is a clear error."""
    with ResultStore(tmp_path / "a.duckdb") as store:
        assert _memory_limit_bytes(store) == pytest.approx(512e6, rel=0.01)
    with ResultStore(tmp_path / "b.duckdb", memory_limit="64MB") as store:
        assert _memory_limit_bytes(store) == pytest.approx(64e6, rel=0.01)
    with ResultStore(tmp_path / "c.duckdb", memory_limit=None) as store:
        assert _memory_limit_bytes(store) > 1e9  # DuckDB's own default
    with pytest.raises(StoreError, match="cannot open"):
        ResultStore(tmp_path / "d.duckdb", memory_limit="lots")


def test_written_chunks_stay_within_the_memory_limit(tmp_path: Path) -> None:
    """With a small limit the buffer pool evicts what was written (it is on disk): DuckDB's
    own accounting stays under the limit however much is written, and nothing is lost."""
    n = 400_000
    with ResultStore(tmp_path / "trial.duckdb", memory_limit="12MB") as store:
        used, on_disk = _write_incompressible(store, n, 10_000, seed=1)
        assert used <= 12e6 < on_disk  # more was written than the pool holds


def test_a_streaming_writer_keeps_no_written_blocks_in_memory(tmp_path: Path) -> None:
    """Each chunk's blocks are evicted once committed: at the default 512 MB limit DuckDB's
    accounting stays near the 16 MB it is trimmed to, while the file holds more than
    twice that; the configured limit is back after every write."""
    with ResultStore(tmp_path / "trial.duckdb") as store:
        used, on_disk = _write_incompressible(store, 1_200_000, 40_000, seed=2)
        assert used <= 16e6 and on_disk > 2 * 16e6
        assert _memory_limit_bytes(store) == pytest.approx(512e6, rel=0.01)


def test_a_new_store_goes_in_a_new_folder(tmp_path: Path) -> None:
    """`--db results/run.duckdb` in a folder that does not exist yet creates it (it used to
    fail with DuckDB's 'Cannot open file'); a reader still needs an existing file."""
    path = tmp_path / "new" / "deeper" / "s.duckdb"
    with pytest.raises(StoreError, match="no such file"):
        ResultStore(path, read_only=True)
    with ResultStore(path) as store:
        assert store.runs().empty
    assert path.is_file()
