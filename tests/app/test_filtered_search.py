"""Filtered dense search: a filter that keeps few chunks is answered by scoring those chunks'
vectors exactly (listed by the lexical index's facets), and gives what Chroma's `where` gives
on a real corpus with real embeddings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from app.query.retrieval import Filters, HybridRetriever
from ingest import store as store_module
from ingest.catalog import DocumentCatalog, DocumentRecord, utcnow
from ingest.lexical import ChangeFeed, IndexedChunkStore, LexicalIndex, Tokenizer
from ingest.store import ChromaChunkStore, ChromaRecordStore, StoredChunk
from tests.ingest.test_lexical import prose_passages

DOCUMENTS, CHUNKS_PER_DOCUMENT = 8, 20
QUESTIONS = [
    "how is an exception raised and handled",
    "default values of function arguments",
    "attributes of a class instance",
    "formatting numbers in a string",
    "what does an iterator return next",
]
FILTERS = [
    Filters(document_ids=("d3",)),
    Filters(filenames=("d5.txt", "d6.txt")),
    Filters(metadata={"team": "legal"}),
    Filters(metadata={"team": ["legal", "sales"], "year": 2024}),
    Filters(document_ids=("d0", "d1", "d2"), metadata={"year": 2023}),
]


class NoWhereStore(ChromaChunkStore):
    """The chunk store, refusing Chroma's `where`: the filtered search must not need it."""

    def query(self, vector: Any, k: int, where: Any = None, *, with_vectors: bool = False) -> Any:
        if where:
            raise AssertionError("Chroma's where was used for a filter that keeps few chunks")
        return super().query(vector, k, where, with_vectors=with_vectors)


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory, embedder: Any) -> Any:
    root: Path = tmp_path_factory.mktemp("filtered")
    client = store_module.connect(path=root / "chroma")
    fingerprint = embedder.fingerprint
    store = ChromaChunkStore(client, "f_chunks", fingerprint)
    lexical = LexicalIndex(
        collection=store.name,
        source=store,
        feed=ChangeFeed(ChromaChunkStore(client, "f_feed", "change-feed")),
        tokenizer=Tokenizer(),
        directory=root / "lexical",
    )
    catalog = DocumentCatalog(ChromaRecordStore(client, "f_docs"), ChromaRecordStore(client, "f_c"))
    passages = prose_passages(DOCUMENTS * CHUNKS_PER_DOCUMENT)
    vectors = embedder.embed_documents(passages)
    writes = IndexedChunkStore(store, lexical)
    for d in range(DOCUMENTS):
        doc = f"d{d}"
        meta = {
            "filename": f"{doc}.txt",
            "generation": 0,
            "meta.team": ("legal", "sales", "ops")[d % 3],
            "meta.year": 2023 + d % 2,
        }
        span = range(d * CHUNKS_PER_DOCUMENT, (d + 1) * CHUNKS_PER_DOCUMENT)
        chunks = [
            StoredChunk(f"{doc}:g0:{o}", doc, passages[i], {**meta, "ordinal": o})
            for o, i in enumerate(span)
        ]
        writes.add(chunks, [vectors[i] for i in span])
        lexical.publish()
        now = utcnow()
        fields = (doc, f"{doc}.txt", "text/plain", len(passages[d]), doc, "ready", now, now)
        catalog.put(DocumentRecord(*fields, chunks=len(chunks)))  # type: ignore[arg-type]
    no_where = NoWhereStore(client, "f_chunks", fingerprint)

    def retriever(
        mode: str, exact_max: int, chunk_store: ChromaChunkStore = store, depth: int = 0
    ) -> Any:
        return HybridRetriever(
            embedder=embedder,
            store=chunk_store,
            catalog=catalog,
            lexical=lexical,
            mode=mode,  # type: ignore[arg-type]
            exact_filter_max_chunks=exact_max,
            fusion_depth=depth,
        )

    return store, no_where, writes, lexical, retriever


def nearest(store: ChromaChunkStore, embedder: Any, question: str, filters: Filters) -> list:
    """The true top 10 among the chunks Chroma's `where` keeps: every vector scored."""
    import numpy as np

    allowed = [c.id for c in store.get(where=filters.where())]
    stored = store.get_by_ids(allowed, with_vectors=True)
    matrix = np.asarray([stored[c][1] for c in allowed], dtype=np.float32)
    scores = matrix @ np.asarray(embedder.embed_query(question), dtype=np.float32)
    return [(allowed[i], float(scores[i])) for i in np.argsort(-scores)[:10]]


def test_filtered_dense_search_is_exact_and_agrees_with_chromas_where(
    library: Any, embedder: Any
) -> None:
    store, no_where, _, _, retriever = library
    exact, chroma_where = retriever("dense", 5000, no_where), retriever("dense", 0)
    agreed = []
    for filters in FILTERS:
        for question in QUESTIONS:
            truth = nearest(store, embedder, question, filters)
            found = exact.retrieve(question, 10, filters)
            assert [h.chunk_id for h in found] == [c for c, _ in truth]
            assert [h.score for h in found] == pytest.approx([s for _, s in truth], abs=1e-5)
            assert all(h.vector is not None and len(h.vector) == 384 for h in found)
            expected = {h.chunk_id for h in chroma_where.retrieve(question, 10, filters)}
            agreed.append(len(expected & {h.chunk_id for h in found}) / len(found))
    # Chroma's HNSW is approximate; on this corpus it finds nearly the same chunks.
    assert sum(agreed) / len(agreed) >= 0.95


def test_filtered_hybrid_search_agrees_with_chromas_where(library: Any) -> None:
    store, no_where, _, _, retriever = library
    exact, chroma_where = retriever("hybrid", 5000, no_where), retriever("hybrid", 0)
    agreed = []
    for filters in FILTERS:
        allowed = {c.id for c in store.get(where=filters.where())}
        for question in QUESTIONS:
            found = [h.chunk_id for h in exact.retrieve(question, 10, filters)]
            expected = [h.chunk_id for h in chroma_where.retrieve(question, 10, filters)]
            assert found and set(found) <= allowed
            agreed.append(len(set(expected) & set(found)) / len(found))
    assert sum(agreed) / len(agreed) >= 0.95


def test_fusion_ranks_each_sides_deeper_list_before_cutting_to_k(
    library: Any, embedder: Any
) -> None:
    from ingest.lexical.fusion import fuse_rankings

    store, _, _, lexical, retriever = library
    deep, shallow = retriever("hybrid", 5000, depth=60), retriever("hybrid", 5000)
    differs = 0
    for question in QUESTIONS:
        found = deep.retrieve(question, 5)
        # What the candidates must be: the top 5 of the fusion of each side's 60 best.
        dense = [s.chunk.id for s in store.query(embedder.embed_query(question), 60)]
        words = [h.chunk_id for h in lexical.search(question, 60)]
        fused = fuse_rankings([(dense, found[0].dense_trust), (words, 1.0)])
        assert [h.chunk_id for h in found] == [chunk_id for chunk_id, _ in fused[:5]]
        differs += [h.chunk_id for h in shallow.retrieve(question, 5)] != [
            h.chunk_id for h in found
        ]
    assert differs, "lists cut at k fuse to the same candidates for every question"


def test_a_filter_keeping_more_than_the_limit_uses_chromas_where(library: Any) -> None:
    _, no_where, _, _, retriever = library
    team = Filters(metadata={"team": "legal"})  # 3 documents, 60 chunks
    with pytest.raises(AssertionError, match="where was used"):
        retriever("dense", 59, no_where).retrieve(QUESTIONS[0], 5, team)
    assert len(retriever("dense", 60, no_where).retrieve(QUESTIONS[0], 5, team)) == 5


def test_a_deleted_document_is_no_longer_found_through_its_filter(library: Any) -> None:
    store, no_where, writes, lexical, retriever = library
    only = Filters(document_ids=("d7",))
    assert retriever("dense", 5000, no_where).retrieve(QUESTIONS[1], 5, only)
    kept = store.get(where={"document_id": "d7"})
    vectors = store.get_by_ids([c.id for c in kept], with_vectors=True)
    writes.delete_document("d7")
    lexical.publish()
    try:
        assert retriever("dense", 5000, no_where).retrieve(QUESTIONS[1], 5, only) == []
    finally:
        writes.add(kept, [vectors[c.id][1] for c in kept])
        lexical.publish()
