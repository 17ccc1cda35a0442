"""Scanned, mixed and image uploads over HTTP: OCR'd pages are indexed with their page numbers,
found by /ask and marked `ocr` in citations and content; a vision model's failures cost pages,
not files; with OCR off such files keep their clear 422."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest

from tests.ocr_samples import FakeVisionServer, image_pdf, render_pdf_page

FACTS = (
    "The harbour crane was painted orange in the spring.",
    "Forty seagulls nest on the roof of the customs house.",
    "The ferry to Ostholm leaves every morning at seven.",
    "A bronze statue of a fisherman stands near the pier.",
    "The lighthouse lamp was replaced with a modern lens.",
    "Tidal gauges record the water level every ten minutes.",
    "The fish market closes early on public holidays.",
    "A wooden boathouse stores the lifeboats during winter.",
    "The old granary was converted into a maritime museum.",
    "Dredging keeps the channel nine metres deep for tankers.",
)


def scanned_pdf(pages: list[str]) -> bytes:
    """A PDF typed with reportlab, each page rendered by pdfium and put back as an image: a
    scan with no text layer."""
    typed = image_pdf(*pages)
    return image_pdf(*(render_pdf_page(typed, n) for n in range(1, len(pages) + 1)))


def upload(client: Any, name: str, data: bytes, **params: Any) -> Any:
    return client.post("/documents", files=[("files", (name, data))], params=params)


def ask(client: Any, question: str) -> dict[str, Any]:
    response = client.post("/ask", json={"question": question})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def top_citation(client: Any, question: str) -> dict[str, Any]:
    body = ask(client, question)
    assert body["grounded"], body
    citation: dict[str, Any] = body["citations"][0]
    return citation


def page_lines(n: int) -> str:
    return f"Harbour facts, page {n}.\n{FACTS[n - 1]}"


def assert_cites_page(client: Any, question: str, page: int, fact: str) -> None:
    """The top citation quotes the fact, from a span of at most two pages holding `page`,
    and is marked as read by OCR."""
    citation = top_citation(client, question)
    where = (citation["page"], citation["page_end"] or citation["page"])
    assert where[0] <= page <= where[1] and where[1] - where[0] <= 1, (question, citation)
    assert fact in " ".join(citation["text"].split()), (question, citation)
    assert citation["ocr"] is True


# Chunks shorter than two of these short pages, so that a chunk does not join pages.
SMALL_CHUNKS = {"embedding": {"chunk_size": 24, "chunk_overlap": 0}}


def test_a_scanned_ten_page_pdf_gives_cited_answers_with_the_right_pages(
    make_client: Any,
) -> None:
    client = make_client(**SMALL_CHUNKS)
    response = upload(client, "scan.pdf", scanned_pdf([page_lines(n) for n in range(1, 11)]))

    assert response.status_code == 201, response.text
    document = response.json()["documents"][0]
    assert document["pages"] == 10
    for question, page, fact in (
        ("Which colour was the harbour crane painted?", 1, "painted orange"),
        ("When does the ferry to Ostholm leave?", 3, "every morning at seven"),
        ("How deep is the channel kept for tankers?", 10, "nine metres deep"),
    ):
        assert_cites_page(client, question, page, fact)


def test_a_mixed_pdf_keeps_every_page_and_marks_only_the_scanned_one(
    make_client: Any,
) -> None:
    client = make_client(**SMALL_CHUNKS)
    typed = "Opening hours.\nThe harbour office opens at nine and closes at five."
    scan = render_pdf_page(image_pdf(page_lines(2)), 1)
    response = upload(client, "mixed.pdf", image_pdf(typed, scan))

    assert response.status_code == 201, response.text
    document = response.json()["documents"][0]
    content = client.get(f"/documents/{document['id']}/content").json()["pages"]
    assert [(p["number"], p["ocr"]) for p in content] == [(1, False), (2, True)]
    assert "seagulls nest on the roof" in content[1]["text"]

    scanned = top_citation(client, "How many seagulls nest on the customs house?")
    assert (scanned["page"], scanned["ocr"]) == (2, True)
    typed_page = top_citation(client, "When does the harbour office open?")
    assert (typed_page["page"], typed_page["ocr"]) == (1, False)


def test_a_png_photo_of_a_page_becomes_a_one_page_document(client: Any) -> None:
    buffer = io.BytesIO()
    render_pdf_page(image_pdf(page_lines(4)), 1).save(buffer, format="PNG")

    response = upload(client, "photo.png", buffer.getvalue())

    assert response.status_code == 201, response.text
    document = response.json()["documents"][0]
    assert (document["media_type"], document["pages"]) == ("image/png", 1)
    citation = top_citation(client, "What stands near the pier?")
    assert (citation["filename"], citation["page"], citation["ocr"]) == ("photo.png", 1, True)


def test_with_ocr_off_scans_and_images_keep_their_clear_refusal(make_client: Any) -> None:
    client = make_client(ocr={"engine": "off"})

    scan = upload(client, "scan.pdf", scanned_pdf([page_lines(1)]))
    buffer = io.BytesIO()
    render_pdf_page(image_pdf(page_lines(1)), 1).save(buffer, format="PNG")
    photo = upload(client, "photo.png", buffer.getvalue())

    assert scan.status_code == 422
    assert scan.json()["error"]["code"] == "no_text_layer"
    assert "DOCRAG_OCR__ENGINE" in scan.json()["error"]["message"]
    assert photo.status_code == 415
    assert "OCR" in photo.json()["error"]["message"]
    assert client.get("/documents").json()["total"] == 0


@pytest.fixture
def vision_server() -> Iterator[FakeVisionServer]:
    server = FakeVisionServer()
    yield server
    server.close()


def vision_client(make_client: Any, server: FakeVisionServer) -> Any:
    return make_client(
        ocr={"engine": "vision", "dpi": 150},
        vision={"base_url": server.url, "model": "qwen2.5-vl", "api_key": "sk-test"},
        **SMALL_CHUNKS,
    )


def test_the_vision_engine_reads_scans_and_a_failing_page_costs_only_that_page(
    make_client: Any, vision_server: FakeVisionServer
) -> None:
    # Page 2 fails, and so does the one retry of it.
    vision_server.faults[1] = vision_server.faults[2] = (503, b'{"error": {"message": "busy"}}')
    client = vision_client(make_client, vision_server)

    response = upload(client, "scan.pdf", scanned_pdf([page_lines(n) for n in (1, 2, 3)]))

    assert response.status_code == 201, response.text
    document = response.json()["documents"][0]
    content = client.get(f"/documents/{document['id']}/content").json()["pages"]
    assert [p["number"] for p in content] == [1, 2, 3]
    assert content[1]["text"] == ""  # the page the server failed on
    assert "painted orange" in content[0]["text"] and "Ostholm" in content[2]["text"]
    assert all(h["Authorization"] == "Bearer sk-test" for h in vision_server.headers)
    assert_cites_page(client, "When does the ferry to Ostholm leave?", 3, "morning at seven")


def test_a_file_whose_every_page_the_vision_model_fails_is_a_422_saying_so(
    make_client: Any, vision_server: FakeVisionServer
) -> None:
    vision_server.faults[None] = (
        400,
        b'{"error": {"message": "this model does not support image input"}}',
    )
    client = vision_client(make_client, vision_server)

    response = upload(client, "scan.pdf", scanned_pdf([page_lines(1), page_lines(2)]))

    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "ocr_failed"
    assert "could not read any of its 2 pages" in error["message"]
    assert "does not accept images" in error["message"]
    assert "sk-test" not in error["message"]
    assert client.get("/documents").json()["total"] == 0


@pytest.mark.slow
def test_rapidocr_gives_cited_answers_with_the_right_pages(make_client: Any) -> None:
    client = make_client(ocr={"engine": "rapidocr"}, **SMALL_CHUNKS)

    response = upload(client, "scan.pdf", scanned_pdf([page_lines(n) for n in range(1, 11)]))

    assert response.status_code == 201, response.text
    for question, page, fact in (
        ("What was converted into a maritime museum?", 9, "maritime museum"),
        ("How often do tidal gauges record the water level?", 6, "every ten minutes"),
    ):
        assert_cites_page(client, question, page, fact)


def test_a_background_job_reports_the_ocr_stage_with_pages_done(client: Any) -> None:
    import time

    data = scanned_pdf([page_lines(n) for n in range(1, 5)])
    job = upload(client, "scan.pdf", data, wait="false").json()["jobs"][0]
    seen: list[tuple[str, int, int]] = []
    deadline = time.monotonic() + 180
    while job["status"] not in ("ready", "failed") and time.monotonic() < deadline:
        time.sleep(0.1)
        job = client.get(f"/jobs/{job['id']}").json()
        seen.append((job["status"], job["pages_done"], job["pages_total"]))
    assert job["status"] == "ready", job
    ocr = [(done, total) for status, done, total in seen if status == "ocr"]
    assert ocr, seen  # the slow stage is named while it runs
    assert all(1 <= done <= total == 4 for done, total in ocr)
    assert [d for d, _ in ocr] == sorted(d for d, _ in ocr)  # pages only go forward
