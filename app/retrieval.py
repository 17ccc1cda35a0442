"""Retrieval: the chunks that best match a question, only from ready documents."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from ingest.catalog import DocumentCatalog
from ingest.embedding import Embedder
from ingest.store import ChromaChunkStore, ScoredChunk


@dataclass(frozen=True, slots=True)
class Filters:
    document_ids: tuple[str, ...] = ()

    def where(self) -> dict[str, Any] | None:
        if not self.document_ids:
            return None
        if len(self.document_ids) == 1:
            return {"document_id": self.document_ids[0]}
        return {"document_id": {"$in": list(self.document_ids)}}


@dataclass(frozen=True, slots=True)
class Hit:
    chunk_id: str
    document_id: str
    filename: str
    text: str
    ordinal: int
    page_start: int | None
    page_end: int | None
    heading: str | None
    score: float  # retrieval similarity (cosine), comparable across queries
    rerank_score: float | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def reranked(self, score: float) -> Hit:
        return replace(self, rerank_score=score)


def hit_from_chunk(scored: ScoredChunk) -> Hit:
    meta = scored.chunk.metadata

    def optional_int(key: str) -> int | None:
        value = meta.get(key)
        return int(value) if value is not None else None

    heading = meta.get("heading")
    return Hit(
        chunk_id=scored.chunk.id,
        document_id=scored.chunk.document_id,
        filename=str(meta.get("filename", "")),
        text=scored.chunk.text,
        ordinal=int(meta.get("ordinal", 0)),
        page_start=optional_int("page_start"),
        page_end=optional_int("page_end"),
        heading=str(heading) if heading is not None else None,
        score=scored.score,
    )


class Retriever(Protocol):
    def retrieve(self, query: str, k: int, filters: Filters | None = None) -> list[Hit]: ...


class DenseRetriever:
    """Nearest chunks by embedding similarity in Chroma."""

    def __init__(self, embedder: Embedder, store: ChromaChunkStore, catalog: DocumentCatalog):
        self._embedder = embedder
        self._store = store
        self._catalog = catalog

    def retrieve(self, query: str, k: int, filters: Filters | None = None) -> list[Hit]:
        vector = self._embedder.embed_query(query)
        where = (filters or Filters()).where()
        fetch = k
        for _ in range(3):
            scored = self._store.query(vector, fetch, where)
            hits = self._only_ready([hit_from_chunk(s) for s in scored])
            # Chunks of a document still being ingested are invisible; fetch more to fill k.
            if len(hits) >= k or len(scored) < fetch:
                return hits[:k]
            fetch *= 2
        return hits[:k]

    def _only_ready(self, hits: Sequence[Hit]) -> list[Hit]:
        records = self._catalog.get_many([h.document_id for h in hits])
        return [
            h
            for h in hits
            if (record := records.get(h.document_id)) is not None and record.status == "ready"
        ]
