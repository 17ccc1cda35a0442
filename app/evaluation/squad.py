"""`docrag eval --suite`'s SQuAD-style sets (CMRC 2018, COVID-QA) as document QA.

Every passage (a CMRC paragraph, a whole COVID-QA article) is one document of an evaluation
collection, loaded with `ingest_many` and kept for later runs. Every question goes through
`AskService.ask`, the answer path of `/ask` (retrieval, selection, extractive answer, citation
check), with the top 5 sources, and is scored on what a reader would see:

- `answer_has_span`: a gold answer is in the answer text;
- `span_cited`: a gold answer is in the text of one of the cited sources;
- `span_top5`: a gold answer is in the text of one of the 5 sources;
- `passage_top5`: one of the 5 sources comes from the question's own passage;
- `false_abstention`: the answer is `grounded: false`, although its passage is in the library.

Spans are compared after NFKC, case folding and removing all whitespace, so reflowed lines
and CJK spacing do not decide the score; a question counts when any of its answers is found."""

from __future__ import annotations

import hashlib
import json
import re
import time
import unicodedata
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from app.config import Settings
from app.evaluation.beir import CorpusRecord, DatasetError, EvalProgress, percentile
from app.evaluation.retrieval import IngestSummary, collection_name, eval_settings, ingest_corpus
from app.query.answers import Answer, Citation, Question

TOP_K = 5
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class SquadQuestion:
    id: str
    passage_id: str
    text: str
    answers: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SquadSet:
    name: str
    path: Path
    passages: list[CorpusRecord]  # one document each: the title (if any), a blank line, the text
    questions: list[SquadQuestion]  # in file order


def load_squad(path: Path, name: str | None = None, limit: int | None = None) -> SquadSet:
    """A SQuAD-style JSON file (`data` → `paragraphs` → `context`, `qas` → `answers`): every
    passage, and the first `limit` answerable questions in file order."""
    if not path.is_file():
        raise DatasetError(f"{path} not found: pass a SQuAD-style JSON file (data/paragraphs/qas)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DatasetError(f"{path} is not JSON ({e}); expected a SQuAD-style file") from e
    passages: list[CorpusRecord] = []
    questions: list[SquadQuestion] = []
    try:
        for a, article in enumerate(data["data"]):
            for p, paragraph in enumerate(article["paragraphs"]):
                passage_id = str(paragraph.get("id") or paragraph.get("document_id") or f"{a}-{p}")
                context = str(paragraph["context"])
                passages.append(CorpusRecord(passage_id, str(article.get("title") or ""), context))
                for qa in paragraph["qas"]:
                    answers = tuple(
                        dict.fromkeys(str(x["text"]) for x in qa["answers"] if str(x["text"]))
                    )
                    if answers and not qa.get("is_impossible"):
                        questions.append(
                            SquadQuestion(str(qa["id"]), passage_id, str(qa["question"]), answers)
                        )
    except (KeyError, TypeError, AttributeError) as e:
        raise DatasetError(
            f"{path} is not SQuAD-style: {e!r} missing or malformed; expected "
            '{"data": [{"paragraphs": [{"context", "qas": [{"id", "question", "answers"}]}]}]}'
        ) from e
    if not questions:
        raise DatasetError(f"{path} holds no answerable question")
    return SquadSet(
        name=name or path.stem,
        path=path.resolve(),
        passages=passages,
        questions=questions[:limit] if limit is not None else questions,
    )


def normalized(text: str) -> str:
    return _SPACE.sub("", unicodedata.normalize("NFKC", text).casefold())


def contains_span(text: str, answers: Sequence[str]) -> bool:
    """A gold answer is in `text`, whitespace and case aside."""
    haystack = normalized(text)
    return any(normalized(a) and normalized(a) in haystack for a in answers)


@dataclass(frozen=True, slots=True)
class SpanOutcome:
    question_id: str
    answer_has_span: bool
    span_cited: bool
    span_top5: bool
    passage_top5: bool
    abstained: bool
    latency_ms: float


def score_answer(
    question: SquadQuestion, answer: Answer, passage_of: dict[str, str], latency_ms: float
) -> SpanOutcome:
    """What one answer shows; `passage_of` maps docrag document ids to passage ids."""

    def any_span(sources: Sequence[Citation]) -> bool:
        return any(contains_span(s.text, question.answers) for s in sources)

    sources = answer.sources[:TOP_K]
    return SpanOutcome(
        question_id=question.id,
        answer_has_span=answer.grounded and contains_span(answer.answer, question.answers),
        span_cited=any_span(answer.citations),
        span_top5=any_span(sources),
        passage_top5=any(passage_of.get(s.document_id) == question.passage_id for s in sources),
        abstained=not answer.grounded,
        latency_ms=round(latency_ms, 1),
    )


def summarize_spans(outcomes: Sequence[SpanOutcome]) -> dict[str, float | None]:
    """The share of questions each metric holds for (`abstained` as `false_abstention`)."""
    count = len(outcomes)
    metrics: dict[str, float | None] = {"questions": float(count)}
    for key, name in _METRICS:
        metrics[name] = sum(getattr(o, key) for o in outcomes) / count if count else None
    latencies = [o.latency_ms for o in outcomes]
    metrics["latency_p50_ms"] = percentile(latencies, 50) if latencies else None
    return metrics


_METRICS = (
    ("answer_has_span", "answer_has_span"),
    ("span_cited", "span_cited"),
    ("span_top5", "span_top5"),
    ("passage_top5", "passage_top5"),
    ("abstained", "false_abstention"),  # every passage is in the library
)


@dataclass(frozen=True, slots=True)
class SquadReport:
    name: str
    path: str
    config: dict[str, Any]
    ingest: IngestSummary
    metrics: dict[str, float | None]
    outcomes: list[SpanOutcome]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def extractive(settings: Settings) -> Settings:
    """The settings without a chat model: answers are extractive, as without an LLM."""
    return settings.model_copy(update={"llm": settings.llm.model_copy(update={"model": None})})


def evaluate_squad(
    settings: Settings,
    path: Path,
    *,
    name: str | None = None,
    limit: int | None = None,
    data_dir: Path | None = None,
    progress: EvalProgress | None = None,
) -> SquadReport:
    """Ingests every passage of the file (what is not stored yet) and asks its first `limit`
    questions through `AskService.ask`, extractive, with the top 5 sources."""
    from app.builders import build_embedder, build_parts

    dataset = load_squad(path, name, limit)
    embedder = build_embedder(settings)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:8]
    collection = collection_name(
        f"{dataset.name}-{digest}",
        embedder.fingerprint,
        settings.embedding.chunk_size,
        settings.embedding.chunk_overlap,
    )
    run_settings = eval_settings(
        extractive(settings),
        collection=collection,
        data_dir=data_dir if data_dir is not None else settings.data_dir / "eval",
    )
    parts = build_parts(run_settings, embedder=embedder)
    try:
        started = time.perf_counter()
        documents, ingest = ingest_corpus(parts, dataset.passages, progress)
        ingest = IngestSummary(**{**asdict(ingest), "wall_s": round(time.perf_counter() - started)})
        # Identical passages are one document; any of their ids is the question's passage.
        passage_of = {doc: ids[0] for doc, ids in documents.items()}
        aliases = {pid: ids[0] for ids in documents.values() for pid in ids}
        outcomes = []
        for done, question in enumerate(dataset.questions, 1):
            asked = SquadQuestion(
                question.id,
                aliases.get(question.passage_id, question.passage_id),
                question.text,
                question.answers,
            )
            t0 = time.perf_counter()
            answer = parts.ask_service.ask(Question(text=question.text, top_k=TOP_K))
            latency = (time.perf_counter() - t0) * 1000
            outcomes.append(score_answer(asked, answer, passage_of, latency))
            if progress is not None:
                progress("questions", done, len(dataset.questions))
        mode = parts.ask_service.mode
        reranker = parts.reranker.name
    finally:
        parts.close()
    return SquadReport(
        name=dataset.name,
        path=str(dataset.path),
        config={
            "questions": f"the first {len(dataset.questions)} answerable questions in file order",
            "passages": len(dataset.passages),
            "embedding_model": settings.embedding.model,
            "chunk_size": run_settings.embedding.chunk_size,
            "retrieval_mode": run_settings.retrieval.mode,
            "reranker": reranker,
            "answer_mode": mode,
            "top_k": TOP_K,
            "collection": collection,
            "data_dir": str(run_settings.data_dir),
        },
        ingest=ingest,
        metrics=summarize_spans(outcomes),
        outcomes=outcomes,
    )
