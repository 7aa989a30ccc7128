"""The result store: virtual-trial results in one embedded DuckDB file, written in chunks.

A trial writes its patients in chunks; each chunk goes in with one transaction, so
after an interruption (an error, Ctrl-C, a killed process) the file holds whole
chunks only, and a re-run of the same config finds its run and writes the chunks
that are missing::

    with ResultStore("trial.duckdb") as store:
        run = store.create_run(name="phase2", model="aldesleukin_pk", model_version="1",
                               seed=7, n_patients=1000, chunk_size=100, config=toml_text)
        for chunk in sorted(set(range(store.n_chunks(run))) - store.done_chunks(run)):
            store.write_chunk(run, chunk, {"patients": ..., "scans": ...})
        store.finish(run)
        store.table(run, "scans")                 # a pandas DataFrame

Tables (schema version :data:`SCHEMA_VERSION`, recorded in ``meta``)::

    meta          key, value                       schema_version, created_by
    runs          run_id (primary key), created, name, model, model_version,
                  il2sim_version, seed, n_patients, chunk_size, config (the run's
                  full config as text), status ('running' | 'done' | 'failed'), finished
    run_writers   run_id, host, pid, since         the process writing each run (last opened)
    chunks        run_id, chunk, n (patients), written    primary key (run_id, chunk)
    patients      run_id, patient, ...             one table per entity; the columns
    doses         run_id, patient, ...             after ``patient`` come from the first
    scans         run_id, patient, ...             DataFrame written to the table, and
    visits        run_id, patient, ...             every later write must have the same
    endpoints     run_id, patient, ...             (:data:`DATA_TABLES` says what each holds)
    run_columns   run_id, name, columns (JSON)     the columns each run wrote to each table
    analyses          analysis_id (primary key), run_id, kind, name, created, params (JSON)
    analysis_tables   analysis_id, name, position, n_rows, data (Parquet bytes)
    analysis_figures  analysis_id, name, position, png (PNG bytes)

Analyses (optimisation, sensitivity, biomarkers) are stored *with a run*:
:meth:`ResultStore.save_analysis` writes an analysis' parameters, tables and figures in
one transaction. An analysis that belongs to no trial (a regimen search, the sensitivity
of a scenario) gets its own run-like record from :meth:`ResultStore.create_analysis_run`:
a ``runs`` row with status ``'done'``, no chunks and no patient rows, whose config is the
analysis' parameters as JSON with an ``"analysis"`` key naming its kind, so
``il2sim results`` lists it and ``il2sim report`` renders it. Tables are kept as Parquet
bytes, so dtypes, the index, NaN and infinities come back unchanged
(:meth:`ResultStore.load_analysis`). The analysis tables are created when a store is
opened for writing; a file written before they existed reads as having no analyses.

Runs of different kinds write different columns (a tumour trial's endpoints are not an HIV
trial's): a run's first chunk fixes *its* columns (``run_columns``), adding to the table any
column it lacks (NULL in other runs' rows); every later chunk of the run must have the same
columns, and :meth:`ResultStore.table` returns a run's own columns only.

Schema version 1 kept a tumour trial's scans and an HIV trial's visits in one table,
``observations``. Such a file still opens: for writing it is moved to version 2 in one
transaction (an HIV run's rows, those of a run whose columns include ``cd4``, to ``visits``,
the rest renamed ``scans``); read-only it is read through temporary views with version 2's
names (:meth:`ResultStore._read_version_1`), so :meth:`ResultStore.table`, exports and
queries see the same tables either way.

A run whose writing process died (killed, the machine stopped) stays ``'running'`` in the
file; :meth:`ResultStore.runs` reads it as ``'interrupted'`` when the process recorded in
``run_writers`` is gone from this host (``os.kill(pid, 0)``), and :func:`partial_warning`
words the warning every reader prints for a run that is not done. [assumption] A process id
is not reused while its run is listed; a run written on another host keeps ``'running'``.

Timestamps are UTC. Each column's type is fixed by the first write; a later value
goes in only if it converts to that type and back unchanged (ints, or floats such as
3.0, into a BIGINT column, yes; 1.5, no). Pandas NaN and None are stored as NULL and
read back as NaN (``None`` in text columns, ``<NA>`` in integer and boolean columns
that hold NULLs).

Concurrency: DuckDB lets one process open a file for writing, and then no other
process may open it at all; several processes may open it with ``read_only=True``
when none writes (https://duckdb.org/docs/stable/connect/concurrency). Run one writer
(the process that runs the trial) per file, and read results after it finished or from a
copy of the file; opening waits up to :data:`LOCK_WAIT_S` for another process's lock, so a
writer that opens the file only while it writes (the web server) lets readers in. A
:class:`ResultStore` is for one thread; give each thread its own.

Every problem raises :class:`StoreError`, one line naming the file, run, table or
column and the problem::

    trial.duckdb: run 'a1b2c3d4e5f6': chunk 3 is already written
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import re
import socket
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Literal, Protocol

import duckdb
import pandas as pd

from il2sim.config.errors import TABLE_FORMATS, TableFormat

__all__ = ["ANALYSIS_KINDS", "DATA_TABLES", "DEFAULT_MEMORY_LIMIT", "SCHEMA_VERSION", "Analysis",
           "ResultStore", "RunStore", "StoreError", "TrialStore", "default_run_id",
           "partial_warning"]

SCHEMA_VERSION: Final = 2
"""Version of the table layout; a file of version 1 is read (see the module's docstring),
of any other version refused."""

DATA_TABLES: Final = ("patients", "doses", "scans", "visits", "endpoints")
"""The per-entity tables a chunk may write, each with ``run_id`` and ``patient`` columns:
the patients (covariates, status), the dose log, a tumour trial's ``scans`` (the tumour
measured at each scan, :attr:`il2sim.trial.runner.TrialResult.scans`), an HIV trial's
``visits`` (CD4 count and viral load at each clinic visit, :mod:`il2sim.trial.hiv`) and
the endpoints."""

_VERSION_1_TABLE: Final = "observations"
"""Version 1's one table of scans and visits."""

_VERSION_1_VISIT_COLUMN: Final = "cd4"
"""In a version-1 file, the runs whose ``observations`` columns include this one are HIV
trials (their rows are visits): no tumour trial measures a CD4 count."""


class RunStore(Protocol):
    """What a trial needs of a store to stream its run into it and read it back: the
    methods of :class:`ResultStore` of these names (and of the web server's wrapper of it)."""

    def create_run(self, *, name: str, model: str, model_version: str, seed: int,
                   n_patients: int, chunk_size: int, config: str,
                   run_id: str | None = None) -> str: ...

    def done_chunks(self, run_id: str) -> set[int]: ...

    def write_chunk(self, run_id: str, chunk: int,
                    frames: Mapping[str, pd.DataFrame]) -> None: ...

    def finish(self, run_id: str, status: Literal["done", "failed"] = "done") -> None: ...

    def table(self, run_id: str, name: str, *,
              patients: Sequence[int] | None = None) -> pd.DataFrame: ...


class TrialStore(RunStore, Protocol):
    """What a trial read back and compared across arms needs besides :class:`RunStore`:
    counting in SQL and storing the comparison's record (the methods of
    :class:`ResultStore` of these names, and of the web server's wrapper of it)."""

    def query(self, sql: str, params: Sequence[object] | Mapping[str, object] | None = None,
              ) -> pd.DataFrame: ...

    def create_analysis_run(self, *, kind: str, name: str, model: str, model_version: str,
                            seed: int, n_patients: int, params: Mapping[str, Any],
                            run_id: str | None = None) -> str: ...

    def save_analysis(self, run_id: str, kind: str, name: str, params: Mapping[str, Any], *,
                      tables: Mapping[str, pd.DataFrame] | None = None,
                      figures: Mapping[str, bytes] | None = None,
                      replace: bool = False) -> None: ...


ANALYSIS_KINDS: Final = ("optimize", "sensitivity", "biomarkers", "validation",
                          "comparison", "other")
"""The kinds of analysis :meth:`ResultStore.save_analysis` stores."""

_EVICT_TO: Final = "16MB"
"""The memory limit :meth:`ResultStore.write_chunk` drops to, for a moment, to evict the
blocks it wrote (a streaming writer needs none of them; 4 MB is below what DuckDB pins)."""

_PNG_SIGNATURE: Final = b"\x89PNG\r\n\x1a\n"

_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_SIMPLE_TYPE = re.compile(r"[A-Z][A-Z0-9_ ]*(\(\d+(, ?\d+)?\))?")
_MAX_BIGINT: Final = 2**63 - 1

_SCHEMA = (
    "CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL)",
    """CREATE TABLE runs (
        run_id VARCHAR PRIMARY KEY,
        created TIMESTAMP NOT NULL,
        name VARCHAR NOT NULL,
        model VARCHAR NOT NULL,
        model_version VARCHAR NOT NULL,
        il2sim_version VARCHAR NOT NULL,
        seed BIGINT NOT NULL,
        n_patients INTEGER NOT NULL,
        chunk_size INTEGER NOT NULL,
        config VARCHAR NOT NULL,
        status VARCHAR NOT NULL CHECK (status IN ('running', 'done', 'failed')),
        finished TIMESTAMP)""",
    """CREATE TABLE chunks (
        run_id VARCHAR NOT NULL,
        chunk INTEGER NOT NULL,
        n INTEGER NOT NULL,
        written TIMESTAMP NOT NULL,
        PRIMARY KEY (run_id, chunk))""",
)

_ANALYSIS_SCHEMA = {
    "analyses": """CREATE TABLE analyses (
        analysis_id VARCHAR PRIMARY KEY,
        run_id VARCHAR NOT NULL,
        kind VARCHAR NOT NULL,
        name VARCHAR NOT NULL,
        created TIMESTAMP NOT NULL,
        params VARCHAR NOT NULL,
        UNIQUE (run_id, kind, name))""",
    "analysis_tables": """CREATE TABLE analysis_tables (
        analysis_id VARCHAR NOT NULL,
        name VARCHAR NOT NULL,
        position INTEGER NOT NULL,
        n_rows BIGINT NOT NULL,
        data BLOB NOT NULL,
        PRIMARY KEY (analysis_id, name))""",
    "analysis_figures": """CREATE TABLE analysis_figures (
        analysis_id VARCHAR NOT NULL,
        name VARCHAR NOT NULL,
        position INTEGER NOT NULL,
        png BLOB NOT NULL,
        PRIMARY KEY (analysis_id, name))""",
    "run_columns": """CREATE TABLE run_columns (
        run_id VARCHAR NOT NULL,
        name VARCHAR NOT NULL,
        columns VARCHAR NOT NULL,
        PRIMARY KEY (run_id, name))""",
    "run_writers": """CREATE TABLE run_writers (
        run_id VARCHAR PRIMARY KEY,
        host VARCHAR NOT NULL,
        pid BIGINT NOT NULL,
        since TIMESTAMP NOT NULL)""",
}


def partial_warning(run: Mapping[str, Any]) -> str | None:
    """The warning for a run that is not done (a row of :meth:`ResultStore.runs`), or None:
    ``the run is interrupted: results may be partial (100 of 255 patients stored)``; an
    interrupted run adds how to resume it. The one wording of ``il2sim results`` and the
    report."""
    status = run.get("status")
    if status == "done":
        return None
    text = (f"the run is {status}: results may be partial ({run.get('patients_done', 0)} of "
            f"{run.get('n_patients')} patients stored)")
    if status == "interrupted":
        text += "; run the same trial file with the same --db to resume it"
    return text


@dataclass(frozen=True)
class Analysis:
    """One stored analysis, as :meth:`ResultStore.load_analysis` returns it.

    Attributes:
        run_id, kind, name: where it is stored (``kind`` one of :data:`ANALYSIS_KINDS`).
        created: when it was saved (UTC).
        params: its parameters (decoded JSON).
        tables: name -> DataFrame, in the order saved.
        figures: name -> PNG bytes, in the order saved.
    """

    run_id: str
    kind: str
    name: str
    created: datetime
    params: dict[str, Any]
    tables: dict[str, pd.DataFrame]
    figures: dict[str, bytes]

    @property
    def title(self) -> str:
        """``"<kind>: <name>"``."""
        return f"{self.kind}: {self.name}"


class StoreError(ValueError):
    """A result-store operation failed: one line naming the file, run or table and the problem."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))


def _ident(name: str) -> str:
    """A column name as a quoted SQL identifier (names are checked by :func:`_check_columns`)."""
    return '"' + name.replace('"', '""') + '"'


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def default_run_id(*, name: str, seed: int, config: str) -> str:
    """The run id of a config, seed and name: 12 hex digits of their SHA-256, so the same
    trial finds the same run again."""
    text = json.dumps([name, seed, config], ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


LOCK_WAIT_S = 5.0
"""How long opening a store waits for another process's lock to go (the web server holds
the file only while it writes a chunk, :class:`il2sim.web.jobs.SerialStore`) before it
gives up with a :class:`StoreError`."""

DEFAULT_MEMORY_LIMIT = "512MB"
"""DuckDB memory limit of a :class:`ResultStore` connection (see its ``memory_limit``)."""


class ResultStore:
    """Virtual-trial results in one DuckDB file: runs, their chunks, and four data tables.

    Main arguments:
        path: the DuckDB file; created with the tables when missing.

    Other arguments:
        read_only: open an existing file for reading only (several processes may,
            while none writes); writing methods then raise :class:`StoreError`.
        memory_limit: DuckDB's memory limit for this connection (default
            :data:`DEFAULT_MEMORY_LIMIT`, 512 MB); queries that need more spill to a
            temporary folder beside the file. ``None``: DuckDB's default (80% of RAM).
            DuckDB keeps the table blocks it writes in its buffer pool up to this limit,
            which grew a streamed trial by about 0.6 KB per patient; :meth:`write_chunk`
            therefore evicts them (they are on disk) after each chunk.

    Raises:
        StoreError: the file cannot be opened (locked by another process, not a
            DuckDB file, not a result store, another schema version, a bad
            ``memory_limit``).

    Use it as a context manager, or call :meth:`close`.
    """

    def __init__(self, path: str | Path, *, read_only: bool = False,
                 memory_limit: str | None = DEFAULT_MEMORY_LIMIT) -> None:
        self.path = Path(path)
        self.read_only = read_only
        self._where = str(self.path)
        if read_only and not self.path.exists():
            raise StoreError(f"{self._where}: no such file (read_only opens an existing store)")
        config: dict[str, str | bool | int | float | list[str]] = (
            {} if memory_limit is None else {"memory_limit": str(memory_limit)})
        if not read_only:
            try:  # a new store may go in a new folder
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise StoreError(f"{self._where}: cannot create its folder: {error}") from None
        deadline = time.monotonic() + LOCK_WAIT_S
        while True:
            try:
                self._con: duckdb.DuckDBPyConnection | None = duckdb.connect(
                    str(self.path), read_only=read_only, config=config)
                break
            except duckdb.Error as error:
                locked = "lock" in str(error).lower()
                if locked and time.monotonic() < deadline:  # a writer holding it briefly
                    time.sleep(0.05)
                    continue
                hint = (" (another process has it open: DuckDB allows one writer per file, "
                        "or several read_only readers)" if locked else "")
                raise self._error(None, f"cannot open: {error}{hint}") from error
        try:
            self._init_schema()
            row = self.con.execute("SELECT current_setting('memory_limit')").fetchone()
            self._memory_limit = str(memory_limit if memory_limit is not None or row is None
                                     else row[0])
        except BaseException:
            self.close()
            raise

    # ------------------------------------------------------------------ lifecycle

    def close(self) -> None:
        """Close the file (idempotent); committed chunks are safe on disk."""
        if self._con is not None:
            self._con.close()
            self._con = None

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._con is None else ("read-only" if self.read_only else "open")
        return f"ResultStore({self._where!r}, {state})"

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        """The open DuckDB connection (for advanced reading; prefer :meth:`query`)."""
        if self._con is None:
            raise self._error(None, "the store is closed")
        return self._con

    # ------------------------------------------------------------------ runs

    def create_run(self, *, name: str, model: str, model_version: str, seed: int,
                   n_patients: int, chunk_size: int, config: str,
                   run_id: str | None = None) -> str:
        """Register a run, or find it again to resume it; return its id.

        Main arguments:
            name: the trial's name.
            model, model_version: the library model and its version.
            seed: the run's root seed (0 <= seed < 2**63).
            n_patients: patients in the run; chunk_size: patients per chunk, so chunks
                are numbered ``0 .. ceil(n_patients / chunk_size) - 1``.
            config: the run's full config as text (JSON or TOML), enough to re-run it.

        Other arguments:
            run_id: the id to use (letters, digits, ``._-``; at most 64 characters).
                Default: :func:`default_run_id` of config, seed and name.

        Returns:
            The run id. A run with that id and the same fields is returned as it is
            (running: resume it, writing the chunks :meth:`done_chunks` lacks; done:
            nothing left to write); a failed one is set running again.

        Raises:
            StoreError: a bad argument, or a run with that id but another config or
                other fields.
        """
        self._writable("create_run")
        for label, text in (("name", name), ("model", model), ("model_version", model_version),
                            ("config", config)):
            if not isinstance(text, str) or (label != "config" and not text.strip()):
                raise self._error(None, f"create_run: {label} must be a non-empty string, "
                                  f"got {text!r}"[:200])
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= _MAX_BIGINT:
            raise self._error(None, f"create_run: seed must be an integer in [0, 2**63), "
                              f"got {seed!r}")
        for label, count in (("n_patients", n_patients), ("chunk_size", chunk_size)):
            if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count < 2**31:
                raise self._error(None, f"create_run: {label} must be a positive integer, "
                                  f"got {count!r}")
        if run_id is None:
            run_id = default_run_id(name=name, seed=seed, config=config)
        elif not isinstance(run_id, str) or not _RUN_ID.fullmatch(run_id):
            raise self._error(None, f"create_run: run_id must be 1-64 letters, digits or "
                              f"'._-' starting with a letter or digit, got {run_id!r}")
        fields: dict[str, object] = {
            "name": name, "model": model, "model_version": model_version, "seed": seed,
            "n_patients": n_patients, "chunk_size": chunk_size, "config": config}
        row = self._run_row(run_id)
        if row is None:
            self.con.execute(
                "INSERT INTO runs (run_id, created, name, model, model_version, il2sim_version,"
                " seed, n_patients, chunk_size, config, status) VALUES "
                "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'running')",
                [run_id, _now(), name, model, model_version, _il2sim_version(), seed,
                 n_patients, chunk_size, config])
            self._record_writer(run_id)
            return run_id
        if row["config"] != config:
            raise self._error(run_id, "exists with a different config; give another run_id "
                              "or delete the run")
        differ = [f"{key} {row[key]!r} (asked {value!r})" for key, value in fields.items()
                  if row[key] != value]
        if differ:
            raise self._error(run_id, "exists with the same config but different "
                              + ", ".join(differ))
        if row["status"] == "failed":
            self.con.execute("UPDATE runs SET status = 'running', finished = NULL "
                             "WHERE run_id = ?", [run_id])
        if row["status"] != "done":
            self._record_writer(run_id)
        return run_id

    def _record_writer(self, run_id: str) -> None:
        """Record this process as the one writing ``run_id`` (see :meth:`runs`)."""
        if "run_writers" in self._tables():
            self.con.execute("INSERT OR REPLACE INTO run_writers VALUES (?, ?, ?, ?)",
                             [run_id, socket.gethostname(), os.getpid(), _now()])

    def done_chunks(self, run_id: str) -> set[int]:
        """The chunks of a run written so far."""
        self._require_run(run_id)
        rows = self.con.execute("SELECT chunk FROM chunks WHERE run_id = ?", [run_id]).fetchall()
        return {int(chunk) for (chunk,) in rows}

    def n_chunks(self, run_id: str) -> int:
        """How many chunks the run has: ``ceil(n_patients / chunk_size)``."""
        row = self._require_run(run_id)
        return math.ceil(int(row["n_patients"]) / int(row["chunk_size"]))

    def write_chunk(self, run_id: str, chunk: int, frames: Mapping[str, pd.DataFrame]) -> None:
        """Write one chunk's frames and its ``chunks`` row in one transaction: all or nothing.

        Main arguments:
            run_id: a running run.
            chunk: the chunk's number, ``0 <= chunk < n_chunks(run_id)``.
            frames: data-table name (one of :data:`DATA_TABLES`) -> DataFrame with an
                integer ``patient`` column and no ``run_id`` column (the store adds it).
                A table's first frame creates it; later ones must have the same columns
                (in any order) with values that fit the columns' types.

        Raises:
            StoreError: an unknown run or table, a run not running, a chunk already
                written or out of range, a frame with other columns or values the
                table cannot hold, or a patient already written by another chunk.
                Nothing of the chunk is then written.
        """
        self._writable("write_chunk")
        row = self._require_run(run_id)
        if row["status"] != "running":
            raise self._error(run_id, f"is {row['status']}; chunks go to running runs "
                              "(create_run resumes a failed one)")
        n_chunks = self.n_chunks(run_id)
        if isinstance(chunk, bool) or not isinstance(chunk, int) or not 0 <= chunk < n_chunks:
            raise self._error(run_id, f"chunk must be an integer in [0, {n_chunks}), "
                              f"got {chunk!r}")
        if not isinstance(frames, Mapping) or not frames:
            raise self._error(run_id, f"chunk {chunk}: frames must be a non-empty mapping "
                              f"of table name -> DataFrame")
        patients: set[int] = set()
        for name, frame in frames.items():
            self._check_table_name(name)
            patients |= self._check_frame(run_id, chunk, name, frame)
        if chunk in self.done_chunks(run_id):
            raise self._error(run_id, f"chunk {chunk} is already written")
        views = {name: f"_il2sim_chunk_{name}" for name in frames}
        try:  # views are registered outside the transaction: unregistering works after errors
            for name, frame in frames.items():
                self.con.register(views[name], frame)
            with self._transaction(run_id, f"chunk {chunk}: "):
                for name, frame in frames.items():
                    self._append(run_id, chunk, name, frame, views[name])
                self.con.execute("INSERT INTO chunks VALUES (?, ?, ?, ?)",
                                 [run_id, chunk, len(patients), _now()])
        finally:
            for view in views.values():
                with suppress(duckdb.Error):
                    self.con.unregister(view)
        self._evict_written_blocks()

    def _evict_written_blocks(self) -> None:
        """Empty DuckDB's buffer pool of the blocks just written (they are on disk).

        DuckDB evicts when its memory limit is lowered, so the limit goes down to
        :data:`_EVICT_TO` for a moment and back. Without this a chunk-by-chunk writer's
        memory grows with every chunk until the pool reaches the limit.
        """
        try:
            self.con.execute(f"SET memory_limit = '{_EVICT_TO}'")
        except duckdb.OutOfMemoryException:
            pass  # more than that is in use; the limit stays where it was
        finally:
            self.con.execute(f"SET memory_limit = '{self._memory_limit}'")

    def finish(self, run_id: str, status: Literal["done", "failed"] = "done") -> None:
        """Mark a run done (every chunk must be written) or failed, with the time.

        Raises:
            StoreError: an unknown run or status, or ``"done"`` with chunks missing.
        """
        self._writable("finish")
        self._require_run(run_id)
        if status not in ("done", "failed"):
            raise self._error(run_id, f"finish: status must be 'done' or 'failed', "
                              f"got {status!r}")
        if status == "done":
            missing = sorted(set(range(self.n_chunks(run_id))) - self.done_chunks(run_id))
            if missing:
                shown = ", ".join(map(str, missing[:10])) + (", ..." if len(missing) > 10 else "")
                raise self._error(run_id, f"cannot finish as done: {len(missing)} chunk(s) "
                                  f"not written ({shown})")
        self.con.execute("UPDATE runs SET status = ?, finished = ? WHERE run_id = ?",
                         [status, _now(), run_id])

    def delete_run(self, run_id: str) -> None:
        """Delete a run and all its rows, in one transaction."""
        self._writable("delete_run")
        self._require_run(run_id)
        with self._transaction(run_id, "delete_run: "):
            for name in self._existing_tables():
                self.con.execute(f"DELETE FROM {name} WHERE run_id = ?", [run_id])
            self._delete_analyses(run_id, None, None)
            for table in ("run_columns", "run_writers"):
                if table in self._tables():
                    self.con.execute(f"DELETE FROM {table} WHERE run_id = ?", [run_id])
            self.con.execute("DELETE FROM chunks WHERE run_id = ?", [run_id])
            self.con.execute("DELETE FROM runs WHERE run_id = ?", [run_id])

    # ------------------------------------------------------------------ reading

    def runs(self) -> pd.DataFrame:
        """All runs, oldest first, with ``chunks_done`` and ``patients_done`` (how many chunks
        and patients are written); a ``'running'`` run whose writing process is gone from
        this host reads as ``'interrupted'``."""
        writers = "run_writers" in self._tables()
        frame = self.con.execute(
            "SELECT r.*, (SELECT count(*) FROM chunks c WHERE c.run_id = r.run_id) "
            "AS chunks_done, (SELECT coalesce(sum(n), 0) FROM chunks c "
            "WHERE c.run_id = r.run_id) AS patients_done"
            + (", w.host AS writer_host, w.pid AS writer_pid FROM runs r LEFT JOIN "
               "run_writers w USING (run_id)" if writers else " FROM runs r")
            + " ORDER BY r.created, r.run_id").fetchdf()
        frame["patients_done"] = frame["patients_done"].astype("int64")
        if writers:
            gone = [status == "running" and _writer_gone(host, pid) for status, host, pid
                    in zip(frame["status"], frame["writer_host"], frame["writer_pid"])]
            frame.loc[gone, "status"] = "interrupted"
            frame = frame.drop(columns=["writer_host", "writer_pid"])
        return frame

    def run(self, run_id: str) -> dict[str, Any]:
        """One row of :meth:`runs` as a dict (status as read there).

        Raises:
            StoreError: an unknown run.
        """
        runs = self.runs()
        rows = runs[runs["run_id"] == run_id]
        if rows.empty:
            raise self._error(run_id, "unknown run id")
        return {str(key): value for key, value in rows.iloc[0].items()}

    def table(self, run_id: str, name: str, *,
              patients: Sequence[int] | None = None) -> pd.DataFrame:
        """One data table's rows of a run, ordered by patient, then ``time`` when the
        table has it, then the other columns in table order (a total, stable order).

        Columns: ``run_id``, ``patient`` (int32), then those written. A table never
        written gives an empty frame with ``run_id`` and ``patient``. ``patients``: only
        these patients' rows.
        """
        self._check_table_name(name)
        self._require_run(run_id)
        own = self._shown_columns(run_id, name)
        if patients is None:
            return self.con.execute(self._select(name, own=own), [run_id]).fetchdf()
        return self.con.execute(self._select(name, subset=True, own=own),
                                [run_id, [int(p) for p in patients]]).fetchdf()

    def run_tables(self, run_id: str) -> list[str]:
        """The data tables a run wrote to, in :data:`DATA_TABLES` order (a tumour trial's
        include ``scans``, an HIV trial's ``visits``)."""
        self._require_run(run_id)
        return [name for name in self._existing_tables()
                if self._run_columns(run_id, name) is not None or self.con.execute(
                    f"SELECT 1 FROM {name} WHERE run_id = ? LIMIT 1", [run_id]).fetchone()]

    def query(self, sql: str, params: Sequence[object] | Mapping[str, object] | None = None,
              ) -> pd.DataFrame:
        """Run one SELECT statement (with ``?`` or ``$name`` parameters) and return its rows.

        Only SELECT statements are accepted, and they run in a transaction that is
        rolled back; this is a guard against mistakes, not a security boundary.
        """
        self._check_select(sql)
        try:
            self.con.begin()
            try:
                return self.con.execute(sql, params).fetchdf()
            finally:
                self.con.rollback()
        except duckdb.Error as error:
            raise self._error(None, f"query: {error}{_renamed(error)}") from error

    def export_query(self, sql: str, path: str | Path, fmt: TableFormat) -> int:
        """Write the rows of one SELECT statement (checked as :meth:`query`) to a file by
        DuckDB's ``COPY ... TO``: CSV with a header, Parquet, or JSON (an array of objects).
        An existing file is replaced. Returns the number of rows written."""
        self._check_select(sql)
        if fmt not in TABLE_FORMATS:
            raise self._error(None, f"export_query: format must be one of "
                              f"{', '.join(TABLE_FORMATS)}, got {fmt!r}")
        options = {"csv": "FORMAT csv, HEADER true", "parquet": "FORMAT parquet",
                   "json": "FORMAT json, ARRAY true"}[fmt]
        literal = "'" + str(path).replace("'", "''") + "'"
        select = sql.strip().rstrip(";")
        try:
            self.con.begin()
            try:
                row = self.con.execute(f"COPY ({select}\n) TO {literal} ({options})").fetchone()
            finally:
                self.con.rollback()
        except duckdb.Error as error:
            raise self._error(None, f"query to {path}: {error}{_renamed(error)}") from error
        return int(row[0]) if row else 0

    def _check_select(self, sql: str) -> None:
        try:
            statements = self.con.extract_statements(sql)
        except duckdb.Error as error:
            raise self._error(None, f"query: {error}") from error
        if len(statements) != 1:
            raise self._error(None, f"query: give exactly one statement, got {len(statements)}")
        kind = statements[0].type
        if kind != duckdb.StatementType.SELECT:
            raise self._error(None, f"query: only SELECT statements are allowed, got "
                              f"{kind.name}")

    def export_parquet(self, run_id: str, directory: str | Path) -> list[Path]:
        """Write a run to Parquet: ``runs.parquet`` (its row, config included) and one
        ``<table>.parquet`` per data table with rows for it, ordered as :meth:`table`.

        The directory is created when missing; existing files are replaced.

        Returns:
            The files written.
        """
        self._require_run(run_id)
        folder = Path(directory)
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise self._error(run_id, f"export_parquet: cannot create {folder}: {error}") from error
        selects = {"runs": "SELECT * FROM runs WHERE run_id = ?"}
        for name in self._existing_tables():
            count = self.con.execute(f"SELECT count(*) FROM {name} WHERE run_id = ?",
                                     [run_id]).fetchone()
            if count is not None and count[0]:
                selects[name] = self._select(name, own=self._shown_columns(run_id, name))
        written = []
        for name, select in selects.items():
            target = folder / f"{name}.parquet"
            literal = "'" + str(target).replace("'", "''") + "'"
            try:
                self.con.execute(f"COPY ({select}) TO {literal} (FORMAT parquet)", [run_id])
            except duckdb.Error as error:
                raise self._error(run_id, f"export_parquet: {name}: {error}") from error
            written.append(target)
        return written

    # ------------------------------------------------------------------ analyses

    def create_analysis_run(self, *, kind: str, name: str, model: str, model_version: str,
                            seed: int, n_patients: int, params: Mapping[str, Any],
                            run_id: str | None = None) -> str:
        """Register a run-like record for an analysis that belongs to no trial; return its id.

        The record is a ``runs`` row with status ``'done'``, ``chunk_size = n_patients``, no
        chunks and no patient rows; its config is ``{"analysis": kind, **params}`` as JSON
        (sorted keys), so the same analysis with the same parameters finds the same record
        again (the id is :func:`default_run_id` of that config, seed and name).

        Main arguments:
            kind: one of :data:`ANALYSIS_KINDS`.
            name: a short name, shown by ``il2sim results``.
            model, model_version, seed: what the analysis simulated, and its seed.
            n_patients: virtual patients per evaluation (at least 1).
            params: the analysis' settings, JSON-serialisable (other values are written
                with ``str``).

        Raises:
            StoreError: a bad argument, or the id taken by a run with another config.
        """
        self._check_kind(kind)
        if not isinstance(params, Mapping):
            raise self._error(None, f"create_analysis_run: params must be a mapping, "
                              f"got {type(params).__name__}")
        config = self._json({"analysis": kind, **params}, None, "create_analysis_run: params")
        with self._transaction(run_id, "create_analysis_run: "):
            run = self.create_run(name=name, model=model, model_version=model_version,
                                  seed=seed, n_patients=n_patients, chunk_size=n_patients,
                                  config=config, run_id=run_id)
            self.con.execute("UPDATE runs SET status = 'done', finished = coalesce(finished, ?) "
                             "WHERE run_id = ?", [_now(), run])
        return run

    def save_analysis(self, run_id: str, kind: str, name: str, params: Mapping[str, Any], *,
                      tables: Mapping[str, pd.DataFrame] | None = None,
                      figures: Mapping[str, bytes] | None = None,
                      replace: bool = False) -> None:
        """Store an analysis with a run, in one transaction: all or nothing.

        Main arguments:
            run_id: a stored run (a trial, or a record from :meth:`create_analysis_run`).
            kind: one of :data:`ANALYSIS_KINDS`.
            name: the analysis' name, unique per run and kind (1-200 printable characters).
            params: its settings, JSON-serialisable (other values are written with ``str``).

        Other arguments:
            tables: name -> DataFrame (kept with its index and dtypes, as Parquet).
            figures: name -> PNG bytes (e.g. ``fig.savefig(buffer, format="png")``).
            replace: overwrite an analysis stored under the same run, kind and name
                (otherwise that is an error).

        Raises:
            StoreError: an unknown run or kind, a bad name, params that are not a mapping,
                a table that is not a DataFrame or cannot be written as Parquet, bytes that
                are not a PNG image, or the analysis already stored (without ``replace``).
                Nothing is then written.
        """
        self._writable("save_analysis")
        self._require_run(run_id)
        self._check_kind(kind)
        self._check_name(run_id, name, "analysis name")
        if not isinstance(params, Mapping):
            raise self._error(run_id, f"save_analysis {name!r}: params must be a mapping, "
                              f"got {type(params).__name__}")
        text = self._json(params, run_id, f"save_analysis {name!r}: params")
        blobs = []
        for position, (label, frame) in enumerate((tables or {}).items()):
            self._check_name(run_id, label, f"analysis {name!r}: table name")
            blobs.append((label, position, len(frame) if isinstance(frame, pd.DataFrame) else 0,
                          self._parquet(run_id, name, label, frame)))
        images = []
        for position, (label, png) in enumerate((figures or {}).items()):
            self._check_name(run_id, label, f"analysis {name!r}: figure name")
            if not isinstance(png, (bytes, bytearray)) or not bytes(png).startswith(
                    _PNG_SIGNATURE):
                raise self._error(run_id, f"analysis {name!r}: figure {label!r} must be PNG "
                                  f"bytes, got {type(png).__name__}")
            images.append((label, position, bytes(png)))
        analysis_id = _analysis_id(run_id, kind, name)
        exists = self.con.execute("SELECT count(*) FROM analyses WHERE analysis_id = ?",
                                  [analysis_id]).fetchone()
        if exists and exists[0] and not replace:
            raise self._error(run_id, f"analysis {kind} {name!r} is already stored; pass "
                              "replace=True to overwrite it")
        with self._transaction(run_id, f"save_analysis {name!r}: "):
            self._delete_analyses(run_id, kind, name)
            self.con.execute("INSERT INTO analyses VALUES (?, ?, ?, ?, ?, ?)",
                             [analysis_id, run_id, kind, name, _now(), text])
            for label, position, n_rows, data in blobs:
                self.con.execute("INSERT INTO analysis_tables VALUES (?, ?, ?, ?, ?)",
                                 [analysis_id, label, position, n_rows, data])
            for label, position, png in images:
                self.con.execute("INSERT INTO analysis_figures VALUES (?, ?, ?, ?)",
                                 [analysis_id, label, position, png])

    def analyses(self, run_id: str | None = None) -> pd.DataFrame:
        """The stored analyses (of one run, or all), oldest first.

        Columns: ``run_id``, ``kind``, ``name``, ``created``, ``params`` (JSON text),
        ``tables`` and ``figures`` (how many of each).
        """
        columns = ["run_id", "kind", "name", "created", "params", "tables", "figures"]
        if run_id is not None:
            self._require_run(run_id)
        if "analyses" not in self._tables():  # an old file opened read-only
            return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
        where = "WHERE a.run_id = ?" if run_id is not None else ""
        return self.con.execute(
            "SELECT a.run_id, a.kind, a.name, a.created, a.params, "
            "(SELECT count(*) FROM analysis_tables t WHERE t.analysis_id = a.analysis_id) "
            "AS tables, "
            "(SELECT count(*) FROM analysis_figures f WHERE f.analysis_id = a.analysis_id) "
            f"AS figures FROM analyses a {where} ORDER BY a.created, a.kind, a.name",
            [run_id] if run_id is not None else []).fetchdf()

    def load_analysis(self, run_id: str, kind: str, name: str) -> Analysis:
        """One stored analysis with its parameters, tables and figures.

        Raises:
            StoreError: an unknown run, kind or analysis.
        """
        self._require_run(run_id)
        self._check_kind(kind)
        if "analyses" not in self._tables():
            raise self._error(run_id, f"no analysis {kind} {name!r} (the file has no analyses)")
        analysis_id = _analysis_id(run_id, kind, name)
        row = self.con.execute("SELECT created, params FROM analyses WHERE analysis_id = ?",
                               [analysis_id]).fetchone()
        if row is None:
            known = self.analyses(run_id)
            names = ", ".join(f"{k} {n!r}" for k, n in zip(known["kind"], known["name"]))
            raise self._error(run_id, f"no analysis {kind} {name!r} (stored: "
                              f"{names or 'none'})")
        tables = {label: pd.read_parquet(io.BytesIO(bytes(data)))
                  for label, data in self.con.execute(
                      "SELECT name, data FROM analysis_tables WHERE analysis_id = ? "
                      "ORDER BY position", [analysis_id]).fetchall()}
        figures = {label: bytes(png) for label, png in self.con.execute(
            "SELECT name, png FROM analysis_figures WHERE analysis_id = ? ORDER BY position",
            [analysis_id]).fetchall()}
        return Analysis(run_id, kind, name, row[0], json.loads(row[1]), tables, figures)

    def delete_analysis(self, run_id: str, kind: str, name: str) -> None:
        """Delete one stored analysis (its tables and figures too), in one transaction.

        Raises:
            StoreError: an unknown run, kind or analysis.
        """
        self._writable("delete_analysis")
        self.load_analysis(run_id, kind, name)  # checks that it exists
        with self._transaction(run_id, f"delete_analysis {name!r}: "):
            self._delete_analyses(run_id, kind, name)

    # ------------------------------------------------------------------ internals

    def _error(self, run_id: str | None, problem: str) -> StoreError:
        where = f"{self._where}: run {run_id!r}" if run_id is not None else self._where
        return StoreError(f"{where}: {problem}")

    def _writable(self, method: str) -> None:
        if self.read_only:
            raise self._error(None, f"{method}: the store is open read-only")

    @contextmanager
    def _transaction(self, run_id: str | None = None, what: str = "") -> Iterator[None]:
        """Run the block in one transaction; roll back on any error (a DuckDB error
        becomes a :class:`StoreError`)."""
        con = self.con
        con.begin()
        try:
            yield
        except BaseException as error:
            con.rollback()
            if isinstance(error, duckdb.Error):
                raise self._error(run_id, f"{what}nothing written: {error}") from error
            raise
        try:
            con.commit()
        except duckdb.Error as error:
            with suppress(duckdb.Error):
                con.rollback()
            raise self._error(run_id, f"{what}nothing written: {error}") from error

    def _init_schema(self) -> None:
        tables = self._tables()
        if "meta" not in tables:
            ours = tables & {"runs", "chunks", *DATA_TABLES}
            if ours or self.read_only:
                raise self._error(None, "not an il2sim result store (no meta table)")
            with self._transaction():
                for statement in (*_SCHEMA, *_ANALYSIS_SCHEMA.values()):
                    self.con.execute(statement)
                self.con.executemany("INSERT INTO meta VALUES (?, ?)", [
                    ["schema_version", str(SCHEMA_VERSION)],
                    ["created_by", f"il2sim {_il2sim_version()}"]])
            return
        row = self.con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        version = row[0] if row else None
        if version not in ("1", str(SCHEMA_VERSION)):
            raise self._error(None, f"result store schema version {version}, this il2sim "
                              f"reads versions 1 and {SCHEMA_VERSION}")
        missing = [name for name in _ANALYSIS_SCHEMA if name not in tables]
        if missing and not self.read_only:  # a file from before analyses were stored
            with self._transaction(None, "adding the analysis tables: "):
                for name in missing:
                    self.con.execute(_ANALYSIS_SCHEMA[name])
        if version == "1" and self.read_only:
            self._read_version_1(tables)
        elif version == "1":
            self._move_to_version_2(tables)

    def _version_1_visit_runs(self, tables: set[str]) -> list[str]:
        """The runs of a version-1 file whose ``observations`` are HIV visits."""
        if "run_columns" not in tables:  # a file from before HIV trials
            return []
        rows = self.con.execute("SELECT run_id, columns FROM run_columns WHERE name = ?",
                                [_VERSION_1_TABLE]).fetchall()
        return sorted(run for run, columns in rows
                      if _VERSION_1_VISIT_COLUMN in json.loads(columns))

    def _move_to_version_2(self, tables: set[str]) -> None:
        """Move a version-1 file to version 2 in one transaction: the HIV runs' rows of
        ``observations`` (with the columns those runs wrote) to ``visits``, the rest of the
        table renamed ``scans``, and ``run_columns`` named to match."""
        old = _VERSION_1_TABLE
        with self._transaction(None, f"moving table {old!r} to 'scans' and 'visits': "):
            if old in tables:
                runs = self._version_1_visit_runs(tables)
                among = _list_literal(runs)
                if runs:
                    wrote = {c for r in runs for c in self._run_columns(r, old) or []}
                    kept = [_ident(c) for c in self._columns(old)
                            if c in wrote and c not in ("run_id", "patient")]
                    self.con.execute(f"CREATE TABLE visits AS SELECT run_id, patient"
                                     f"{''.join(', ' + c for c in kept)} FROM {old} "
                                     f"WHERE list_contains({among}, run_id)")
                    self.con.execute(f"DELETE FROM {old} WHERE list_contains({among}, run_id)")
                if "run_columns" in tables:
                    self.con.execute(
                        "UPDATE run_columns SET name = CASE WHEN list_contains("
                        f"{among}, run_id) THEN 'visits' ELSE 'scans' END WHERE name = ?",
                        [old])
                self.con.execute(f"ALTER TABLE {old} RENAME TO scans")
            self.con.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'",
                             [str(SCHEMA_VERSION)])

    def _read_version_1(self, tables: set[str]) -> None:
        """Read a version-1 file opened read-only through temporary views with version 2's
        names: ``scans`` and ``visits`` over ``observations``, and ``run_columns`` naming
        them (temporary objects come first in DuckDB's name lookup; the file is not
        changed)."""
        old = _VERSION_1_TABLE
        if old not in tables:
            return
        among = _list_literal(self._version_1_visit_runs(tables))
        row = self.con.execute("SELECT current_database()").fetchone()
        main = f"{_ident(str(row[0] if row else ''))}.main"
        self.con.execute(f"CREATE TEMP VIEW scans AS SELECT * FROM {main}.{old} "
                         f"WHERE NOT list_contains({among}, run_id)")
        self.con.execute(f"CREATE TEMP VIEW visits AS SELECT * FROM {main}.{old} "
                         f"WHERE list_contains({among}, run_id)")
        if "run_columns" in tables:
            self.con.execute(
                f"CREATE TEMP VIEW run_columns AS SELECT run_id, CASE WHEN name = '{old}' "
                f"THEN (CASE WHEN list_contains({among}, run_id) THEN 'visits' ELSE 'scans' "
                f"END) ELSE name END AS name, columns FROM {main}.run_columns")

    def _check_kind(self, kind: object) -> None:
        if kind not in ANALYSIS_KINDS:
            raise self._error(None, f"unknown analysis kind {kind!r}; the kinds are "
                              + ", ".join(ANALYSIS_KINDS))

    def _check_name(self, run_id: str, name: object, what: str) -> None:
        if not isinstance(name, str) or not name.strip() or not name.isprintable() \
                or len(name) > 200:
            raise self._error(run_id, f"{what} must be 1-200 printable characters, "
                              f"got {name!r}"[:300])

    def _json(self, value: Mapping[str, Any], run_id: str | None, what: str) -> str:
        try:
            return json.dumps(dict(value), sort_keys=True, default=str, allow_nan=True)
        except (TypeError, ValueError) as error:
            raise self._error(run_id, f"{what} cannot be written as JSON: {error}") from error

    def _parquet(self, run_id: str, name: str, label: str, frame: object) -> bytes:
        if not isinstance(frame, pd.DataFrame):
            raise self._error(run_id, f"analysis {name!r}: table {label!r} must be a pandas "
                              f"DataFrame, got {type(frame).__name__}")
        buffer = io.BytesIO()
        try:
            frame.to_parquet(buffer)
        except Exception as error:  # pyarrow raises several types for unwritable columns
            raise self._error(run_id, f"analysis {name!r}: table {label!r} cannot be stored "
                              f"as Parquet ({error}); convert object columns to numbers or "
                              "strings") from error
        return buffer.getvalue()

    def _delete_analyses(self, run_id: str, kind: str | None, name: str | None) -> None:
        """Delete a run's analyses (all, or one): inside the caller's transaction."""
        if "analyses" not in self._tables():
            return
        if kind is None or name is None:
            select = "SELECT analysis_id FROM analyses WHERE run_id = ?"
            args: list[object] = [run_id]
        else:
            select = "SELECT ?"
            args = [_analysis_id(run_id, kind, name)]
        for table in ("analysis_tables", "analysis_figures", "analyses"):
            self.con.execute(f"DELETE FROM {table} WHERE analysis_id IN ({select})", args)

    def _tables(self) -> set[str]:
        """The file's tables, and the temporary views of a version-1 file read-only."""
        rows = self.con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
            "AND schema_name = 'main' UNION SELECT view_name FROM duckdb_views() "
            "WHERE temporary AND NOT internal").fetchall()
        return {name for (name,) in rows}

    def _existing_tables(self) -> list[str]:
        tables = self._tables()
        return [name for name in DATA_TABLES if name in tables]

    def _columns(self, name: str) -> dict[str, str]:
        rows = self.con.execute(
            "SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = ? "
            "AND database_name IN (current_database(), 'temp') AND schema_name = 'main' "
            "ORDER BY column_index", [name]).fetchall()
        return {column: kind for column, kind in rows}

    def _check_table_name(self, name: object) -> None:
        if name not in DATA_TABLES:
            raise self._error(None, f"unknown table {name!r}; the data tables are "
                              + ", ".join(DATA_TABLES))

    def _run_row(self, run_id: str) -> dict[str, Any] | None:
        if not isinstance(run_id, str):
            raise self._error(None, f"run_id must be a string, got {run_id!r}")
        cursor = self.con.execute("SELECT * FROM runs WHERE run_id = ?", [run_id])
        row = cursor.fetchone()
        if row is None:
            return None
        return dict(zip([column[0] for column in cursor.description], row))

    def _require_run(self, run_id: str) -> dict[str, Any]:
        row = self._run_row(run_id)
        if row is None:
            raise self._error(run_id, "unknown run id")
        return row

    def _check_frame(self, run_id: str, chunk: int, name: str, frame: object) -> set[int]:
        where = f"chunk {chunk}: table {name!r}"
        if not isinstance(frame, pd.DataFrame):
            raise self._error(run_id, f"{where}: expected a pandas DataFrame, got "
                              f"{type(frame).__name__}")
        columns = list(frame.columns)
        bad = [c for c in columns if not isinstance(c, str) or not c.strip()
               or not c.isprintable()]
        if bad:
            raise self._error(run_id, f"{where}: column names must be printable, non-empty "
                              f"strings, got {bad!r}")
        folded = [c.lower() for c in columns]
        twice = sorted({c for c in columns if folded.count(c.lower()) > 1})
        if twice:
            raise self._error(run_id, f"{where}: duplicate column names (case-insensitive): "
                              f"{twice}")
        if "run_id" in folded:
            raise self._error(run_id, f"{where}: has a 'run_id' column; the store adds it")
        if "patient" not in columns:
            raise self._error(run_id, f"{where}: no 'patient' column")
        patient = frame["patient"]
        if not pd.api.types.is_integer_dtype(patient.dtype) or patient.isna().any():
            raise self._error(run_id, f"{where}: column 'patient' must hold integers without "
                              f"missing values, got dtype {patient.dtype}")
        values = {int(p) for p in patient.unique()}
        if values and (min(values) < 0 or max(values) > 2**31 - 1):
            raise self._error(run_id, f"{where}: patient numbers must be in [0, 2**31)")
        return values

    def _append(self, run_id: str, chunk: int, name: str, frame: pd.DataFrame,
                view: str) -> None:
        """Append a frame (registered as ``view``) to a data table, creating the table on
        its first write; inside :meth:`write_chunk`'s transaction."""
        where = f"chunk {chunk}: table {name!r}"
        con = self.con
        incoming = {column: kind for column, kind, *_ in
                    con.execute(f"DESCRIBE SELECT * FROM {view}").fetchall()}
        table = self._columns(name)
        if not table:
            untyped = [c for c, kind in incoming.items() if kind == '"NULL"']
            if untyped:
                raise self._error(run_id, f"{where}: columns {untyped} have no values, so "
                                  "their type is unknown on the table's first write; give "
                                  "them a dtype (e.g. .astype('float64'))")
            others = ", ".join(_ident(c) for c in frame.columns if c != "patient")
            con.execute(f"CREATE TABLE {name} AS SELECT CAST(NULL AS VARCHAR) AS run_id, "
                        f"CAST(patient AS INTEGER) AS patient"
                        f"{', ' if others else ''}{others} FROM {view} LIMIT 0")
            table = self._columns(name)
        own = self._run_columns(run_id, name)
        if own is None:  # the run's first chunk: its columns, added to the table if new
            new = [c for c in incoming if c not in table]
            untyped = [c for c in new if incoming[c] == '"NULL"']
            if untyped:
                raise self._error(run_id, f"{where}: columns {untyped} have no values, so "
                                  "their type is unknown on the run's first write; give "
                                  "them a dtype (e.g. .astype('float64'))")
            for column in new:
                con.execute(f"ALTER TABLE {name} ADD COLUMN {_ident(column)} "
                            f"{incoming[column]}")
            table = self._columns(name)
            own = [c for c in table if c in incoming]
            con.execute("INSERT INTO run_columns VALUES (?, ?, ?)",
                        [run_id, name, json.dumps(own)])
        written = [c for c in table if c in own]
        missing = sorted(set(written) - set(incoming))
        extra = sorted(set(incoming) - set(written))
        if missing or extra:
            raise self._error(run_id, f"{where}: columns differ from the run's first "
                              f"chunk's: missing {missing}, extra {extra}")
        expressions = [self._conversion(run_id, where, view, column, incoming[column],
                                        table[column]) for column in written]
        clash = con.execute(
            f"SELECT min(patient) FROM {name} WHERE run_id = ? AND patient IN "
            f"(SELECT DISTINCT patient FROM {view})", [run_id]).fetchone()
        if clash is not None and clash[0] is not None:
            raise self._error(run_id, f"{where}: patient {clash[0]} is already written "
                              "(by another chunk)")
        con.execute(f"INSERT INTO {name} (run_id, {', '.join(map(_ident, written))}) "
                    f"SELECT ?, {', '.join(expressions)} FROM {view}", [run_id])

    def _conversion(self, run_id: str, where: str, view: str, column: str, incoming: str,
                    target: str) -> str:
        """The SELECT expression that converts a frame's column to the table's type,
        after checking that no value changes on the way."""
        quoted = _ident(column)
        if incoming == target:
            return quoted
        if incoming == '"NULL"':
            return f"CAST({quoted} AS {target})" if _SIMPLE_TYPE.fullmatch(target) else quoted
        if not (_SIMPLE_TYPE.fullmatch(incoming) and _SIMPLE_TYPE.fullmatch(target)):
            raise self._error(run_id, f"{where}: column {column!r} is {target} in the table "
                              f"but {incoming} in this frame")
        row = self.con.execute(
            f"SELECT count(*) FROM {view} WHERE {quoted} IS NOT NULL AND "
            f"TRY_CAST(TRY_CAST({quoted} AS {target}) AS {incoming}) IS DISTINCT FROM "
            f"{quoted}").fetchone()
        changed = row[0] if row else 0
        if changed:
            raise self._error(run_id, f"{where}: column {column!r} is {target} in the table "
                              f"but {incoming} in this frame, and {changed} value(s) would "
                              f"change; convert the column before writing (the table's "
                              f"first write fixes its types)")
        return f"CAST({quoted} AS {target})"

    def _run_columns(self, run_id: str, name: str) -> list[str] | None:
        """The columns ``run_id`` wrote to table ``name`` (``None``: not written yet, or a
        file from before runs kept their columns)."""
        if "run_columns" not in self._tables():
            return None
        row = self.con.execute("SELECT columns FROM run_columns WHERE run_id = ? AND name = ?",
                               [run_id, name]).fetchone()
        return None if row is None else list(json.loads(row[0]))

    def _shown_columns(self, run_id: str, name: str) -> list[str] | None:
        """The columns :meth:`table` returns for a run: its own; none beyond ``patient``
        for a run without rows there; a file from before runs kept their columns, all."""
        own = self._run_columns(run_id, name)
        if own is not None or name not in self._tables():
            return own
        any_row = self.con.execute(f"SELECT 1 FROM {name} WHERE run_id = ? LIMIT 1",
                                   [run_id]).fetchone()
        return None if any_row is not None else ["patient"]

    def _select(self, name: str, *, subset: bool = False, own: list[str] | None = None) -> str:
        """The ordered SELECT of a run's rows (parameters: run id, then with ``subset``
        the list of patients); ``own``: the run's columns (default: the table's)."""
        columns = self._columns(name)
        if own is not None:
            columns = {c: k for c, k in columns.items() if c in own or c == "run_id"}
        if not columns:  # never written: no rows, the two columns every table has
            return ("SELECT CAST(? AS VARCHAR) AS run_id, CAST(NULL AS INTEGER) AS patient "
                    "WHERE false" + (" AND ? IS NOT NULL" if subset else ""))
        among = " AND list_contains(?, patient)" if subset else ""
        rest = [c for c in columns if c not in ("run_id", "patient")]
        keys = ["patient"] + [c for c in rest if c == "time"] + [c for c in rest if c != "time"]
        order = ", ".join(_ident(c) for c in keys)
        shown = ", ".join(_ident(c) for c in columns)
        return f"SELECT {shown} FROM {name} WHERE run_id = ?{among} ORDER BY {order}"


def _renamed(error: duckdb.Error) -> str:
    """A hint for a query of version 1's table name (empty for any other error)."""
    if isinstance(error, duckdb.CatalogException) and _VERSION_1_TABLE in str(error):
        return (f" (the table {_VERSION_1_TABLE!r} is now 'scans', a tumour trial's, and "
                "'visits', an HIV trial's)")
    return ""


def _list_literal(texts: Sequence[str]) -> str:
    """A list of strings as a DuckDB ``VARCHAR[]`` literal."""
    return "[" + ", ".join("'" + t.replace("'", "''") + "'" for t in texts) + "]::VARCHAR[]"


def _analysis_id(run_id: str, kind: str, name: str) -> str:
    """The key of an analysis: 16 hex digits of the SHA-256 of (run, kind, name)."""
    text = json.dumps([run_id, kind, name], ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _writer_gone(host: object, pid: Any) -> bool:
    """Whether the process ``pid`` on ``host`` is known to be gone: on this host and no
    such process (unknown, False, for another host or no record)."""
    if not isinstance(host, str) or host != socket.gethostname() or pd.isna(pid):
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


def _il2sim_version() -> str:
    import il2sim

    return str(il2sim.__version__)
