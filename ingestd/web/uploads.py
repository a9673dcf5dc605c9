"""Uploads that take longer than a client should wait (docs/http.md#uploads): the import runs
on a worker of its own; when it has not finished after ``[http] upload_wait`` the answer is 202
with a link that gives the import's answer once it is there.

The worker pool is small on purpose: a large deck's import holds its rows in memory, so a burst
of uploads waits its turn rather than running all at once.  Jobs are kept in this daemon's
memory for an hour after they finish (the versions they wrote are in the database for good); a
stop waits for the imports in hand like any other request."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

IMPORT_WORKERS = 2
KEPT_FOR = 3600.0  # seconds a finished job's answer stays to be fetched


@dataclass
class Job:
    id: str
    key: str  # the API key that uploaded it: only it (or an admin key) may ask
    future: Future
    finished_at: float | None = None


class Uploads:
    def __init__(self) -> None:
        self.pool = ThreadPoolExecutor(IMPORT_WORKERS, thread_name_prefix="http-import")
        self.jobs: dict[str, Job] = {}
        self.lock = threading.Lock()

    def submit(self, key: str, work: Callable[[], Any]) -> Job:
        job = Job("upl_" + uuid.uuid4().hex, key, self.pool.submit(work))
        job.future.add_done_callback(lambda _: setattr(job, "finished_at", time.monotonic()))
        with self.lock:
            self._forget_old()
            self.jobs[job.id] = job
        return job

    def get(self, job_id: str) -> Job | None:
        with self.lock:
            return self.jobs.get(job_id)

    def _forget_old(self) -> None:
        now = time.monotonic()
        for job_id, job in list(self.jobs.items()):
            if job.finished_at is not None and now - job.finished_at > KEPT_FOR:
                del self.jobs[job_id]

    def running(self) -> int:
        with self.lock:
            return sum(1 for job in self.jobs.values() if not job.future.done())

    def close(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for the imports in hand; queued ones do not start."""
        deadline = time.monotonic() + timeout
        self.pool.shutdown(wait=False, cancel_futures=True)
        with self.lock:
            pending = [job.future for job in self.jobs.values()]
        for future in pending:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                future.exception(timeout=remaining)
            except Exception:  # cancelled or timed out: nothing more to wait for
                pass
