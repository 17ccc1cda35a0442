"""Hybrid retrieval through HTTP: what BM25 adds, what dense search adds, filters that keep
top-k full, Chinese questions, and neighbouring context."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests import samples as f

PUMPS = [
    f"Maintenance log entry {i}. The circulation pump in building {i} was inspected; "
    "seals, bearings and the impeller were checked and found in order."
    for i in range(8)
]
CODE = (
    "Maintenance log entry 99. A replacement part with order code ZX-4417Q was fitted to the "
    "pump in the basement."
)
PARAPHRASE = "The automobile would not start on icy mornings until the battery was replaced."


def upload(client: Any, name: str, text: str, metadata: dict[str, Any] | None = None) -> Any:
    data = {"metadata": json.dumps(metadata)} if metadata is not None else None
    response = client.post("/documents", files=[("files", (name, text.encode("utf-8")))], data=data)
    assert response.status_code in (200, 201), response.text
    return response.json()["documents"][0]


def ask(client: Any, question: str, **extra: Any) -> dict[str, Any]:
    response = client.post("/ask", json={"question": question, **extra})
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture
def corpus(client: Any) -> Any:
    for i, text in enumerate(PUMPS):
        upload(client, f"log{i}.txt", text)
    upload(client, "parts.txt", CODE)
    upload(client, "car.txt", PARAPHRASE)
    return client


def test_an_exact_rare_term_found_only_by_bm25_reaches_the_top(corpus: Any) -> None:
    body = ask(corpus, "ZX-4417Q", top_k=3)
    assert body["grounded"]
    assert body["citations"][0]["filename"] == "parts.txt"


def test_a_paraphrase_found_only_by_dense_search_reaches_the_top(corpus: Any) -> None:
    body = ask(corpus, "Why did the car fail to ignite when it was freezing?", top_k=3)
    assert "car.txt" in [c["filename"] for c in body["citations"]]


def test_modes_are_selectable(make_client: Any) -> None:
    # A paraphrase shares no word with its passage (nor with its file name, which the
    # context header indexes): dense search finds it, BM25 cannot.
    paraphrase = "Why did the car fail to ignite when it was freezing?"
    cited = {}
    for mode in ("dense", "lexical"):
        client = make_client(retrieval={"mode": mode})
        upload(client, "parts.txt", CODE)
        upload(client, "battery.txt", PARAPHRASE)
        assert ask(client, "order code ZX-4417Q")["citations"][0]["filename"] == "parts.txt"
        cited[mode] = [c["filename"] for c in ask(client, paraphrase)["citations"]]
    assert cited["dense"][:1] == ["battery.txt"]
    assert "battery.txt" not in cited["lexical"]


def test_chinese_question_finds_the_chinese_passage(client: Any) -> None:
    client.post("/documents", files=[("files", ("长江.txt", f.GBK_TEXT.read_bytes()))])
    upload(client, "log.txt", PUMPS[0])
    body = ask(client, "三峡工程的主要作用是什么？")
    assert body["grounded"] is True
    assert body["citations"][0]["filename"] == "长江.txt"
    assert "防洪" in body["answer"]


def test_filters_keep_top_k_full_with_matching_chunks(make_client: Any) -> None:
    client = make_client(embedding={"chunk_size": 40, "chunk_overlap": 8})
    legal = upload(client, "legal.txt", " ".join(PUMPS[:4]), {"team": "legal", "year": 2024})
    sales = upload(client, "sales.txt", " ".join(PUMPS[4:]), {"team": "sales", "year": 2023})
    assert legal["chunks"] >= 3 and sales["chunks"] >= 3
    assert legal["metadata"] == {"team": "legal", "year": 2024}

    by_metadata = ask(client, "pump inspection", top_k=3, metadata={"team": "legal"})
    assert [c["document_id"] for c in by_metadata["citations"]] == [legal["id"]] * 3
    by_in = ask(client, "pump inspection", top_k=3, metadata={"year": {"$in": [2023]}})
    assert [c["document_id"] for c in by_in["citations"]] == [sales["id"]] * 3
    by_name = ask(client, "pump inspection", top_k=3, filenames=["sales.txt"])
    assert {c["filename"] for c in by_name["citations"]} == {"sales.txt"}
    assert len(by_name["citations"]) == 3
    nothing = ask(client, "pump inspection", metadata={"team": "nobody"})
    assert nothing["grounded"] is False and nothing["citations"] == []


def test_neighbouring_chunks_widen_a_source(make_client: Any) -> None:
    client = make_client(embedding={"chunk_size": 40, "chunk_overlap": 8})
    doc = upload(client, "story.txt", " ".join(PUMPS[:3]) + " " + CODE)
    assert doc["chunks"] >= 3
    narrow = ask(client, "order code ZX-4417Q", top_k=1)["citations"][0]
    wide = ask(client, "order code ZX-4417Q", top_k=1, expand_neighbors=1)["citations"][0]
    assert "ZX-4417Q" in narrow["text"] and "ZX-4417Q" in wide["text"]
    assert len(wide["text"]) > len(narrow["text"])
    assert wide["text"].count("ZX-4417Q") == 1  # overlaps are merged, not repeated


def test_mmr_trades_near_duplicates_for_a_different_passage(make_client: Any) -> None:
    # Four near-identical logs answer best; MMR gives a place to a pump passage that says
    # something else, which plain ranking leaves behind them.
    other = "The heat pump in the gym was serviced last spring; its bearings were replaced."
    cited = {}
    for mmr in (False, True):
        client = make_client(retrieval={"mmr": mmr, "mmr_lambda": 0.5})
        for i, text in enumerate(PUMPS[:4]):
            upload(client, f"log{i}.txt", text)
        upload(client, "parts.txt", CODE)
        upload(client, "gym.txt", other)
        body = ask(client, "pump inspection seals bearings", top_k=3)
        assert body["grounded"] and len(body["citations"]) == 3
        cited[mmr] = [c["filename"] for c in body["citations"]]
    assert all(name.startswith("log") for name in cited[False]), cited[False]
    assert "gym.txt" in cited[True], cited[True]


@pytest.mark.parametrize(
    "metadata",
    [
        "{not json",
        "[1, 2]",
        '{"nested": {"a": 1}}',
        '{"bad key!": 1}',
        json.dumps({"k": "x" * 2000}),
    ],
)
def test_bad_upload_metadata_is_422(client: Any, metadata: str) -> None:
    response = client.post(
        "/documents", files=[("files", ("a.txt", b"some text here"))], data={"metadata": metadata}
    )
    assert response.status_code == 422
    assert "metadata" in response.json()["error"]["message"]
    assert client.get("/documents").json()["total"] == 0


def test_bad_filters_are_422(client: Any) -> None:
    for payload in (
        {"metadata": {"team": {"$gt": 3}}},
        {"metadata": {"team": {"$in": []}}},
        {"expand_neighbors": 9},
        {"filenames": "a.txt"},
    ):
        response = client.post("/ask", json={"question": "q", **payload})
        assert response.status_code == 422, payload


def test_unrelated_chinese_question_is_not_grounded_by_an_unreadable_cosine(client: Any) -> None:
    # all-MiniLM-L6-v2 reads no Chinese: its cosines between Chinese texts are high and
    # meaningless, so they must not let an unrelated question through the gate.
    client.post("/documents", files=[("files", ("长江.txt", f.GBK_TEXT.read_bytes()))])
    body = ask(client, "量子计算机的发明者是谁？")
    assert body["grounded"] is False and body["citations"] == []


def test_the_embedder_knows_which_tokens_it_can_read(embedder: Any) -> None:
    assert embedder.known_token_share("What is the main purpose of the dam?") == 1.0
    assert embedder.known_token_share("三峡工程的主要作用是什么？") < 0.5
