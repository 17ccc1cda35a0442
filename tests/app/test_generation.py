"""The generative path against a real OpenAI-compatible server (llama.cpp + SmolLM2), and
its failures against a fake server we control. The model is tiny: these tests check what
docrag does with its replies, never whether the answers are right."""

from __future__ import annotations

import re
import time
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from tests.app.chat_fakes import FakeChatServer, good_completion, reply
from tests.conftest import free_port

NOTES = (
    b"The aurora greenhouse opens in March. Its budget is forty thousand euros, paid by the "
    b"town council. Tomatoes need six hours of sun a day."
)
QUESTION = "When does the aurora greenhouse open?"


def llm_settings(base_url: str, **extra: Any) -> dict[str, Any]:
    return {"llm": {"base_url": base_url, "model": "smollm2", "max_retries": 0, **extra}}


@pytest.fixture
def generative(make_client: Any, llm_server: str) -> Any:
    client = make_client(**llm_settings(llm_server))
    assert client.post("/documents", files=[("files", ("notes.txt", NOTES))]).status_code == 201
    return client


@pytest.mark.llm
@pytest.mark.integration
class TestRealChatServer:
    def test_generated_answer_with_usage_and_valid_markers(self, generative: Any) -> None:
        response = generative.post(
            "/ask", json={"question": QUESTION, "generation": {"temperature": 0, "max_tokens": 60}}
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["mode"] == "generative"
        assert body["model"]
        assert body["answer"].strip()
        usage = body["usage"]
        assert usage["prompt_tokens"] > 50 and usage["completion_tokens"] > 0
        assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
        assert body["sources"][0]["filename"] == "notes.txt"
        markers = {int(n) for n in re.findall(r"\[(\d+)\]", body["answer"])}
        assert markers <= {c["n"] for c in body["citations"]}
        assert body["timings"]["generate_ms"] > 0
        assert generative.get("/health").json()["mode"] == "generative"

    def test_max_tokens_is_honoured(self, generative: Any) -> None:
        body = generative.post(
            "/ask", json={"question": QUESTION, "generation": {"max_tokens": 3, "temperature": 0}}
        ).json()
        assert body["usage"]["completion_tokens"] <= 3
        assert body["finish_reason"] == "length"

    def test_stop_sequence_is_honoured(self, generative: Any) -> None:
        params = {"temperature": 0, "max_tokens": 40}
        free = generative.post("/ask", json={"question": QUESTION, "generation": params}).json()
        words = re.findall(r"[A-Za-z]{4,}", free["answer"])
        assert words, free["answer"]
        stop = words[len(words) // 2]
        stopped = generative.post(
            "/ask", json={"question": QUESTION, "generation": {**params, "stop": [stop]}}
        ).json()
        assert stop not in stopped["answer"]
        assert stopped["usage"]["completion_tokens"] < free["usage"]["completion_tokens"]

    def test_settings_defaults_apply_when_the_request_has_none(
        self, make_client: Any, llm_server: str
    ) -> None:
        client = make_client(**llm_settings(llm_server, generation={"max_tokens": 2}))
        client.post("/documents", files=[("files", ("notes.txt", NOTES))])
        body = client.post("/ask", json={"question": QUESTION}).json()
        assert body["usage"]["completion_tokens"] <= 2

    def test_standard_openai_variables_are_honoured(
        self, make_settings: Any, make_client: Any, llm_server: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("OPENAI_BASE_URL", llm_server)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-secret")
        client = make_client(llm={"model": "smollm2", "max_retries": 0})
        client.post("/documents", files=[("files", ("notes.txt", NOTES))])
        body = client.post("/ask", json={"question": QUESTION, "generation": {"max_tokens": 8}})
        assert body.status_code == 200 and body.json()["mode"] == "generative"


def test_nothing_relevant_means_the_chat_model_is_not_called(make_client: Any) -> None:
    # The configured server does not exist: any call to it would fail with 503.
    client = make_client(**llm_settings(f"http://127.0.0.1:{free_port()}/v1"))
    client.post("/documents", files=[("files", ("notes.txt", NOTES))])
    response = client.post("/ask", json={"question": "Who painted the Mona Lisa in Florence?"})
    assert response.status_code == 200
    assert response.json()["grounded"] is False and response.json()["usage"] is None


@pytest.fixture
def faulty_client(make_client: Any, fake: FakeChatServer) -> Any:
    client = make_client(**llm_settings(fake.url, timeout_s=1.0))
    client.post("/documents", files=[("files", ("notes.txt", NOTES))])
    return client


def slow(handler: BaseHTTPRequestHandler) -> None:
    time.sleep(2.5)
    reply(200, good_completion("late"))(handler)


@pytest.mark.parametrize(
    ("behaviour", "status", "code"),
    [
        (
            reply(429, b'{"error": {"message": "slow down"}}', {"Retry-After": "7"}),
            429,
            "chat_model_rate_limited",
        ),
        (reply(500, b'{"error": {"message": "boom"}}'), 502, "chat_model_error"),
        (reply(200, b"data: {this is not json\n\n"), 502, "chat_model_error"),
        (reply(401, b'{"error": {"message": "bad key"}}'), 502, "chat_model_error"),
        (slow, 504, "chat_model_timeout"),
    ],
    ids=["429", "500", "malformed", "401", "timeout"],
)
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
def test_chat_server_failures_map_to_clear_errors(
    faulty_client: Any, fake: FakeChatServer, behaviour: Any, status: int, code: str, stream: bool
) -> None:
    # Streamed too: nothing was sent before the chat model's first words, so the status holds.
    fake.behaviour = behaviour
    response = faulty_client.post("/ask", json={"question": QUESTION, "stream": stream})
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    if status == 429:
        assert response.headers["Retry-After"] == "7"


def test_request_parameters_reach_the_server_and_bad_markers_are_dropped(
    faulty_client: Any, fake: FakeChatServer
) -> None:
    fake.behaviour = reply(200, good_completion("It opens in March [1]. Also [9]."))
    body = faulty_client.post(
        "/ask",
        json={
            "question": QUESTION,
            "generation": {"temperature": 0.3, "top_p": 0.9, "max_tokens": 77, "stop": ["END"]},
        },
    ).json()
    sent = fake.requests[-1]
    assert sent["temperature"] == 0.3 and sent["top_p"] == 0.9
    assert sent["max_tokens"] == 77 and sent["stop"] == ["END"]
    assert sent["model"] == "smollm2"
    system, user = sent["messages"]
    assert system["role"] == "system" and "only from the numbered sources" in system["content"]
    assert "[1]" in user["content"] and "notes.txt" in user["content"]
    assert user["content"].rstrip().endswith("Do not list the sources at the end.")
    assert body["answer"] == "It opens in March [1]. Also."
    assert body["grounded"] is True and body["usage"]["total_tokens"] == 15


PREFILL = "The greenhouse opens in"


@pytest.mark.parametrize(
    ("mode", "flag"),
    [("assistant_message", None), ("deepseek_prefix", "prefix"), ("kimi_partial", "partial")],
)
def test_prefill_is_sent_the_servers_way_and_starts_the_answer(
    make_client: Any, fake: FakeChatServer, mode: str, flag: str | None
) -> None:
    client = make_client(**llm_settings(fake.url, prefill_mode=mode))
    client.post("/documents", files=[("files", ("notes.txt", NOTES))])
    fake.behaviour = reply(200, good_completion(" March [1] [5]."))
    body = client.post(
        "/ask", json={"question": QUESTION, "generation": {"prefill": PREFILL}}
    ).json()
    sent = fake.requests[-1]
    last = sent["messages"][-1]
    assert last["role"] == "assistant" and last["content"] == PREFILL
    if flag is None:
        # vLLM and SGLang continue the message only when told to.
        assert sent["continue_final_message"] is True and sent["add_generation_prompt"] is False
        assert "prefix" not in last and "partial" not in last
    else:
        assert last[flag] is True and "continue_final_message" not in sent
    assert body["answer"] == "The greenhouse opens in March [1]."
    assert body["dropped_citations"] == [5] and [c["n"] for c in body["citations"]] == [1]


def test_prefill_markers_are_checked_and_an_echo_is_not_doubled(
    faulty_client: Any, fake: FakeChatServer
) -> None:
    prefill = "According to [1] and [6], it opens in"
    fake.behaviour = reply(200, good_completion(f"{prefill} March."))  # a server that echoes it
    body = faulty_client.post(
        "/ask", json={"question": QUESTION, "generation": {"prefill": prefill}}
    ).json()
    assert body["answer"] == "According to [1] and, it opens in March."
    assert body["dropped_citations"] == [6] and body["grounded"] is True


@pytest.mark.parametrize(
    ("host", "mode"),
    [
        ("https://api.deepseek.com/beta", "deepseek_prefix"),
        ("https://api.moonshot.cn/v1", "kimi_partial"),
        ("http://vllm.internal:8000/v1", "assistant_message"),
    ],
)
def test_the_prefill_mode_follows_the_base_url(make_settings: Any, host: str, mode: str) -> None:
    settings = make_settings(llm={"base_url": host, "model": "m"})
    assert settings.llm.resolved_prefill_mode == mode
    assert settings.llm.is_official_openai is False
    assert make_settings(llm={"model": "gpt-4o"}).llm.is_official_openai is True


def test_prefill_through_the_sdk_as_a_trailing_assistant_message(
    faulty_client: Any, fake: FakeChatServer
) -> None:
    import openai

    fake.behaviour = reply(200, good_completion(" March [1]."))
    result = openai.OpenAI(
        base_url="http://testserver/v1", api_key="x", http_client=faulty_client, max_retries=0
    ).chat.completions.create(
        model="docrag-rag",
        messages=[
            {"role": "user", "content": QUESTION},
            {"role": "assistant", "content": PREFILL, "prefix": True},  # type: ignore[misc]
        ],
    )
    assert result.choices[0].message.content == "The greenhouse opens in March [1]."
    sent = fake.requests[-1]["messages"]
    assert [m["role"] for m in sent] == ["system", "user", "assistant"]
    assert sent[-1]["content"] == PREFILL
