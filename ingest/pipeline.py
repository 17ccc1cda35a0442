"""The ingest pipeline: bytes in, a ready document out (parse, chunk, embed, store)."""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from ingest.catalog import DocumentCatalog, DocumentRecord, utcnow
from ingest.embedding import Embedder
from ingest.store import ChromaChunkStore, MetadataValue, StoredChunk
from parsers.chunking import split_into_chunks
from parsers.errors import NoExtractableText
from parsers.registry import parse_document
from parsers.types import Chunk, ParsedDocument

logger = logging.getLogger(__name__)

# Called with (stage, done, total) while a document is being ingested.
ProgressCallback = Callable[[str, int, int], None]


@dataclass(frozen=True, slots=True)
class IngestResult:
    document: DocumentRecord
    created: bool  # False when the same bytes were already stored


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
            parsed = parse_document(data, filename)
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
            self._store.add(
                [
                    StoredChunk(
                        id=chunk_id_for(record.id, c.ordinal),
                        document_id=record.id,
                        text=c.text,
                        metadata={
                            **{f"meta.{k}": v for k, v in record.metadata.items()},
                            "filename": record.filename,
                            "media_type": record.media_type,
                            "ordinal": c.ordinal,
                            "page_start": c.page_start,  # type: ignore[dict-item]
                            "page_end": c.page_end,  # type: ignore[dict-item]
                            "heading": c.heading,  # type: ignore[dict-item]
                        },
                    )
                    for c in batch
                ],
                vectors,
            )
            if progress is not None:
                progress("embedding", min(start + len(batch), total), total)

    def _file_path(self, document_id: str) -> Path:
        return self._files_dir / document_id

    def _save_file(self, document_id: str, data: bytes) -> None:
        self._files_dir.mkdir(parents=True, exist_ok=True)
        tmp = self._file_path(document_id).with_suffix(".part")
        tmp.write_bytes(data)
        tmp.replace(self._file_path(document_id))

    def _remove(self, document_id: str) -> None:
        self._store.delete_document(document_id)
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
            logger.warning("removed %d unfinished document(s) left by an earlier run", len(removed))
        return removed
