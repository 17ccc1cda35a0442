"""Chunk storage in Chroma: the only module that imports chromadb."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ingest.embedding import same_fingerprint
from ingest.errors import EmbedderMismatch, StoreUnavailable

logger = logging.getLogger(__name__)

MetadataValue = str | int | float | bool
Where = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class StoredChunk:
    """A chunk as written to or read from the store."""

    id: str
    document_id: str
    text: str
    metadata: Mapping[str, MetadataValue] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ScoredChunk:
    chunk: StoredChunk
    score: float  # cosine similarity, higher is closer
    vector: list[float] | None = None


class ChunkStore(Protocol):
    """What ingest writes through: the lifecycle, bulk ingest and crash recovery."""

    def add(self, chunks: Sequence[StoredChunk], vectors: Sequence[Sequence[float]]) -> None: ...

    def delete_document(self, document_id: str) -> None: ...

    def delete_ids(self, ids: Sequence[str]) -> None: ...

    def chunk_refs(self, where: Where | None = None) -> list[tuple[str, str]]: ...


class ChunkSearch(Protocol):
    """What the question path reads: the chunks nearest a vector (within a filter), and
    chunks by id, with their stored vectors when asked."""

    def query(
        self,
        vector: Sequence[float],
        k: int,
        where: Where | None = None,
        *,
        with_vectors: bool = False,
    ) -> list[ScoredChunk]: ...

    def get_by_ids(
        self, ids: Sequence[str], *, with_vectors: bool = False
    ) -> Mapping[str, tuple[StoredChunk, list[float] | None]]: ...


class RecordStore(Protocol):
    """Small JSON-ish records (the document catalog) kept beside the chunks."""

    def put(
        self, record_id: str, metadata: Mapping[str, MetadataValue], document: str = ""
    ) -> None: ...

    def get(self, record_ids: Sequence[str]) -> dict[str, tuple[dict[str, MetadataValue], str]]: ...

    def all(self) -> dict[str, dict[str, MetadataValue]]: ...

    def delete(self, record_ids: Sequence[str]) -> None: ...

    def count(self) -> int: ...


def connect(
    *,
    path: Path | None = None,
    host: str | None = None,
    port: int = 8000,
    ssl: bool = False,
    headers: Mapping[str, str] | None = None,
) -> Any:
    """A Chroma client: a server when `host` is given, embedded files under `path` otherwise."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if host:
        try:
            client = chromadb.HttpClient(
                host=host, port=port, ssl=ssl, headers=dict(headers or {}), settings=chroma_settings
            )
            client.heartbeat()
        except Exception as e:  # the client raises plain exceptions for network failures
            raise StoreUnavailable(
                f"cannot reach the Chroma server at {host}:{port} ({type(e).__name__}); "
                "check DOCRAG_CHROMA__HOST and DOCRAG_CHROMA__PORT and that `chroma run` is up"
            ) from e
        return client
    if path is None:
        raise ValueError("an embedded Chroma needs a directory")
    path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(path), settings=chroma_settings)


def collection_names(client: Any) -> list[str]:
    """The names of every collection in this Chroma."""
    return [c if isinstance(c, str) else c.name for c in client.list_collections()]


def drop_collection(client: Any, name: str) -> bool:
    """Deletes a collection; False when there was none of that name."""
    if name not in collection_names(client):
        return False
    client.delete_collection(name)
    return True


def _floats(vector: Any) -> list[float]:
    # Chroma returns numpy rows; one conversion in C, not a Python loop per number.
    import numpy as np

    return np.asarray(vector, dtype=np.float32).tolist()  # type: ignore[no-any-return]


def _clean_metadata(metadata: Mapping[str, Any]) -> dict[str, MetadataValue]:
    # Chroma refuses None values; an absent key reads back as absent, which is what we mean.
    return {k: v for k, v in metadata.items() if v is not None}


class ChromaChunkStore:
    """Chunks with docrag's own vectors in one cosine-space Chroma collection.

    The embedder's fingerprint lives in the collection metadata so that a collection is never
    queried with vectors from another model.
    """

    FINGERPRINT_KEY = "docrag_embedder"

    def __init__(self, client: Any, collection: str, fingerprint: str) -> None:
        self._client = client
        self._name = collection
        self._collection = client.get_or_create_collection(
            name=collection,
            embedding_function=None,
            metadata={"hnsw:space": "cosine", self.FINGERPRINT_KEY: fingerprint},
        )
        stored = (self._collection.metadata or {}).get(self.FINGERPRINT_KEY)
        if stored is None or not same_fingerprint(stored, fingerprint):
            raise EmbedderMismatch(
                f"the collection {collection!r} was built with embedding model {stored!r}, "
                f"but {fingerprint!r} is configured. Either set DOCRAG_EMBEDDING__MODEL back to "
                "the model that built it, or run `docrag reindex` to re-embed your stored "
                "documents with the configured model (or ingest them again into a new "
                "DOCRAG_CHROMA__COLLECTION)"
            )
        self._max_batch = int(client.get_max_batch_size())

    @property
    def name(self) -> str:
        return self._name

    @property
    def fingerprint(self) -> str:
        return str((self._collection.metadata or {}).get(self.FINGERPRINT_KEY, ""))

    def add(self, chunks: Sequence[StoredChunk], vectors: Sequence[Sequence[float]]) -> None:
        if len(chunks) != len(vectors):
            raise ValueError("one vector per chunk")
        for start in range(0, len(chunks), self._max_batch):
            batch = chunks[start : start + self._max_batch]
            self._collection.upsert(
                ids=[c.id for c in batch],
                documents=[c.text for c in batch],
                metadatas=[
                    _clean_metadata({**c.metadata, "document_id": c.document_id}) for c in batch
                ],
                embeddings=[list(v) for v in vectors[start : start + self._max_batch]],
            )

    def delete_document(self, document_id: str) -> None:
        self._collection.delete(where={"document_id": document_id})

    def query(
        self,
        vector: Sequence[float],
        k: int,
        where: Where | None = None,
        *,
        with_vectors: bool = False,
    ) -> list[ScoredChunk]:
        if k <= 0:
            return []
        include = ["documents", "metadatas", "distances"] + (["embeddings"] if with_vectors else [])
        result = self._collection.query(
            query_embeddings=[list(vector)],
            n_results=k,
            where=dict(where) if where else None,
            include=include,  # type: ignore[arg-type]
        )
        ids = result["ids"][0]
        documents = (result.get("documents") or [[]])[0] or []
        metadatas = (result.get("metadatas") or [[]])[0] or []
        distances = (result.get("distances") or [[]])[0] or []
        embeddings = result.get("embeddings")
        vectors = embeddings[0] if with_vectors and embeddings is not None else None
        hits = []
        for i, (chunk_id, text, metadata, distance) in enumerate(
            zip(ids, documents, metadatas, distances, strict=True)
        ):
            meta = dict(metadata or {})
            hits.append(
                ScoredChunk(
                    StoredChunk(chunk_id, str(meta.get("document_id", "")), text or "", meta),
                    score=1.0 - float(distance),
                    vector=_floats(vectors[i]) if vectors is not None else None,
                )
            )
        return hits

    def get(self, where: Where | None = None, limit: int | None = None) -> list[StoredChunk]:
        result = self._collection.get(
            where=dict(where) if where else None,
            limit=limit,
            include=["documents", "metadatas"],
        )
        return [
            StoredChunk(
                chunk_id, str((meta or {}).get("document_id", "")), text or "", dict(meta or {})
            )
            for chunk_id, text, meta in zip(
                result["ids"], result["documents"] or [], result["metadatas"] or [], strict=True
            )
        ]

    def get_by_ids(
        self, ids: Sequence[str], *, with_vectors: bool = False
    ) -> dict[str, tuple[StoredChunk, list[float] | None]]:
        """Chunks by id (missing ids are left out), optionally with their stored vectors."""
        if not ids:
            return {}
        include = ["documents", "metadatas"] + (["embeddings"] if with_vectors else [])
        # Chroma refuses a repeated id; neighbours of adjacent hits overlap.
        result = self._collection.get(ids=list(dict.fromkeys(ids)), include=include)
        vectors = result.get("embeddings") if with_vectors else None
        found: dict[str, tuple[StoredChunk, list[float] | None]] = {}
        for i, chunk_id in enumerate(result["ids"]):
            meta = dict((result["metadatas"] or [])[i] or {})
            text = (result["documents"] or [])[i] or ""
            vector = _floats(vectors[i]) if vectors is not None else None
            found[chunk_id] = (
                StoredChunk(chunk_id, str(meta.get("document_id", "")), text, meta),
                vector,
            )
        return found

    def delete_ids(self, ids: Sequence[str]) -> None:
        for start in range(0, len(ids), self._max_batch):
            self._collection.delete(ids=list(ids[start : start + self._max_batch]))

    def chunk_refs(self, where: Where | None = None) -> list[tuple[str, str]]:
        """(chunk id, document id) of every chunk (matching `where`), read in pages."""
        refs: list[tuple[str, str]] = []
        offset, page = 0, 5000
        while True:
            result = self._collection.get(
                where=dict(where) if where else None,
                include=["metadatas"],
                limit=page,
                offset=offset,
            )
            metas = result["metadatas"] or []
            refs.extend(
                (chunk_id, str((m or {}).get("document_id", "")))
                for chunk_id, m in zip(result["ids"], metas, strict=True)
            )
            if len(result["ids"]) < page:
                return refs
            offset += page

    def document_ids(self) -> set[str]:
        """Every document id that has chunks, read in pages so a big collection fits in memory."""
        ids: set[str] = set()
        offset, page = 0, 5000
        while True:
            result = self._collection.get(include=["metadatas"], limit=page, offset=offset)
            metas = result["metadatas"] or []
            ids.update(str((m or {}).get("document_id", "")) for m in metas)
            if len(metas) < page:
                return ids
            offset += page

    def count(self) -> int:
        return int(self._collection.count())

    def count_document(self, document_id: str) -> int:
        return len(self._collection.get(where={"document_id": document_id}, include=[])["ids"])


class ChromaRecordStore:
    """Small records (one per document) in their own Chroma collection, so that every API
    replica pointed at the same Chroma server sees the same catalog."""

    # Chroma needs a vector per record; these records are found by id, never by similarity.
    _PLACEHOLDER_VECTOR = [1.0]

    def __init__(self, client: Any, collection: str) -> None:
        self._collection = client.get_or_create_collection(
            name=collection, embedding_function=None, metadata={"hnsw:space": "l2"}
        )

    def put(
        self, record_id: str, metadata: Mapping[str, MetadataValue], document: str = ""
    ) -> None:
        self._collection.upsert(
            ids=[record_id],
            metadatas=[_clean_metadata(metadata)],
            documents=[document or " "],
            embeddings=[self._PLACEHOLDER_VECTOR],
        )

    def get(self, record_ids: Sequence[str]) -> dict[str, tuple[dict[str, MetadataValue], str]]:
        if not record_ids:
            return {}
        result = self._collection.get(ids=list(record_ids), include=["metadatas", "documents"])
        return {
            rid: (dict(meta or {}), doc or "")
            for rid, meta, doc in zip(
                result["ids"], result["metadatas"] or [], result["documents"] or [], strict=True
            )
        }

    def all(self) -> dict[str, dict[str, MetadataValue]]:
        records: dict[str, dict[str, MetadataValue]] = {}
        offset, page = 0, 5000
        while True:
            result = self._collection.get(include=["metadatas"], limit=page, offset=offset)
            for rid, meta in zip(result["ids"], result["metadatas"] or [], strict=True):
                records[rid] = dict(meta or {})
            if len(result["ids"]) < page:
                return records
            offset += page

    def delete(self, record_ids: Iterable[str]) -> None:
        ids = list(record_ids)
        if ids:
            self._collection.delete(ids=ids)

    def count(self) -> int:
        return int(self._collection.count())
