"""Virtual trials in the background: a queue of jobs, run one at a time, with progress.

Each job gets an id (:func:`secrets.token_urlsafe`); :meth:`TrialJobs.list` gives every
job of the server, newest first, so every browser (and every tab) sees the same list of
trials started (the server is a shared workbench, not a multi-user service). A job writes
its run through :class:`SerialStore`, which opens the DuckDB file only for the length of
one call, read-only unless the call writes, so that other processes (``il2sim results``,
``il2sim report``) can read the store while the server runs; each chunk is one transaction
(:meth:`il2sim.store.ResultStore.write_chunk`), so a reader sees whole chunks only and
the run list shows finished runs only. Cancelling stops the job between chunks; the run
stays in the store, resumable (rerun the same trial file).
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from il2sim.model.library import get_model
from il2sim.store import ResultStore
from il2sim.trial.arms import MultiArmTrial, run_arms
from il2sim.trial.runner import TrialSpec, open_run, stream_trial
from il2sim.web.schemas import JobState, JobStatus

__all__ = ["Cancelled", "SerialStore", "TrialJobs"]


WRITERS = frozenset({"create_run", "write_chunk", "finish", "delete_run",
                     "create_analysis_run", "save_analysis", "delete_analysis"})
"""The :class:`ResultStore` methods that write; every other one reads."""


class SerialStore:
    """The :class:`ResultStore` methods over a file that is open only while a call runs.

    DuckDB lets one process open a file for writing, and then no other process may open it,
    or several processes open it read-only (https://duckdb.org/docs/stable/connect/concurrency).
    A server that held the file open would lock out ``il2sim results`` for as long as it
    runs; this wrapper opens the file for each call (read-only unless the method is one of
    :data:`WRITERS`) and closes it after, one call at a time (one lock: DuckDB refuses two
    connections with different settings to one file in one process). A call made inside
    another (or inside :meth:`locked`) reuses the open store.

    Main arguments:
        path: the DuckDB file, created with its tables when missing.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.lock = threading.RLock()
        self._open: ResultStore | None = None
        ResultStore(self.path).close()  # create the file (and its tables) if missing

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or not callable(getattr(ResultStore, name, None)):
            raise AttributeError(f"SerialStore has no attribute {name!r}")

        def call(*args: Any, **kwargs: Any) -> Any:
            with self.locked(write=name in WRITERS) as store:
                return getattr(store, name)(*args, **kwargs)
        return call

    @contextmanager
    def locked(self, *, write: bool = False) -> Iterator[ResultStore]:
        """The store, open for a block of calls that must not interleave (read-only unless
        ``write``)."""
        with self.lock:
            if self._open is not None:
                if write and self._open.read_only:
                    raise RuntimeError(f"{self.path}: a write inside a read-only block")
                yield self._open
                return
            store = ResultStore(self.path, read_only=not write)
            self._open = store
            try:
                yield store
            finally:
                self._open = None
                store.close()

    def close(self) -> None:
        """Nothing stays open between calls; kept for symmetry with :class:`ResultStore`."""


class Cancelled(Exception):
    """Raised inside a job's progress callback to stop it between chunks."""


@dataclass
class _Job:
    job_id: str
    name: str
    total: int
    created: str
    status: JobState = "queued"
    done: int = 0
    run_id: str | None = None
    error: str | None = None
    cancel: threading.Event = field(default_factory=threading.Event)

    def snapshot(self) -> JobStatus:
        return JobStatus(job_id=self.job_id, name=self.name, status=self.status,
                         done=self.done, total=self.total, run_id=self.run_id,
                         error=self.error, created=self.created)


class TrialJobs:
    """Runs submitted trials one after another on a worker thread.

    Main arguments:
        store: the server's store (wrapped in :class:`SerialStore`).

    Other arguments:
        on_done: called with the job's status when a job ends (e.g. for logging).
    """

    def __init__(self, store: SerialStore, *,
                 on_done: Callable[[JobStatus], None] | None = None) -> None:
        self.store = store
        self.on_done = on_done
        self._jobs: dict[str, _Job] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="il2sim-trial")

    def submit(self, spec: TrialSpec | MultiArmTrial) -> JobStatus:
        """Queue a trial; returns its status with the new job id (a multi-arm trial's
        run id, once done, is its comparison record)."""
        total = spec.n_treated if isinstance(spec, MultiArmTrial) else spec.n_patients
        job = _Job(job_id=secrets.token_urlsafe(12), name=spec.name, total=total,
                   created=datetime.now(UTC).isoformat(timespec="seconds"))
        with self._lock:
            self._jobs[job.job_id] = job
        self._pool.submit(self._run, job, spec)
        return job.snapshot()

    def status(self, job_id: str) -> JobStatus | None:
        with self._lock:
            job = self._jobs.get(job_id)
            return None if job is None else job.snapshot()

    def list(self) -> list[JobStatus]:
        """Every job of this server, newest first."""
        with self._lock:
            return [job.snapshot() for job in reversed(self._jobs.values())]

    def cancel(self, job_id: str) -> JobStatus | None:
        """Ask a queued or running job to stop; returns its status (None: unknown id)."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                return None
            job.cancel.set()
            if job.status == "queued":
                job.status = "cancelled"
            return job.snapshot()

    def shutdown(self) -> None:
        """Cancel everything and wait for the worker thread."""
        with self._lock:
            for job in self._jobs.values():
                job.cancel.set()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _run(self, job: _Job, spec: TrialSpec | MultiArmTrial) -> None:
        if job.cancel.is_set():
            job.status = "cancelled"
            return
        job.status = "running"

        def progress(k: int) -> None:
            job.done += k
            if job.cancel.is_set():
                raise Cancelled

        try:
            if isinstance(spec, MultiArmTrial):
                job.run_id = run_arms(spec, self.store, progress=progress).run_id
            else:
                job.run_id = open_run(self.store, spec, get_model(spec.model))
                stream_trial(spec, self.store, progress=progress)
            job.status = "done"
        except Cancelled:
            job.status = "cancelled"
        except Exception as exc:  # a failed job must not take the server down
            job.status = "failed"
            job.error = f"{type(exc).__name__}: {exc}"
        if self.on_done is not None:
            self.on_done(job.snapshot())
