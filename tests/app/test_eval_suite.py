"""`docrag eval --suite`: every set of a tiny folder laid out like the shared data, through the
real embedding model, Chroma and `AskService`; the SQuAD-style metrics checked by hand."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import cli
from app.evaluation import DatasetError
from app.evaluation.squad import (
    SquadQuestion,
    contains_span,
    load_squad,
    score_answer,
    summarize_spans,
)
from app.query.answers import Answer, Citation, Timings
from tests.app.test_evaluation import write_dataset, write_filings

CMRC = {
    "version": "v1.0",
    "data": [
        {
            "id": "DEV_0",
            "title": "长城",
            "paragraphs": [
                {
                    "id": "DEV_0",
                    "context": "长城是中国古代的军事防御工程，总长度超过两万一千公里。"
                    "长城始建于春秋战国时期，明朝时大规模重修。",
                    "qas": [
                        {
                            "id": "DEV_0_QUERY_0",
                            "question": "长城的总长度是多少？",
                            "answers": [{"text": "两万一千公里", "answer_start": 22}],
                        }
                    ],
                }
            ],
        },
        {
            "id": "DEV_1",
            "title": "熊猫",
            "paragraphs": [
                {
                    "id": "DEV_1",
                    "context": "大熊猫主要生活在中国四川的山区，以竹子为主要食物。"
                    "大熊猫每天要吃十几公斤竹子。",
                    "qas": [
                        {
                            "id": "DEV_1_QUERY_0",
                            "question": "大熊猫的主要食物是什么？",
                            "answers": [{"text": "竹子", "answer_start": 18}],
                        }
                    ],
                }
            ],
        },
    ],
}
COVID = {
    "version": "v1.0",
    "data": [
        {
            "paragraphs": [
                {
                    "document_id": 101,
                    "context": "Influenza transmission in households\n\nInfluenza spreads "
                    "between household members mainly through respiratory droplets. "
                    "The secondary attack rate in households was 18 percent in our "
                    "cohort.\n\nHand washing reduced transmission by a third.",
                    "qas": [
                        {
                            "id": 1,
                            "question": "What was the secondary attack rate in households?",
                            "answers": [{"text": "18 percent", "answer_start": 0}],
                            "is_impossible": False,
                        }
                    ],
                }
            ]
        },
        {
            "paragraphs": [
                {
                    "document_id": 102,
                    "context": "Bats as reservoirs of coronaviruses\n\nHorseshoe bats carry "
                    "many coronaviruses closely related to SARS-CoV. Sampling in caves "
                    "found the viruses in fecal swabs.",
                    "qas": [
                        {
                            "id": 2,
                            "question": "Which bats carry coronaviruses related to SARS-CoV?",
                            "answers": [{"text": "Horseshoe bats", "answer_start": 0}],
                            "is_impossible": False,
                        }
                    ],
                }
            ]
        },
    ],
}


def write_suite(root: Path) -> Path:
    """A folder laid out like ../shared/data, with a few passages per set."""
    questions = write_filings(root / "financebench-pdfs")
    (root / "financebench").mkdir()
    questions.rename(root / "financebench" / "questions_dev.jsonl")
    (root / "scifact").mkdir()
    write_dataset(root / "scifact", split="train")
    (root / "rgb_zh").mkdir()
    write_dataset(root / "rgb_zh", split="dev")
    for name, data, file in (
        ("cmrc2018", CMRC, "cmrc2018_dev.json"),
        ("covidqa", COVID, "covidqa_dev.json"),
    ):
        (root / name).mkdir()
        (root / name / file).write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return root


# --- the metrics, by hand ------------------------------------------------------------------


def _source(n: int, document_id: str, text: str) -> Citation:
    return Citation(n, document_id, f"{document_id}.txt", None, None, None, text, 0.5, None)


def _answer(text: str, sources: list[Citation], cited: list[int], grounded: bool) -> Answer:
    return Answer(
        answer=text,
        grounded=grounded,
        citations=[s for s in sources if s.n in cited],
        mode="extractive",
        model=None,
        usage=None,
        timings=Timings(0.0, 0.0, 0.0),
        sources=sources,
    )


QUESTION = SquadQuestion("q1", "p-flu", "What was the attack rate?", ("18 percent", "18 %"))
PASSAGE_OF = {"doc-flu": "p-flu", "doc-bats": "p-bats"}


def test_the_span_in_the_answer_and_its_cited_source() -> None:
    sources = [
        _source(1, "doc-bats", "Horseshoe bats carry coronaviruses."),
        _source(2, "doc-flu", "The secondary attack rate was 18\npercent in our cohort."),
    ]
    answer = _answer("The attack rate was 18 Percent [2].", sources, cited=[2], grounded=True)
    outcome = score_answer(QUESTION, answer, PASSAGE_OF, 12.0)
    # Line breaks and case aside, the span is in the answer, its cited source and the top 5.
    assert outcome.answer_has_span and outcome.span_cited and outcome.span_top5
    assert outcome.passage_top5 and not outcome.abstained


def test_the_span_among_the_sources_but_not_in_the_answer_nor_cited() -> None:
    sources = [
        _source(1, "doc-bats", "Horseshoe bats carry coronaviruses."),
        _source(2, "doc-flu", "The secondary attack rate was 18 percent."),
    ]
    answer = _answer("Bats carry coronaviruses [1].", sources, cited=[1], grounded=True)
    outcome = score_answer(QUESTION, answer, PASSAGE_OF, 12.0)
    assert not outcome.answer_has_span and not outcome.span_cited
    assert outcome.span_top5 and outcome.passage_top5


def test_an_abstention_scores_nothing_and_counts_as_false() -> None:
    sources = [_source(1, "doc-bats", "Horseshoe bats carry coronaviruses.")]
    # The not-found message may quote the question; it is no answer.
    answer = _answer("Not found: 18 percent?", sources, cited=[], grounded=False)
    outcome = score_answer(QUESTION, answer, PASSAGE_OF, 12.0)
    assert outcome.abstained and not outcome.answer_has_span
    assert not outcome.span_top5 and not outcome.passage_top5
    table = summarize_spans(
        [outcome, score_answer(QUESTION, _answer("18 percent [1]", [], [1], True), {}, 1.0)]
    )
    assert table["false_abstention"] == 0.5 and table["answer_has_span"] == 0.5
    assert table["questions"] == 2.0


def test_spans_ignore_spacing_in_chinese() -> None:
    assert contains_span("长城总长度超过 两万一千 公里。", ["两万一千公里"])
    assert not contains_span("长城很长。", ["两万一千公里"])


def test_a_malformed_squad_file_names_the_problem(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"data": [', encoding="utf-8")
    with pytest.raises(DatasetError, match="is not JSON"):
        load_squad(broken)
    wrong = tmp_path / "wrong.json"
    wrong.write_text('{"data": [{"title": "no paragraphs"}]}', encoding="utf-8")
    with pytest.raises(DatasetError, match="paragraphs"):
        load_squad(wrong)


# --- the suite, end to end -----------------------------------------------------------------


@pytest.mark.slow  # a corpus ingested and evaluated end to end
def test_suite_runs_every_set_and_prints_one_table(env: None, tmp_path: Path) -> None:
    root = write_suite(tmp_path / "shared")
    out = tmp_path / "suite.json"
    result = CliRunner().invoke(cli, ["eval", "--suite", str(root), "--output", str(out)])
    assert result.exit_code == 0, result.output
    table = [line for line in result.output.splitlines() if line.startswith("|")]
    assert table[0].startswith("| set | n | nDCG@10")
    rows = {line.split("|")[1].strip(): line for line in table[2:]}
    assert set(rows) == {
        "FinanceBench dev, half A",
        "FinanceBench dev, half B",
        "SciFact train, retrieval",
        "rgb_zh dev, retrieval",
        "CMRC 2018 dev, first 2 questions",
        "COVID-QA, first 2 questions",
    }
    report = json.loads(out.read_text(encoding="utf-8"))
    by_set = {row["set"]: row for row in report["table"]}
    # Globex is half A, Initech half B: one question and two.
    assert by_set["FinanceBench dev, half A"]["questions"] == 1
    assert by_set["FinanceBench dev, half B"]["questions"] == 2
    assert by_set["SciFact train, retrieval"]["ndcg@10"] > 0.9
    assert by_set["CMRC 2018 dev, first 2 questions"]["questions"] == 2
    cmrc = report["sets"]["cmrc2018"]
    assert cmrc["ingest"]["documents"] == 2 and len(cmrc["outcomes"]) == 2
    covid = by_set["COVID-QA, first 2 questions"]
    assert covid["passage_top5"] == 1.0 and covid["span_top5"] == 1.0, report["sets"]["covidqa"]
    assert covid["false_abstention"] == 0.0
    outcomes = {o["question_id"]: o for o in report["sets"]["covidqa"]["outcomes"]}
    assert outcomes["1"]["span_cited"] and outcomes["2"]["span_cited"]
    assert report["sets"]["covidqa"]["config"]["answer_mode"] == "extractive"


def test_suite_skips_sets_and_restricts_financebench_to_one_half(env: None, tmp_path: Path) -> None:
    root = write_suite(tmp_path / "shared")
    skip = "scifact,rgb_zh,cmrc2018"
    result = CliRunner().invoke(
        cli, ["eval", "--suite", str(root), "--skip", skip, "--skip", "covidqa", "--half", "B"]
    )
    assert result.exit_code == 0, result.output
    assert "| FinanceBench dev, half B |" in result.output
    assert "half A" not in result.output and "SciFact" not in result.output


def test_suite_explains_a_missing_folder_and_a_malformed_file(env: None, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["eval", "--suite", str(tmp_path / "nowhere")])
    assert result.exit_code == 2
    assert "nowhere is not a folder" in result.output and "laid out like" in result.output
    assert "Traceback" not in result.output

    root = write_suite(tmp_path / "shared")
    (root / "covidqa" / "covidqa_dev.json").write_text("{not json", encoding="utf-8")
    result = CliRunner().invoke(cli, ["eval", "--suite", str(root)])
    assert result.exit_code == 2
    assert "covidqa_dev.json is not JSON" in result.output
    assert "--skip covidqa" in result.output

    result = CliRunner().invoke(cli, ["eval", "--suite", str(root), "--skip", "covid"])
    assert result.exit_code == 2 and "no such set" in result.output


def test_eval_without_a_dataset_or_suite_says_what_to_pass(env: None) -> None:
    result = CliRunner().invoke(cli, ["eval"])
    assert result.exit_code == 2 and "--suite" in result.output
