"""The ingest pipeline: bytes in, a ready document out (parse, chunk, embed, store)."""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import unicodedata
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from ingest.catalog import DocumentCatalog, DocumentRecord, utcnow
from ingest.embedding import Embedder
from ingest.store import ChromaChunkStore, MetadataValue, StoredChunk
from parsers.chunking import split_into_chunks
from parsers.errors import NoExtractableText, ParseError, TooManyPages
from parsers.registry import parse_document
from parsers.types import Chunk, Page, ParsedDocument

logger = logging.getLogger(__name__)

# Called with (stage, done, total) while a document is being ingested.
ProgressCallback = Callable[[str, int, int], None]


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


def document_id_for(sha256: str) -> str:
    """Ids derive from content, so the same bytes under any name are the same document."""
    return sha256[:32]


def chunk_id_for(document_id: str, ordinal: int) -> str:
    return f"{document_id}:{ordinal}"


_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f]+")


def safe_filename(name: str | None) -> str:
    """A display name from an uploaded file name: no directories, no control characters.

    Stored files are named by document id, never by this name."""
    name = unicodedata.normalize("NFC", name or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE_NAME.sub("", name).strip().lstrip(".")
    return name[:255] or "upload"


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
        self._embed_batch_size = embed_batch_size
        # Tells indexes derived from the store (BM25) that chunks were added or removed.
        self._on_change = on_change or (lambda: None)
        self._max_pages = max_pages  # None: no limit
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    @contextmanager
    def document_lock(self, document_id: str) -> Iterator[None]:
        """Serialises writes to one document; different documents proceed in parallel."""
        with self._locks_guard:
            lock = self._locks.setdefault(document_id, threading.Lock())
        with lock:
            yield

    def ingest(
        self,
        data: bytes,
        filename: str,
        *,
        metadata: Mapping[str, MetadataValue] | None = None,
        progress: ProgressCallback | None = None,
    ) -> IngestResult:
        filename = safe_filename(filename)
        sha256 = hashlib.sha256(data).hexdigest()
        document_id = document_id_for(sha256)
        with self.document_lock(document_id):
            existing = self._catalog.get(document_id)
            if existing is not None and existing.status == "ready":
                return IngestResult(existing, created=False)
            if existing is not None:
                # A leftover of an earlier attempt that never finished: start clean.
                self._remove(document_id)

            # Everything that can fail on the user's input happens before anything is written.
            parsed = self._parse(data, filename)
            chunks = self._chunk(parsed)

            now = utcnow()
            record = DocumentRecord(
                id=document_id,
                filename=filename,
                media_type=parsed.media_type,
                size_bytes=len(data),
                sha256=sha256,
                status="pending",
                created_at=now,
                updated_at=now,
                pages=len(parsed.pages) if parsed.paginated else 0,
                chunks=len(chunks),
                title=parsed.title,
                metadata=dict(metadata or {}),
            )
            self._catalog.put(record)
            try:
                self._write_chunks(record, chunks, progress)
                self._on_change()
                self._catalog.put_content(document_id, parsed.pages)
                self._save_file(document_id, data)
                ready = record.with_status("ready")
                self._catalog.put(ready)
            except BaseException:
                logger.exception(
                    "ingest of document %s failed; removing what was written", document_id
                )
                self._remove(document_id)
                raise
            return IngestResult(ready, created=True)

    def _parse(self, data: bytes, filename: str) -> ParsedDocument:
        parsed = parse_document(data, filename)
        if self._max_pages is not None and len(parsed.pages) > self._max_pages:
            raise TooManyPages(
                f"'{filename}' has {len(parsed.pages)} pages; docrag accepts at most "
                f"{self._max_pages} pages per document. Split it into smaller files, or raise "
                "DOCRAG_LIMITS__MAX_PAGES."
            )
        return parsed

    def _chunk(self, parsed: ParsedDocument) -> list[Chunk]:
        chunks = split_into_chunks(
            parsed, self._embedder.count_tokens, self.chunk_size, self.chunk_overlap
        )
        if not chunks:
            raise NoExtractableText("the file contains no text that could be indexed")
        return chunks

    def _write_chunks(
        self, record: DocumentRecord, chunks: list[Chunk], progress: ProgressCallback | None
    ) -> None:
        total = len(chunks)
        for start in range(0, total, self._embed_batch_size):
            batch = chunks[start : start + self._embed_batch_size]
            vectors = self._embedder.embed_documents([c.text for c in batch])
            self._store.add([_stored_chunk(record, c) for c in batch], vectors)
            if progress is not None:
                progress("embedding", min(start + len(batch), total), total)

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

    def _file_path(self, document_id: str) -> Path:
        return self._files_dir / document_id

    def _save_file(self, document_id: str, data: bytes) -> None:
        self._files_dir.mkdir(parents=True, exist_ok=True)
        tmp = self._file_path(document_id).with_suffix(".part")
        tmp.write_bytes(data)
        tmp.replace(self._file_path(document_id))

    def _remove(self, document_id: str) -> None:
        self._store.delete_document(document_id)
        self._on_change()
        self._catalog.delete(document_id)
        self._file_path(document_id).unlink(missing_ok=True)
        self._file_path(document_id).with_suffix(".part").unlink(missing_ok=True)

    def delete(self, document_id: str) -> bool:
        """Removes a document, its chunks and its stored file; False when it was not there."""
        with self.document_lock(document_id):
            if self._catalog.get(document_id) is None:
                return False
            self._remove(document_id)
            return True

    def recover(self, stale_after: timedelta = timedelta(0)) -> list[str]:
        """Removes documents that never became ready (a crash mid-ingest) and chunks that
        belong to no document. With several processes on one Chroma server, `stale_after`
        keeps a start-up from removing another process's ingest in progress."""
        cutoff = utcnow() - stale_after
        removed = []
        known = set()
        for record in self._catalog.all():
            known.add(record.id)
            if record.status != "ready" and record.updated_at <= cutoff:
                with self.document_lock(record.id):
                    self._remove(record.id)
                removed.append(record.id)
        for orphan in self._store.document_ids() - known:
            self._store.delete_document(orphan)
            removed.append(orphan)
        if removed:
            self._on_change()
        if removed:
            logger.warning("removed %d unfinished document(s) left by an earlier run", len(removed))
        return removed


def _stored_chunk(record: DocumentRecord, chunk: Chunk) -> StoredChunk:
    return StoredChunk(
        id=chunk_id_for(record.id, chunk.ordinal),
        document_id=record.id,
        text=chunk.text,
        metadata={
            **{f"meta.{k}": v for k, v in record.metadata.items()},
            "filename": record.filename,
            "media_type": record.media_type,
            "ordinal": chunk.ordinal,
            "page_start": chunk.page_start,  # type: ignore[dict-item]
            "page_end": chunk.page_end,  # type: ignore[dict-item]
            "heading": chunk.heading,  # type: ignore[dict-item]
        },
    )
