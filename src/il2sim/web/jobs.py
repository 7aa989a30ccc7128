"""Virtual trials in the background: a queue of jobs, run one at a time, with progress.

Each job gets an unguessable id (:func:`secrets.token_urlsafe`); only whoever started it
(and holds the id) can follow its progress, so users do not see each other's unfinished
work. A job writes its run through :class:`SerialStore`, which serialises every call on
the one DuckDB connection; each chunk is one transaction
(:meth:`il2sim.io.store.ResultStore.write_chunk`), so a reader sees whole chunks only and
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
from typing import Any

from il2sim.io.store import ResultStore
from il2sim.model.library import get_model
from il2sim.trial.arms import MultiArmTrial, run_arms
from il2sim.trial.runner import TrialSpec, open_run, stream_trial
from il2sim.web.schemas import JobStatus

__all__ = ["Cancelled", "SerialStore", "TrialJobs"]


class SerialStore:
    """A :class:`ResultStore` whose every method call holds one lock.

    DuckDB connections are not safe to use from two threads at once; the web server
    keeps one connection and passes this wrapper to request handlers and trial jobs.
    """

    def __init__(self, store: ResultStore) -> None:
        self._store = store
        self.lock = threading.RLock()

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._store, name)
        if not callable(attribute):
            return attribute

        def locked(*args: Any, **kwargs: Any) -> Any:
            with self.lock:
                return attribute(*args, **kwargs)
        return locked

    @contextmanager
    def locked(self) -> Iterator[ResultStore]:
        """The underlying store, for a block of calls that must not interleave."""
        with self.lock:
            yield self._store

    def close(self) -> None:
        with self.lock:
            self._store.close()


class Cancelled(Exception):
    """Raised inside a job's progress callback to stop it between chunks."""


@dataclass
class _Job:
    job_id: str
    name: str
    total: int
    created: str
    status: str = "queued"
    done: int = 0
    run_id: str | None = None
    error: str | None = None
    cancel: threading.Event = field(default_factory=threading.Event)

    def snapshot(self) -> JobStatus:
        return JobStatus(job_id=self.job_id, name=self.name, status=self.status,  # type: ignore[arg-type]
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
                job.run_id = run_arms(spec, self.store, progress=progress).run_id  # type: ignore[arg-type]
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
