"""A folder synced into a knowledge base of this process: through its ingest pipeline
(`docrag sync` without a server), or through its background jobs (a server's watch mode,
so that each file's progress shows in the jobs API)."""

from __future__ import annotations

import threading
from typing import Protocol

from ingest.catalog import DocumentCatalog
from ingest.errors import DocumentMissing, DocumentNotReady
from ingest.job_store import JobRecord
from ingest.jobs import IngestJobs
from ingest.pipeline import IngestPipeline
from ingest.renaming import ChunkReader, rename_document
from ingest.store import MetadataValue
from ingest.sync import (
    SyncCancelled,
    SyncedDocument,
    SyncRefused,
    filename_of,
    sync_metadata,
    synced_document,
)
from ingest.sync_files import FileStamp
from parsers.errors import ParseError


class IndexAccess(Protocol):
    """The parts of the active index a sync writes through (`IndexParts`)."""

    @property
    def pipeline(self) -> IngestPipeline: ...

    @property
    def store(self) -> ChunkReader: ...


class LibraryAccess(Protocol):
    """One knowledge base's parts: its catalog, jobs and active index."""

    @property
    def catalog(self) -> DocumentCatalog: ...

    @property
    def jobs(self) -> IngestJobs | None: ...

    @property
    def current(self) -> IndexAccess: ...


class LocalSyncTarget:
    """Writes a folder's files into `library`. With `use_jobs`, adds and replaces run as
    background jobs (the job workers must be running) and each waits for its job."""

    def __init__(self, library: LibraryAccess, *, use_jobs: bool = False, poll_s: float = 0.2):
        self._library = library
        self._use_jobs = use_jobs
        self._poll_s = poll_s
        self._cancelled = threading.Event()

    def cancel(self) -> None:
        self._cancelled.set()

    def close(self) -> None:
        """Nothing to release: the library belongs to whoever opened it."""

    def synced(self) -> list[SyncedDocument]:
        found = (
            synced_document(r.id, r.sha256, r.status, r.metadata, r.error)
            for r in self._library.catalog.all()
        )
        return [d for d in found if d is not None]

    def add(self, path: str, data: bytes, stamp: FileStamp) -> None:
        metadata = sync_metadata(path, stamp)
        jobs = self._jobs()
        if jobs is not None:
            job = self._wait(jobs, jobs.submit(data, filename_of(path), metadata))
            document_id, created = job.document_id, job.created
        else:
            try:
                result = self._pipeline.ingest(data, filename_of(path), metadata=metadata)
            except ParseError as e:
                raise SyncRefused(e.message) from e
            document_id, created = result.document.id, result.created
        if not created:  # the same bytes were stored already: that document is this file's
            self.rename(document_id, path, stamp)

    def replace(self, document_id: str, path: str, data: bytes, stamp: FileStamp) -> None:
        metadata = {**self._metadata_of(document_id), **sync_metadata(path, stamp)}
        jobs = self._jobs()
        try:
            if jobs is not None:
                job = jobs.submit_replace(document_id, data, filename_of(path), metadata)
                self._wait(jobs, job)
            else:
                self._pipeline.replace(document_id, data, filename_of(path), metadata=metadata)
        except ParseError as e:
            raise SyncRefused(e.message) from e
        except (DocumentMissing, DocumentNotReady) as e:
            raise SyncRefused(f"{e}; tried again next pass", retry=True) from e

    def rename(self, document_id: str, path: str, stamp: FileStamp) -> None:
        metadata = {**self._metadata_of(document_id), **sync_metadata(path, stamp)}
        current = self._library.current
        try:
            rename_document(
                current.pipeline, current.store, document_id, filename_of(path), metadata=metadata
            )
        except (DocumentMissing, DocumentNotReady) as e:
            raise SyncRefused(f"{e}; tried again next pass", retry=True) from e

    def delete(self, document_id: str) -> None:
        self._pipeline.delete(document_id)

    @property
    def _pipeline(self) -> IngestPipeline:
        return self._library.current.pipeline

    def _jobs(self) -> IngestJobs | None:
        return self._library.jobs if self._use_jobs else None

    def _metadata_of(self, document_id: str) -> dict[str, MetadataValue]:
        record = self._library.catalog.get(document_id)
        return dict(record.metadata) if record is not None else {}

    def _wait(self, jobs: IngestJobs, job: JobRecord) -> JobRecord:
        """The job once finished; a failed job's reason as `SyncRefused`."""
        while not job.finished:
            if self._cancelled.wait(self._poll_s):
                raise SyncCancelled(f"stopped while waiting for job {job.id}")
            found = jobs.get(job.id)
            if found is None:
                raise SyncRefused(f"job {job.id} disappeared; tried again next pass", retry=True)
            job = found
        if job.status == "failed":
            raise SyncRefused(job.error or "the ingest job failed")
        return job
