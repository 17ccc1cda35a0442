"""Background ingestion: one job per uploaded file, run by a bounded number of threads in the
API process, or, with a broker's `JobQueue`, by `docrag worker` processes (`app/worker.py`)
that call `run` for each job they receive.

A job's file is stored before the job is queued, and jobs are recorded beside the catalog (in
Chroma), so a restart loses nothing: at start-up an unfinished ingest is queued again from its
stored file, or marked failed with the reason when that file is gone; an unfinished replace
likewise (until it finishes, the document keeps its previous content).
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import timedelta
from pathlib import Path

from ingest.catalog import UNFINISHED, DocumentCatalog, utcnow
from ingest.errors import UNEXPECTED_FAILURE, DocumentMissing, DocumentNotReady, IngestStopped
from ingest.files import write_atomically
from ingest.ids import DEFAULT_KNOWLEDGE_BASE
from ingest.job_store import JOB_RETENTION, JobRecord, JobStore
from ingest.pipeline import IngestPipeline, IngestResult
from ingest.progress import ProgressRecorder, Stage
from ingest.queue import IngestTask, JobQueue
from ingest.store import MetadataValue
from parsers.errors import ParseError

logger = logging.getLogger(__name__)

_ORIGINAL_MISSING = (
    "the stored copy of this upload is missing (the service stopped before ingesting it, and "
    "the file was removed since); upload the file again."
)


def _why_failed(job: JobRecord, error: Exception) -> tuple[str, str]:
    """The code and message a failed job records."""
    match error:
        case ParseError():
            return error.code, error.message
        case DocumentMissing():
            return (
                "document_not_found",
                f"document {job.document_id} was deleted before this job ran",
            )
        case DocumentNotReady():
            return "document_not_ready", str(error)
        case FileNotFoundError():
            return "interrupted", _ORIGINAL_MISSING
    logger.error("job %s (%s) failed", job.id, job.kind, exc_info=error)
    return UNEXPECTED_FAILURE


def _answerable(job: JobRecord, pages: int, chunks: int) -> JobRecord:
    # A replaced document answers from its old version until the new one is ready.
    return job.updated(answerable_pages=pages) if job.kind == "ingest" else job


def _advance(job: JobRecord, stage: Stage, progress: float, done: int, total: int) -> JobRecord:
    if stage == "embedding":  # pages are all read by then
        return job.updated(status=stage, progress=progress)
    return job.updated(status=stage, progress=progress, pages_done=done, pages_total=total)


class IngestJobs:
    """Queues and runs ingest and replace jobs on `workers` background threads."""

    def __init__(
        self,
        *,
        pipeline: IngestPipeline,
        catalog: DocumentCatalog,
        jobs: JobStore,
        spool_dir: Path,
        workers: int = 1,
        before_job: Callable[[], object] | None = None,
        broker: JobQueue | None = None,
        knowledge_base: str = DEFAULT_KNOWLEDGE_BASE,
    ) -> None:
        self._pipeline = pipeline
        # Run before each job: lets the service switch to a new index before writing.
        self._before_job = before_job or (lambda: None)
        self._catalog = catalog
        self._jobs = jobs
        self._spool_dir = spool_dir  # a queued replace's new bytes
        self._workers = max(1, workers)
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        # A broker's queue: jobs run in worker processes, which also resume them after a
        # crash (from the store); this process then only records and sends them.
        self._remote = broker
        self.knowledge_base = knowledge_base

    # -- submitting ----------------------------------------------------------------------

    def submit(
        self, data: bytes, filename: str, metadata: Mapping[str, MetadataValue] | None = None
    ) -> JobRecord:
        """A job that ingests these bytes. When they are already stored, or another job is
        already ingesting them, no new work is queued: the job returned says so."""
        now = utcnow()
        job = JobRecord(
            id=uuid.uuid4().hex,
            kind="ingest",
            document_id="",
            filename=filename,
            status="queued",
            created_at=now,
            updated_at=now,
            knowledge_base=self.knowledge_base,
        )
        # The job is recorded before the document names it, so a crash in between leaves no
        # document pointing at a job that does not exist.
        self._jobs.put(job)
        record, run = self._pipeline.accept(data, filename, metadata=metadata, job_id=job.id)
        if run:
            job = job.updated(document_id=record.id, filename=record.filename)
            self._jobs.put(job)
            self._send(job)
            return job
        self._jobs.delete([job.id])
        if record.job_id is not None and record.status in UNFINISHED:
            running = self._jobs.get(record.job_id)
            if running is not None:
                return running
        done = job.updated(
            document_id=record.id, filename=record.filename, status="ready", progress=1.0
        )
        self._jobs.put(done)
        return done

    def submit_replace(
        self,
        document_id: str,
        data: bytes,
        filename: str,
        metadata: Mapping[str, MetadataValue] | None = None,
    ) -> JobRecord:
        """A job that replaces a ready document's content. Raises `DocumentMissing` or
        `DocumentNotReady` at once when it could not succeed."""
        current = self._catalog.get(document_id)
        if current is None:
            raise DocumentMissing(document_id)
        if current.status != "ready":
            raise DocumentNotReady(
                f"document {document_id} is {current.status}; it can be replaced once ready"
            )
        now = utcnow()
        job = JobRecord(
            id=uuid.uuid4().hex,
            kind="replace",
            document_id=document_id,
            filename=filename,
            status="queued",
            created_at=now,
            updated_at=now,
            knowledge_base=self.knowledge_base,
            metadata_json=json.dumps(dict(metadata)) if metadata is not None else None,
        )
        write_atomically(self._spool_path(job.id), data)
        self._jobs.put(job)
        self._send(job)
        return job

    def get(self, job_id: str) -> JobRecord | None:
        return self._jobs.get(job_id)

    def unfinished(self) -> list[JobRecord]:
        """Every job not yet ready or failed, of every process (a broker's sweep reads them);
        finished jobs past their retention are forgotten on the way."""
        jobs = self._jobs.all()
        cutoff = utcnow() - JOB_RETENTION
        expired = [job.id for job in jobs if job.finished and job.updated_at < cutoff]
        if expired:
            self._jobs.delete(expired)
        return [job for job in jobs if not job.finished]

    # -- running -------------------------------------------------------------------------

    def _send(self, job: JobRecord) -> None:
        if self._remote is not None:
            self._remote.put(IngestTask(job.id, job.knowledge_base))
        else:
            self._queue.put(job.id)

    def start(self) -> None:
        if self._remote is not None:
            return  # the workers run the jobs
        for n in range(self._workers):
            thread = threading.Thread(target=self._work, name=f"docrag-jobs-{n}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def request_stop(self) -> None:
        """Tells the workers to stop: a running job stops at its next batch (or when its parse
        ends) and is left queued, like every job not started yet, for the next start-up."""
        self._stopping.set()

    def close(self, timeout: float = 30.0) -> None:
        """Stops the workers (see `request_stop`) and waits for them."""
        self._stopping.set()
        for _ in self._threads:
            self._queue.put(None)
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._threads = []

    def _work(self) -> None:
        while not self._stopping.is_set():
            job_id = self._queue.get()
            if job_id is None or self._stopping.is_set():
                return
            try:
                self.run(job_id)
            except Exception:  # a job's failure must never end the worker
                logger.exception("job %s failed unexpectedly", job_id)

    def use_pipeline(self, pipeline: IngestPipeline) -> None:
        """Jobs started from now on write through `pipeline` (after a switch of index)."""
        self._pipeline = pipeline

    def run(
        self,
        job_id: str,
        should_stop: Callable[[], bool] | None = None,
        transient: Callable[[Exception], bool] = lambda e: False,
    ) -> None:
        """Runs one job to its end (a worker process's entry). `should_stop` is polled between
        batches, besides this object's own stop; an error that `transient` accepts (the store
        briefly down) is raised, leaving the job to be run again, instead of failing it."""
        self._before_job()
        job = self._jobs.get(job_id)
        if job is None or job.finished:
            return
        progress = ProgressRecorder(
            job.updated(status="parsing"),
            advance=_advance,
            save=self._jobs.put,
            answerable=_answerable,
        )
        self._jobs.put(progress.record)
        stop = self._stopping.is_set
        if should_stop is not None:
            stop = lambda: self._stopping.is_set() or should_stop()  # noqa: E731
        try:
            result = (
                self._run_ingest(job, progress, stop)
                if job.kind == "ingest"
                else self._run_replace(job, progress, stop)
            )
        except IngestStopped:
            self._jobs.put(progress.record.updated(status="queued", progress=0.0))
            return
        except Exception as e:
            if transient(e):
                raise
            self._finish_failed(progress.record, *_why_failed(job, e))
            return
        self._jobs.put(
            progress.record.updated(
                status="ready",
                progress=1.0,
                created=result.created,
                document_id=result.document.id,
            )
        )

    def _run_ingest(
        self, job: JobRecord, progress: ProgressRecorder[JobRecord], stop: Callable[[], bool]
    ) -> IngestResult:
        record = self._catalog.get(job.document_id)
        if record is None or record.job_id != job.id:
            # Deleted while queued, or ingested meanwhile by a direct upload of the same bytes.
            if record is not None and record.status == "ready":
                return IngestResult(record, created=False)
            raise DocumentMissing(job.document_id)
        try:
            data = self._pipeline.files.read(record.id)
        except FileNotFoundError:
            self._pipeline.mark_failed(record.id, "interrupted", _ORIGINAL_MISSING)
            raise
        return self._pipeline.ingest(
            data,
            record.filename,
            metadata=record.metadata,
            progress=progress,
            job_id=job.id,
            should_stop=stop,
        )

    def _run_replace(
        self, job: JobRecord, progress: ProgressRecorder[JobRecord], stop: Callable[[], bool]
    ) -> IngestResult:
        spool = self._spool_path(job.id)
        try:
            result = self._pipeline.replace(
                job.document_id,
                spool.read_bytes(),
                job.filename,
                metadata=json.loads(job.metadata_json) if job.metadata_json else None,
                progress=progress,
                should_stop=stop,
            )
        except IngestStopped:
            raise  # the spooled bytes stay for the next start-up
        except BaseException:
            spool.unlink(missing_ok=True)
            raise
        spool.unlink(missing_ok=True)
        return result

    def _finish_failed(self, job: JobRecord, code: str, message: str) -> None:
        self._jobs.put(job.updated(status="failed", error_code=code, error=message))

    def _spool_path(self, job_id: str) -> Path:
        return self._spool_dir / job_id

    # -- after a restart -----------------------------------------------------------------

    def recover(self, stale_after: timedelta = timedelta(0)) -> list[JobRecord]:
        """Queues again the ingest jobs an earlier run left unfinished (their documents go
        back to queued) and fails those that cannot resume, with the reason. Call before
        `start`. With several processes on one Chroma server, `stale_after` keeps this from
        taking over another process's jobs. With a broker the workers do this instead."""
        if self._remote is not None:
            return []
        cutoff = utcnow() - stale_after
        resumed: list[JobRecord] = []
        jobs = self._jobs.all()
        known = {j.id for j in jobs}
        for job in jobs:
            if job.finished:
                if job.updated_at < utcnow() - JOB_RETENTION:
                    self._jobs.delete([job.id])
                continue
            if job.updated_at > cutoff:
                continue
            if job.kind == "replace":
                if self._spool_path(job.id).exists():
                    resumed.append(self._requeue(job))
                else:
                    self._finish_failed(
                        job,
                        "interrupted",
                        "the service stopped before this replace finished and its file is no "
                        "longer stored; the document keeps its previous content. Send the "
                        "replace again.",
                    )
                continue
            record = self._catalog.get(job.document_id)
            if record is None or record.job_id != job.id or record.status not in UNFINISHED:
                if record is not None and record.status == "ready":
                    self._jobs.put(job.updated(status="ready", progress=1.0))
                else:
                    self._finish_failed(
                        job,
                        "interrupted",
                        "the service stopped before this file was ingested and the document "
                        "was removed since; upload the file again.",
                    )
                continue
            if not self._pipeline.files.exists(record.id):
                self._pipeline.mark_failed(record.id, "interrupted", _ORIGINAL_MISSING)
                self._finish_failed(job, "interrupted", _ORIGINAL_MISSING)
                continue
            self._catalog.put(record.with_status("queued", progress=0.0))
            resumed.append(self._requeue(job))
        # A document naming a job that was never recorded: a crash between the two writes.
        for record in self._catalog.all():
            if (
                record.status in UNFINISHED
                and record.job_id is not None
                and record.job_id not in known
                and record.updated_at <= cutoff
            ):
                self._pipeline.delete(record.id)
        if resumed:
            logger.warning("resuming %d unfinished ingest job(s)", len(resumed))
        return resumed

    def _requeue(self, job: JobRecord) -> JobRecord:
        queued = job.updated(status="queued", progress=0.0)
        self._jobs.put(queued)
        self._send(queued)
        return queued

    def pending(self) -> int:
        """Jobs waiting in this process's queue (not counting those running)."""
        return self._queue.qsize()
