"""Citations you can trust: markers checked against the sources, only the sources used listed
as citations, each with the span of its chunk that supports the sentence citing it."""

from __future__ import annotations

from typing import Any

import pytest

from app.query.citations import best_quote, check_json_answer, check_markers, claims_by_source
from tests.app.chat_fakes import FakeChatServer, completion, reply
from tests.app.test_generation import QUESTION, llm_settings

CHUNK = (
    "The aurora greenhouse opens in March. Its budget is forty thousand euros, paid by the "
    "town council. Tomatoes need six hours of sun a day."
)


@pytest.mark.parametrize(
    ("answer", "text", "used", "dropped"),
    [
        ("Opens in March [1].", "Opens in March [1].", [1], []),
        ("Opens [1]. Costs [9]. Grows [0].", "Opens [1]. Costs. Grows.", [1], [9, 0]),
        ("Opens [2] and costs [1][2].", "Opens [2] and costs [1][2].", [2, 1], []),
        ("Both [1, 3, 2].", "Both [1][2].", [1, 2], [3]),
        ("Twice [1, 1].", "Twice [1].", [1], []),
        ("No markers at all.", "No markers at all.", [], []),
        ("Only bad [5] [6].", "Only bad.", [], [5, 6]),
        ("中文答案[1]。还有[4]。", "中文答案[1]。还有。", [1], [4]),
    ],
    ids=["valid", "out-of-range", "repeated", "group", "dup-in-group", "none", "all-bad", "zh"],
)
def test_markers_are_checked(answer: str, text: str, used: list[int], dropped: list[int]) -> None:
    checked = check_markers(answer, count=2)
    assert (checked.text, checked.used, checked.dropped) == (text, used, dropped)


def test_claims_follow_the_sentence_that_cites() -> None:
    claims = claims_by_source("It opens in March [1]. The budget is forty thousand. [2] Fine.")
    assert claims == {1: ["It opens in March."], 2: ["The budget is forty thousand."]}


@pytest.mark.parametrize(
    ("claim", "quote"),
    [
        ("How much money: forty thousand euros.", "Its budget is forty thousand euros, paid by"),
        ("It opens in March.", "The aurora greenhouse opens in March."),
        ("Tomatoes want sun.", "Tomatoes need six hours of sun a day."),
        ("Nothing in common here.", "The aurora greenhouse opens in March."),
    ],
)
def test_quote_is_the_best_supporting_sentence(claim: str, quote: str) -> None:
    assert (best_quote(CHUNK, [claim]) or "").startswith(quote)


def test_chinese_quote_uses_character_overlap() -> None:
    chunk = "温室三月开放。预算是四万欧元。番茄每天需要六小时日照。"
    assert best_quote(chunk, ["预算是多少？四万欧元"]) == "预算是四万欧元。"


def test_json_answers_are_checked_in_text_and_list() -> None:
    checked = check_json_answer('{"answer": "March [1][7].", "citations": [1, 7, "[2]"]}', 2)
    assert checked.used == [1, 2] and checked.dropped == [7]
    assert checked.text == '{"answer": "March [1].", "citations": [1, 2]}'
    other = check_json_answer('{"name": "aurora"}', 2)
    assert other.used == [] and other.text == '{"name": "aurora"}'


@pytest.fixture
def two_sources(make_client: Any, fake: FakeChatServer) -> Any:
    client = make_client(**llm_settings(fake.url))
    client.post(
        "/documents",
        files=[
            ("files", ("greenhouse.txt", b"The aurora greenhouse opens in March.")),
            ("files", ("budget.txt", b"The aurora greenhouse budget is forty thousand euros.")),
        ],
    )
    return client


def test_only_used_sources_are_citations_and_all_stay_as_sources(
    two_sources: Any, fake: FakeChatServer
) -> None:
    fake.behaviour = reply(200, completion("The greenhouse costs forty thousand euros [2][5]."))
    body = two_sources.post("/ask", json={"question": QUESTION, "top_k": 2}).json()
    assert len(body["sources"]) == 2 and {s["n"] for s in body["sources"]} == {1, 2}
    assert [c["n"] for c in body["citations"]] == [2]
    assert body["dropped_citations"] == [5]
    assert body["answer"] == "The greenhouse costs forty thousand euros [2]."
    cited = body["citations"][0]
    source_two = next(s for s in body["sources"] if s["n"] == 2)
    assert cited["filename"] == source_two["filename"] and cited["quote"] in source_two["text"]
    assert source_two["quote"] is None
    assert body["grounded"] is True


def test_an_answer_without_valid_markers_is_not_grounded(
    two_sources: Any, fake: FakeChatServer
) -> None:
    fake.behaviour = reply(200, completion("It opens in March [7]."))
    body = two_sources.post("/ask", json={"question": QUESTION}).json()
    assert body["grounded"] is False and body["citations"] == []
    assert body["dropped_citations"] == [7] and body["sources"]
