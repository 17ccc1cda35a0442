"""Scanned and mixed PDFs: pages without a text layer are rendered and OCR'd, page by page,
with tesseract; a page OCR cannot read fails that page, not the file."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ingest.parsing import ParseLimits, ProcessParser
from ingest.reading import DocumentReader, InProcessParser
from parsers.errors import NoExtractableText
from parsers.ocr import OcrFailed, OcrOptions, OcrSetup, PageUnreadable, build_ocr
from parsers.registry import parse_document
from parsers.types import Page
from tests.ocr_samples import FILES, image_pdf, render_pdf_page

THREE_PAGES = (FILES / "three_pages.pdf").read_bytes()
TYPED = "Harbour office opening hours.\nThe office opens at nine and closes at five."


@pytest.fixture(scope="module")
def tesseract() -> OcrSetup:
    setup = build_ocr(OcrOptions(engine="tesseract"))
    assert setup is not None
    return setup


@pytest.fixture(scope="module")
def mixed_pdf() -> bytes:
    """Page 1 typed, page 2 a scan of a real page (no text layer at all)."""
    return image_pdf(TYPED, render_pdf_page(THREE_PAGES, 1))


def test_a_scanned_pdf_is_read_page_by_page(tesseract: OcrSetup) -> None:
    scan = image_pdf(*(render_pdf_page(THREE_PAGES, n) for n in (1, 2)))

    parsed = parse_document(scan, "scan.pdf", ocr=tesseract)

    assert [(p.number, p.ocr) for p in parsed.pages] == [(1, True), (2, True)]
    assert "forty-two ships entering the bay" in parsed.pages[0].text
    assert "Harbour Survey, page two" in parsed.pages[1].text
    assert [(s.page, s.ocr) for s in parsed.sections] == [(1, True), (2, True)]


def test_a_mixed_pdf_keeps_its_typed_page_and_reads_its_scanned_one(
    tesseract: OcrSetup, mixed_pdf: bytes
) -> None:
    streamed: list[tuple[int, bool, int]] = []

    parsed = parse_document(
        mixed_pdf,
        "mixed.pdf",
        ocr=tesseract,
        on_page=lambda read: streamed.append((read.page.number, read.page.ocr, read.page_count)),
    )

    assert parsed.pages[0] == Page(1, TYPED, ocr=False)
    assert parsed.pages[1].ocr and "forty-two ships" in parsed.pages[1].text
    assert streamed == [(1, False, 2), (2, True, 2)]


def test_without_ocr_the_scanned_page_of_a_mixed_pdf_is_empty(mixed_pdf: bytes) -> None:
    parsed = parse_document(mixed_pdf, "mixed.pdf")
    assert [p.text != "" for p in parsed.pages] == [True, False]


def test_a_pdf_of_shapes_only_says_ocr_found_no_text(tesseract: OcrSetup) -> None:
    with pytest.raises(
        NoExtractableText, match=r"OCR \(tesseract\) found no text on any of its 2 pages"
    ):
        parse_document((FILES / "scanned.pdf").read_bytes(), "scanned.pdf", ocr=tesseract)


class FailingPages:
    """Fault injection: the real engine, except on the given pages (counted in call order)."""

    name = "tesseract"

    def __init__(self, real: Any, failing: set[int]) -> None:
        self.real = real
        self.failing = failing
        self.calls = 0

    def read(self, image: Any) -> str:
        self.calls += 1
        if self.calls in self.failing:
            raise PageUnreadable("the vision model failed with a server error (503)")
        return str(self.real.read(image))


def test_a_page_ocr_cannot_read_fails_that_page_only(tesseract: OcrSetup) -> None:
    scan = image_pdf(*(render_pdf_page(THREE_PAGES, n) for n in (1, 2)))
    setup = OcrSetup(engine=FailingPages(tesseract.engine, {1}))

    parsed = parse_document(scan, "scan.pdf", ocr=setup)

    assert parsed.pages[0].text == ""
    assert "page two" in parsed.pages[1].text


def test_a_file_whose_every_page_fails_is_refused_saying_so(tesseract: OcrSetup) -> None:
    scan = image_pdf(*(render_pdf_page(THREE_PAGES, n) for n in (1, 2)))
    setup = OcrSetup(engine=FailingPages(tesseract.engine, {1, 2}))

    with pytest.raises(OcrFailed) as caught:
        parse_document(scan, "scan.pdf", ocr=setup)

    assert caught.value.code == "ocr_failed"
    assert "could not read any of its 2 pages" in str(caught.value)
    assert "page 1: the vision model failed with a server error (503)" in str(caught.value)


@pytest.fixture
def worker_parser() -> Iterator[ProcessParser]:
    parser = ProcessParser(
        ParseLimits(timeout_s=60, memory_mb=2048, workers=1), ocr=OcrOptions(engine="tesseract")
    )
    yield parser
    parser.close()


def test_ocr_runs_in_the_parse_worker_and_pages_keep_their_flag(
    worker_parser: ProcessParser, mixed_pdf: bytes
) -> None:
    streamed: list[Page] = []

    parsed = worker_parser.parse(mixed_pdf, "mixed.pdf", on_page=lambda r: streamed.append(r.page))

    assert [p.ocr for p in streamed] == [p.ocr for p in parsed.pages] == [False, True]
    assert "forty-two ships" in parsed.pages[1].text
    assert parsed.sections[1].ocr


def test_a_reader_parsing_in_process_reads_scanned_pages_with_the_same_options(
    mixed_pdf: bytes, embedder: Any
) -> None:
    # What a pipeline built without worker processes parses with.
    reader = DocumentReader(
        InProcessParser(ocr=OcrOptions(engine="tesseract")), embedder.count_tokens, 120, 16
    )

    chunks = reader.chunk(reader.parse(mixed_pdf, "mixed.pdf"))

    scanned = [c for c in chunks if c.page_end == 2]
    assert scanned and all(c.ocr for c in scanned)
    assert "forty-two ships" in " ".join(c.text for c in scanned)
    without_ocr = InProcessParser().parse(mixed_pdf, "mixed.pdf")
    assert without_ocr.pages[1].text == ""
