"""POST /ask with "stream": true: Server-Sent Events in the order citations, delta..., done;
errors before the chat model's first words keep their status, later ones are an `error`
event; a client that goes away stops the generation."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from app.query.answering import not_found_message
from app.query.citations import check_markers
from tests.app.chat_fakes import (
    FakeChatServer,
    LiveServer,
    StreamLog,
    sse_events,
    stream_reply,
)
from tests.app.test_generation import NOTES, QUESTION, llm_settings


def ask_stream(client: Any, **body: Any) -> tuple[httpx.Response, list[tuple[str, Any]]]:
    response = client.post("/ask", json={"question": QUESTION, "stream": True, **body})
    return response, sse_events(response.text)


def names(events: list[tuple[str, Any]]) -> list[str]:
    return [name for name, _ in events]


@pytest.mark.llm
@pytest.mark.integration
def test_real_server_streams_citations_then_deltas_then_done(
    make_client: Any, llm_server: str
) -> None:
    client = make_client(**llm_settings(llm_server))
    client.post("/documents", files=[("files", ("notes.txt", NOTES))])
    response, events = ask_stream(client, generation={"temperature": 0, "max_tokens": 24})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    kinds = names(events)
    assert kinds[0] == "citations" and kinds[-1] == "done"
    assert set(kinds[1:-1]) == {"delta"} and len(kinds) > 3  # streamed, not one block
    sources = events[0][1]["sources"]
    assert sources[0]["filename"] == "notes.txt" and sources[0]["n"] == 1
    streamed = "".join(data["text"] for name, data in events if name == "delta")
    done = events[-1][1]
    checked = check_markers(streamed, len(sources)).text
    if checked.strip():
        assert done["answer"] == checked  # what was streamed, markers checked
    else:  # nothing usable was streamed: docrag says so rather than answering with nothing
        assert done["answer"] == not_found_message(QUESTION)
    assert done["finish_reason"] in {"stop", "length"}
    assert done["mode"] == "generative" and done["model"]
    # llama.cpp sends no usage in streams: docrag reports null rather than a guess.
    assert done["usage"] is None
    assert done["timings"]["generate_ms"] > 0
    # A grounded answer cites sources it was given, each marker in its text.
    if done["grounded"]:
        assert done["citations"]
        assert all(f"[{c['n']}]" in done["answer"] for c in done["citations"])
    assert {c["n"] for c in done["citations"]} <= {s["n"] for s in sources}


@pytest.mark.llm
@pytest.mark.integration
def test_real_server_stream_honours_max_tokens_and_json_mode(
    make_client: Any, llm_server: str
) -> None:
    client = make_client(**llm_settings(llm_server))
    client.post("/documents", files=[("files", ("notes.txt", NOTES))])
    _, events = ask_stream(
        client,
        generation={
            "temperature": 0,
            "max_tokens": 12,
            "response_format": {"type": "json_object"},
        },
    )
    streamed = "".join(data["text"] for name, data in events if name == "delta")
    # The server constrains its output to JSON: what streamed is the start of an object.
    assert streamed.lstrip().startswith("{")
    name, data = events[-1]
    if name == "done":
        assert data["finish_reason"] == "stop"
    else:
        # Cut off at 12 tokens, the object is unfinished: a clear error, not broken JSON.
        assert name == "error" and data["status"] == 502
        assert data["error"]["code"] == "chat_model_invalid_json"
        assert "max_tokens" in data["error"]["message"]


@pytest.fixture
def fake_client(make_client: Any, fake: FakeChatServer) -> Any:
    client = make_client(**llm_settings(fake.url, timeout_s=1.0))
    client.post("/documents", files=[("files", ("notes.txt", NOTES))])
    return client


def test_stream_request_and_checked_done_event(fake_client: Any, fake: FakeChatServer) -> None:
    fake.behaviour = stream_reply(
        ["It opens ", "in March [1]", " and [7]."],
        usage={"prompt_tokens": 30, "completion_tokens": 6, "total_tokens": 36},
    )
    _, events = ask_stream(fake_client, generation={"max_tokens": 30, "seed": 3})
    sent = fake.requests[-1]
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}
    assert sent["max_tokens"] == 30 and sent["seed"] == 3
    assert names(events) == ["citations", "delta", "delta", "delta", "done"]
    assert [d["text"] for n, d in events if n == "delta"] == [
        "It opens ",
        "in March [1]",
        " and [7].",
    ]
    done = events[-1][1]
    assert done["answer"] == "It opens in March [1] and."
    assert done["dropped_citations"] == [7]
    assert [c["n"] for c in done["citations"]] == [1]
    assert done["citations"][0]["quote"] == "The aurora greenhouse opens in March."
    assert done["usage"] == {"prompt_tokens": 30, "completion_tokens": 6, "total_tokens": 36}
    assert done["model"] == "fake-stream" and done["finish_reason"] == "stop"


@pytest.mark.parametrize(
    ("behaviour", "status", "code"),
    [
        (stream_reply(["It opens", " in", " March"], break_after=2), 502, "chat_model_error"),
        (stream_reply(["It opens", " in", " March"], stall_after=1), 504, "chat_model_timeout"),
    ],
    ids=["broken-mid-stream", "stalled-mid-stream"],
)
def test_errors_after_the_first_words_arrive_as_an_error_event(
    fake_client: Any, fake: FakeChatServer, behaviour: Any, status: int, code: str
) -> None:
    fake.behaviour = behaviour
    response, events = ask_stream(fake_client)
    assert response.status_code == 200  # the stream had started: the status is in the event
    assert names(events)[0] == "citations" and names(events)[-1] == "error"
    assert names(events).count("error") == 1 and "done" not in names(events)
    error = events[-1][1]
    assert error["status"] == status and error["error"]["code"] == code
    deltas = "".join(d["text"] for n, d in events if n == "delta")
    assert deltas in ("It opens", "It opens in")  # what arrived before the failure


def test_extractive_answer_streams_as_one_delta(client: Any) -> None:
    client.post("/documents", files=[("files", ("notes.txt", NOTES))])
    _, events = ask_stream(client)
    assert names(events) == ["citations", "delta", "done"]
    done = events[-1][1]
    assert done["mode"] == "extractive" and done["grounded"] is True
    assert events[1][1]["text"] == done["answer"]
    assert re.search(r"\[1\]", done["answer"])


def test_nothing_relevant_streams_not_found_without_calling_the_model(
    make_client: Any, fake: FakeChatServer
) -> None:
    client = make_client(**llm_settings(fake.url))
    client.post("/documents", files=[("files", ("notes.txt", NOTES))])
    _, events = ask_stream(client, question="Who painted the Mona Lisa in Florence?")
    assert names(events) == ["citations", "delta", "done"]
    assert events[0][1]["sources"] == []
    assert events[-1][1]["grounded"] is False and "do not contain" in events[1][1]["text"]
    assert fake.requests == []


def test_several_answers_cannot_be_streamed(client: Any) -> None:
    response = client.post("/ask", json={"question": "q", "stream": True, "generation": {"n": 2}})
    assert response.status_code == 422
    assert "n" in response.json()["error"]["message"]


@pytest.mark.integration
def test_client_disconnect_stops_the_generation_upstream(
    make_settings: Any, embedder: Any, fake: FakeChatServer
) -> None:
    from app.main import create_app

    log = StreamLog()
    fake.behaviour = stream_reply([f"word{i} " for i in range(200)], delay=0.05, log=log)
    app = create_app(make_settings(**llm_settings(fake.url)), embedder=embedder)
    server = LiveServer(app)
    try:
        httpx.post(f"{server.url}/documents", files=[("files", ("notes.txt", NOTES))], timeout=60)
        with httpx.stream(
            "POST", f"{server.url}/ask", json={"question": QUESTION, "stream": True}, timeout=30
        ) as response:
            for line in response.iter_lines():
                if line.startswith("event: delta"):
                    break  # the reader goes away after the first words
        assert log.aborted.wait(10), "the upstream stream was still being read"
        assert log.sent < 100
    finally:
        server.close()
