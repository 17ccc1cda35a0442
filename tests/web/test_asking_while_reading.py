"""Asking while a long document is read: the library says which pages answer already, a
question asked then is answered from them, and the answer says only those were searched."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.web.conftest import DocragServer, running_docrag, screenshot
from tests.web.test_web_page import ask

pytestmark = [pytest.mark.browser, pytest.mark.integration]

PAGES = 120
FACT = "The lighthouse keeper counted forty-two ships entering the bay on Monday."


def long_report(path: Path) -> Path:
    """A report of PAGES pages; the first holds a fact found nowhere else."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate

    styles = getSampleStyleSheet()
    story: list[Any] = []
    for number in range(1, PAGES + 1):
        story.append(Paragraph(f"Harbour log, day {number}", styles["Heading2"]))
        lines = [f"On day {number} the tide tables were checked at pier {k}." for k in range(12)]
        if number == 1:
            lines.insert(5, FACT)
        story.append(Paragraph(" ".join(lines), styles["BodyText"]))
        story.append(PageBreak())
    SimpleDocTemplate(str(path), pagesize=A4, title="Harbour log").build(story)
    return path


@pytest.fixture(scope="module")
def slow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DocragServer]:
    # One chunk per batch: the document is written in many small steps, so a person has
    # time to ask while it is read.
    with running_docrag(
        tmp_path_factory.mktemp("web-reading"), {"DOCRAG_EMBEDDING__INGEST_BATCH_SIZE": "1"}
    ) as server:
        yield server


def test_a_question_asked_while_the_document_is_read_is_answered_from_its_first_pages(
    open_page: Callable[..., Any], slow_server: DocragServer, tmp_path: Path
) -> None:
    page = open_page(slow_server.url)
    page.locator("#no-documents").wait_for()
    page.set_input_files("#file-input", [long_report(tmp_path / "harbour-log.pdf")])
    row = page.locator("#documents tbody tr", has_text="harbour-log.pdf")
    row.locator("td.status", has_text="answerable so far: pages 1–").wait_for()
    assert row.get_attribute("data-status") == "embedding"

    reply = ask(page, "How many ships did the lighthouse keeper count entering the bay?")
    assert "forty-two" in reply.locator(".text").inner_text()
    assert reply.locator(".text .chip").count() >= 1
    note = reply.locator(".still-reading").inner_text()
    assert note.startswith("harbour-log.pdf is still being read: only pages 1–"), note
    screenshot(page, "asking-while-reading-1280.png")

    row.locator("td.status-ready").wait_for()
    assert row.locator("td").first.inner_text() == str(PAGES)
