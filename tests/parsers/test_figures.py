"""Figures on pages with a text layer: a page that draws an image of a figure's size is sent
to the vision model, whose description becomes a section of that page marked `figure`; the
model's failures cost the description, never the page."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from parsers.ocr import OcrOptions, OcrSetup, VisionEndpoint, build_ocr
from parsers.ocr.vision import FIGURES_PROMPT, VisionOcrEngine
from parsers.registry import parse_document
from tests.figure_samples import CHART_TITLE, PAGE_TEXTS, report_with_chart
from tests.ocr_samples import FakeVisionServer

REPORT = report_with_chart()


@pytest.fixture
def server() -> Iterator[FakeVisionServer]:
    fake = FakeVisionServer()
    yield fake
    fake.close()


@pytest.fixture(scope="module")
def tesseract() -> OcrSetup:
    setup = build_ocr(OcrOptions(engine="tesseract"))
    assert setup is not None
    return setup


def figures_setup(tesseract: OcrSetup, server: FakeVisionServer, timeout_s: float = 30) -> OcrSetup:
    endpoint = VisionEndpoint(server.url, "qwen2.5-vl", timeout_s=timeout_s)
    return OcrSetup(engine=tesseract.engine, dpi=100, figures=VisionOcrEngine(endpoint, retries=0))


def test_the_page_with_a_chart_gets_a_figure_section_from_the_vision_model(
    tesseract: OcrSetup, server: FakeVisionServer
) -> None:
    parsed = parse_document(REPORT, "report.pdf", ocr=figures_setup(tesseract, server))

    assert [p.text for p in parsed.pages] == list(PAGE_TEXTS)
    assert [bool(p.figures) for p in parsed.pages] == [False, True, False]
    (description,) = parsed.pages[1].figures
    assert CHART_TITLE in description  # read from the image the request carried
    assert [(s.page, s.figure) for s in parsed.sections] == [
        (1, False),
        (2, False),
        (2, True),
        (3, False),
    ]
    # One request, for page 2 only: page 3's logo is too small to be a figure.
    (request,) = server.requests
    assert request["messages"][0]["content"][0]["text"] == FIGURES_PROMPT
    assert server.images[0].size == (850, 1100)  # the whole page at 100 dpi


def test_the_options_turn_figure_descriptions_on(server: FakeVisionServer) -> None:
    endpoint = VisionEndpoint(server.url, "qwen2.5-vl")
    off = build_ocr(OcrOptions(engine="tesseract", vision=endpoint))
    on = build_ocr(OcrOptions(engine="tesseract", vision=endpoint, describe_figures=True))

    assert off is not None and off.figures is None
    assert not any(p.figures for p in parse_document(REPORT, "report.pdf", ocr=off).pages)
    assert server.requests == []
    assert on is not None and on.engine.name == "tesseract"
    assert any(p.figures for p in parse_document(REPORT, "report.pdf", ocr=on).pages)


@pytest.mark.parametrize(
    ("fault", "says"),
    [
        ((429, b'{"error": {"message": "slow down"}}'), "rate-limiting requests (429"),
        ((502, b"bad gateway"), "server error (502)"),
        ((200, b"<html>not json</html>"), "malformed reply"),
        (
            (400, b'{"error": {"message": "this model does not support image input"}}'),
            "does not accept images",
        ),
        ("hang", "did not answer within 1 s"),
    ],
)
def test_a_failing_vision_model_costs_the_description_not_the_page(
    tesseract: OcrSetup,
    server: FakeVisionServer,
    caplog: pytest.LogCaptureFixture,
    fault: tuple[int, bytes] | str,
    says: str,
) -> None:
    server.faults[None] = fault
    setup = figures_setup(tesseract, server, timeout_s=1)

    with caplog.at_level(logging.WARNING, logger="parsers.ocr.pdf_pages"):
        parsed = parse_document(REPORT, "report.pdf", ocr=setup)

    assert [p.text for p in parsed.pages] == list(PAGE_TEXTS)
    assert not any(p.figures for p in parsed.pages)
    (warning,) = [r.getMessage() for r in caplog.records]
    assert "figures on page 2 of 'report.pdf' were not described" in warning
    assert says in warning
