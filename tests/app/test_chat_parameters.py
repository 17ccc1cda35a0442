"""Every chat parameter a caller may set under "generation": passed through, validated at the
edge; several answers (`n`), each with its citations checked; JSON mode; retries."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from tests.app.chat_fakes import FakeChatServer, completion, in_turn, reply, sse_events
from tests.app.test_generation import NOTES, QUESTION, llm_settings


def ask(client: Any, **generation: Any) -> Any:
    return client.post("/ask", json={"question": QUESTION, "generation": generation})


@pytest.fixture
def real(make_client: Any, llm_server: str) -> Any:
    client = make_client(**llm_settings(llm_server))
    client.post("/documents", files=[("files", ("notes.txt", NOTES))])
    return client


@pytest.mark.llm
@pytest.mark.integration
class TestRealServer:
    def test_n_answers_each_with_checked_citations(self, real: Any) -> None:
        body = ask(real, n=2, max_tokens=12, temperature=0).json()
        choices = body["choices"]
        assert [c["index"] for c in choices] == [0, 1]
        assert body["answer"] == choices[0]["answer"]
        sources = {s["n"] for s in body["sources"]}
        for choice in choices:
            assert choice["answer"].strip()
            assert choice["grounded"] == bool(choice["citations"])
            assert {c["n"] for c in choice["citations"]} <= sources
        # llama.cpp ignores `n`: docrag asked twice and added up the usage.
        assert body["usage"]["completion_tokens"] <= 24

    def test_seed_makes_sampling_reproducible(self, real: Any) -> None:
        params = {"temperature": 1.5, "top_p": 1.0, "seed": 1234, "max_tokens": 10}
        first, second = ask(real, **params).json(), ask(real, **params).json()
        assert first["answer"] == second["answer"]

    def test_json_mode_is_valid_json_or_a_clear_error(self, real: Any) -> None:
        response = ask(real, response_format={"type": "json_object"}, max_tokens=40, temperature=0)
        if response.status_code == 200:
            json.loads(response.json()["answer"])
        else:
            assert response.status_code == 502
            error = response.json()["error"]
            assert error["code"] == "chat_model_invalid_json"
            assert "max_tokens" in error["message"]  # cut off: says what to raise

    def test_penalties_are_accepted_by_a_real_server(self, real: Any) -> None:
        response = ask(real, presence_penalty=0.5, frequency_penalty=0.5, max_tokens=6)
        assert response.status_code == 200, response.text

    def test_top_k_and_min_p_reach_the_server(self, real: Any) -> None:
        greedy = ask(real, temperature=0, max_tokens=12).json()["answer"]
        hot = {"temperature": 2.0, "top_p": 1.0, "max_tokens": 12}
        sampled = {ask(real, **hot, seed=seed).json()["answer"] for seed in (1, 2, 3)}
        assert len(sampled) > 1  # at this temperature, seeds alone give different answers
        # Keeping only the likeliest token (top_k=1, or min_p=1) is greedy at any temperature.
        for knob in ({"top_k": 1}, {"min_p": 1.0}):
            for seed in (1, 2):
                assert ask(real, **hot, **knob, seed=seed).json()["answer"] == greedy, knob

    def test_repetition_penalty_is_accepted_by_a_real_server(self, real: Any) -> None:
        response = ask(real, repetition_penalty=1.3, max_tokens=6)
        assert response.status_code == 200, response.text

    def test_prefill_starts_the_answer_and_its_markers_are_checked(self, real: Any) -> None:
        prefill = "According to source [1], the greenhouse opens in"
        body = ask(real, prefill=prefill, max_tokens=8, temperature=0).json()
        assert body["answer"].startswith(prefill)
        assert len(body["answer"]) > len(prefill)  # the model wrote the rest
        assert 1 in [c["n"] for c in body["citations"]] and body["grounded"] is True
        streamed = real.post(
            "/ask",
            json={
                "question": QUESTION,
                "stream": True,
                "generation": {"prefill": prefill, "max_tokens": 8, "temperature": 0},
            },
        )
        deltas = [d["text"] for n, d in sse_events(streamed.text) if n == "delta"]
        assert deltas[0] == prefill and "".join(deltas).startswith(prefill)


@pytest.fixture
def faked(make_client: Any, fake: FakeChatServer) -> Any:
    client = make_client(**llm_settings(fake.url, timeout_s=2.0))
    client.post("/documents", files=[("files", ("notes.txt", NOTES))])
    return client


def test_every_parameter_reaches_the_server(faked: Any, fake: FakeChatServer) -> None:
    fake.behaviour = reply(200, completion("March [1].", "March again [1]."))
    body = ask(
        faked,
        model="other-model",
        temperature=0.4,
        top_p=0.8,
        max_tokens=50,
        stop=["END", "STOP"],
        presence_penalty=0.5,
        frequency_penalty=-0.5,
        seed=42,
        n=2,
        response_format={"type": "text"},
    ).json()
    sent = fake.requests[-1]
    assert sent["model"] == "other-model"
    assert sent["temperature"] == 0.4 and sent["top_p"] == 0.8
    assert sent["max_tokens"] == 50 and "max_completion_tokens" not in sent
    assert sent["stop"] == ["END", "STOP"]
    assert sent["presence_penalty"] == 0.5 and sent["frequency_penalty"] == -0.5
    assert sent["seed"] == 42 and sent["n"] == 2
    assert "response_format" not in sent  # "text" is the default: nothing to send
    assert len(fake.requests) == 1  # the server gave both answers at once
    assert [c["answer"] for c in body["choices"]] == ["March [1].", "March again [1]."]


def test_n_with_a_server_that_ignores_it_asks_again(faked: Any, fake: FakeChatServer) -> None:
    fake.behaviour = in_turn(
        reply(200, completion("It opens in March [1].")),
        reply(200, completion("Maybe [4].")),
        reply(200, completion("March [1][2], budget forty thousand [1].")),
    )
    body = ask(faked, n=3).json()
    assert len(fake.requests) == 3
    assert [r.get("n") for r in fake.requests] == [3, 2, None]
    first, second, third = body["choices"]
    assert first["grounded"] and [c["n"] for c in first["citations"]] == [1]
    assert second["grounded"] is False and second["dropped_citations"] == [4]
    assert second["citations"] == [] and second["answer"] == "Maybe."
    assert third["dropped_citations"] == [2] and third["answer"].count("[1]") == 2
    assert body["usage"]["total_tokens"] == 45


def test_json_mode_asks_for_the_documented_shape_and_checks_it(
    faked: Any, fake: FakeChatServer
) -> None:
    content = json.dumps({"answer": "It opens in March [1][3].", "citations": [1, 3, "2"]})
    fake.behaviour = reply(200, completion(content))
    body = ask(faked, response_format={"type": "json_object"}).json()
    sent = fake.requests[-1]
    assert sent["response_format"] == {"type": "json_object"}
    prompt = sent["messages"][-1]["content"]
    assert '{"answer":' in prompt and '"citations": [' in prompt
    answer = json.loads(body["answer"])
    assert answer == {"answer": "It opens in March [1].", "citations": [1]}
    assert body["dropped_citations"] == [3, 2]
    assert [c["n"] for c in body["citations"]] == [1]
    assert body["citations"][0]["quote"] == "The aurora greenhouse opens in March."


def test_json_mode_with_invalid_json_is_a_clear_error(faked: Any, fake: FakeChatServer) -> None:
    fake.behaviour = reply(200, completion('{"answer": "It opens', finish_reason="length"))
    response = ask(faked, response_format={"type": "json_object"})
    assert response.status_code == 502
    error = response.json()["error"]
    assert error["code"] == "chat_model_invalid_json" and "max_tokens" in error["message"]


def test_json_mode_without_a_chat_model_wraps_the_extractive_answer(client: Any) -> None:
    client.post("/documents", files=[("files", ("notes.txt", NOTES))])
    body = ask(client, response_format={"type": "json_object"}).json()
    answer = json.loads(body["answer"])
    assert set(answer) == {"answer", "citations"} and answer["citations"]


def test_server_refusing_a_parameter_says_why(faked: Any, fake: FakeChatServer) -> None:
    fake.behaviour = reply(400, b'{"error": {"message": "response_format is not supported"}}')
    response = ask(faked, response_format={"type": "json_object"})
    assert response.status_code == 502
    assert "response_format is not supported" in response.json()["error"]["message"]


def test_allowed_models_limit_the_choice(make_client: Any, fake: FakeChatServer) -> None:
    client = make_client(**llm_settings(fake.url, allowed_models=["smollm2", "small"]))
    response = ask(client, model="gpt-expensive")
    assert response.status_code == 422
    assert "generation.model" in response.json()["error"]["message"]
    assert fake.requests == []


@pytest.mark.parametrize(
    ("generation", "field"),
    [
        ({"presence_penalty": 2.5}, "presence_penalty"),
        ({"frequency_penalty": -2.1}, "frequency_penalty"),
        ({"seed": "abc"}, "seed"),
        ({"seed": 2**64}, "seed"),
        ({"n": 0}, "n"),
        ({"n": 9}, "n"),
        ({"model": ""}, "model"),
        ({"response_format": {"type": "json_schema"}}, "response_format"),
        ({"response_format": "json"}, "response_format"),
        ({"logit_bias": {"1": 2}}, "logit_bias"),
    ],
)
def test_out_of_range_parameters_are_422_naming_the_field(
    client: Any, generation: dict[str, Any], field: str
) -> None:
    response = client.post("/ask", json={"question": "q", "generation": generation})
    assert response.status_code == 422
    assert field in response.json()["error"]["message"]


def test_retries_turn_a_500_then_200_into_an_answer(make_client: Any, fake: FakeChatServer) -> None:
    client = make_client(**llm_settings(fake.url, max_retries=2))
    client.post("/documents", files=[("files", ("notes.txt", NOTES))])
    fake.behaviour = in_turn(
        reply(500, b'{"error": {"message": "boom"}}'), reply(200, completion("March [1]."))
    )
    started = time.monotonic()
    response = ask(client)
    assert response.status_code == 200, response.text
    assert len(fake.requests) == 2
    assert time.monotonic() - started >= 0.2  # the client backed off before retrying


@pytest.mark.parametrize("retries", [0, 2])
def test_max_retries_setting_is_honoured(
    make_client: Any, fake: FakeChatServer, retries: int
) -> None:
    client = make_client(**llm_settings(fake.url, max_retries=retries))
    client.post("/documents", files=[("files", ("notes.txt", NOTES))])
    # retry-after-ms keeps the test fast; the openai client honours it.
    fake.behaviour = reply(503, b'{"error": {"message": "busy"}}', {"retry-after-ms": "10"})
    response = ask(client)
    assert response.status_code == 502
    assert len(fake.requests) == retries + 1


def test_429_is_retried_then_mapped(make_client: Any, fake: FakeChatServer) -> None:
    client = make_client(**llm_settings(fake.url, max_retries=1))
    client.post("/documents", files=[("files", ("notes.txt", NOTES))])
    fake.behaviour = reply(429, b'{"error": {"message": "slow"}}', {"Retry-After": "0"})
    response = ask(client)
    assert response.status_code == 429 and len(fake.requests) == 2


def test_server_specific_sampling_reaches_the_server(faked: Any, fake: FakeChatServer) -> None:
    fake.behaviour = reply(200, completion("March [1]."))
    ask(faked, top_k=20, min_p=0.05, repetition_penalty=1.1)
    sent = fake.requests[-1]
    assert sent["top_k"] == 20 and sent["min_p"] == 0.05
    # vLLM, SGLang and LMDeploy read repetition_penalty; llama.cpp reads repeat_penalty.
    assert sent["repetition_penalty"] == 1.1 and sent["repeat_penalty"] == 1.1
    ask(faked)
    assert not {"top_k", "min_p", "repetition_penalty"} & set(fake.requests[-1])


def test_server_specific_sampling_through_the_sdk(faked: Any, fake: FakeChatServer) -> None:
    import openai

    fake.behaviour = reply(200, completion("March [1]."))
    openai.OpenAI(
        base_url="http://testserver/v1", api_key="x", http_client=faked, max_retries=0
    ).chat.completions.create(
        model="docrag-rag",
        messages=[{"role": "user", "content": QUESTION}],
        extra_body={"top_k": 5, "min_p": 0.1, "repetition_penalty": 1.2},
    )
    sent = fake.requests[-1]
    assert (sent["top_k"], sent["min_p"], sent["repeat_penalty"]) == (5, 0.1, 1.2)


@pytest.mark.parametrize(
    ("generation", "field"),
    [
        ({"top_k": 0}, "top_k"),
        ({"top_k": 1.5}, "top_k"),
        ({"min_p": 1.5}, "min_p"),
        ({"min_p": -0.1}, "min_p"),
        ({"repetition_penalty": 0}, "repetition_penalty"),
        ({"repetition_penalty": 3}, "repetition_penalty"),
        ({"prefill": ""}, "prefill"),
        ({"thinking": "maybe"}, "thinking"),
    ],
)
def test_server_specific_ranges_are_validated(
    client: Any, generation: dict[str, Any], field: str
) -> None:
    response = client.post("/ask", json={"question": "q", "generation": generation})
    assert response.status_code == 422
    assert field in response.json()["error"]["message"]


@pytest.mark.parametrize("base_url", [None, "https://api.openai.com/v1"])
@pytest.mark.parametrize(
    "generation",
    [{"top_k": 5}, {"min_p": 0.1}, {"repetition_penalty": 1.1}, {"prefill": "It"}],
)
def test_the_official_openai_api_refuses_server_specific_knobs(
    make_client: Any, base_url: str | None, generation: dict[str, Any]
) -> None:
    client = make_client(llm={"base_url": base_url, "model": "gpt-4o-mini", "max_retries": 0})
    client.post("/documents", files=[("files", ("notes.txt", NOTES))])
    response = ask(client, **generation)
    assert response.status_code == 422, response.text
    message = response.json()["error"]["message"]
    (name,) = generation
    assert f"generation.{name}" in message and "DOCRAG_LLM__BASE_URL" in message


def test_the_official_openai_api_refusal_through_the_sdk(make_client: Any) -> None:
    import openai

    client = make_client(llm={"model": "gpt-4o-mini", "max_retries": 0})
    sdk = openai.OpenAI(
        base_url="http://testserver/v1", api_key="x", http_client=client, max_retries=0
    )
    with pytest.raises(openai.UnprocessableEntityError) as caught:
        sdk.chat.completions.create(
            model="docrag-rag",
            messages=[{"role": "user", "content": QUESTION}],
            extra_body={"top_k": 5},
        )
    assert "top_k" in caught.value.message and caught.value.code == "invalid_request"
