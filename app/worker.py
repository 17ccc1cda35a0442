"""`docrag worker`: a Celery worker that ingests one document per task and writes it to the
Chroma server every API process reads (their lexical indexes follow its change feed).

Each worker process (Celery's prefork children, replaced after `max_tasks_per_child` tasks)
builds the parts once (the embedding model is loaded once) and takes a knowledge base's
library from them for each job (`open_base`). A task:
1. takes the job's lease in Redis, or leaves the job to the worker that holds it (a message
   delivered twice runs once);
2. runs the job as the API process would (`IngestJobs.run`): parse with OCR, embed, write,
   progress into the job's record; the document's id is its content hash and its chunk ids
   follow from it, so a job run again after a crash rewrites the same chunks, never new ones;
3. stops when its document is deleted meanwhile (the cancel), and is retried with backoff
   while the Chroma server cannot be reached.
Every few seconds one worker sweeps the store: a job whose worker died (no lease) or whose
message was lost (no queued mark) is sent again.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from app.broker import QUEUE_NAME, RedisJobQueue, celery_app
from app.config import Settings
from ingest.catalog import utcnow
from ingest.queue import INGEST_TASK, IngestTask

if TYPE_CHECKING:
    from app.library import Library
    from app.parts import Parts

logger = logging.getLogger(__name__)

# How often a running task looks whether its document was deleted (a cancel).
CANCEL_CHECK_S = 2.0
RETRY_BACKOFF_MAX_S = 60


def open_base(parts: Parts, name: str) -> Library:
    """One knowledge base's library (its own collections, jobs and pipeline): the one place
    a worker chooses the parts a job writes with."""
    return parts.library(name)


class _Lease:
    """A job's lease, renewed from a thread while the job runs."""

    def __init__(self, queue: RedisJobQueue, job_id: str) -> None:
        self._lock = queue.lease(job_id)
        self._every = max(0.5, queue.lease_s / 3)
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._renew, name="docrag-lease", daemon=True)

    def acquire(self) -> bool:
        if not self._lock.acquire(blocking=False):
            return False
        self._thread.start()
        return True

    def _renew(self) -> None:
        while not self._done.wait(self._every):
            try:
                if not self._lock.owned() and not self._lock.acquire(blocking=False):
                    # Another worker took the job while Redis lost this lease; both write
                    # the same chunk ids, so carrying on is safe and stopping is not.
                    logger.warning("the lease of %s is held by another worker", self._lock.name)
                    continue
                self._lock.reacquire()
            except Exception as e:  # Redis down for a moment: try again next time
                logger.warning("cannot renew the lease %s: %s", self._lock.name, e)

    def release(self) -> None:
        self._done.set()
        self._thread.join(timeout=5)
        try:
            self._lock.release()
        except Exception:  # lapsed, or Redis is down: it expires by itself
            logger.debug("lease %s already gone", self._lock.name)


class WorkerProcess:
    """What one worker process holds: the queue, and the parts, built on first use (the
    Chroma server may be down when the process starts)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.queue = RedisJobQueue(settings.queue)
        self._parts: Parts | None = None
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    @property
    def parts(self) -> Parts:
        with self._lock:
            if self._parts is None:
                from app.builders import build_parts

                self._parts = build_parts(self.settings, recover_now=False)
            return self._parts

    def store_down(self) -> bool:
        """Whether the Chroma server cannot be reached now (an error is then worth a retry)."""
        if self._parts is None:
            return True  # the parts could not even be built
        try:
            self._parts.client.heartbeat()
        except Exception:
            return True
        return False

    def run(self, task: IngestTask) -> None:
        library = open_base(self.parts, task.knowledge_base)
        assert library.jobs is not None
        lease = _Lease(self.queue, task.job_id)
        if not lease.acquire():
            logger.info("job %s runs on another worker; this delivery is dropped", task.job_id)
            return
        try:
            self.queue.taken(task.job_id)
            job = library.jobs.get(task.job_id)
            if job is None or job.finished:
                return
            logger.info("job %s started: %s %s", job.id, job.kind, job.filename)
            deleted = _DeletionWatch(library, job.document_id)
            library.jobs.run(
                task.job_id,
                should_stop=lambda: self._stopping.is_set() or deleted(),
                transient=lambda e: self.store_down(),
            )
            if deleted.seen:
                _finish_cancelled(library, job)
        finally:
            lease.release()

    # -- the sweep -----------------------------------------------------------------------

    def sweep(self) -> int:
        """Sends again the jobs that lost their worker or their message; returns how many."""
        stale_before = utcnow() - timedelta(seconds=self.queue.lease_s)
        sent = 0
        for library in self.parts.all_libraries():
            if library.jobs is None:
                continue
            for job in library.jobs.unfinished():
                if job.updated_at > stale_before:
                    continue  # just sent, or running and recording progress
                if self.queue.is_leased(job.id) or self.queue.is_queued(job.id):
                    continue
                logger.warning(
                    "job %s (%s) lost its worker or message; queued again", job.id, library.name
                )
                self.queue.put(IngestTask(job.id, job.knowledge_base))
                sent += 1
        return sent

    def warm(self) -> None:
        """Builds the parts and brings each base's lexical index up to date now, so that the
        first document is not charged for them; logs `worker warm`."""
        for library in self.parts.all_libraries():
            library.current.lexical.follow()
        logger.info("worker warm: %d knowledge base(s)", len(self.parts.all_libraries()))

    def sweep_forever(self) -> None:
        try:
            self.warm()
        except Exception as e:  # Chroma down: the first task builds them
            logger.warning("cannot open the knowledge bases yet: %s", e)
        every = max(1.0, self.queue.lease_s / 3)
        while not self._stopping.wait(every):
            try:
                if self.queue.claim_sweep(every):
                    self.sweep()
            except Exception as e:  # Redis or Chroma down: the next round tries again
                logger.warning("sweep of unfinished jobs failed: %s", e)

    def close(self) -> None:
        self._stopping.set()
        if self._parts is not None:
            self._parts.close()


class _DeletionWatch:
    """`should_stop` of a running job: True once a client deleted its document, looked up at
    most every `CANCEL_CHECK_S` seconds. The stored original tells, not the record: the
    running job itself writes the record (its progress), but not the original until done."""

    def __init__(self, library: Library, document_id: str) -> None:
        self._library, self._document_id = library, document_id
        record = library.catalog.get(document_id)
        self._generation = record.generation if record is not None else 0
        self._checked = time.monotonic()
        self.seen = False

    def __call__(self) -> bool:
        if self.seen:
            return True
        if time.monotonic() - self._checked < CANCEL_CHECK_S:
            return False
        self._checked = time.monotonic()
        files = self._library.files
        try:
            self.seen = not files.exists(self._document_id, self._generation) or (
                self._library.catalog.get(self._document_id) is None
            )
        except Exception:  # the store is down: the write itself will say so
            return False
        return self.seen


def _finish_cancelled(library: Library, job: Any) -> None:
    """A stopped ingest put its document back as queued: a cancel removes it for good, and
    the job, run once more, fails as any job whose document is gone."""
    if job.kind == "ingest":
        library.pipeline.delete(job.document_id)
    assert library.jobs is not None
    library.jobs.run(job.id)
    logger.info("job %s stopped: its document %s was deleted", job.id, job.document_id)


# -- the Celery side -----------------------------------------------------------------------

_process: WorkerProcess | None = None


def create_worker_app(settings: Settings) -> Any:
    """The Celery app with docrag's task; each worker process opens its parts on start."""
    from celery import signals

    app = celery_app(settings.queue)
    queue = settings.queue

    @app.task(bind=True, name=INGEST_TASK, max_retries=queue.max_retries)  # type: ignore[untyped-decorator]
    def ingest_document(self: Any, task: dict[str, Any]) -> None:
        message = IngestTask.from_message(task)
        process = _process or _start_process(settings)
        try:
            process.run(message)
        except Exception as e:
            if not process.store_down():
                raise
            delay = min(RETRY_BACKOFF_MAX_S, 2 ** (self.request.retries + 1))
            logger.warning("Chroma unreachable; job %s retried in %d s", message.job_id, delay)
            process.queue.mark_queued(message)
            raise self.retry(exc=e, countdown=delay) from e

    @signals.worker_process_init.connect(weak=False)
    def _on_start(**_: Any) -> None:
        _start_process(settings)

    @signals.worker_process_shutdown.connect(weak=False)
    def _on_stop(**_: Any) -> None:
        if _process is not None:
            _process.close()

    return app


def _start_process(settings: Settings) -> WorkerProcess:
    global _process
    _process = WorkerProcess(settings)
    threading.Thread(target=_process.sweep_forever, name="docrag-sweep", daemon=True).start()
    return _process


def run_worker(settings: Settings, concurrency: int | None = None) -> None:
    """Runs the worker in this process until it is stopped (SIGTERM finishes running tasks)."""
    import os

    app = create_worker_app(settings)
    app.worker_main(
        [
            "worker",
            f"--loglevel={settings.log_level}",
            f"--queues={QUEUE_NAME}",
            "--pool=prefork",
            f"--concurrency={concurrency or settings.queue.concurrency}",
            # Unique per process: no stable names needed (Kubernetes, compose --scale).
            f"--hostname=docrag-{os.getpid()}@%h",
            "--without-gossip",
            "--without-mingle",
        ]
    )
