"""Asking while a document is read: the pages stored so far answer questions, the document
and its job say which, and an answer names the documents it searched only in part."""

from __future__ import annotations

from typing import Any

import pytest

from tests import samples as f
from tests.app.test_jobs import Gate, submit, wait_for_job

LIGHTHOUSE = "How many ships did the lighthouse keeper count entering the bay?"  # page 1
WEATHER = "What record gust did the weather station record in January?"  # page 6


@pytest.fixture
def first_batch_only(embedder: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The first batch of the job's chunks is embedded and stored; the rest waits."""
    gate = Gate(embedder, monkeypatch, free=1)
    yield gate
    gate.open()


def test_the_first_pages_answer_while_the_rest_is_read(
    make_client: Any, first_batch_only: Gate
) -> None:
    client = make_client(embedding={"ingest_batch_size": 4})
    (job,) = submit(client, ("report.pdf", f.MULTIPAGE_PDF.read_bytes()))
    assert first_batch_only.waiting.wait(120)

    doc = client.get(f"/documents/{job['document_id']}").json()
    assert doc["status"] == "embedding" and doc["chunks"] == 4
    assert 1 <= doc["answerable_pages"] < f.MULTIPAGE_PDF_PAGES
    assert client.get(f"/jobs/{job['id']}").json()["answerable_pages"] == doc["answerable_pages"]

    early = client.post("/ask", json={"question": LIGHTHOUSE}).json()
    assert "forty-two" in early["answer"]
    assert early["citations"][0]["page"] == 1
    assert early["still_reading"] == [
        {
            "document_id": doc["id"],
            "filename": "report.pdf",
            "answerable_pages": doc["answerable_pages"],
            "chunks": 4,
        }
    ]
    late = client.post("/ask", json={"question": WEATHER}).json()
    assert "160" not in late["answer"]  # page 6 is not read yet

    first_batch_only.open()
    assert wait_for_job(client, job["id"])["status"] == "ready"
    doc = client.get(f"/documents/{job['document_id']}").json()
    assert doc["answerable_pages"] == doc["pages"] == f.MULTIPAGE_PDF_PAGES
    late = client.post("/ask", json={"question": WEATHER}).json()
    assert "160" in late["answer"] and late["still_reading"] == []


def test_a_streamed_answer_names_the_documents_still_read(
    make_client: Any, first_batch_only: Gate
) -> None:
    client = make_client(embedding={"ingest_batch_size": 4})
    (job,) = submit(client, ("report.pdf", f.MULTIPAGE_PDF.read_bytes()))
    assert first_batch_only.waiting.wait(120)
    with client.stream("POST", "/ask", json={"question": LIGHTHOUSE, "stream": True}) as r:
        body = "".join(r.iter_text())
    citations = body.split("event: citations", 1)[1].split("\n\n", 1)[0]
    assert '"still_reading": [{"document_id": "' + job["document_id"] in citations
