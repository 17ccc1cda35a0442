"""One error policy on every face (`/ask`, `/v1/chat/completions`, MCP's ask), from
app/query/dispatch.py: a failure before the chat model's first words keeps its status,
streamed or not; after them it is one error event, the stream's last."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

import anyio
import mcp
import openai
import pytest

from app.errors import ChatModelError
from app.query.answers import StreamEvent, TextDelta
from app.query.dispatch import AnswerStream, StreamFailed
from tests.app.chat_fakes import FakeChatServer, sse_events, stream_reply
from tests.app.test_generation import NOTES, QUESTION, llm_settings
from tests.conftest import free_port

USER = [{"role": "user", "content": QUESTION}]


def closed_port_url() -> str:
    return f"http://127.0.0.1:{free_port()}/v1"  # nothing listens: the connection is refused


@pytest.fixture
def unreachable(make_client: Any) -> Any:
    client = make_client(**llm_settings(closed_port_url()))
    client.post("/documents", files=[("files", ("notes.txt", NOTES))])
    return client


@pytest.fixture
def faked(make_client: Any, fake: FakeChatServer) -> Any:
    client = make_client(**llm_settings(fake.url, timeout_s=2.0))
    client.post("/documents", files=[("files", ("notes.txt", NOTES))])
    return client


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
def test_ask_answers_an_unreachable_chat_model_with_503(unreachable: Any, stream: bool) -> None:
    response = unreachable.post("/ask", json={"question": QUESTION, "stream": stream})
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == "chat_model_unavailable"
    assert "DOCRAG_LLM__BASE_URL" in error["message"]


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
def test_v1_answers_an_unreachable_chat_model_with_503(unreachable: Any, stream: bool) -> None:
    sdk = openai.OpenAI(
        base_url="http://testserver/v1", api_key="x", http_client=unreachable, max_retries=0
    )
    with pytest.raises(openai.InternalServerError) as caught:
        sdk.chat.completions.create(model="docrag-rag", messages=USER, stream=stream)
    assert caught.value.status_code == 503
    assert caught.value.code == "chat_model_unavailable"
    assert "DOCRAG_LLM__BASE_URL" in str(caught.value)


def test_mcp_answers_an_unreachable_chat_model_with_the_same_error(
    make_settings: Any, embedder: Any
) -> None:
    from app.builders import build_parts
    from app.mcp_server import build_mcp_server

    parts = build_parts(make_settings(**llm_settings(closed_port_url())), embedder=embedder)
    parts.pipeline.ingest(NOTES, "notes.txt")

    async def ask() -> Any:
        async with mcp.Client(build_mcp_server(parts)) as client:
            return await client.call_tool("ask", {"question": QUESTION})

    result = anyio.run(ask)
    assert result.is_error
    text = result.content[0].text
    assert "chat_model_unavailable (503)" in text and "DOCRAG_LLM__BASE_URL" in text


def test_ask_stream_breaking_after_the_first_words_ends_with_one_error_event(
    faked: Any, fake: FakeChatServer
) -> None:
    fake.behaviour = stream_reply(["It ", "opens ", "in ", "March"], break_after=2)
    response = faked.post("/ask", json={"question": QUESTION, "stream": True})
    assert response.status_code == 200
    events = sse_events(response.text)
    names = [name for name, _ in events]
    assert names == ["citations", "delta", "delta", "error"]
    assert "".join(d["text"] for n, d in events if n == "delta") == "It opens "
    error = events[-1][1]
    assert error["status"] == 502 and error["error"]["code"] == "chat_model_error"
    assert "broke off" in error["error"]["message"]


def test_v1_stream_breaking_after_the_first_words_ends_with_one_error_chunk(
    faked: Any, fake: FakeChatServer
) -> None:
    fake.behaviour = stream_reply(["It ", "opens ", "in ", "March"], break_after=2)
    response = faked.post(
        "/v1/chat/completions", json={"model": "docrag-rag", "messages": USER, "stream": True}
    )
    assert response.status_code == 200
    data = [body for _, body in sse_events(response.text)]
    errors = [d for d in data if isinstance(d, dict) and "error" in d]
    assert len(errors) == 1 and data[-1] is errors[0]  # the last line; no [DONE] after it
    assert errors[0]["status"] == 502 and errors[0]["error"]["code"] == "chat_model_error"
    assert errors[0]["error"]["type"] == "server_error"
    text = "".join(
        c["delta"].get("content") or ""
        for d in data
        if isinstance(d, dict) and "choices" in d
        for c in d["choices"]
    )
    assert text == "It opens "


def test_a_bug_after_the_start_is_one_generic_error_and_closes_upstream() -> None:
    closed = []

    async def upstream() -> AsyncGenerator[StreamEvent, None]:
        try:
            yield TextDelta("two")
            raise KeyError("secret internals")
        finally:
            closed.append(True)

    async def read() -> list[Any]:
        return [event async for event in AnswerStream([TextDelta("one")], upstream())]

    events = anyio.run(read)
    assert events[:2] == [TextDelta("one"), TextDelta("two")]
    assert len(events) == 3 and isinstance(events[2], StreamFailed)
    error = events[2].error
    assert (error.status_code, error.code) == (500, "internal_error")
    assert "secret" not in error.message
    assert closed == [True]


def test_closing_a_stream_closes_upstream() -> None:
    closed = []

    async def upstream() -> AsyncGenerator[StreamEvent, None]:
        try:
            yield TextDelta("one")
            raise ChatModelError("never reached")
        finally:
            closed.append(True)

    async def read_one() -> Any:
        stream = AnswerStream([], upstream())
        first = await stream.__anext__()
        await stream.aclose()
        return first, [event async for event in stream]

    first, rest = anyio.run(read_one)
    assert first == TextDelta("one") and rest == [] and closed == [True]
