"""Helpers for the generation tests: fake chat-server behaviours (streams, sequences, stream
breaks), an SSE reader, and docrag served by a real uvicorn in a thread (for what the
TestClient cannot show, such as a client going away mid-stream)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from tests.conftest import free_port, wait_until

Behaviour = Callable[[BaseHTTPRequestHandler], None]


def completion(
    *contents: str,
    finish_reason: str = "stop",
    usage: bool = True,
    reasoning: str | None = None,
    reasoning_field: str = "reasoning_content",
    reasoning_tokens: int | None = None,
) -> bytes:
    """A chat completion with one choice per content; `reasoning` is sent in the field a
    reasoning model's server uses (DeepSeek's reasoning_content, or `reasoning`)."""
    body: dict[str, Any] = {
        "id": "x",
        "object": "chat.completion",
        "created": 0,
        "model": "fake",
        "choices": [
            {
                "index": i,
                "message": {"role": "assistant", "content": c},
                "finish_reason": finish_reason,
            }
            for i, c in enumerate(contents)
        ],
    }
    if reasoning is not None:
        for choice in body["choices"]:
            choice["message"][reasoning_field] = reasoning
    if usage:
        body["usage"] = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
        if reasoning_tokens is not None:
            body["usage"]["completion_tokens_details"] = {"reasoning_tokens": reasoning_tokens}
    return json.dumps(body).encode()


def chunk(
    content: str | None = None,
    finish_reason: str | None = None,
    reasoning: str | None = None,
    **extra: Any,
) -> bytes:
    delta: dict[str, Any] = {"content": content} if content is not None else {}
    if reasoning is not None:
        delta = {"role": "assistant", "content": None, "reasoning_content": reasoning}
    body = {
        "id": "x",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "fake-stream",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
        **extra,
    }
    return b"data: " + json.dumps(body).encode() + b"\n\n"


class StreamLog:
    """What a streaming behaviour managed to send before the client went away."""

    def __init__(self) -> None:
        self.sent = 0
        self.aborted = threading.Event()


def stream_reply(
    pieces: Iterable[str],
    *,
    delay: float = 0.0,
    finish_reason: str = "stop",
    usage: dict[str, int] | None = None,
    break_after: int | None = None,
    stall_after: int | None = None,
    log: StreamLog | None = None,
    reasoning: Iterable[str] = (),
) -> Behaviour:
    """An SSE chat stream. break_after: drop the connection mid-body after that many pieces
    (the declared length is never reached, so the client sees a broken stream);
    stall_after: stop sending (and hold the connection) after that many pieces.
    reasoning: deltas of `reasoning_content` sent before the content (counted as pieces)."""
    thinking = [chunk(reasoning=r) for r in reasoning]
    pieces = list(pieces)

    def send(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("content-type", "text/event-stream")
        if break_after is not None:
            handler.send_header("content-length", "1000000")
        handler.end_headers()
        try:
            for i, piece in enumerate([*thinking, *pieces]):
                if break_after is not None and i == break_after:
                    handler.wfile.flush()
                    return  # the connection closes with the body unfinished
                if stall_after is not None and i == stall_after:
                    handler.wfile.flush()
                    time.sleep(3)
                    return
                handler.wfile.write(piece if isinstance(piece, bytes) else chunk(piece))
                handler.wfile.flush()
                if log is not None:
                    log.sent += 1
                if delay:
                    time.sleep(delay)
            handler.wfile.write(chunk(None, finish_reason))
            if usage is not None:
                handler.wfile.write(
                    b"data: "
                    + json.dumps(
                        {
                            "id": "x",
                            "object": "chat.completion.chunk",
                            "created": 0,
                            "model": "fake-stream",
                            "choices": [],
                            "usage": usage,
                        }
                    ).encode()
                    + b"\n\n"
                )
            handler.wfile.write(b"data: [DONE]\n\n")
            handler.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            if log is not None:
                log.aborted.set()

    return send


def in_turn(*behaviours: Behaviour) -> Behaviour:
    """The first request gets the first behaviour, and so on; the last one repeats."""
    calls = iter(range(10**6))

    def send(handler: BaseHTTPRequestHandler) -> None:
        behaviours[min(next(calls), len(behaviours) - 1)](handler)

    return send


def by_request(choose: Callable[[dict[str, Any]], Behaviour], fake: FakeChatServer) -> Behaviour:
    """Picks the behaviour from the request body (the last one the fake recorded)."""

    def send(handler: BaseHTTPRequestHandler) -> None:
        choose(fake.requests[-1])(handler)

    return send


def sse_events(text: str) -> list[tuple[str, Any]]:
    """(event, parsed data) pairs of an SSE body; `message` for unnamed events."""
    events = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        name, data = "message", []
        for line in block.split("\n"):
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())
        if data:
            raw = "\n".join(data)
            events.append((name, raw if raw == "[DONE]" else json.loads(raw)))
    return events


class LiveServer:
    """docrag served by uvicorn on a free port in a thread."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        wait_until(
            lambda: httpx.get(f"{self.url}/health", timeout=2).status_code == 200, 60, "uvicorn"
        )

    def close(self) -> None:
        self.server.should_exit = True
        self.thread.join(15)


def live_server(app: Any) -> Iterator[LiveServer]:
    server = LiveServer(app)
    try:
        yield server
    finally:
        server.close()


class FakeChatServer:
    """An OpenAI-compatible endpoint that misbehaves on demand (fault injection only)."""

    def __init__(self) -> None:
        self.behaviour: Callable[[BaseHTTPRequestHandler], None] = lambda h: None
        self.requests: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("content-length", 0))
                outer.requests.append(json.loads(self.rfile.read(length) or b"{}"))
                outer.behaviour(self)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


def reply(status: int, body: bytes, headers: dict[str, str] | None = None) -> Callable[[Any], None]:
    def send(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        handler.send_header("content-type", "application/json")
        for key, value in (headers or {}).items():
            handler.send_header(key, value)
        handler.send_header("content-length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    return send


def good_completion(content: str) -> bytes:
    return completion(content)
