"""Reasoning models: thinking sent as `reasoning_content`, as `<think>` blocks in the content,
or streamed as reasoning deltas, never lands in the answer or its citation checks; it is
returned apart when asked. Against the fake chat server, with faults injected."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from app.query.reasoning import ThinkTagSplitter, split_reasoning
from tests.app.chat_fakes import (
    FakeChatServer,
    completion,
    in_turn,
    reply,
    sse_events,
    stream_reply,
)
from tests.app.test_generation import NOTES, QUESTION, llm_settings

THINKING = "The notes say March; source [7] might help too."


def ask(client: Any, **generation: Any) -> Any:
    return client.post("/ask", json={"question": QUESTION, "generation": generation})


def stream(client: Any, **generation: Any) -> list[tuple[str, Any]]:
    response = client.post(
        "/ask", json={"question": QUESTION, "generation": generation, "stream": True}
    )
    assert response.status_code == 200, response.text
    return sse_events(response.text)


@pytest.fixture
def faked(make_client: Any, fake: FakeChatServer) -> Any:
    client = make_client(**llm_settings(fake.url, timeout_s=2.0))
    client.post("/documents", files=[("files", ("notes.txt", NOTES))])
    return client


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("<think>a [2]</think>\n\nMarch [1].", ("a [2]", "March [1].")),
        ("a [2]</think>March [1].", ("a [2]", "March [1].")),  # opened by the chat template
        ("<think>still thinking when cut off", ("still thinking when cut off", "")),
        ("March [1].", (None, "March [1].")),
        ("<think></think>March.", (None, "March.")),
        ("March <think>aside</think> [1].", ("aside", "March  [1].")),
    ],
    ids=["tags", "no-opening-tag", "unterminated", "none", "empty", "middle"],
)
def test_think_blocks_are_split_from_the_answer(content: str, expected: tuple[Any, str]) -> None:
    assert split_reasoning(content) == expected


def test_tags_cut_anywhere_by_stream_deltas_split_the_same() -> None:
    text = "<think>weigh [3] and a < b</think>\n\nIt opens in March [1]. 2 < 3."
    for cut in range(1, len(text)):
        for second in range(cut, len(text)):
            splitter = ThinkTagSplitter()
            pieces = [
                *splitter.feed(text[:cut]),
                *splitter.feed(text[cut:second]),
                *splitter.feed(text[second:]),
                *splitter.finish(),
            ]
            answer = "".join(p.text for p in pieces if p.kind == "answer")
            thinking = "".join(p.text for p in pieces if p.kind == "reasoning")
            assert (thinking, answer) == ("weigh [3] and a < b", "It opens in March [1]. 2 < 3.")


@pytest.mark.parametrize(
    "body",
    [
        completion("It opens in March [1].", reasoning=THINKING, reasoning_tokens=4),
        completion("It opens in March [1].", reasoning=THINKING, reasoning_field="reasoning"),
        completion(f"<think>\n{THINKING}\n</think>\n\nIt opens in March [1]."),
    ],
    ids=["reasoning_content", "reasoning", "think-tags"],
)
def test_thinking_stays_out_of_the_answer_and_its_citations(
    faked: Any, fake: FakeChatServer, body: bytes
) -> None:
    fake.behaviour = reply(200, body)
    plain = ask(faked).json()
    assert plain["answer"] == "It opens in March [1]."
    assert plain["dropped_citations"] == []  # the [7] of the thinking was never checked
    assert [c["n"] for c in plain["citations"]] == [1]
    assert plain["reasoning"] is None  # not asked for
    asked = ask(faked, include_reasoning=True).json()
    assert asked["answer"] == "It opens in March [1]." and asked["reasoning"] == THINKING


def test_reasoning_tokens_are_counted_in_usage(faked: Any, fake: FakeChatServer) -> None:
    fake.behaviour = reply(200, completion("March [1].", reasoning=THINKING, reasoning_tokens=4))
    usage = ask(faked).json()["usage"]
    assert usage["reasoning_tokens"] == 4 and usage["completion_tokens"] == 5


def test_a_reply_cut_off_while_thinking_has_no_answer_text(
    faked: Any, fake: FakeChatServer
) -> None:
    fake.behaviour = reply(200, completion("<think>March [1], or", finish_reason="length"))
    body = ask(faked, include_reasoning=True).json()
    assert body["grounded"] is False and body["citations"] == []
    assert "<think>" not in body["answer"] and "March" not in body["answer"]
    assert body["finish_reason"] == "length" and body["reasoning"] == "March [1], or"


@pytest.mark.parametrize(
    "behaviour",
    [
        stream_reply(["It opens ", "in March [1]."], reasoning=["The notes ", "say [7]."]),
        stream_reply(
            ["<thi", "nk>The notes ", "say [7].</th", "ink>\n\nIt opens ", "in March [1]."]
        ),
    ],
    ids=["reasoning-deltas", "think-tags-in-deltas"],
)
def test_streamed_thinking_is_its_own_event_type(
    faked: Any, fake: FakeChatServer, behaviour: Any
) -> None:
    fake.behaviour = behaviour
    events = stream(faked, include_reasoning=True)
    names = [name for name, _ in events]
    assert names[0] == "citations" and names[-1] == "done"
    thinking = "".join(data["text"] for name, data in events if name == "reasoning")
    text = "".join(data["text"] for name, data in events if name == "delta")
    assert thinking == "The notes say [7]." and text == "It opens in March [1]."
    assert names.index("reasoning") < names.index("delta")
    done = events[-1][1]
    assert done["answer"] == "It opens in March [1]." and done["dropped_citations"] == []
    assert done["reasoning"] == "The notes say [7]."
    fake.behaviour = behaviour
    quiet = stream(faked)
    assert "reasoning" not in [name for name, _ in quiet]
    assert quiet[-1][1]["reasoning"] is None


def test_a_stream_breaking_while_thinking_is_an_error_event(
    faked: Any, fake: FakeChatServer
) -> None:
    fake.behaviour = stream_reply(
        ["March [1]."], reasoning=["one ", "two ", "three"], break_after=2
    )
    events = stream(faked, include_reasoning=True)
    assert [d["text"] for n, d in events if n == "reasoning"] == ["one ", "two "]
    assert events[-1][0] == "error" and "broke off" in events[-1][1]["error"]["message"]


def sdk(client: Any) -> openai.OpenAI:
    return openai.OpenAI(
        base_url="http://testserver/v1", api_key="x", http_client=client, max_retries=0
    )


USER = [{"role": "user", "content": QUESTION}]


def test_v1_returns_reasoning_content_apart_when_asked(faked: Any, fake: FakeChatServer) -> None:
    fake.behaviour = reply(
        200, completion(f"<think>{THINKING}</think>March [1].", reasoning_tokens=3)
    )
    result = sdk(faked).chat.completions.create(
        model="docrag-rag", messages=USER, extra_body={"include_reasoning": True}
    )
    message: Any = result.choices[0].message
    assert message.content == "March [1]." and message.reasoning_content == THINKING
    assert result.usage is not None
    details = result.usage.completion_tokens_details
    assert details is not None and details.reasoning_tokens == 3
    plain = sdk(faked).chat.completions.create(model="docrag-rag", messages=USER)
    assert getattr(plain.choices[0].message, "reasoning_content", None) is None


def test_v1_streams_reasoning_deltas(faked: Any, fake: FakeChatServer) -> None:
    fake.behaviour = stream_reply(["March ", "[1]."], reasoning=["Thinking ", "[7]."])
    chunks = list(
        sdk(faked).chat.completions.create(
            model="docrag-rag", messages=USER, stream=True, extra_body={"include_reasoning": True}
        )
    )
    deltas: list[Any] = [c.choices[0].delta for c in chunks if c.choices]
    thinking = "".join(getattr(d, "reasoning_content", None) or "" for d in deltas)
    text = "".join(d.content or "" for d in deltas)
    assert thinking == "Thinking [7]." and text == "March [1]."
    last: Any = chunks[-1].docrag  # type: ignore[attr-defined]
    assert last["answer"] == "March [1]." and last["dropped_citations"] == []


def test_thinking_flag_is_sent_as_the_servers_take_it(
    make_client: Any, fake: FakeChatServer
) -> None:
    client = make_client(**llm_settings(fake.url, thinking=True))
    client.post("/documents", files=[("files", ("notes.txt", NOTES))])
    fake.behaviour = reply(200, completion("March [1]."))
    ask(client)
    assert fake.requests[-1]["enable_thinking"] is True  # DOCRAG_LLM__THINKING
    ask(client, thinking=False)
    sent = fake.requests[-1]
    assert sent["enable_thinking"] is False
    assert sent["chat_template_kwargs"] == {"enable_thinking": False}
    sdk(client).chat.completions.create(
        model="docrag-rag",
        messages=USER,
        extra_body={"chat_template_kwargs": {"enable_thinking": False}},
    )
    assert fake.requests[-1]["enable_thinking"] is False


def test_no_thinking_flag_is_sent_by_default(faked: Any, fake: FakeChatServer) -> None:
    fake.behaviour = reply(200, completion("March [1]."))
    ask(faked)
    assert "enable_thinking" not in fake.requests[-1]
    assert "chat_template_kwargs" not in fake.requests[-1]


def test_a_thinking_model_condenses_follow_ups_without_its_thoughts(
    faked: Any, fake: FakeChatServer
) -> None:
    fake.behaviour = in_turn(
        reply(200, completion("<think>The user means the greenhouse.</think>Greenhouse budget?")),
        reply(200, completion("Forty thousand euros [1].")),
    )
    body = faked.post(
        "/ask",
        json={
            "question": "And its budget?",
            "history": [
                {"role": "user", "content": QUESTION},
                {"role": "assistant", "content": "In March [1]."},
            ],
        },
    ).json()
    assert body["condensed_question"] == "Greenhouse budget?"
