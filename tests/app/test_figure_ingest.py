"""Figures over HTTP: with `vision.describe_figures`, the chart on a typed page is described
by the vision model (in the parse worker), indexed as its own chunk of that page, and cited
with `figure: true`; when the model fails, the document still ingests with all its text."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.figure_samples import CHART_TITLE, report_with_chart
from tests.ocr_samples import FakeVisionServer

SMALL_CHUNKS = {"embedding": {"chunk_size": 48, "chunk_overlap": 0}}


@pytest.fixture
def vision_server() -> Iterator[FakeVisionServer]:
    server = FakeVisionServer()
    yield server
    server.close()


def figures_client(make_client: Any, server: FakeVisionServer) -> Any:
    return make_client(
        ocr={"dpi": 100},
        vision={
            "base_url": server.url,
            "model": "qwen2.5-vl",
            "describe_figures": True,
            "timeout_s": 5,
        },
        **SMALL_CHUNKS,
    )


def upload_report(client: Any) -> dict[str, Any]:
    response = client.post("/documents", files=[("files", ("report.pdf", report_with_chart()))])
    assert response.status_code == 201, response.text
    document: dict[str, Any] = response.json()["documents"][0]
    return document


def citations(client: Any, question: str) -> list[dict[str, Any]]:
    response = client.post("/ask", json={"question": question})
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["citations"]
    return found


def test_a_chart_is_described_indexed_on_its_page_and_cited_as_a_figure(
    make_client: Any, vision_server: FakeVisionServer
) -> None:
    client = figures_client(make_client, vision_server)

    document = upload_report(client)

    assert document["pages"] == 3
    assert len(vision_server.requests) == 1  # only page 2 draws a figure
    top = citations(client, "What does the seal colony census chart show?")[0]
    assert (top["page"], top["figure"], top["ocr"]) == (2, True, False)
    assert CHART_TITLE.lower() in top["text"].lower()
    typed = citations(client, "When does the harbour office open?")[0]
    assert (typed["page"], typed["figure"]) == (1, False)


def test_a_failing_vision_model_leaves_the_text_pages_ingested(
    make_client: Any, vision_server: FakeVisionServer
) -> None:
    vision_server.faults[None] = (503, b'{"error": {"message": "overloaded"}}')
    client = figures_client(make_client, vision_server)

    document = upload_report(client)

    content = client.get(f"/documents/{document['id']}/content").json()["pages"]
    assert [p["number"] for p in content] == [1, 2, 3]
    assert "wildlife survey team" in content[1]["text"]
    assert vision_server.requests  # it was asked, and failed
    found = citations(client, "When does the ferry to Ostholm leave?")
    assert (found[0]["page"], found[0]["figure"]) == (3, False)
    assert not any(c["figure"] for c in found)
