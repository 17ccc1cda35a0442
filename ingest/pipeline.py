"""The lifecycle of one document: ingest, replace, delete.

Parsing runs in-process by default; the service passes `ingest.parsing.ProcessParser` (worker
processes with limits). Chunks are embedded while the parse goes on (`ingest.reading`). A
new document answers questions from the pages stored so far while it is read (its record
counts them); a replaced one shows its old version until the new one is ready. A failed
write removes what it wrote. Many files at once: `ingest.bulk`; clean-up after a crash:
`ingest.recovery`.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from ingest.catalog import (
    UNFINISHED,
    DocumentCatalog,
    DocumentRecord,
    DocumentStatus,
    new_record,
    ready_record,
)
from ingest.embedding import Embedder
from ingest.errors import UNEXPECTED_FAILURE, DocumentMissing, DocumentNotReady, IngestStopped
from ingest.files import StoredFiles
from ingest.ids import candidate_ids, chunk_generation, safe_filename
from ingest.progress import ProgressCallback, ProgressRecorder, ignore_progress
from ingest.reading import ChunkFeed, DocumentParser, DocumentReader, InProcessParser
from ingest.store import ChunkStore, MetadataValue
from ingest.writing import ChunkWriter
from parsers.errors import ParseError

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class IngestResult:
    document: DocumentRecord
    created: bool  # False when the same bytes were already stored


def _covered(record: DocumentRecord) -> bool:
    """Whether a document needs no new job: it is ready, or a job is ingesting it."""
    return record.status == "ready" or (record.status in UNFINISHED and record.job_id is not None)


def _advance(
    record: DocumentRecord, stage: DocumentStatus, progress: float, done: int, total: int
) -> DocumentRecord:
    return record.with_status(stage, progress=progress)


def _answerable(record: DocumentRecord, pages: int, chunks: int) -> DocumentRecord:
    return replace(record, answerable_pages=pages, chunks=chunks)


class IngestPipeline:
    def __init__(
        self,
        *,
        embedder: Embedder,
        store: ChunkStore,
        catalog: DocumentCatalog,
        files_dir: Path,
        chunk_size: int,
        chunk_overlap: int,
        embed_batch_size: int = 64,
        on_change: Callable[[], None] | None = None,
        max_pages: int | None = None,
        parser: DocumentParser | None = None,
        after_ready: Callable[[DocumentRecord], None] | None = None,
    ) -> None:
        self.catalog = catalog
        self.files = StoredFiles(files_dir)
        # A chunk longer than the model's window would be silently truncated when embedded.
        size = min(chunk_size, embedder.max_tokens)
        if size < chunk_size:
            msg = "chunk size %d exceeds the embedding model's window; using %d tokens"
            logger.warning(msg, chunk_size, size)
        self.reader = DocumentReader(
            parser=parser or InProcessParser(),
            count_tokens=embedder.count_tokens,
            chunk_size=size,
            chunk_overlap=min(chunk_overlap, size // 2),
            max_pages=max_pages,
        )
        self.writer = ChunkWriter(embedder, store, embed_batch_size)
        # Tells indexes derived from the store (the lexical index) that chunks changed.
        self.notify_change = on_change or (lambda: None)
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        # Called with each record this pipeline made ready (the service uses it to carry a
        # write that finished after a reindex switch over to the new index).
        self.after_ready = after_ready

    @property
    def store(self) -> ChunkStore:
        return self.writer.store

    @property
    def chunk_size(self) -> int:
        return self.reader.chunk_size

    @property
    def chunk_overlap(self) -> int:
        return self.reader.chunk_overlap

    @contextmanager
    def document_lock(self, document_id: str) -> Iterator[None]:
        """Serialises writes to one document; different documents proceed in parallel."""
        with self._locks_guard:
            lock = self._locks.setdefault(document_id, threading.Lock())
        with lock:
            yield

    @contextmanager
    def _claim(self, sha256: str) -> Iterator[tuple[str, DocumentRecord | None]]:
        """The id for these bytes, locked, and its record if there is one. The first choice
        is taken by another content only when that document was replaced since."""
        for document_id in candidate_ids(sha256):
            with self.document_lock(document_id):
                existing = self.catalog.get(document_id)
                if existing is None or existing.sha256 == sha256:
                    yield document_id, existing
                    return
        raise RuntimeError(f"no free document id for content {sha256}")

    def _find(self, sha256: str) -> DocumentRecord | None:
        """The record of the document holding these bytes, if any (without locking)."""
        for document_id in candidate_ids(sha256):
            existing = self.catalog.get(document_id)
            if existing is None or existing.sha256 == sha256:
                return existing
        return None

    def ingest(
        self,
        data: bytes,
        filename: str,
        *,
        metadata: Mapping[str, MetadataValue] | None = None,
        progress: ProgressCallback | None = None,
        job_id: str | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> IngestResult:
        """Stores one document and returns it ready. Until then its pages wholly stored answer
        questions (`answerable_pages`); when anything fails, what was written is removed (a
        background job's document stays in the catalog as failed, with the reason) and the
        error is raised. `should_stop` is polled between batches: when it says so,
        `IngestStopped` is raised and a job's document is left queued, to be resumed."""
        filename = safe_filename(filename)
        sha256 = hashlib.sha256(data).hexdigest()
        with self._claim(sha256) as (document_id, existing):
            if existing is not None and existing.status == "ready":
                return IngestResult(existing, created=False)
            if existing is not None:
                # A leftover of an attempt that never finished, or a queued job's record.
                self.discard_chunks(document_id)
            record = new_record(
                document_id,
                sha256,
                data,
                filename,
                status="parsing",
                metadata=metadata,
                job_id=job_id,
                created_at=existing.created_at if existing is not None else None,
            )
            self.catalog.put(record)
            recorder = ProgressRecorder(
                record,
                advance=_advance,
                save=self._save_reading,
                forward=progress,
                answerable=_answerable,
            )
            try:
                with ChunkFeed(self.reader, data, filename) as feed:
                    parsed, count = self.writer.write_streamed(record, feed, recorder, should_stop)
                self.notify_change()
                self.catalog.put_content(document_id, parsed.pages)
                self.files.save(document_id, data)
                ready = ready_record(record, parsed, count)
                self.catalog.put(ready)
                self.announce_ready(ready)
            except IngestStopped:
                self.discard_chunks(document_id)
                if job_id is not None:
                    self.catalog.put(record.with_status("queued", progress=0.0))
                else:
                    self.remove(document_id)
                raise
            except BaseException as e:
                if isinstance(e, ParseError):
                    logger.info("refused %r: %s", filename, e.code)
                else:
                    logger.exception(
                        "ingest of document %s failed; removing what was written", document_id
                    )
                self.remove(document_id)
                if job_id is not None:
                    code, message = (
                        (e.code, e.message) if isinstance(e, ParseError) else UNEXPECTED_FAILURE
                    )
                    self.catalog.put(record.with_status("failed", error=message, error_code=code))
                raise
            return IngestResult(ready, created=True)

    def accept(
        self,
        data: bytes,
        filename: str,
        *,
        metadata: Mapping[str, MetadataValue] | None,
        job_id: str,
    ) -> tuple[DocumentRecord, bool]:
        """Registers a document for a background job: stores its bytes (so the job survives a
        restart) and a queued record. Returns the record and whether the job must run: False
        when the same bytes are already stored or another job is already ingesting them."""
        filename = safe_filename(filename)
        sha256 = hashlib.sha256(data).hexdigest()
        # A look without the lock first: a job ingesting these bytes holds it until done.
        known = self._find(sha256)
        if known is not None and _covered(known):
            return known, False
        with self._claim(sha256) as (document_id, existing):
            if existing is not None and _covered(existing):
                return existing, False
            if existing is not None:
                self.discard_chunks(document_id)
            self.files.save(document_id, data)
            record = new_record(
                document_id,
                sha256,
                data,
                filename,
                status="queued",
                metadata=metadata,
                job_id=job_id,
            )
            self.catalog.put(record)
            return record, True

    def replace(
        self,
        document_id: str,
        data: bytes,
        filename: str,
        *,
        metadata: Mapping[str, MetadataValue] | None = None,
        progress: ProgressCallback | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> IngestResult:
        """Replaces a ready document's content; the id stays. Questions see the old version
        until the catalog record switches to the new generation (one write), the new one
        after; the old generation's chunks are removed once nothing can select them.
        `metadata` None keeps the document's metadata."""
        filename = safe_filename(filename)
        sha256 = hashlib.sha256(data).hexdigest()
        with self.document_lock(document_id):
            current = self.catalog.get(document_id)
            if current is None:
                raise DocumentMissing(document_id)
            if current.status != "ready":
                raise DocumentNotReady(
                    f"document {document_id} is {current.status}; it can be replaced once ready"
                )
            new_metadata = dict(current.metadata if metadata is None else metadata)
            if (
                current.sha256 == sha256
                and current.filename == filename
                and new_metadata == dict(current.metadata)
            ):
                return IngestResult(current, created=False)
            generation = current.generation + 1
            staged = replace(
                current,
                filename=filename,
                media_type="",
                size_bytes=len(data),
                sha256=sha256,
                metadata=new_metadata,
                generation=generation,
                job_id=None,
            )
            try:
                with ChunkFeed(self.reader, data, filename) as feed:
                    parsed, count = self.writer.write_streamed(
                        staged, feed, progress or ignore_progress, should_stop
                    )
                self.catalog.put_content(document_id, parsed.pages, generation)
                self.files.save(document_id, data, generation)
                # The new chunks are in the store, but nothing selects them yet.
                self.notify_change()
                switched = ready_record(staged, parsed, count, error=None, error_code=None)
                self.catalog.put(switched)  # the switch
                self.announce_ready(switched)
            except BaseException as e:
                if not isinstance(e, ParseError | IngestStopped):
                    logger.exception("replacing document %s failed; it is unchanged", document_id)
                self._remove_generation(document_id, generation)
                raise
            self._remove_generation(document_id, current.generation)
            return IngestResult(switched, created=True)

    def delete(self, document_id: str) -> bool:
        """Removes a document, its chunks and its stored file; False when it was not there."""
        with self.document_lock(document_id):
            if self.catalog.get(document_id) is None:
                return False
            self.remove(document_id)
            return True

    def mark_failed(self, document_id: str, code: str, message: str) -> None:
        """Records why a job's document could not be ingested; removes its chunks, if any."""
        with self.document_lock(document_id):
            record = self.catalog.get(document_id)
            if record is None or record.status == "ready":
                return
            self.discard_chunks(document_id)
            self.catalog.put(
                record.with_status("failed", progress=0.0, error=message, error_code=code)
            )

    def _save_reading(self, record: DocumentRecord) -> None:
        # Chunks stored while the document is read answer questions once the record counts
        # them; the lexical index must have them by then.
        if record.chunks:
            self.notify_change()
        self.catalog.put(record)

    def announce_ready(self, record: DocumentRecord) -> None:
        if self.after_ready is None:
            return
        try:
            self.after_ready(record)
        except Exception:  # the document is stored; only the carry-over failed
            logger.exception("after storing document %s", record.id)

    def discard_chunks(self, document_id: str) -> None:
        self.store.delete_document(document_id)
        self.notify_change()

    def remove(self, document_id: str) -> None:
        """Removes every trace of a document; the caller holds its `document_lock`."""
        record = self.catalog.get(document_id)
        self.discard_chunks(document_id)
        self.catalog.delete(document_id)
        for generation in {0, record.generation if record is not None else 0}:
            self.files.unlink(document_id, generation)

    def _remove_generation(self, document_id: str, generation: int) -> None:
        stale = [
            chunk_id
            for chunk_id, _ in self.store.chunk_refs({"document_id": document_id})
            if chunk_generation(chunk_id) == generation
        ]
        self.store.delete_ids(stale)
        self.notify_change()
        self.catalog.delete_content(document_id, generation)
        self.files.unlink(document_id, generation)
