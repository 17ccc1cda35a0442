"""The chunk-store contract, run against embedded Chroma and a real `chroma run` server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ingest import store as store_module
from ingest.errors import EmbedderMismatch, StoreUnavailable
from ingest.store import ChromaChunkStore, StoredChunk

FINGERPRINT = "test-embedder:3"


def vec(*xs: float) -> list[float]:
    norm = sum(x * x for x in xs) ** 0.5
    return [x / norm for x in xs]


class ChunkStoreContract:
    """Every store backend must pass these."""

    @pytest.fixture
    def client(self) -> Any:
        raise NotImplementedError

    @pytest.fixture
    def store(self, client: Any, request: pytest.FixtureRequest) -> ChromaChunkStore:
        # Each test gets its own collection, so a shared server needs no cleanup between tests.
        name = "t" + str(abs(hash(request.node.nodeid)))[:12] + "_chunks"
        return ChromaChunkStore(client, name, FINGERPRINT)

    def _add_two_documents(self, store: ChromaChunkStore) -> None:
        store.add(
            [
                StoredChunk("a:0", "a", "apples are red", {"filename": "a.txt", "ordinal": 0}),
                StoredChunk(
                    "a:1", "a", "apples grow on trees", {"filename": "a.txt", "ordinal": 1}
                ),
                StoredChunk("b:0", "b", "boats float", {"filename": "b.txt", "page_start": 3}),
            ],
            [vec(1, 0, 0), vec(0.9, 0.1, 0), vec(0, 0, 1)],
        )

    def test_query_returns_nearest_first_with_text_and_metadata(
        self, store: ChromaChunkStore
    ) -> None:
        self._add_two_documents(store)
        hits = store.query(vec(0, 0.1, 1), k=2)
        assert [h.chunk.id for h in hits][0] == "b:0"
        assert hits[0].chunk.text == "boats float"
        assert hits[0].chunk.metadata["page_start"] == 3
        assert hits[0].score > hits[1].score
        assert hits[0].score == pytest.approx(0.995, abs=0.01)

    def test_where_filter_is_applied_inside_the_query(self, store: ChromaChunkStore) -> None:
        self._add_two_documents(store)
        hits = store.query(vec(0, 0, 1), k=2, where={"document_id": "a"})
        assert {h.chunk.document_id for h in hits} == {"a"}
        assert len(hits) == 2

    def test_delete_document_removes_only_its_chunks(self, store: ChromaChunkStore) -> None:
        self._add_two_documents(store)
        store.delete_document("a")
        assert store.count() == 1
        assert store.document_ids() == {"b"}
        assert [c.id for c in store.get()] == ["b:0"]

    def test_add_is_idempotent_for_the_same_ids(self, store: ChromaChunkStore) -> None:
        self._add_two_documents(store)
        self._add_two_documents(store)
        assert store.count() == 3

    def test_reopening_with_another_embedder_is_refused(
        self, client: Any, store: ChromaChunkStore
    ) -> None:
        with pytest.raises(EmbedderMismatch, match="DOCRAG_EMBEDDING__MODEL"):
            ChromaChunkStore(client, store.name, "another-model:768")

    def test_large_batches_are_split_to_the_client_limit(
        self, store: ChromaChunkStore, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(store, "_max_batch", 7)
        chunks = [StoredChunk(f"d:{i}", "d", f"text {i}") for i in range(20)]
        store.add(chunks, [vec(1, i, 0) for i in range(20)])
        assert store.count() == 20


class TestEmbeddedChroma(ChunkStoreContract):
    @pytest.fixture
    def client(self, tmp_path: Path) -> Any:
        return store_module.connect(path=tmp_path / "chroma")

    def test_data_survives_a_new_client(self, tmp_path: Path) -> None:
        first = ChromaChunkStore(
            store_module.connect(path=tmp_path / "db"), "keep_chunks", FINGERPRINT
        )
        first.add([StoredChunk("x:0", "x", "kept")], [vec(1, 0, 0)])
        again = ChromaChunkStore(
            store_module.connect(path=tmp_path / "db"), "keep_chunks", FINGERPRINT
        )
        assert again.count() == 1


@pytest.mark.integration
class TestChromaServer(ChunkStoreContract):
    @pytest.fixture
    def client(self, chroma_server: tuple[str, int]) -> Any:
        host, port = chroma_server
        return store_module.connect(host=host, port=port)

    def test_unreachable_server_gives_a_clear_error(self) -> None:
        with pytest.raises(StoreUnavailable, match="DOCRAG_CHROMA__HOST"):
            store_module.connect(host="127.0.0.1", port=1)
