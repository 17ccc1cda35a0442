"""Renaming a document: a new file name (and metadata) without parsing or embedding again.

Chunks carry their document's file name and metadata (citations and filters read them), so
a rename writes the current generation's chunks again under the next generation, with their
stored vectors and the new name, then switches the record, as a replace does. Questions see
the old name until the switch and the new one after; the vectors are never recomputed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, Protocol

from ingest.catalog import DocumentRecord, utcnow
from ingest.errors import DocumentMissing, DocumentNotReady
from ingest.ids import chunk_generation, chunk_id_for, safe_filename
from ingest.pipeline import IngestPipeline
from ingest.store import MetadataValue, StoredChunk, Where

_USER_PREFIX = "meta."
_COPY_BATCH = 500


class ChunkReader(Protocol):
    """Where a rename reads the chunks it copies: the chunk store, with vectors."""

    def chunk_refs(self, where: Where | None = None) -> list[tuple[str, str]]: ...

    def get_by_ids(
        self, ids: Sequence[str], *, with_vectors: bool = False
    ) -> Mapping[str, tuple[StoredChunk, Any]]: ...


def _in_generation(chunk_id: str, record: DocumentRecord) -> str:
    """The id of the same chunk in `record`'s generation."""
    return chunk_id_for(record.id, int(chunk_id.rsplit(":", 1)[1]), record.generation)


def _renamed_chunk(chunk: StoredChunk, record: DocumentRecord) -> StoredChunk:
    kept = {k: v for k, v in chunk.metadata.items() if not k.startswith(_USER_PREFIX)}
    return StoredChunk(
        id=_in_generation(chunk.id, record),
        document_id=record.id,
        text=chunk.text,
        metadata={
            **kept,
            **{_USER_PREFIX + k: v for k, v in record.metadata.items()},
            "filename": record.filename,
            "generation": record.generation,
        },
    )


def rename_document(
    pipeline: IngestPipeline,
    chunks: ChunkReader,
    document_id: str,
    filename: str,
    *,
    metadata: Mapping[str, MetadataValue] | None = None,
) -> DocumentRecord:
    """Gives a ready document a new file name (and, when `metadata` is not None, new
    metadata). Raises `DocumentMissing`, or `DocumentNotReady` while it is being ingested."""
    filename = safe_filename(filename)
    catalog = pipeline.catalog
    with pipeline.document_lock(document_id):
        current = catalog.get(document_id)
        if current is None:
            raise DocumentMissing(document_id)
        if current.status != "ready":
            raise DocumentNotReady(
                f"document {document_id} is {current.status}; it can be renamed once ready"
            )
        new_metadata = dict(current.metadata if metadata is None else metadata)
        if current.filename == filename and new_metadata == dict(current.metadata):
            return current
        renamed = replace(
            current,
            filename=filename,
            metadata=new_metadata,
            generation=current.generation + 1,
            updated_at=utcnow(),
        )
        old_ids = [
            chunk_id
            for chunk_id, _ in chunks.chunk_refs({"document_id": document_id})
            if chunk_generation(chunk_id) == current.generation
        ]
        try:
            _copy_chunks(pipeline, chunks, old_ids, renamed)
            pages = catalog.content(document_id, current.generation) or []
            catalog.put_content(document_id, pages, renamed.generation)
            original = pipeline.files.read(document_id, current.generation)
            pipeline.files.save(document_id, original, renamed.generation)
            pipeline.notify_change()
            catalog.put(renamed)  # the switch
        except BaseException:
            new_ids = [_in_generation(c, renamed) for c in old_ids]
            _drop(pipeline, document_id, renamed.generation, new_ids)
            raise
        pipeline.announce_ready(renamed)
        _drop(pipeline, document_id, current.generation, old_ids)
        return renamed


def _copy_chunks(
    pipeline: IngestPipeline, chunks: ChunkReader, ids: Sequence[str], record: DocumentRecord
) -> None:
    for start in range(0, len(ids), _COPY_BATCH):
        found = chunks.get_by_ids(ids[start : start + _COPY_BATCH], with_vectors=True)
        copied = [(_renamed_chunk(chunk, record), vector) for chunk, vector in found.values()]
        pipeline.store.add([c for c, _ in copied], [v for _, v in copied])


def _drop(
    pipeline: IngestPipeline, document_id: str, generation: int, chunk_ids: Sequence[str]
) -> None:
    """Removes one generation of a document: its chunks, page texts and stored file."""
    pipeline.store.delete_ids(chunk_ids)
    pipeline.notify_change()
    pipeline.catalog.delete_content(document_id, generation)
    pipeline.files.unlink(document_id, generation)
