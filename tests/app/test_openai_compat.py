"""The OpenAI-compatible endpoint, driven by the real `openai` SDK: /v1/models and
/v1/chat/completions (model docrag-rag), streaming and not, with citations under `docrag`."""

from __future__ import annotations

from typing import Any

import httpx
import openai
import pytest

from tests.app.chat_fakes import (
    FakeChatServer,
    LiveServer,
    completion,
    in_turn,
    reply,
    stream_reply,
)
from tests.app.test_generation import NOTES, QUESTION, llm_settings

USER = [{"role": "user", "content": QUESTION}]


def sdk(client: Any, api_key: str = "not-needed") -> openai.OpenAI:
    # The TestClient is an httpx.Client: the SDK talks to the app in-process.
    return openai.OpenAI(
        base_url="http://testserver/v1", api_key=api_key, http_client=client, max_retries=0
    )


@pytest.mark.llm
@pytest.mark.integration
class TestRealServer:
    def test_sdk_completion_carries_the_answer_and_citations(
        self, make_client: Any, llm_server: str
    ) -> None:
        client = make_client(**llm_settings(llm_server))
        client.post("/documents", files=[("files", ("notes.txt", NOTES))])
        completion = sdk(client).chat.completions.create(
            model="docrag-rag", messages=USER, max_tokens=16, temperature=0
        )
        assert completion.model == "docrag-rag" and completion.object == "chat.completion"
        choice = completion.choices[0]
        assert choice.message.role == "assistant" and choice.message.content
        assert choice.finish_reason in ("stop", "length")
        assert completion.usage is not None and completion.usage.completion_tokens <= 16
        extras: Any = completion.docrag  # type: ignore[attr-defined]
        assert extras["sources"][0]["filename"] == "notes.txt"
        assert extras["model"] == "smollm2" and extras["mode"] == "generative"
        cited: Any = choice.docrag  # type: ignore[attr-defined]
        assert cited["grounded"] == bool(cited["citations"])

    def test_sdk_streaming_over_a_real_socket(
        self, make_settings: Any, embedder: Any, llm_server: str
    ) -> None:
        from app.main import create_app

        app = create_app(make_settings(**llm_settings(llm_server)), embedder=embedder)
        server = LiveServer(app)
        try:
            httpx.post(
                f"{server.url}/documents", files=[("files", ("notes.txt", NOTES))], timeout=60
            )
            client = openai.OpenAI(base_url=f"{server.url}/v1", api_key="x", max_retries=0)
            chunks = list(
                client.chat.completions.create(
                    model="docrag-rag",
                    messages=USER,
                    max_tokens=16,
                    temperature=0,
                    stream=True,
                    stream_options={"include_usage": True},
                )
            )
        finally:
            server.close()
        assert chunks[0].choices[0].delta.role == "assistant"
        first_extras: Any = chunks[0].docrag  # type: ignore[attr-defined]
        assert first_extras["sources"][0]["filename"] == "notes.txt"
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert text.strip()
        finish = [c for c in chunks if c.choices and c.choices[0].finish_reason]
        assert len(finish) == 1 and finish[0].choices[0].finish_reason in ("stop", "length")
        last_extras: Any = finish[0].docrag  # type: ignore[attr-defined]
        assert set(last_extras) >= {"grounded", "citations", "dropped_citations", "answer"}
        assert chunks[-1].choices == []  # the usage chunk (null: llama.cpp streams none)


@pytest.fixture
def faked(make_client: Any, fake: FakeChatServer) -> Any:
    client = make_client(**llm_settings(fake.url, timeout_s=2.0))
    client.post("/documents", files=[("files", ("notes.txt", NOTES))])
    return client


def test_models_lists_a_model_per_knowledge_base(client: Any) -> None:
    models = [m.id for m in sdk(client).models.list()]
    assert models == ["docrag/default"]


def test_messages_become_question_and_history(faked: Any, fake: FakeChatServer) -> None:
    fake.behaviour = in_turn(
        reply(200, completion("How much does the aurora greenhouse cost?")),
        reply(200, completion("Forty thousand euros [1] [4].")),
    )
    result = sdk(faked).chat.completions.create(
        model="docrag-rag",
        messages=[
            {"role": "system", "content": "You are a pirate."},
            {"role": "user", "content": QUESTION},
            {"role": "assistant", "content": "In March [1]."},
            {"role": "user", "content": [{"type": "text", "text": "And the cost?"}]},
        ],
        temperature=0.2,
        max_completion_tokens=33,
        seed=5,
        extra_body={"docrag": {"top_k": 2}},
    )
    condense, answer = fake.requests
    assert "And the cost?" in condense["messages"][-1]["content"]
    assert [m["role"] for m in answer["messages"]] == ["system", "user", "assistant", "user"]
    assert "pirate" not in str(answer["messages"])  # the caller's system prompt is not used
    assert answer["temperature"] == 0.2 and answer["max_tokens"] == 33 and answer["seed"] == 5
    assert result.choices[0].message.content == "Forty thousand euros [1]."
    extras: Any = result.docrag  # type: ignore[attr-defined]
    assert extras["condensed_question"] == "How much does the aurora greenhouse cost?"
    assert extras["dropped_citations"] == [4] and [c["n"] for c in extras["citations"]] == [1]
    assert extras["citations"][0]["quote"]


def test_n_choices_each_with_their_citations(faked: Any, fake: FakeChatServer) -> None:
    fake.behaviour = reply(200, completion("March [1].", "No idea [3]."))
    result = sdk(faked).chat.completions.create(model="docrag-rag", messages=USER, n=2)
    assert [c.message.content for c in result.choices] == ["March [1].", "No idea."]
    second: Any = result.choices[1].docrag  # type: ignore[attr-defined]
    assert second == {"grounded": False, "citations": [], "dropped_citations": [3]}


def test_fake_streaming_chunks_in_order(faked: Any, fake: FakeChatServer) -> None:
    fake.behaviour = stream_reply(["March ", "[1]", " [8]."])
    chunks = list(
        sdk(faked).chat.completions.create(model="docrag-rag", messages=USER, stream=True)
    )
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].delta.content for c in chunks[1:4]] == ["March ", "[1]", " [8]."]
    last: Any = chunks[-1].docrag  # type: ignore[attr-defined]
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert last["answer"] == "March [1]." and last["dropped_citations"] == [8]


def test_unknown_model_is_404(client: Any) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        sdk(client).chat.completions.create(model="gpt-4o", messages=USER)
    assert "docrag-rag" in str(caught.value)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"temperature": 5}, "temperature"),
        ({"n": 2, "stream": True}, "n"),
        ({"messages": [{"role": "assistant", "content": "hi"}]}, "messages"),
        ({"messages": []}, "messages"),
        ({"response_format": {"type": "json_schema"}}, "response_format"),
    ],
)
def test_bad_requests_are_422_naming_the_field(
    client: Any, kwargs: dict[str, Any], field: str
) -> None:
    with pytest.raises(openai.UnprocessableEntityError) as caught:
        sdk(client).chat.completions.create(**{"model": "docrag-rag", "messages": USER, **kwargs})
    assert field in str(caught.value)


def test_api_keys_apply(make_client: Any) -> None:
    client = make_client(auth={"api_keys": ["s3cret"]})
    with pytest.raises(openai.AuthenticationError):
        sdk(client, api_key="wrong").models.list()
    with pytest.raises(openai.AuthenticationError):
        sdk(client, api_key="wrong").chat.completions.create(model="docrag-rag", messages=USER)
    assert [m.id for m in sdk(client, api_key="s3cret").models.list()] == ["docrag/default"]


@pytest.mark.parametrize("stream", [False, True])
def test_rate_limits_keep_their_status(faked: Any, fake: FakeChatServer, stream: bool) -> None:
    fake.behaviour = reply(429, b'{"error": {"message": "slow"}}', {"Retry-After": "4"})
    with pytest.raises(openai.RateLimitError) as caught:
        sdk(faked).chat.completions.create(model="docrag-rag", messages=USER, stream=stream)
    assert caught.value.response.headers["retry-after"] == "4"


def test_a_stream_breaking_mid_way_raises_in_the_sdk(faked: Any, fake: FakeChatServer) -> None:
    fake.behaviour = stream_reply(["It ", "opens ", "in ", "March"], break_after=2)
    received = []
    with pytest.raises(openai.APIError) as caught:
        for chunk in sdk(faked).chat.completions.create(
            model="docrag-rag", messages=USER, stream=True
        ):
            received.extend(c.delta.content or "" for c in chunk.choices)
    assert "".join(received) == "It opens "
    assert "broke off" in str(caught.value)


def test_errors_have_openais_shape_for_the_sdk(client: Any) -> None:
    with pytest.raises(openai.NotFoundError) as missing:
        sdk(client).chat.completions.create(model="gpt-4o", messages=USER)
    assert missing.value.code == "model_not_found" and missing.value.type == "not_found_error"
    with pytest.raises(openai.UnprocessableEntityError) as invalid:
        sdk(client).chat.completions.create(model="docrag-rag", messages=USER, temperature=5)
    assert invalid.value.param == "temperature" and invalid.value.type == "invalid_request_error"
    body = client.post("/v1/chat/completions", json={"model": "docrag-rag"}).json()
    assert set(body["error"]) == {"message", "type", "code", "param"}
