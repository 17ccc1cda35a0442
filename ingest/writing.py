"""Embedding chunks and writing them to the chunk store, in full batches of similar length."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from ingest.catalog import DocumentRecord
from ingest.embedding import Embedder
from ingest.errors import IngestStopped
from ingest.ids import chunk_id_for
from ingest.model_lock import in_background
from ingest.progress import ANSWERABLE, ProgressCallback
from ingest.reading import (
    ChunkFeed,
    ChunksReady,
    ChunksRevised,
    PageParsed,
    ParseDone,
    ParseFailed,
)
from ingest.store import ChunkStore, StoredChunk
from parsers.chunking import indexed_text
from parsers.errors import NoExtractableText
from parsers.types import Chunk, ParsedDocument


def stored_chunk(record: DocumentRecord, chunk: Chunk) -> StoredChunk:
    """A chunk as stored: its id and generation from the record, its provenance beside it."""
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
            "ocr": chunk.ocr,
            "figure": chunk.figure,
            **({"context": chunk.context} if chunk.context else {}),
        },
    )


# The first batch of a streamed document is this small, so its first pages answer questions
# within seconds; each next batch doubles, up to the writer's batch size (large batches embed
# fastest).
FIRST_BATCH = 8


def _never() -> bool:
    return False


def _complete_pages(pending: Sequence[Chunk], last_page: int, parse_done: bool) -> int:
    """The pages all of whose chunks are stored, given the chunks still to write (in page
    order) and the last page the stored ones reach. Until the parse is done, the last page
    read may still have text on its way to a chunk."""
    if pending and pending[0].page_start is not None:
        return min(last_page, pending[0].page_start - 1)
    return last_page if parse_done and not pending else max(0, last_page - 1)


class ChunkWriter:
    def __init__(self, embedder: Embedder, store: ChunkStore, batch_size: int = 64) -> None:
        self.store = store
        self._embedder = embedder
        # Chunks embedded (and written) together; sorted by length, so padding is small.
        self.batch_size = batch_size

    def write(self, chunks: Sequence[tuple[DocumentRecord, Chunk]]) -> None:
        """Embeds and stores chunks of one or more documents, each under its record."""
        ordered = sorted(chunks, key=lambda pair: len(pair[1].text))
        for start in range(0, len(ordered), self.batch_size):
            batch = ordered[start : start + self.batch_size]
            with in_background():  # a question asked meanwhile goes first
                vectors = self._embedder.embed_documents([indexed_text(c) for _, c in batch])
            self.store.add([stored_chunk(r, c) for r, c in batch], vectors)

    def _revise(
        self, record: DocumentRecord, pending: list[Chunk], revision: ChunksRevised, produced: int
    ) -> list[Chunk]:
        """The chunks still to write once `revision` is applied; the stored chunks beyond
        its count are removed."""
        beyond = range(revision.count, produced)
        self.store.delete_ids([chunk_id_for(record.id, o, record.generation) for o in beyond])
        replaced = {c.ordinal for c in revision.chunks}
        kept = [c for c in pending if c.ordinal not in replaced and c.ordinal < revision.count]
        return sorted(kept + revision.chunks, key=lambda c: c.ordinal)

    def write_streamed(
        self,
        record: DocumentRecord,
        feed: ChunkFeed,
        report: ProgressCallback,
        should_stop: Callable[[], bool] | None = None,
    ) -> tuple[ParsedDocument, int]:
        """Embeds and stores the chunks `feed` hands over (under `record`'s id and
        generation) while the parse goes on; returns the parsed document and the number of
        chunks. After each batch it reports ("answerable", pages wholly stored, chunks
        stored): chunks come in page order, so the pages before the next chunk's first page
        are complete. `should_stop` is polled between batches: when it says so,
        `IngestStopped` is raised. Writes nothing to the catalog."""
        stop = should_stop or _never
        pending: list[Chunk] = []
        media_type = ""
        parsed: ParsedDocument | None = None
        produced = written = pages_read = page_count = last_page = 0
        size = min(FIRST_BATCH, self.batch_size)
        while parsed is None or pending:
            for event in feed.take(block=not pending):
                match event:
                    case PageParsed():
                        pages_read, page_count = event.pages_read, event.page_count
                        if written == 0:
                            report("ocr" if event.ocr else "parsing", pages_read, page_count)
                    case ChunksReady():
                        media_type = event.media_type
                        pending += event.chunks
                        produced += len(event.chunks)
                    case ChunksRevised():
                        pending = self._revise(record, pending, event, produced)
                        produced = event.count
                    case ParseDone():
                        parsed = event.parsed
                    case ParseFailed():
                        if stop():  # the parse was cut short by the shutdown, not by the file
                            raise IngestStopped(f"stopped while parsing {record.filename!r}")
                        raise event.error
            if stop():
                raise IngestStopped(f"stopped while ingesting {record.filename!r}")
            if not pending:
                continue
            batch, pending = pending[:size], pending[size:]
            size = min(size * 2, self.batch_size)
            stamped = replace(record, media_type=media_type)
            self.write([(stamped, c) for c in batch])
            written += len(batch)
            last_page = max(last_page, *(c.page_end or 0 for c in batch))
            report(ANSWERABLE, _complete_pages(pending, last_page, parsed is not None), written)
            expected = produced
            if parsed is None and pages_read:
                expected = max(produced, round(produced * page_count / pages_read))
            report("embedding", written, expected)
        if produced == 0:
            raise NoExtractableText("the file contains no text that could be indexed")
        return parsed, produced
