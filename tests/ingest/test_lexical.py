"""The lexical index beside Chroma: tokenisation, fusion, incremental writes that agree with a
full build, filters inside the engine, restarts that read nothing again, and two indexes on
one Chroma following each other's writes."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from ingest import store as store_module
from ingest.filters import Filters
from ingest.lexical import ChangeFeed, IndexedChunkStore, LexicalIndex, Tokenizer, fuse_rankings
from ingest.store import ChromaChunkStore, StoredChunk


def test_english_words_are_stemmed_and_stop_words_dropped() -> None:
    tokens = Tokenizer()("The studies of running dogs")
    assert tokens == ["studi", "run", "dog"]
    assert Tokenizer()("a study on runs") == ["studi", "run"]


def test_chinese_runs_become_characters_and_bigrams() -> None:
    tokens = Tokenizer()("长江大桥")
    assert set(tokens) == {"长", "江", "大", "桥", "长江", "江大", "大桥"}


def test_a_chinese_question_is_found_by_the_characters_its_words_cover() -> None:
    terms = Tokenizer().question_terms("MU5735航班坠毁地点在哪里")
    answer = set(Tokenizer()("东航MU5735客机坠毁事故的发生地点位于广西梧州藤县"))
    # Of its bigrams, 班坠, 毁地, 点在, 在哪 and 哪里 span two words or ask the question:
    # counting bigrams, the passage that answers would hold a quarter of the question.
    bigrams = [b for b in Tokenizer()("航班坠毁地点在哪里") if len(b) == 2]
    assert sum(b in answer for b in bigrams) / len(bigrams) < 0.5
    # The question's own words (在, 哪里) are Chinese stop words, cut out as English ones are
    # dropped; counting the characters its bigrams cover (half a term each), the passage
    # holds most of the rest.
    assert terms.cjk_runs == ("航班坠毁地点",)
    assert terms.share(answer.__contains__) == (1 + 4 / 2) / (1 + 6 / 2) > 0.5
    unrelated = set(Tokenizer()("长江大桥于一九五七年建成通车"))
    assert terms.share(unrelated.__contains__) == 0.0
    # English terms are whole words, as in the index.
    english = Tokenizer().question_terms("The flights that crash in winter")
    assert english.words == {"flight", "crash", "winter"} and not english.cjk_runs


def test_jieba_segments_chinese_words() -> None:
    assert "长江大桥" in Tokenizer("jieba")("长江大桥于一九五七年建成通车")


def test_mixed_text_keeps_both_scripts() -> None:
    tokens = Tokenizer()("iPhone销量 grew in 2024年")
    assert {"iphon", "grew", "2024", "销量", "年"} <= set(tokens)


def test_reciprocal_rank_fusion() -> None:
    fused = fuse_rankings([(["a", "b", "c"], 1.0), (["c", "d"], 1.0)], k=60)
    assert [item for item, _ in fused][:1] == ["c"]  # found by both
    assert fused[0][1] == pytest.approx(1 / 63 + 1 / 61)
    only_first = fuse_rankings([(["a"], 1.0), (["b"], 0.0)])
    assert [i for i, _ in only_first] == ["a"]


def test_scores_are_those_of_bm25s_over_the_same_chunks() -> None:
    """docrag's BM25 before the incremental index was bm25s; its k1 and b still hold."""
    import bm25s
    import numpy as np

    from ingest.lexical.engine import IndexedChunk, TantivyBM25

    tokenize = Tokenizer()
    corpus = [tokenize(t) for t in prose_passages(300)]
    corpus.append(["pump"] * 3 + ["valv"])  # a word repeated side by side
    reference = bm25s.BM25(k1=0.9, b=0.4)
    reference.index(corpus, show_progress=False)
    engine = TantivyBM25(None, k1=0.9, b=0.4)
    engine.add([IndexedChunk(str(i), str(i), c, []) for i, c in enumerate(corpus)])
    engine.commit()
    for query in ["exception raised by a method", "default value of an argument", "pump valve"]:
        tokens = [t for t in tokenize(query) if t in reference.vocab_dict]
        scores = reference.get_scores(tokens)
        best = [i for i in np.argsort(-scores)[:10] if scores[i] > 0]
        found = engine.search(tokens, 10, [])
        assert [h.chunk_id for h in found] == [str(i) for i in best]
        assert [h.score for h in found] == pytest.approx([float(scores[i]) for i in best], rel=1e-5)


def prose_passages(n: int) -> list[str]:
    """`n` paragraphs of real English prose that ship with Python (the help topics of its
    documentation), so the test needs no data beside the project."""
    from pydoc_data.topics import topics

    paragraphs = [
        " ".join(p.split())
        for name in sorted(topics)
        for p in topics[name].split("\n\n")
        if len(p.split()) >= 20
    ]
    assert len(paragraphs) >= n
    return paragraphs[:n]


class CountingSource:
    """The chunk store, counting what the index reads from it."""

    def __init__(self, store: ChromaChunkStore) -> None:
        self._store = store
        self.chunks_read = 0
        self.full_scans = 0

    def get(self, where: Any = None, limit: int | None = None) -> list[StoredChunk]:
        found = self._store.get(where, limit)
        self.chunks_read += len(found)
        return found

    def chunk_refs(self, where: Any = None) -> list[tuple[str, str]]:
        self.full_scans += where is None
        return self._store.chunk_refs(where)

    def get_by_ids(self, ids: Sequence[str], *, with_vectors: bool = False) -> Any:
        found = self._store.get_by_ids(ids, with_vectors=with_vectors)
        self.chunks_read += len(found)
        return found


def vec(i: int) -> list[float]:
    v = [0.0] * 4
    v[i % 4] = 1.0
    return v


class IndexContract:
    @pytest.fixture
    def client(self) -> Any:
        raise NotImplementedError

    @pytest.fixture
    def world(self, client: Any, tmp_path: Path, request: pytest.FixtureRequest) -> Any:
        name = "l" + str(abs(hash(request.node.nodeid)))[:12]
        store = ChromaChunkStore(client, f"{name}_chunks", "fp")
        feed = ChangeFeed(ChromaChunkStore(client, f"{name}_feed", "change-feed"))
        return store, feed, tmp_path

    @pytest.fixture
    def make(self, world: Any) -> Iterator[Callable[..., tuple[LexicalIndex, CountingSource]]]:
        store, feed, tmp_path = world

        def make(directory: str = "one", **options: Any) -> tuple[LexicalIndex, CountingSource]:
            source = CountingSource(store)
            index = LexicalIndex(
                collection=store.name,
                source=source,
                feed=feed,
                tokenizer=Tokenizer(),
                directory=tmp_path / directory,
                **options,
            )
            return index, source

        yield make

    def write(
        self,
        store: ChromaChunkStore,
        index: LexicalIndex,
        doc: str,
        texts: list[str],
        meta: dict[str, Any] | None = None,
    ) -> None:
        chunks = [
            StoredChunk(f"{doc}:{i}", doc, t, {"filename": f"{doc}.txt", **(meta or {})})
            for i, t in enumerate(texts)
        ]
        IndexedChunkStore(store, index).add(chunks, [vec(i) for i in range(len(texts))])
        index.publish()

    def delete(self, store: ChromaChunkStore, index: LexicalIndex, doc: str) -> None:
        IndexedChunkStore(store, index).delete_document(doc)
        index.publish()

    def test_add_readd_and_delete_stay_consistent(self, world: Any, make: Any) -> None:
        store = world[0]
        index, _ = make()
        self.write(store, index, "a", ["the pump model ZX-4417Q failed", "valves and pipes"])
        self.write(store, index, "b", ["長江 flooding report", "pipes freeze in winter"])
        assert [h.chunk_id for h in index.search("ZX-4417Q", 5)] == ["a:0"]
        assert {h.chunk_id for h in index.search("pipes", 5)} == {"a:1", "b:1"}
        # Re-adding the same chunks changes nothing.
        self.write(store, index, "a", ["the pump model ZX-4417Q failed", "valves and pipes"])
        assert index.size() == store.count() == 4
        self.delete(store, index, "a")
        assert index.search("ZX-4417Q", 5) == []
        assert {h.chunk_id for h in index.search("pipes", 5)} == {"b:1"}
        assert index.size() == store.count() == 2

    def test_incremental_writes_rank_as_a_full_build_does(self, world: Any, make: Any) -> None:
        store = world[0]
        index, _ = make("incremental")
        passages = prose_passages(240)
        for d in range(12):
            self.write(store, index, f"d{d}", passages[d * 20 : (d + 1) * 20])
        for d in (3, 7):
            self.delete(store, index, f"d{d}")
        self.write(store, index, "d3", passages[60:70])  # back, shorter
        built, source = make("built")  # a new directory: built from every chunk in Chroma
        queries = [
            "exception handling",
            "default argument value",
            "class instance attribute",
            "string object",
            "iterator returns the next item",
        ]
        for query in queries:
            incremental = [(h.chunk_id, round(h.score, 6)) for h in index.search(query, 10)]
            full = [(h.chunk_id, round(h.score, 6)) for h in built.search(query, 10)]
            assert incremental == full and incremental
        assert not any(h.chunk_id.startswith("d7:") for h in index.search("object", 100))
        assert source.full_scans == 1

    def test_filters_keep_the_unfiltered_ranking_of_matching_chunks(
        self, world: Any, make: Any
    ) -> None:
        store = world[0]
        index, _ = make()
        passages = prose_passages(90)
        for d in range(9):
            year = 2020 + d % 3
            chunks = passages[d * 10 : (d + 1) * 10]
            self.write(store, index, f"d{d}", chunks, {"meta.year": year, "meta.team": f"t{d % 2}"})
        everything = index.search("object", 90)
        filters = [
            Filters(document_ids=("d1", "d4")),
            Filters(filenames=("d2.txt",)),
            Filters(metadata={"year": [2021, 2022], "team": "t0"}),
            Filters(document_ids=("d0", "d1", "d2"), metadata={"year": 2020}),
        ]
        for f in filters:
            allowed = {c.id for c in store.get(where=f.where())}
            expected = [h.chunk_id for h in everything if h.chunk_id in allowed][:5]
            assert [h.chunk_id for h in index.search("object", 5, f)] == expected and expected
        assert index.search("object", 5, Filters(metadata={"year": 1999})) == []

    def test_a_filter_lists_the_chunks_chroma_keeps_with_their_vectors(
        self, world: Any, make: Any
    ) -> None:
        store = world[0]
        index, _ = make()
        passages = prose_passages(60)
        for d in range(6):
            chunks = passages[d * 10 : (d + 1) * 10]
            self.write(store, index, f"d{d}", chunks, {"meta.year": 2020 + d % 3})
        self.delete(store, index, "d4")
        follower, _ = make("follower", follow_interval_s=0)  # built from Chroma
        filters = [
            Filters(document_ids=("d1", "d4")),
            Filters(filenames=("d2.txt", "d5.txt")),
            Filters(metadata={"year": [2021, 2022]}),
            Filters(document_ids=("d0", "d3"), metadata={"year": 2020}),
            Filters(metadata={"year": 1999}),
        ]
        self.write(store, index, "d6", passages[:3], {"meta.year": 2022})  # followed
        for f in filters:
            expected = {c.id for c in store.get(where=f.where())}
            stored = store.get_by_ids(sorted(expected), with_vectors=True)
            for lexical in (index, follower):
                listed = lexical.matching_chunks(f, 50)
                assert listed is not None and sorted(listed.ids) == sorted(expected)
                assert listed.known.all()
                for chunk_id, row in zip(listed.ids, listed.vectors, strict=True):
                    assert row.tolist() == pytest.approx(stored[chunk_id][1])
        # Above the limit the index says so rather than listing a part.
        two_years = Filters(metadata={"year": [2020, 2021]})
        assert index.matching_chunks(two_years, 29) is None
        assert len(getattr(index.matching_chunks(two_years, 30), "ids", [])) == 30

    def test_the_context_header_is_found_with_the_text(self, world: Any, make: Any) -> None:
        store = world[0]
        index, _ = make()
        chunk = StoredChunk(
            "r:0", "r", "revenue grew by a tenth", {"context": "Harbourside Annual Report"}
        )
        IndexedChunkStore(store, index).add([chunk], [vec(0)])
        index.publish()
        assert [h.chunk_id for h in index.search("harbourside", 3)] == ["r:0"]
        assert index.term_overlap("harbourside revenue", chunk.text, "r:0") == 1.0

    def test_a_second_index_follows_the_first_ones_writes(self, world: Any, make: Any) -> None:
        store = world[0]
        first, _ = make("one", follow_interval_s=0)
        second, source = make("two", follow_interval_s=0)
        assert second.search("lighthouse", 5) == []
        self.write(store, first, "a", ["the lighthouse keeper"])
        read_before = source.chunks_read
        assert [h.chunk_id for h in second.search("lighthouse", 5)] == ["a:0"]
        assert source.chunks_read - read_before == 1  # only the changed document
        self.write(store, second, "b", ["a lighthouse on the cliff", "gulls"])
        assert {h.chunk_id for h in first.search("lighthouse", 5)} == {"a:0", "b:0"}
        self.delete(store, first, "a")
        assert [h.chunk_id for h in second.search("lighthouse", 5)] == ["b:0"]

    def test_a_restart_reads_only_what_changed_meanwhile(self, world: Any, make: Any) -> None:
        store = world[0]
        index, _ = make("kept")
        for d in range(5):
            self.write(store, index, f"d{d}", prose_passages(5 * (d + 1))[-5:])
        other, _ = make("other")
        del index
        self.write(store, other, "late", ["written while the first index was down: paprika"])
        restarted, source = make("kept")
        assert [h.chunk_id for h in restarted.search("paprika", 3)] == ["late:0"]
        assert restarted.size() == store.count() == 26
        assert source.full_scans == 0
        assert source.chunks_read == 1  # the one document written meanwhile

    def test_a_damaged_state_builds_the_index_again(
        self, world: Any, make: Any, tmp_path: Path
    ) -> None:
        store = world[0]
        index, _ = make("damaged")
        self.write(store, index, "a", ["harbour stew with smoked paprika"])
        directory = index.directory
        assert directory is not None
        del index
        (directory / "docrag-lexical.json").write_text("not json")
        again, source = make("damaged")
        assert [h.chunk_id for h in again.search("paprika", 3)] == ["a:0"]
        assert source.full_scans == 1


class TestEmbeddedChroma(IndexContract):
    @pytest.fixture
    def client(self, tmp_path: Path) -> Any:
        return store_module.connect(path=tmp_path / "chroma")

    def test_an_index_of_the_format_before_vectors_is_built_again(
        self, world: Any, make: Any, tmp_path: Path
    ) -> None:
        """An upgrade: the index on disk has the schema of docrag before vectors were stored
        beside the tokens; it is replaced by one built from Chroma, vectors included."""
        import json

        import tantivy

        store = world[0]
        index, _ = make("old")
        self.write(store, index, "a", ["harbour stew with smoked paprika", "sea salt"])
        directory = index.directory
        assert directory is not None
        del index
        for child in directory.iterdir():
            child.unlink()
        builder = tantivy.SchemaBuilder()
        builder.add_text_field("chunk_id", stored=True, tokenizer_name="raw")
        builder.add_text_field("terms", stored=True, tokenizer_name="whitespace")
        old = tantivy.Index(builder.build(), path=str(directory), reuse=False)
        writer = old.writer(15_000_000, 1)
        writer.add_document(tantivy.Document(chunk_id="a:0", terms="paprika"))
        writer.commit()
        del writer, old
        state = {"signature": "1:v1:bigram:stem:" + store.name, "cursor": 1e12}
        (directory / "docrag-lexical.json").write_text(json.dumps({**state, "origin": "x"}))
        upgraded, source = make("old")
        assert [h.chunk_id for h in upgraded.search("paprika", 3)] == ["a:0"]
        assert source.full_scans == 1
        listed = upgraded.matching_chunks(Filters(document_ids=("a",)), 10)
        assert listed is not None and sorted(listed.ids) == ["a:0", "a:1"]
        assert listed.known.all()


WRITER_PROCESS = """
import sys
from pathlib import Path
from ingest import store as store_module
from ingest.lexical import ChangeFeed, IndexedChunkStore, LexicalIndex, Tokenizer
from ingest.store import ChromaChunkStore, StoredChunk

host, port, name, directory = sys.argv[1], int(sys.argv[2]), sys.argv[3], Path(sys.argv[4])
client = store_module.connect(host=host, port=port)
store = ChromaChunkStore(client, name + "_chunks", "fp")
feed = ChangeFeed(ChromaChunkStore(client, name + "_feed", "change-feed"))
index = LexicalIndex(
    collection=store.name, source=store, feed=feed, tokenizer=Tokenizer(), directory=directory
)
writes = IndexedChunkStore(store, index)
if sys.argv[5] == "add":
    chunk = StoredChunk("p:0", "p", "a porcupine crossed the road", {})
    writes.add([chunk], [[0.0, 1.0, 0.0, 0.0]])
else:
    writes.delete_document("p")
index.publish()
"""


@pytest.mark.integration
class TestChromaServer(IndexContract):
    @pytest.fixture
    def client(self, chroma_server: tuple[str, int]) -> Any:
        host, port = chroma_server
        return store_module.connect(host=host, port=port)

    def test_another_process_writes_are_found_here(
        self, chroma_server: tuple[str, int], world: Any, make: Any
    ) -> None:
        store, _, tmp_path = world
        here, _ = make("here", follow_interval_s=0)
        assert here.search("porcupine", 3) == []
        name = store.name.removesuffix("_chunks")

        def other_process(action: str) -> None:
            host, port = chroma_server
            argv = [host, str(port), name, str(tmp_path / "there"), action]
            subprocess.run(
                [sys.executable, "-c", WRITER_PROCESS, *argv],
                check=True,
                cwd=Path(__file__).resolve().parents[2],
                timeout=120,
            )

        other_process("add")
        assert [h.chunk_id for h in here.search("porcupine", 3)] == ["p:0"]
        other_process("delete")
        assert here.search("porcupine", 3) == []
