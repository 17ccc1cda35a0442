"""The vision engine against a fake OpenAI-compatible server that reads the page image it is
sent (with tesseract), plus the chat-server failures, each a clear per-page error."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from parsers.ocr import PageUnreadable, VisionEndpoint
from parsers.ocr.vision import VisionOcrEngine
from tests.ocr_samples import FILES, FakeVisionServer, render_pdf_page

PAGE = render_pdf_page((FILES / "three_pages.pdf").read_bytes(), 1, dpi=150)


@pytest.fixture
def server() -> Iterator[FakeVisionServer]:
    fake = FakeVisionServer()
    yield fake
    fake.close()


def engine_for(server: FakeVisionServer, timeout_s: float = 30) -> VisionOcrEngine:
    endpoint = VisionEndpoint(server.url, "qwen2.5-vl", api_key="sk-test", timeout_s=timeout_s)
    return VisionOcrEngine(endpoint, retries=0)


def test_the_page_goes_as_a_base64_png_and_its_transcription_comes_back(
    server: FakeVisionServer,
) -> None:
    text = engine_for(server).read(PAGE)

    assert "lighthouse keeper counted forty-two ships" in text
    (request,) = server.requests
    assert request["model"] == "qwen2.5-vl"
    assert server.headers[0]["Authorization"] == "Bearer sk-test"
    assert server.images[0].size == PAGE.size


def test_the_api_key_is_not_in_the_endpoints_repr() -> None:
    endpoint = VisionEndpoint("http://x/v1", "m", api_key="sk-secret")
    assert "sk-secret" not in repr(endpoint)


def error_body(message: str) -> bytes:
    return json.dumps({"error": {"message": message, "type": "invalid_request_error"}}).encode()


@pytest.mark.parametrize(
    ("fault", "says"),
    [
        ((429, error_body("slow down")), "rate-limiting requests (429"),
        ((503, b"upstream unavailable"), "server error (503)"),
        ((200, b"<html>not json</html>"), "malformed reply"),
        ((200, json.dumps({"choices": []}).encode()), "malformed reply"),
        (
            (400, error_body("image input is not supported - you may need to provide mmproj")),
            "does not accept images",
        ),
        ((401, error_body("bad key")), "refused the API key"),
    ],
)
def test_chat_server_failures_are_clear_page_errors(
    server: FakeVisionServer, fault: tuple[int, bytes], says: str
) -> None:
    server.faults[None] = fault
    with pytest.raises(PageUnreadable, match="qwen2.5-vl") as caught:
        engine_for(server).read(PAGE)
    assert says in str(caught.value)


def test_a_server_that_does_not_answer_in_time_is_a_page_error(server: FakeVisionServer) -> None:
    server.faults[None] = "hang"
    with pytest.raises(PageUnreadable, match="did not answer within 1 s"):
        engine_for(server, timeout_s=1).read(PAGE)


def test_a_429_is_retried_once_before_giving_up(server: FakeVisionServer) -> None:
    server.faults[0] = (429, error_body("slow down"))
    endpoint = VisionEndpoint(server.url, "qwen2.5-vl", timeout_s=30)

    text = VisionOcrEngine(endpoint, retries=1).read(PAGE)

    assert "forty-two ships" in text
    assert len(server.requests) == 2
