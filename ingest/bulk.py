"""Ingesting many small documents at once (`docrag eval` loads its corpora this way).

The chunks of several documents are embedded together in full batches: one document per
call would leave most of each batch empty. Each document keeps the guarantees of
`IngestPipeline.ingest`.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass

from ingest.catalog import DocumentRecord, new_record, ready_record
from ingest.ids import document_id_for, safe_filename
from ingest.pipeline import IngestPipeline, IngestResult
from ingest.progress import ProgressCallback
from ingest.store import MetadataValue
from parsers.errors import ParseError
from parsers.types import Chunk, ParsedDocument

logger = logging.getLogger(__name__)

# A window of this many full batches is embedded before its documents are marked ready.
_BATCHES_PER_WINDOW = 4
# Documents looked up in the catalog at once.
_LOOKUP_GROUP = 256


@dataclass(frozen=True, slots=True)
class IngestItem:
    """One document for `ingest_many`."""

    data: bytes
    filename: str
    metadata: Mapping[str, MetadataValue] | None = None


@dataclass(frozen=True, slots=True)
class _PreparedDocument:
    """A parsed and chunked document, not yet written."""

    index: int
    record: DocumentRecord
    parsed: ParsedDocument
    chunks: list[Chunk]
    data: bytes


def ingest_many(
    pipeline: IngestPipeline,
    items: Sequence[IngestItem],
    *,
    progress: ProgressCallback | None = None,
) -> list[IngestResult | ParseError]:
    """Ingests `items` through `pipeline`, a result or the parser's refusal per item.

    The same bytes are stored once (also within one call), a document is visible only once
    it is ready, and a document whose write fails leaves nothing behind. A refused file
    writes nothing; any other failure removes the documents not yet ready and is raised.
    `progress` is called with ("documents", done, total)."""
    total = len(items)
    results: list[IngestResult | ParseError | None] = [None] * total
    first_seen: dict[str, int] = {}  # document id -> index of its first item in this call
    repeats: list[tuple[int, int]] = []
    window: list[_PreparedDocument] = []
    window_chunks = 0
    window_target = pipeline.writer.batch_size * _BATCHES_PER_WINDOW

    def flush() -> None:
        nonlocal window, window_chunks
        for index, result in _write_window(pipeline, window):
            results[index] = result
        window, window_chunks = [], 0

    for start in range(0, total, _LOOKUP_GROUP):
        group = items[start : start + _LOOKUP_GROUP]
        hashes = [hashlib.sha256(item.data).hexdigest() for item in group]
        known = pipeline.catalog.get_many([document_id_for(h) for h in hashes])
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
                    results[index] = pipeline.ingest(
                        item.data, item.filename, metadata=item.metadata
                    )
                except ParseError as e:
                    results[index] = e
                continue
            if existing is not None and existing.status == "ready":
                results[index] = IngestResult(existing, created=False)
                continue
            try:
                prepared = _prepare(pipeline, index, item, sha256)
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


def _prepare(
    pipeline: IngestPipeline, index: int, item: IngestItem, sha256: str
) -> _PreparedDocument:
    filename = safe_filename(item.filename)
    parsed = pipeline.reader.parse(item.data, filename)
    chunks = pipeline.reader.chunk(parsed)
    record = new_record(
        document_id_for(sha256),
        sha256,
        item.data,
        filename,
        status="embedding",
        metadata=item.metadata,
        media_type=parsed.media_type,
    )
    return _PreparedDocument(index, record, parsed, chunks, item.data)


def _write_window(
    pipeline: IngestPipeline, window: list[_PreparedDocument]
) -> list[tuple[int, IngestResult]]:
    if not window:
        return []
    catalog = pipeline.catalog
    done: list[tuple[int, IngestResult]] = []
    ids = sorted({p.record.id for p in window})
    with ExitStack() as locks:
        for document_id in ids:  # always in the same order, so two callers never deadlock
            locks.enter_context(pipeline.document_lock(document_id))
        # Another writer may have stored one of these since it was looked up.
        current = catalog.get_many(ids)
        to_write: list[_PreparedDocument] = []
        for p in window:
            existing = current.get(p.record.id)
            if existing is not None and existing.status == "ready":
                done.append((p.index, IngestResult(existing, created=False)))
                continue
            if existing is not None:
                pipeline.remove(p.record.id)  # a leftover of an attempt that never finished
            to_write.append(p)
        ready: set[str] = set()
        try:
            for p in to_write:
                catalog.put(p.record)
            pipeline.writer.write([(p.record, c) for p in to_write for c in p.chunks])
            if to_write:
                pipeline.notify_change()  # the lexical index must see the new chunks
            for p in to_write:
                catalog.put_content(p.record.id, p.parsed.pages)
                pipeline.files.save(p.record.id, p.data)
                record = ready_record(p.record, p.parsed, len(p.chunks))
                catalog.put(record)
                pipeline.announce_ready(record)
                ready.add(record.id)
                done.append((p.index, IngestResult(record, created=True)))
        except BaseException:
            unfinished = [p.record.id for p in to_write if p.record.id not in ready]
            logger.exception(
                "ingest of %d document(s) failed; removing what was written", len(unfinished)
            )
            for document_id in unfinished:
                pipeline.remove(document_id)
            raise
    return done
