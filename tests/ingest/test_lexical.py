"""The BM25 index beside Chroma: tokenisation, filters, fusion, and staying consistent with
the store on add, re-add and delete, also across processes sharing a Chroma server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ingest import store as store_module
from ingest.lexical import BM25Index, Tokenizer, fuse_rankings, matches
from ingest.store import ChromaChunkStore, ChromaRecordStore, StoredChunk


def test_english_words_are_stemmed_and_stop_words_dropped() -> None:
    tokens = Tokenizer()("The studies of running dogs")
    assert tokens == ["studi", "run", "dog"]
    assert Tokenizer()("a study on runs") == ["studi", "run"]


def test_chinese_runs_become_characters_and_bigrams() -> None:
    tokens = Tokenizer()("长江大桥")
    assert set(tokens) == {"长", "江", "大", "桥", "长江", "江大", "大桥"}


def test_jieba_segments_chinese_words() -> None:
    assert "长江大桥" in Tokenizer("jieba")("长江大桥于一九五七年建成通车")


def test_mixed_text_keeps_both_scripts() -> None:
    tokens = Tokenizer()("iPhone销量 grew in 2024年")
    assert {"iphon", "grew", "2024", "销量", "年"} <= set(tokens)


def test_where_language() -> None:
    meta = {"document_id": "a", "filename": "x.pdf", "meta.year": 2024}
    assert matches(meta, {"document_id": "a"})
    assert matches(meta, {"document_id": {"$in": ["b", "a"]}})
    assert not matches(meta, {"$and": [{"document_id": "a"}, {"meta.year": 2023}]})
    assert matches(meta, {"$or": [{"document_id": "b"}, {"meta.year": {"$in": [2024]}}]})


def test_reciprocal_rank_fusion() -> None:
    fused = fuse_rankings([(["a", "b", "c"], 1.0), (["c", "d"], 1.0)], k=60)
    assert [item for item, _ in fused][:1] == ["c"]  # found by both
    assert fused[0][1] == pytest.approx(1 / 63 + 1 / 61)
    only_first = fuse_rankings([(["a"], 1.0), (["b"], 0.0)])
    assert [i for i, _ in only_first] == ["a"]


def vec(i: int) -> list[float]:
    v = [0.0] * 4
    v[i % 4] = 1.0
    return v


class IndexContract:
    @pytest.fixture
    def client(self) -> Any:
        raise NotImplementedError

    @pytest.fixture
    def parts(self, client: Any, tmp_path: Path, request: pytest.FixtureRequest) -> Any:
        name = "l" + str(abs(hash(request.node.nodeid)))[:12]
        store = ChromaChunkStore(client, f"{name}_chunks", "fp")
        generations = ChromaRecordStore(client, f"{name}_meta")

        def index(path: Path | None = tmp_path / "bm25.json.gz") -> BM25Index:
            return BM25Index(
                source=store, generations=generations, tokenizer=Tokenizer(), path=path
            )

        return store, index

    def write(self, store: ChromaChunkStore, index: BM25Index, doc: str, texts: list[str]) -> None:
        store.add(
            [
                StoredChunk(f"{doc}:{i}", doc, t, {"filename": f"{doc}.txt"})
                for i, t in enumerate(texts)
            ],
            [vec(i) for i in range(len(texts))],
        )
        index.mark_changed()

    def test_add_readd_and_delete_stay_consistent(self, parts: Any) -> None:
        store, make = parts
        index = make()
        self.write(store, index, "a", ["the pump model ZX-4417Q failed", "valves and pipes"])
        self.write(store, index, "b", ["長江 flooding report", "pipes freeze in winter"])
        assert [h.chunk_id for h in index.search("ZX-4417Q", 5)] == ["a:0"]
        assert {h.chunk_id for h in index.search("pipes", 5)} == {"a:1", "b:1"}
        # Re-adding the same chunks changes nothing.
        self.write(store, index, "a", ["the pump model ZX-4417Q failed", "valves and pipes"])
        assert index.size() == store.count() == 4
        store.delete_document("a")
        index.mark_changed()
        assert index.search("ZX-4417Q", 5) == []
        assert {h.chunk_id for h in index.search("pipes", 5)} == {"b:1"}
        assert index.size() == store.count() == 2

    def test_filters_apply_inside_the_search(self, parts: Any) -> None:
        store, make = parts
        index = make()
        self.write(store, index, "a", ["pipes " * 5, "pipes and valves"])
        self.write(store, index, "b", ["pipes"])
        hits = index.search("pipes", 2, where={"document_id": "b"})
        assert [h.chunk_id for h in hits] == ["b:0"]
        assert len(index.search("pipes", 2, where={"filename": {"$in": ["a.txt"]}})) == 2

    def test_a_second_process_sees_the_first_ones_writes(self, parts: Any, tmp_path: Path) -> None:
        store, make = parts
        first, second = make(tmp_path / "one.json.gz"), make(tmp_path / "two.json.gz")
        assert second.search("lighthouse", 5) == []
        self.write(store, first, "a", ["the lighthouse keeper"])
        assert [h.chunk_id for h in second.search("lighthouse", 5)] == ["a:0"]
        store.delete_document("a")
        first.mark_changed()
        assert second.search("lighthouse", 5) == []

    def test_saved_tokens_are_reused_and_a_missing_file_is_rebuilt(
        self, parts: Any, tmp_path: Path
    ) -> None:
        store, make = parts
        path = tmp_path / "saved.json.gz"
        self.write(store, make(path), "a", ["harbour stew with smoked paprika"])
        assert [h.chunk_id for h in make(path).search("paprika", 3)] == ["a:0"]
        assert path.exists()
        path.unlink()
        assert [h.chunk_id for h in make(path).search("paprika", 3)] == ["a:0"]
        path.write_bytes(b"not gzip")  # a damaged cache is ignored, not fatal
        assert [h.chunk_id for h in make(path).search("paprika", 3)] == ["a:0"]


class TestEmbeddedChroma(IndexContract):
    @pytest.fixture
    def client(self, tmp_path: Path) -> Any:
        return store_module.connect(path=tmp_path / "chroma")


@pytest.mark.integration
class TestChromaServer(IndexContract):
    @pytest.fixture
    def client(self, chroma_server: tuple[str, int]) -> Any:
        host, port = chroma_server
        return store_module.connect(host=host, port=port)
