"""The question path end to end, through HTTP on a real library: Chinese questions over
Chinese articles (one document per person or place, as an encyclopedia keeps them), the
English-only model saying why it cannot answer a Chinese question over English documents, and
`docrag eval`'s selection finding the same sources (and abstaining alike) as `/ask`."""

from __future__ import annotations

from typing import Any

import pytest

from app.evaluation.retrieval import answer_path_selection
from tests.app.test_document_questions import ask

# Invented articles: nobody tuned anything on them.
ARTICLES = {
    "lin_mochou.md": (
        "# 林墨秋\n\n林墨秋（1921年—1998年），浙江宁波人，桥梁工程师。他主持设计了"
        "三座跨江大桥，其中青溪大桥于1957年建成通车。晚年他在大学讲授结构力学，"
        "著有《拱桥计算方法》一书。"
    ),
    "shen_qinglan.md": (
        "# 沈青岚\n\n沈青岚（1935年—2010年），湖南长沙人，小提琴演奏家。她十二岁登台演出，"
        "后来担任省交响乐团首席，录制了多张唱片。她创办的青少年音乐夏令营每年吸引数百名学生。"
    ),
    "baiyun_town.md": (
        "# 白云镇\n\n白云镇位于山谷之中，以茶叶和竹编闻名。镇上的古桥建于明代，"
        "每年春天举办采茶节。全镇人口约两万，主要经济来源是茶园和旅游业。"
    ),
    "harbour.txt": (
        "The harbour master inspects the fishing boats every Tuesday before the tide turns. "
        "Boats that fail the inspection stay in port until they are repaired."
    ),
}


@pytest.fixture
def library(client: Any) -> Any:
    for name, text in ARTICLES.items():
        reply = client.post("/documents", files=[("files", (name, text.encode()))])
        assert reply.status_code == 201, reply.text
    return client


def test_a_plain_chinese_question_is_answered_from_its_article(library: Any) -> None:
    # The article names the person and says what he did, never the question's word 职业
    # (occupation): the name carries the question, its function characters do not.
    body = ask(library, "林墨秋的职业是什么？")
    assert body["grounded"] is True, body["answer"]
    assert {c["filename"] for c in body["citations"]} == {"lin_mochou.md"}
    assert "桥梁工程师" in body["answer"]
    town = ask(library, "白云镇以什么闻名？")
    assert town["grounded"] is True, town["answer"]
    assert town["citations"][0]["filename"] == "baiyun_town.md"


def test_a_chinese_question_about_someone_not_in_the_library_is_not_answered(
    library: Any,
) -> None:
    body = ask(library, "王大年的职业是什么？")
    assert body["grounded"] is False, body["answer"]
    assert body["citations"] == []
    assert body["answer"].startswith("文档中没有找到")


def test_an_english_only_model_says_why_a_chinese_question_finds_no_english_passage(
    library: Any,
) -> None:
    body = ask(library, "港务长每周几检查渔船？")  # about harbour.txt, in Chinese
    assert body["grounded"] is False
    assert "DOCRAG_EMBEDDING__MODEL" in body["answer"], body["answer"]
    # An English question over the same library is not told anything about models.
    english = ask(library, "When does the harbour master inspect the boats?")
    assert english["grounded"] is True
    assert "DOCRAG_EMBEDDING__MODEL" not in english["answer"]


def test_eval_selection_and_ask_find_the_same_sources_and_abstain_alike(library: Any) -> None:
    parts = library.app.state.parts
    candidates = parts.settings.retrieval.candidates
    questions = [
        "林墨秋的职业是什么？",
        "白云镇以什么闻名？",
        "王大年的职业是什么？",  # abstains
        "When does the harbour master inspect the boats?",
        "What did Tesla earn in 2021?",  # a name in no document: abstains
    ]
    outcomes = []
    for question in questions:
        body = ask(library, question, top_k=3)
        selection = answer_path_selection(parts.ask_service, question, candidates)
        asked = [(s["filename"], s["text"]) for s in body["sources"]]
        evaluated = [(h.filename, h.text) for h in selection.hits[:3]]
        assert asked == evaluated, question
        outcomes.append(body["grounded"])
        assert body["grounded"] is bool(selection.hits), question
    assert outcomes == [True, True, False, True, False]
