"""`docrag eval` on a tiny BEIR-layout dataset made here, and its metrics checked by hand."""

from __future__ import annotations

import gzip
import json
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from app.cli import cli
from app.evaluation import (
    DatasetError,
    collection_name,
    dataset_name,
    evaluate,
    load_beir,
    mean_metrics,
    mrr_at_k,
    ndcg_at_k,
    percentile,
    rank_passages,
    recall_at_k,
)
from app.query.retrieval import Hit

TIDES = ("Tides", "Ocean tides are caused by the gravitational pull of the Moon.")
PASSAGES = {
    "p-angler": (
        "Anglerfish",
        "The anglerfish lives in the deep sea and lures its prey with a glowing "
        "bioluminescent bulb that hangs from its head.",
    ),
    "p-volcano": (
        "Volcanoes",
        "A volcano erupts when molten rock called magma rises through the crust "
        "and escapes as lava and ash.",
    ),
    "p-bread": (
        "Sourdough",
        "Sourdough bread rises because wild yeast and lactic acid bacteria in the "
        "starter ferment the flour.",
    ),
    "p-chess": (
        "Chess openings",
        "The Sicilian Defence is a chess opening in which Black answers 1.e4 with c5.",
    ),
    "p-bees": (
        "Honey bees",
        "Honey bees communicate the direction of flowers with a waggle dance.",
    ),
    "p-tides": TIDES,
    "p-violin": ("Violins", "A violin has four strings tuned in fifths: G, D, A and E."),
    "p-copper": ("Copper", "Copper is an excellent conductor of electricity and heat."),
    "p-penguin": ("Penguins", "Emperor penguins breed during the Antarctic winter on sea ice."),
    "p-rust": ("Rust", "Iron rusts when it reacts with oxygen and water to form iron oxide."),
    # The same text twice: one docrag document standing for two corpus ids.
    "p-tides-copy": TIDES,
    "p-empty": ("", ""),  # nothing to index: reported as failed, the run goes on
}
QUERIES = {
    "q-angler": "How does the anglerfish attract its prey?",
    "q-volcano": "Why do volcanoes erupt?",
    "q-bees": "How do bees tell each other where flowers are?",
    "q-tides": "What causes the tides of the ocean?",
    "q-unjudged": "A query without relevance judgements.",
}
QRELS = [
    ("q-angler", "p-angler", 1),
    ("q-volcano", "p-volcano", 1),
    ("q-bees", "p-bees", 1),
    ("q-tides", "p-tides", 1),
    ("q-tides", "p-tides-copy", 1),
    ("q-tides", "p-copper", 0),  # judged not relevant
]


def write_dataset(folder: Path, *, gz: bool = False, split: str = "test") -> Path:
    (folder / "qrels").mkdir(parents=True)
    corpus = "".join(
        json.dumps({"_id": pid, "title": title, "text": text}) + "\n"
        for pid, (title, text) in PASSAGES.items()
    )
    if gz:
        with gzip.open(folder / "corpus.jsonl.gz", "wt", encoding="utf-8") as out:
            out.write(corpus)
    else:
        (folder / "corpus.jsonl").write_text(corpus, encoding="utf-8")
    (folder / "queries.jsonl").write_text(
        "".join(json.dumps({"_id": qid, "text": text}) + "\n" for qid, text in QUERIES.items()),
        encoding="utf-8",
    )
    (folder / "qrels" / f"{split}.tsv").write_text(
        "query-id\tcorpus-id\tscore\n" + "".join(f"{q}\t{c}\t{s}\n" for q, c, s in QRELS),
        encoding="utf-8",
    )
    return folder


# --- metrics, by hand ----------------------------------------------------------------------

RANKING = ["d3", "d1", "d7", "d2"]
RELEVANCE = {"d1": 2, "d2": 1, "d5": 1, "d9": 0}


def test_ndcg_by_hand() -> None:
    # DCG@10  = 0/log2(2) + 2/log2(3) + 0/log2(4) + 1/log2(5) = 1.26186 + 0.43068 = 1.69254
    # IDCG@10 = 2/log2(2) + 1/log2(3) + 1/log2(4) (d1, d2, d5; d9 is judged irrelevant)
    #         = 2 + 0.63093 + 0.5 = 3.13093
    # nDCG@10 = 1.69254 / 3.13093 = 0.54059
    assert ndcg_at_k(RANKING, RELEVANCE, 10) == pytest.approx(0.54059, abs=1e-5)
    # At 2 only d1 counts; the ideal top two are d1 and one grade-1 passage:
    # (2/log2(3)) / (2 + 1/log2(3)) = 1.26186 / 2.63093 = 0.47963
    assert ndcg_at_k(RANKING, RELEVANCE, 2) == pytest.approx(0.47963, abs=1e-5)
    assert ndcg_at_k(RANKING, RELEVANCE, 1) == 0.0
    assert ndcg_at_k(["d1", "d2", "d5"], RELEVANCE, 10) == pytest.approx(1.0)
    assert ndcg_at_k(RANKING, {"d9": 0}, 10) == 0.0  # nothing relevant: no credit possible


def test_recall_and_mrr_by_hand() -> None:
    assert recall_at_k(RANKING, RELEVANCE, 10) == pytest.approx(2 / 3)  # d1, d2 of d1, d2, d5
    assert recall_at_k(RANKING, RELEVANCE, 2) == pytest.approx(1 / 3)
    assert mrr_at_k(RANKING, RELEVANCE, 10) == 0.5  # first relevant at rank 2
    assert mrr_at_k(RANKING, RELEVANCE, 1) == 0.0
    assert mrr_at_k([], RELEVANCE, 10) == 0.0


def test_mean_metrics_averages_over_queries() -> None:
    metrics = mean_metrics({"a": RANKING, "b": ["x", "y"]}, {"a": RELEVANCE, "b": {"y": 1}})
    # b: nDCG = (1/log2(3)) / 1 = 0.63093, recall 1, MRR 1/2
    assert metrics["ndcg@10"] == pytest.approx((0.54059 + 0.63093) / 2, abs=1e-4)
    assert metrics["recall@10"] == pytest.approx((2 / 3 + 1) / 2, abs=1e-4)
    assert metrics["mrr@10"] == pytest.approx(0.5, abs=1e-4)


def test_percentile_interpolates_like_numpy() -> None:
    values = [10.0, 20.0, 30.0, 40.0]
    assert percentile(values, 50) == 25.0
    assert percentile(values, 95) == pytest.approx(38.5)
    assert percentile([7.0], 95) == 7.0


def _hit(document_id: str, chunk: int) -> Hit:
    return Hit(f"{document_id}:{chunk}", document_id, "f.txt", "", chunk, None, None, None, 0.5)


def test_chunk_hits_rank_documents_by_their_best_chunk() -> None:
    hits = [_hit("A", 1), _hit("B", 0), _hit("A", 0), _hit("stale", 0), _hit("C", 2)]
    passages = {"A": ["a"], "B": ["b2", "b1"], "C": ["c"]}
    # B stands for two identical corpus records; "stale" is not in this corpus.
    assert rank_passages(hits, passages) == ["a", "b2", "b1", "c"]


# --- the dataset and the collection --------------------------------------------------------


def test_load_beir_reads_plain_and_gzip(tmp_path: Path) -> None:
    for gz in (False, True):
        data = load_beir(write_dataset(tmp_path / f"set{gz}", gz=gz), "test")
        assert [r.id for r in data.corpus] == list(PASSAGES)
        assert data.corpus[0].document_bytes().startswith(b"Anglerfish\n\nThe anglerfish")
        assert data.qrels["q-tides"] == {"p-tides": 1, "p-tides-copy": 1, "p-copper": 0}
        assert data.judged_queries() == ["q-angler", "q-volcano", "q-bees", "q-tides"]
        assert data.judged_queries(limit=2) == ["q-angler", "q-volcano"]


def test_missing_split_names_the_available_ones(tmp_path: Path) -> None:
    folder = write_dataset(tmp_path / "set", split="dev")
    with pytest.raises(DatasetError, match="available: dev"):
        load_beir(folder, "test")


def test_collection_names_are_valid_and_keyed_by_model_and_chunking(tmp_path: Path) -> None:
    pattern = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9._-]{1,40}[a-zA-Z0-9]$")
    name = collection_name("scifact", "st:minilm:384", 200, 32)
    assert name.startswith("scifact-") and pattern.match(name)
    assert name == collection_name("scifact", "st:minilm:384", 200, 32)
    assert name != collection_name("scifact", "st:minilm:384", 128, 32)
    assert name != collection_name("scifact", "st:other:384", 200, 32)
    for odd in ("数据集", "_x_", "a" * 80, "my data (v2)"):
        assert pattern.match(collection_name(odd, "f", 200, 32)), odd
    (tmp_path / "cmrc2018" / "beir_format").mkdir(parents=True)
    assert dataset_name(tmp_path / "cmrc2018" / "beir_format") == "cmrc2018"


# --- the command, end to end ---------------------------------------------------------------


@pytest.mark.slow  # a corpus ingested and evaluated end to end
def test_eval_command_ingests_once_then_reuses_the_collection(
    env: dict[str, str], tmp_path: Path
) -> None:
    dataset = write_dataset(tmp_path / "tiny")
    runner = CliRunner()
    out = tmp_path / "results.json"

    first = runner.invoke(
        cli, ["eval", str(dataset), "--output", str(out), "--mode", "dense", "--no-mmr"]
    )
    assert first.exit_code == 0, first.output
    assert "nDCG@10" in first.output and "p-empty" in first.output  # the failed record is named
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["dataset"] == "tiny" and report["split"] == "test"
    assert report["config"]["retrieval_mode"] == "dense" and report["config"]["mmr"] is False
    assert report["config"]["data_dir"] == str(tmp_path / "data" / "eval")
    ingest = report["ingest"]
    # 12 records: two share one text, one is empty.
    assert ingest["records"] == 12 and ingest["documents"] == 11
    assert ingest["new_documents"] == 10 and ingest["failed_records"] == 1
    assert report["query"]["queries"] == 4  # the unjudged query is not run
    for value in report["metrics"].values():
        assert 0.0 <= value <= 1.0
    per_query = report["per_query"]
    assert per_query["q-angler"]["top10"][0] == "p-angler"
    assert per_query["q-angler"]["ndcg@10"] == 1.0
    # Both copies of the tides passage share its place at the top.
    assert set(per_query["q-tides"]["top10"][:2]) == {"p-tides", "p-tides-copy"}
    assert report["metrics"]["mrr@10"] >= 0.75 and report["metrics"]["recall@100"] == 1.0
    assert report["query"]["retrieve_ms_p50"] > 0
    assert report["query"]["retrieve_ms_p95"] >= report["query"]["retrieve_ms_p50"]

    second = runner.invoke(cli, ["eval", str(dataset), "--output", str(out), "--limit", "2"])
    assert second.exit_code == 0, second.output
    again = json.loads(out.read_text(encoding="utf-8"))
    assert again["config"]["collection"] == report["config"]["collection"]
    assert again["ingest"]["new_documents"] == 0 and again["ingest"]["new_chunks"] == 0
    assert again["ingest"]["existing_documents"] == 10
    assert again["query"]["queries"] == 2
    assert "0 new" in second.output


@pytest.mark.slow  # a corpus ingested and evaluated end to end
def test_eval_reads_a_gzipped_corpus_into_its_own_data_dir(
    make_settings: Callable[..., Any], tmp_path: Path
) -> None:
    dataset = write_dataset(tmp_path / "gz" / "beir_format", gz=True)
    report = evaluate(
        make_settings(), dataset, split="test", limit=1, data_dir=tmp_path / "elsewhere"
    )
    assert report.dataset == "gz" and report.query.queries == 1
    assert report.per_query["q-angler"]["top10"][0] == "p-angler"
    assert (tmp_path / "elsewhere" / "chroma").is_dir()
    assert math.isclose(report.metrics["ndcg@10"], 1.0)


def test_eval_command_explains_a_bad_dataset(env: dict[str, str], tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["eval", str(tmp_path / "nowhere")])
    assert result.exit_code == 2
    assert "is not a folder" in result.output


# --- document QA with page evidence (`--questions`) ----------------------------------------


def write_filings(folder: Path) -> Path:
    from tests.app.filings import GLOBEX, INITECH, filing_pdf

    folder.mkdir(parents=True)
    for filing in (GLOBEX, INITECH):
        (folder / filing.filename).write_bytes(filing_pdf(filing))
    questions = [
        ("q-globex-income", "Globex", "What was Globex's net income in fiscal 2021?", 3, "metrics"),
        ("q-initech-revenue", "Initech", "What was Initech's total revenue in 2021?", 3, "metrics"),
        ("q-initech-business", "Initech", "What software does Initech sell?", 2, "domain"),
    ]
    lines = [
        json.dumps(
            {
                "id": qid,
                "company": company,
                "doc_name": f"{company.upper()}_2021_10K",
                "question": text,
                "question_type": f"{kind}-relevant",
                "evidence_pages": [page],
                "answer": "",
            }
        )
        for qid, company, text, page, kind in questions
    ]
    path = folder / "questions.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.slow  # a corpus ingested and evaluated end to end
def test_docqa_eval_finds_the_evidence_pages_and_abstains_without_the_filing(
    env: dict[str, str], tmp_path: Path
) -> None:
    questions = write_filings(tmp_path / "filings")
    out = tmp_path / "docqa.json"
    result = CliRunner().invoke(
        cli,
        ["eval", str(tmp_path / "filings"), "--questions", str(questions), "--output", str(out)],
    )
    assert result.exit_code == 0, result.output
    assert "page@top5" in result.output and "metrics-relevant" in result.output
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["library"]["filings"] == ["GLOBEX_2021_10K.pdf", "INITECH_2021_10K.pdf"]
    by_id = {q["id"]: q for q in report["questions"]}
    for qid, outcome in by_id.items():
        assert outcome["evidence_top5"], (qid, outcome["sources"])
        assert outcome["abstained"] is False, qid
        # Asked of a library without its filing, the question names a company in no document.
        assert outcome["abstained_without_filing"] is True, qid
    assert by_id["q-globex-income"]["evidence_cited"]
    assert by_id["q-globex-income"]["top5_right_filing"]
    overall = report["tables"]["docrag"]["all"]
    assert overall["questions"] == 3 and overall["evidence_top5"] == 1.0
    assert overall["abstained_without_filing"] == 1.0 and overall["false_abstention"] == 0.0
    assert set(report["tables"]["docrag"]) == {"all", "metrics-relevant", "domain-relevant"}
    assert overall["abstained_without_company"] == 1.0


def test_docqa_eval_explains_a_missing_questions_file(env: dict[str, str], tmp_path: Path) -> None:
    write_filings(tmp_path / "filings")
    result = CliRunner().invoke(
        cli, ["eval", str(tmp_path / "filings"), "--questions", str(tmp_path / "none.jsonl")]
    )
    assert result.exit_code == 2
    assert "none.jsonl" in result.output and "not found" in result.output
