"""The ingest pipeline: bytes in, a ready document out (parse, chunk, embed, store).

Parsing runs in a worker process (see `ingest.parse_worker`) while this process chunks and
embeds: a PDF's pages arrive as they are read, and each run of `SEGMENT_PAGES` pages is
chunked and embedded while the parser reads on, so the embedding model, not the parser, sets
the pace. Chunks never span the boundary between two such runs; the boundaries depend only
on page numbers, so the same file always gives the same chunks.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import queue
import re
import threading
import time
import unicodedata
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol, cast

from ingest.catalog import UNFINISHED, DocumentCatalog, DocumentRecord, utcnow
from ingest.embedding import Embedder
from ingest.store import ChromaChunkStore, MetadataValue, StoredChunk
from parsers.chunking import split_into_chunks
from parsers.errors import NoExtractableText, ParseError, TooManyPages
from parsers.pdf import PageCallback, sections_from_pages
from parsers.registry import parse_document
from parsers.types import Chunk, Page, ParsedDocument, Section

logger = logging.getLogger(__name__)

# Called with (stage, done, total) while a document is being ingested: ("parsing", pages read,
# page count), ("embedding", chunks stored, chunks expected) and, from `ingest_many`,
# ("documents", done, total).
ProgressCallback = Callable[[str, int, int], None]

# Pages chunked together; a chunk never spans two such runs.
SEGMENT_PAGES = 8


class DocumentParser(Protocol):
    def parse(
        self, data: bytes, filename: str, *, on_page: PageCallback | None = None
    ) -> ParsedDocument: ...


class InProcessParser:
    """Parses in the calling process, without limits: for tools that trust their files."""

    def parse(
        self, data: bytes, filename: str, *, on_page: PageCallback | None = None
    ) -> ParsedDocument:
        return parse_document(data, filename, on_page=on_page)


class IngestStopped(Exception):
    """The service is shutting down: the document was left to be ingested again later."""


class DocumentMissing(LookupError):
    """No document has this id."""


class DocumentNotReady(RuntimeError):
    """The document is still being ingested (or failed): it cannot be replaced yet."""


@dataclass(frozen=True, slots=True)
class IngestResult:
    document: DocumentRecord
    created: bool  # False when the same bytes were already stored


@dataclass(frozen=True, slots=True)
class IngestItem:
    """One document for `IngestPipeline.ingest_many`."""

    data: bytes
    filename: str
    metadata: Mapping[str, MetadataValue] | None = None


@dataclass(frozen=True, slots=True)
class _PreparedDocument:
    """A parsed and chunked document of an `ingest_many` call, not yet written."""

    index: int
    record: DocumentRecord
    pages: tuple[Page, ...]
    chunks: list[Chunk]
    data: bytes


# ingest_many embeds a window of this many full batches before marking its documents ready.
_BATCHES_PER_WINDOW = 4
# ingest_many looks up this many documents in the catalog at once.
_LOOKUP_GROUP = 256
# A replaced document keeps its id, so new bytes hashing to that id need another one.
_ID_ATTEMPTS = 16
# The catalog records an ingest's progress at most this often (plus every change of stage).
_PROGRESS_INTERVAL_S = 1.0


def document_id_for(sha256: str, attempt: int = 0) -> str:
    """Ids derive from content, so the same bytes under any name are the same document.
    `attempt` > 0 gives the alternatives used when a replaced document holds the first one."""
    if attempt == 0:
        return sha256[:32]
    return hashlib.sha256(f"{sha256}:{attempt}".encode()).hexdigest()[:32]


def chunk_id_for(document_id: str, ordinal: int, generation: int = 0) -> str:
    if generation == 0:
        return f"{document_id}:{ordinal}"
    return f"{document_id}:g{generation}:{ordinal}"


def chunk_generation(chunk_id: str) -> int:
    """The generation (see `DocumentRecord.generation`) a chunk id belongs to."""
    parts = chunk_id.split(":")
    if len(parts) == 3 and parts[1][:1] == "g" and parts[1][1:].isdigit():
        return int(parts[1][1:])
    return 0


def sibling_chunk_id(chunk_id: str, ordinal: int) -> str:
    """The id of chunk `ordinal` of the same document and generation as `chunk_id`."""
    return f"{chunk_id.rsplit(':', 1)[0]}:{ordinal}"


def overall_progress(stage: str, done: int, total: int) -> float:
    """One number for a progress report: reading counts for a tenth, embedding for the rest;
    1.0 only once the document is ready."""
    share = min(1.0, done / total) if total > 0 else 0.0
    if stage == "parsing":
        return round(0.1 * share, 3)
    if stage == "embedding":
        return round(0.1 + 0.89 * share, 3)
    return 0.0


_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f]+")


def safe_filename(name: str | None) -> str:
    """A display name from an uploaded file name: no directories, no control characters.

    Stored files are named by document id, never by this name."""
    name = unicodedata.normalize("NFC", name or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE_NAME.sub("", name).strip().lstrip(".")
    return name[:255] or "upload"


def _segment(page: int | None) -> int:
    return 0 if page is None else (page - 1) // SEGMENT_PAGES


class _Cancelled(BaseException):
    # BaseException: parsers turn any Exception raised inside them into a ParseError.
    pass


class _ChunkFeed:
    """Parses one file on a thread of its own (the parse itself runs wherever the parser
    puts it) and hands over chunks as they become ready; see the module docstring."""

    def __init__(self, pipeline: IngestPipeline, data: bytes, filename: str) -> None:
        self._pipeline = pipeline
        self._data = data
        self._filename = filename
        self._items: queue.Queue[tuple[str, object]] = queue.Queue()
        self._cancelled = threading.Event()
        self._thread = threading.Thread(target=self._run, name="docrag-chunking", daemon=True)
        self._thread.start()

    def take(self, block: bool, timeout: float = 0.5) -> list[tuple[str, object]]:
        """What is ready: ("page", (pages read, page count)), ("chunks", (media type, chunks)),
        then ("done", parsed document) or ("error", exception)."""
        items: list[tuple[str, object]] = []
        if block:
            try:
                items.append(self._items.get(timeout=timeout))
            except queue.Empty:
                return items
        while True:
            try:
                items.append(self._items.get_nowait())
            except queue.Empty:
                return items

    def cancel(self) -> None:
        self._cancelled.set()

    def _run(self) -> None:
        pipeline, filename = self._pipeline, self._filename
        streamed: list[Page] = []
        segment: list[Page] = []
        produced = 0

        def flush() -> None:
            nonlocal produced, segment
            sections = sections_from_pages(segment)
            segment = []
            if sections:
                chunks = pipeline._chunk_sections(sections, paginated=True, first=produced)
                produced += len(chunks)
                self._items.put(("chunks", ("application/pdf", chunks)))

        def on_page(page: Page, total: int) -> None:
            if self._cancelled.is_set():
                raise _Cancelled
            pipeline._check_page_count(filename, total)
            if segment and _segment(page.number) != _segment(segment[-1].number):
                flush()
            segment.append(page)
            streamed.append(page)
            self._items.put(("page", (len(streamed), total)))
            if _segment(page.number + 1) != _segment(page.number):
                flush()  # the run is complete: no need to wait for the next page

        try:
            parsed = pipeline._parser.parse(self._data, filename, on_page=on_page)
            self._data = b""
            pipeline._check_page_count(filename, len(parsed.pages))
            if streamed:
                if sections_from_pages(streamed) != parsed.sections or not parsed.paginated:
                    raise RuntimeError(
                        f"the pages streamed for {filename!r} differ from the result"
                    )
                flush()
            else:
                self._items.put(("chunks", (parsed.media_type, pipeline._chunk_document(parsed))))
            self._items.put(("done", parsed))
        except BaseException as e:  # handed to the ingesting thread, which raises it
            self._items.put(("error", e))


class _Reporter:
    """Passes progress on to the caller and records it on the document (when given one)."""

    def __init__(
        self,
        callback: ProgressCallback | None,
        catalog: DocumentCatalog | None = None,
        record: DocumentRecord | None = None,
    ) -> None:
        self._callback = callback
        self._catalog = catalog
        self.record = record
        self._last_write = 0.0

    def __call__(self, stage: str, done: int, total: int) -> None:
        if self._callback is not None:
            self._callback(stage, done, total)
        if self._catalog is None or self.record is None or stage not in ("parsing", "embedding"):
            return
        now = time.monotonic()
        if stage == self.record.status and now - self._last_write < _PROGRESS_INTERVAL_S:
            return
        self._last_write = now
        self.record = self.record.with_status(
            stage,  # type: ignore[arg-type]
            progress=max(self.record.progress, overall_progress(stage, done, total)),
        )
        self._catalog.put(self.record)


def ready_record(
    record: DocumentRecord, parsed: ParsedDocument, chunks: int, **changes: Any
) -> DocumentRecord:
    """The record of a document whose chunks are all stored: visible to questions."""
    return replace(
        record,
        status="ready",
        media_type=parsed.media_type,
        pages=len(parsed.pages) if parsed.paginated else 0,
        chunks=chunks,
        title=parsed.title,
        progress=1.0,
        updated_at=utcnow(),
        **changes,
    )


class IngestPipeline:
    def __init__(
        self,
        *,
        embedder: Embedder,
        store: ChromaChunkStore,
        catalog: DocumentCatalog,
        files_dir: Path,
        chunk_size: int,
        chunk_overlap: int,
        embed_batch_size: int = 64,
        on_change: Callable[[], None] | None = None,
        max_pages: int | None = None,
        parser: DocumentParser | None = None,
    ) -> None:
        self._embedder = embedder
        self._store = store
        self._catalog = catalog
        self._files_dir = files_dir
        # A chunk longer than the model's window would be silently truncated when embedded.
        self.chunk_size = min(chunk_size, embedder.max_tokens)
        if self.chunk_size < chunk_size:
            logger.warning(
                "chunk size %d exceeds the embedding model's window; using %d tokens",
                chunk_size,
                self.chunk_size,
            )
        self.chunk_overlap = min(chunk_overlap, self.chunk_size // 2)
        # Chunks embedded (and written) together; sorted by length, so padding is small.
        self._embed_batch_size = embed_batch_size
        # Tells indexes derived from the store (BM25) that chunks were added or removed.
        self._on_change = on_change or (lambda: None)
        self._max_pages = max_pages  # None: no limit
        self._parser: DocumentParser = parser or InProcessParser()
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        # Called with each record this pipeline made ready (the service uses it to carry a
        # write that finished after a reindex switch over to the new index).
        self.after_ready: Callable[[DocumentRecord], None] | None = None

    @property
    def parser(self) -> DocumentParser:
        return self._parser

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
        for attempt in range(_ID_ATTEMPTS):
            document_id = document_id_for(sha256, attempt)
            with self.document_lock(document_id):
                existing = self._catalog.get(document_id)
                if existing is None or existing.sha256 == sha256:
                    yield document_id, existing
                    return
        raise RuntimeError(f"no free document id for content {sha256}")

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
        """Stores one document and returns it ready. Until then it is invisible to questions;
        when anything fails, what was written is removed (a background job's document stays
        in the catalog as failed, with the reason) and the error is raised. `should_stop`
        is polled between batches: when it says so, `IngestStopped` is raised and a job's
        document is left queued, to be resumed."""
        filename = safe_filename(filename)
        sha256 = hashlib.sha256(data).hexdigest()
        with self._claim(sha256) as (document_id, existing):
            if existing is not None and existing.status == "ready":
                return IngestResult(existing, created=False)
            if existing is not None:
                # A leftover of an attempt that never finished, or a queued job's record.
                self._discard_chunks(document_id)
            now = utcnow()
            record = DocumentRecord(
                id=document_id,
                filename=filename,
                media_type="",
                size_bytes=len(data),
                sha256=sha256,
                status="parsing",
                created_at=existing.created_at if existing is not None else now,
                updated_at=now,
                metadata=dict(metadata or {}),
                job_id=job_id,
            )
            self._catalog.put(record)
            reporter = _Reporter(progress, self._catalog, record)
            try:
                parsed, count = self._write_document(record, data, filename, reporter, should_stop)
                self._on_change()
                self._catalog.put_content(document_id, parsed.pages)
                self._save_file(document_id, data)
                ready = ready_record(record, parsed, count)
                self._catalog.put(ready)
                self._notify_ready(ready)
            except IngestStopped:
                self._discard_chunks(document_id)
                if job_id is not None:
                    self._catalog.put(record.with_status("queued", progress=0.0))
                else:
                    self._remove(document_id)
                raise
            except BaseException as e:
                if isinstance(e, ParseError):
                    logger.info("refused %r: %s", filename, e.code)
                else:
                    logger.exception(
                        "ingest of document %s failed; removing what was written", document_id
                    )
                self._remove(document_id)
                if job_id is not None:
                    code, message = _describe_failure(e)
                    failed = record.with_status("failed", error=message, error_code=code)
                    self._catalog.put(failed)
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
                self._discard_chunks(document_id)
            self._save_file(document_id, data)
            now = utcnow()
            record = DocumentRecord(
                id=document_id,
                filename=filename,
                media_type="",
                size_bytes=len(data),
                sha256=sha256,
                status="queued",
                created_at=now,
                updated_at=now,
                metadata=dict(metadata or {}),
                job_id=job_id,
            )
            self._catalog.put(record)
            return record, True

    def _find(self, sha256: str) -> DocumentRecord | None:
        """The record of the document holding these bytes, if any (without locking)."""
        for attempt in range(_ID_ATTEMPTS):
            existing = self._catalog.get(document_id_for(sha256, attempt))
            if existing is None or existing.sha256 == sha256:
                return existing
        return None

    def read_original(self, document_id: str, generation: int = 0) -> bytes:
        """The stored bytes of a document (`FileNotFoundError` when there are none)."""
        return self._file_path(document_id, generation).read_bytes()

    def _notify_ready(self, record: DocumentRecord) -> None:
        if self.after_ready is None:
            return
        try:
            self.after_ready(record)
        except Exception:  # the document is stored; only the carry-over failed
            logger.exception("after storing document %s", record.id)

    def write_chunks(self, record: DocumentRecord) -> int:
        """Embeds a stored document again, from its original file, into this pipeline's
        store under the record's id and generation (what a reindex does); returns the
        number of chunks. Writes nothing to the catalog."""
        data = self.read_original(record.id, record.generation)
        _, count = self._write_document(
            record, data, record.filename, lambda stage, done, total: None, None
        )
        self._on_change()
        return count

    def mark_failed(self, document_id: str, code: str, message: str) -> None:
        """Records why a job's document could not be ingested; removes its chunks, if any."""
        with self.document_lock(document_id):
            record = self._catalog.get(document_id)
            if record is None or record.status == "ready":
                return
            self._discard_chunks(document_id)
            self._catalog.put(
                record.with_status("failed", progress=0.0, error=message, error_code=code)
            )

    def has_original(self, document_id: str, generation: int = 0) -> bool:
        return self._file_path(document_id, generation).is_file()

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
            current = self._catalog.get(document_id)
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
                parsed, count = self._write_document(
                    staged, data, filename, _Reporter(progress), should_stop
                )
                self._catalog.put_content(document_id, parsed.pages, generation)
                self._save_file(document_id, data, generation)
                # The new chunks are in the store, but nothing selects them yet.
                self._on_change()
                switched = ready_record(
                    staged,
                    parsed,
                    count,
                    error=None,
                    error_code=None,
                )
                self._catalog.put(switched)  # the switch
                self._notify_ready(switched)
            except BaseException as e:
                if not isinstance(e, ParseError | IngestStopped):
                    logger.exception("replacing document %s failed; it is unchanged", document_id)
                self._remove_generation(document_id, generation)
                raise
            self._remove_generation(document_id, current.generation)
            return IngestResult(switched, created=True)

    def _remove_generation(self, document_id: str, generation: int) -> None:
        stale = [
            chunk_id
            for chunk_id, _ in self._store.chunk_refs({"document_id": document_id})
            if chunk_generation(chunk_id) == generation
        ]
        self._store.delete_ids(stale)
        self._on_change()
        self._catalog.delete_content(document_id, generation)
        self._unlink_file(document_id, generation)

    def _check_page_count(self, filename: str, pages: int) -> None:
        if self._max_pages is not None and pages > self._max_pages:
            raise TooManyPages(
                f"'{filename}' has {pages} pages; docrag accepts at most "
                f"{self._max_pages} pages per document. Split it into smaller files, or raise "
                "DOCRAG_LIMITS__MAX_PAGES."
            )

    def _parse(self, data: bytes, filename: str) -> ParsedDocument:
        parsed = self._parser.parse(data, filename)
        self._check_page_count(filename, len(parsed.pages))
        return parsed

    def _chunk_sections(
        self, sections: Sequence[Section], *, paginated: bool, first: int
    ) -> list[Chunk]:
        part = ParsedDocument(
            filename="", media_type="", pages=(), sections=tuple(sections), paginated=paginated
        )
        chunks = split_into_chunks(
            part, self._embedder.count_tokens, self.chunk_size, self.chunk_overlap
        )
        return [replace(c, ordinal=first + c.ordinal) for c in chunks]

    def _chunk_document(self, parsed: ParsedDocument) -> list[Chunk]:
        """The chunks of a whole document, split where a streamed parse would split them."""
        chunks: list[Chunk] = []
        for _, group in itertools.groupby(
            parsed.sections, key=lambda s: _segment(s.page) if parsed.paginated else 0
        ):
            chunks += self._chunk_sections(
                list(group), paginated=parsed.paginated, first=len(chunks)
            )
        return chunks

    def _chunk(self, parsed: ParsedDocument) -> list[Chunk]:
        chunks = self._chunk_document(parsed)
        if not chunks:
            raise NoExtractableText("the file contains no text that could be indexed")
        return chunks

    def _write_document(
        self,
        record: DocumentRecord,
        data: bytes,
        filename: str,
        report: ProgressCallback,
        should_stop: Callable[[], bool] | None,
    ) -> tuple[ParsedDocument, int]:
        """Parses, chunks, embeds and stores the chunks of one document (under `record`'s id
        and generation) while the parse goes on; returns the parsed document and the number
        of chunks. Writes nothing to the catalog."""
        feed = _ChunkFeed(self, data, filename)
        pending: list[Chunk] = []
        media_type = ""
        parsed: ParsedDocument | None = None
        produced = written = pages_read = page_count = 0
        try:
            while parsed is None or pending:
                for kind, value in feed.take(block=not pending):
                    if kind == "page":
                        pages_read, page_count = cast(tuple[int, int], value)
                        if written == 0:
                            report("parsing", pages_read, page_count)
                    elif kind == "chunks":
                        media_type, ready = cast(tuple[str, list[Chunk]], value)
                        pending += ready
                        produced += len(ready)
                    elif kind == "done":
                        parsed = cast(ParsedDocument, value)
                    elif kind == "error":
                        if should_stop is not None and should_stop():
                            # The parse was cut short by the shutdown, not by the file.
                            raise IngestStopped(f"stopped while parsing {filename!r}")
                        raise cast(BaseException, value)
                if should_stop is not None and should_stop():
                    raise IngestStopped(f"stopped while ingesting {filename!r}")
                if not pending:
                    continue
                batch, pending = (
                    pending[: self._embed_batch_size],
                    pending[self._embed_batch_size :],
                )
                # Similar lengths in one call waste less of it on padding.
                batch.sort(key=lambda c: len(c.text))
                vectors = self._embedder.embed_documents([c.text for c in batch])
                stamped = replace(record, media_type=media_type)
                self._store.add([_stored_chunk(stamped, c) for c in batch], vectors)
                written += len(batch)
                expected = produced
                if parsed is None and pages_read:
                    expected = max(produced, round(produced * page_count / pages_read))
                report("embedding", written, expected)
        finally:
            feed.cancel()
        if produced == 0 or parsed is None:
            raise NoExtractableText("the file contains no text that could be indexed")
        return parsed, produced

    def ingest_many(
        self, items: Sequence[IngestItem], *, progress: ProgressCallback | None = None
    ) -> list[IngestResult | ParseError]:
        """Ingests many small documents, embedding the chunks of several documents together
        in full batches (one document per call would leave most of each batch empty).

        Each document keeps the guarantees of `ingest`: the same bytes are stored once (also
        within one call), a document is visible only once it is ready, and a document whose
        write fails leaves nothing behind. A file its parser refuses is reported in its place
        in the returned list and writes nothing; any other failure removes the documents not
        yet ready and is raised. `progress` is called with ("documents", done, total)."""
        total = len(items)
        results: list[IngestResult | ParseError | None] = [None] * total
        first_seen: dict[str, int] = {}  # document id -> index of its first item in this call
        repeats: list[tuple[int, int]] = []
        window: list[_PreparedDocument] = []
        window_chunks = 0
        window_target = self._embed_batch_size * _BATCHES_PER_WINDOW

        def flush() -> None:
            nonlocal window, window_chunks
            for index, result in self._write_window(window):
                results[index] = result
            window, window_chunks = [], 0

        for start in range(0, total, _LOOKUP_GROUP):
            group = items[start : start + _LOOKUP_GROUP]
            hashes = [hashlib.sha256(item.data).hexdigest() for item in group]
            known = self._catalog.get_many([document_id_for(h) for h in hashes])
            for index, (item, sha256) in enumerate(zip(group, hashes, strict=True), start):
                document_id = document_id_for(sha256)
                if document_id in first_seen:
                    repeats.append((index, first_seen[document_id]))
                    continue
                first_seen[document_id] = index
                existing = known.get(document_id)
                if existing is not None and existing.sha256 != sha256:
                    # The id is held by a replaced document: `ingest` finds these bytes theirs.
                    try:
                        results[index] = self.ingest(
                            item.data, item.filename, metadata=item.metadata
                        )
                    except ParseError as e:
                        results[index] = e
                    continue
                if existing is not None and existing.status == "ready":
                    results[index] = IngestResult(existing, created=False)
                    continue
                try:
                    prepared = self._prepare(index, item, sha256)
                except ParseError as e:
                    results[index] = e
                    continue
                window.append(prepared)
                window_chunks += len(prepared.chunks)
                if window_chunks >= window_target:
                    flush()
                    if progress is not None:
                        progress("documents", index + 1, total)
            if progress is not None:
                progress("documents", start + len(group) - len(window), total)
        flush()
        for index, first in repeats:
            earlier = results[first]
            results[index] = (
                IngestResult(earlier.document, created=False)
                if isinstance(earlier, IngestResult)
                else earlier
            )
        if progress is not None:
            progress("documents", total, total)
        settled = [r for r in results if r is not None]
        if len(settled) != total:  # every item is settled above; a gap would misalign callers
            raise RuntimeError("ingest_many left an item without a result")
        return settled

    def _prepare(self, index: int, item: IngestItem, sha256: str) -> _PreparedDocument:
        filename = safe_filename(item.filename)
        parsed = self._parse(item.data, filename)
        chunks = self._chunk(parsed)
        now = utcnow()
        record = DocumentRecord(
            id=document_id_for(sha256),
            filename=filename,
            media_type=parsed.media_type,
            size_bytes=len(item.data),
            sha256=sha256,
            status="pending",
            created_at=now,
            updated_at=now,
            pages=len(parsed.pages) if parsed.paginated else 0,
            chunks=len(chunks),
            title=parsed.title,
            metadata=dict(item.metadata or {}),
        )
        return _PreparedDocument(index, record, parsed.pages, chunks, item.data)

    def _write_window(self, window: list[_PreparedDocument]) -> list[tuple[int, IngestResult]]:
        if not window:
            return []
        done: list[tuple[int, IngestResult]] = []
        ids = sorted({p.record.id for p in window})
        with ExitStack() as locks:
            for document_id in ids:  # always in the same order, so two callers never deadlock
                locks.enter_context(self.document_lock(document_id))
            # Another writer may have stored one of these since it was looked up.
            current = self._catalog.get_many(ids)
            to_write: list[_PreparedDocument] = []
            for p in window:
                existing = current.get(p.record.id)
                if existing is not None and existing.status == "ready":
                    done.append((p.index, IngestResult(existing, created=False)))
                    continue
                if existing is not None:
                    self._remove(p.record.id)  # a leftover of an attempt that never finished
                to_write.append(p)
            ready: set[str] = set()
            try:
                for p in to_write:
                    self._catalog.put(p.record)
                # Similar lengths in one batch waste less of it on padding.
                pending = sorted(
                    ((p.record, c) for p in to_write for c in p.chunks),
                    key=lambda pair: len(pair[1].text),
                )
                for start in range(0, len(pending), self._embed_batch_size):
                    batch = pending[start : start + self._embed_batch_size]
                    vectors = self._embedder.embed_documents([c.text for _, c in batch])
                    self._store.add([_stored_chunk(r, c) for r, c in batch], vectors)
                for p in to_write:
                    self._catalog.put_content(p.record.id, p.pages)
                    self._save_file(p.record.id, p.data)
                    record = p.record.with_status("ready")
                    self._catalog.put(record)
                    self._notify_ready(record)
                    ready.add(record.id)
                    done.append((p.index, IngestResult(record, created=True)))
            except BaseException:
                unfinished = [p.record.id for p in to_write if p.record.id not in ready]
                logger.exception(
                    "ingest of %d document(s) failed; removing what was written", len(unfinished)
                )
                for document_id in unfinished:
                    self._remove(document_id)
                raise
        return done

    def _file_path(self, document_id: str, generation: int = 0) -> Path:
        name = document_id if generation == 0 else f"{document_id}.g{generation}"
        return self._files_dir / name

    def _save_file(self, document_id: str, data: bytes, generation: int = 0) -> None:
        path = self._file_path(document_id, generation)
        if path.exists() and path.stat().st_size == len(data):
            return  # stored when its job was queued
        self._files_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".part")
        tmp.write_bytes(data)
        tmp.replace(path)

    def _unlink_file(self, document_id: str, generation: int) -> None:
        path = self._file_path(document_id, generation)
        path.unlink(missing_ok=True)
        path.with_name(path.name + ".part").unlink(missing_ok=True)

    def _discard_chunks(self, document_id: str) -> None:
        self._store.delete_document(document_id)
        self._on_change()

    def _remove(self, document_id: str) -> None:
        record = self._catalog.get(document_id)
        self._discard_chunks(document_id)
        self._catalog.delete(document_id)
        for generation in {0, record.generation if record is not None else 0}:
            self._unlink_file(document_id, generation)

    def delete(self, document_id: str) -> bool:
        """Removes a document, its chunks and its stored file; False when it was not there."""
        with self.document_lock(document_id):
            if self._catalog.get(document_id) is None:
                return False
            self._remove(document_id)
            return True

    def recover(self, stale_after: timedelta = timedelta(0)) -> list[str]:
        """Cleans up after a crash: removes documents that never became ready (except those
        of background jobs, which their jobs resume or mark failed), chunks that belong to no
        document or to a generation a replace left behind, and stray stored files. With
        several processes on one Chroma server, `stale_after` keeps a start-up from removing
        another process's work in progress."""
        cutoff = utcnow() - stale_after
        removed = []
        records = {r.id: r for r in self._catalog.all()}
        for record in records.values():
            if (
                record.status in UNFINISHED
                and record.job_id is None
                and record.updated_at <= cutoff
            ):
                with self.document_lock(record.id):
                    self._remove(record.id)
                removed.append(record.id)
        orphans: set[str] = set()
        stale: list[str] = []
        for chunk_id, document_id in self._store.chunk_refs():
            owner = records.get(document_id)
            if owner is None:
                orphans.add(document_id)
            elif owner.status == "failed":
                stale.append(chunk_id)
            elif owner.status == "ready" and chunk_generation(chunk_id) != owner.generation:
                # A newer generation may be another process's replace in progress.
                if chunk_generation(chunk_id) < owner.generation or not stale_after:
                    stale.append(chunk_id)
        for orphan in orphans:
            self._store.delete_document(orphan)
            removed.append(orphan)
        self._store.delete_ids(stale)
        if removed or stale:
            self._on_change()
        if removed:
            logger.warning("removed %d unfinished document(s) left by an earlier run", len(removed))
        if stale:
            logger.warning("removed %d chunk(s) of replaced or failed documents", len(stale))
        self._remove_stray_files({r.id: r for r in self._catalog.all()})
        return removed

    def _remove_stray_files(self, records: Mapping[str, DocumentRecord]) -> None:
        if not self._files_dir.is_dir():
            return
        for path in self._files_dir.iterdir():
            if not path.is_file():
                continue
            document_id, _, rest = path.name.partition(".")
            owner = records.get(document_id)
            generation = int(rest[1:]) if rest[:1] == "g" and rest[1:].isdigit() else 0
            # A queued job's original is its document's current (first) generation: kept.
            if owner is None or rest.endswith("part") or generation != owner.generation:
                path.unlink(missing_ok=True)


def _covered(record: DocumentRecord) -> bool:
    """Whether a document needs no new job: it is ready, or a job is ingesting it."""
    return record.status == "ready" or (record.status in UNFINISHED and record.job_id is not None)


def _describe_failure(error: BaseException) -> tuple[str, str]:
    if isinstance(error, ParseError):
        return error.code, error.message
    return "internal_error", "ingesting this file failed unexpectedly; the server log has details"


def _stored_chunk(record: DocumentRecord, chunk: Chunk) -> StoredChunk:
    return StoredChunk(
        id=chunk_id_for(record.id, chunk.ordinal, record.generation),
        document_id=record.id,
        text=chunk.text,
        metadata={
            **{f"meta.{k}": v for k, v in record.metadata.items()},
            "filename": record.filename,
            "media_type": record.media_type,
            "ordinal": chunk.ordinal,
            "generation": record.generation,
            "page_start": chunk.page_start,  # type: ignore[dict-item]
            "page_end": chunk.page_end,  # type: ignore[dict-item]
            "heading": chunk.heading,  # type: ignore[dict-item]
        },
    )
