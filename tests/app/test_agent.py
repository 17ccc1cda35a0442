"""Agent mode: the chat model calls a search_documents tool (LangChain tool calling), a
bounded number of times, then answers; every call is returned in `steps`."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.app.chat_fakes import FakeChatServer, completion, in_turn, reply
from tests.app.test_generation import NOTES, QUESTION, llm_settings

SEARCH = {"type": "function", "function": {"name": "search_documents"}}


def tool_calls(*calls: tuple[str, dict[str, Any] | str]) -> bytes:
    return json.dumps(
        {
            "id": "x",
            "object": "chat.completion",
            "created": 0,
            "model": "fake",
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": None,
                        "tool_calls": [
                            {
                                "id": f"call_{i}",
                                "type": "function",
                                "function": {
                                    "name": name,
                                    "arguments": args
                                    if isinstance(args, str)
                                    else json.dumps(args),
                                },
                            }
                            for i, (name, args) in enumerate(calls)
                        ],
                    },
                    "finish_reason": "tool_calls",
                }
            ],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
        }
    ).encode()


def agent(client: Any, **extra: Any) -> Any:
    return client.post("/ask", json={"question": QUESTION, "mode": "agent", **extra})


@pytest.mark.llm
@pytest.mark.integration
def test_real_server_searches_then_answers(make_client: Any, llm_server: str) -> None:
    client = make_client(**llm_settings(llm_server))
    client.post("/documents", files=[("files", ("notes.txt", NOTES))])
    response = agent(client, generation={"temperature": 0, "max_tokens": 40})
    assert response.status_code == 200, response.text
    body = response.json()
    first = body["steps"][0]
    assert first["tool"] == "search_documents" and first["error"] is None
    assert isinstance(first["arguments"]["query"], str) and first["arguments"]["query"]
    assert first["results"] and set(first["results"]) <= {s["n"] for s in body["sources"]}
    assert body["sources"][0]["filename"] == "notes.txt"
    assert body["grounded"] == bool(body["citations"])
    assert body["usage"]["total_tokens"] > 0


@pytest.fixture
def faked(make_client: Any, fake: FakeChatServer) -> Any:
    client = make_client(**llm_settings(fake.url, agent_max_steps=2))
    client.post(
        "/documents",
        files=[
            ("files", ("greenhouse.txt", b"The aurora greenhouse opens in March.")),
            ("files", ("budget.txt", b"The aurora greenhouse budget is forty thousand euros.")),
        ],
    )
    return client


def test_the_loop_searches_twice_then_answers(faked: Any, fake: FakeChatServer) -> None:
    fake.behaviour = in_turn(
        reply(200, tool_calls(("search_documents", {"query": "greenhouse opening"}))),
        reply(200, tool_calls(("search_documents", {"query": "greenhouse budget euros"}))),
        reply(200, completion("Opens in March [1], costs forty thousand [2] [9].")),
    )
    body = agent(faked).json()
    first, second, last = fake.requests
    assert first["tool_choice"] == SEARCH  # the first turn always searches
    assert second["tool_choice"] == "auto" and last["tool_choice"] == "none"
    assert [t["function"]["name"] for t in first["tools"]] == ["search_documents"]
    tool_messages = [m for m in second["messages"] if m["role"] == "tool"]
    assert tool_messages[0]["tool_call_id"] == "call_0"
    assert "--- source [1]" in tool_messages[0]["content"]
    assert [s["arguments"]["query"] for s in body["steps"]] == [
        "greenhouse opening",
        "greenhouse budget euros",
    ]
    # Passages are numbered across searches; one found twice keeps its number.
    assert len(body["sources"]) == 2 == len({s["document_id"] for s in body["sources"]})
    assert {n for s in body["steps"] for n in s["results"]} == {1, 2}
    assert body["answer"] == "Opens in March [1], costs forty thousand [2]."
    assert body["dropped_citations"] == [9] and body["grounded"] is True
    assert body["usage"]["total_tokens"] == 45


def test_steps_are_bounded(faked: Any, fake: FakeChatServer) -> None:
    fake.behaviour = reply(200, tool_calls(("search_documents", {"query": "greenhouse"})))
    body = agent(faked).json()
    assert len(body["steps"]) == 2  # DOCRAG_LLM__AGENT_MAX_STEPS
    assert len(fake.requests) == 3 and fake.requests[-1]["tool_choice"] == "none"
    assert body["grounded"] is False


def test_bad_tool_arguments_are_reported_back(faked: Any, fake: FakeChatServer) -> None:
    fake.behaviour = in_turn(
        reply(200, tool_calls(("search_documents", "{not json"))),
        reply(200, completion("I could not search.")),
    )
    body = agent(faked).json()
    assert body["steps"][0]["error"] and body["steps"][0]["results"] == []
    tool_message = [m for m in fake.requests[1]["messages"] if m["role"] == "tool"][0]
    assert tool_message["content"].startswith("error:")


def test_the_request_filter_still_holds(faked: Any, fake: FakeChatServer) -> None:
    docs = faked.get("/documents").json()["data"]
    budget = next(d["id"] for d in docs if d["filename"] == "budget.txt")
    fake.behaviour = in_turn(
        reply(200, tool_calls(("search_documents", {"query": "greenhouse", "document_ids": []}))),
        reply(200, completion("Forty thousand [1].")),
    )
    body = agent(faked, document_ids=[budget]).json()
    assert {s["filename"] for s in body["sources"]} == {"budget.txt"}


@pytest.mark.parametrize(
    "behaviour",
    [
        reply(400, b'{"error": {"message": "tools are not supported"}}'),
        reply(200, completion("I answer without searching.")),
    ],
    ids=["refused", "ignored"],
)
def test_servers_without_tool_calling_get_a_clear_400(
    faked: Any, fake: FakeChatServer, behaviour: Any
) -> None:
    fake.behaviour = behaviour
    response = agent(faked)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "tools_not_supported"


def test_agent_mode_needs_a_chat_model(client: Any) -> None:
    response = agent(client)
    assert response.status_code == 400
    assert "DOCRAG_LLM__MODEL" in response.json()["error"]["message"]


def test_agent_mode_is_not_streamed(client: Any) -> None:
    response = agent(client, stream=True)
    assert response.status_code == 422 and "mode" in response.json()["error"]["message"]


def choose(choice: Any) -> dict[str, Any]:
    return {"generation": {"tool_choice": choice}}


def test_tool_choice_none_answers_without_searching(faked: Any, fake: FakeChatServer) -> None:
    fake.behaviour = reply(200, completion("I did not search [1]."))
    body = agent(faked, **choose("none")).json()
    assert [r["tool_choice"] for r in fake.requests] == ["none"]
    assert body["steps"] is None and body["sources"] == []
    assert body["grounded"] is False and body["dropped_citations"] == [1]


@pytest.mark.parametrize(
    ("choice", "sent"),
    [
        ("required", "required"),
        ({"type": "function", "function": {"name": "search_documents"}}, SEARCH),
    ],
    ids=["required", "named"],
)
def test_tool_choice_forcing_a_search_reaches_the_server(
    faked: Any, fake: FakeChatServer, choice: Any, sent: Any
) -> None:
    fake.behaviour = in_turn(
        reply(200, tool_calls(("search_documents", {"query": "greenhouse opening"}))),
        reply(200, completion("March [1].")),
    )
    body = agent(faked, **choose(choice)).json()
    assert [r["tool_choice"] for r in fake.requests] == [sent, "auto"]
    assert body["answer"] == "March [1]." and body["grounded"] is True


def test_tool_choice_auto_lets_the_model_search(faked: Any, fake: FakeChatServer) -> None:
    fake.behaviour = in_turn(
        reply(200, tool_calls(("search_documents", {"query": "greenhouse opening"}))),
        reply(200, completion("March [1].")),
    )
    body = agent(faked, **choose("auto")).json()
    assert [r["tool_choice"] for r in fake.requests] == ["auto", "auto"]
    assert len(body["steps"]) == 1


@pytest.mark.parametrize("choice", ["auto", "required"])
def test_a_server_ignoring_the_choice_is_asked_again_with_the_tool_named(
    faked: Any, fake: FakeChatServer, choice: str
) -> None:
    fake.behaviour = in_turn(
        reply(200, completion("I answer without searching.")),  # the choice ignored
        reply(200, tool_calls(("search_documents", {"query": "greenhouse opening"}))),
        reply(200, completion("March [1].")),
    )
    body = agent(faked, **choose(choice)).json()
    assert [r["tool_choice"] for r in fake.requests] == [choice, SEARCH, "auto"]
    assert body["answer"] == "March [1]." and len(body["steps"]) == 1


def test_an_unknown_tool_name_is_422(faked: Any, fake: FakeChatServer) -> None:
    response = agent(faked, **choose({"type": "function", "function": {"name": "web_search"}}))
    assert response.status_code == 422
    assert "search_documents" in response.json()["error"]["message"] and fake.requests == []


def test_tool_choice_without_agent_mode_is_422(faked: Any) -> None:
    response = faked.post("/ask", json={"question": QUESTION, **choose("auto")})
    assert response.status_code == 422 and "mode" in response.json()["error"]["message"]


def test_agent_mode_and_tool_choice_through_the_sdk(faked: Any, fake: FakeChatServer) -> None:
    import openai

    fake.behaviour = in_turn(
        reply(200, tool_calls(("search_documents", {"query": "greenhouse opening"}))),
        reply(200, completion("March [1].")),
    )
    result = openai.OpenAI(
        base_url="http://testserver/v1", api_key="x", http_client=faked, max_retries=0
    ).chat.completions.create(
        model="docrag-rag",
        messages=[{"role": "user", "content": QUESTION}],
        tool_choice="required",
        extra_body={"docrag": {"mode": "agent"}},
    )
    assert fake.requests[0]["tool_choice"] == "required"
    assert result.choices[0].message.content == "March [1]."
