"""`docrag eval PDFS --questions FILE`: document QA with page evidence, through the real
ingest pipeline and the answer path of `/ask` (`AskService.ask`).

Every filing is ingested as an upload would be (worker-process parse, chunking with its
context, embedding, Chroma and the lexical index) into an evaluation collection named after
the files, the embedding model and the chunking, so a later run reuses it. Each question is
asked twice: against the whole library, and against the library without its own filing (a
filter naming every other document), where the right answer is to abstain."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from app.config import Settings
from app.evaluation.beir import EvalProgress
from app.evaluation.docqa_metrics import (
    DocQuestion,
    Outcome,
    SourcePage,
    all_from_filing,
    choose_subset,
    company_halves,
    evidence_found,
    format_table,
    in_half,
    load_questions,
    summarize,
)
from app.evaluation.retrieval import collection_name, eval_settings
from app.query.abstention import Assessment
from app.query.answers import Answer, Citation, Question
from ingest.filters import Filters

TOP_K = 5


@dataclass(frozen=True, slots=True)
class LibrarySummary:
    filings: list[str]
    pages: int
    chunks: int
    new_filings: int
    ingest_wall_s: float


@dataclass
class DocQAReport:
    config: dict[str, Any]
    library: LibrarySummary
    outcomes: list[Outcome]
    tables: dict[str, dict[str, dict[str, float | None]]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "config": self.config,
            "library": asdict(self.library),
            "tables": self.tables,
            "questions": [
                {
                    "id": o.question.id,
                    "doc_name": o.question.doc_name,
                    "question_type": o.question.question_type,
                    "evidence_pages": list(o.question.evidence_pages),
                    "evidence_top5": o.top5_evidence,
                    "evidence_cited": o.cited_evidence,
                    "top5_right_filing": o.top5_all_right_filing,
                    "abstained": o.abstained,
                    "abstained_without_filing": o.abstained_without_filing,
                    "abstained_without_company": o.abstained_without_company,
                    "latency_ms": o.latency_ms,
                    **o.detail,
                }
                for o in self.outcomes
            ],
        }


def _pages(citations: Sequence[Citation]) -> list[SourcePage]:
    return [SourcePage(c.filename, c.page, c.page_end) for c in citations]


def evaluate_docqa(
    settings: Settings,
    pdf_dir: Path,
    questions_file: Path,
    *,
    companies: int | None = None,
    data_dir: Path | None = None,
    without_filing: bool = True,
    collection: str | None = None,
    half: str | None = None,
    progress: EvalProgress | None = None,
) -> DocQAReport:
    """Ingests the chosen filings (what is not stored yet) and asks every question. The
    collection is named after the filings unless `collection` names one: a library grown by
    an earlier, smaller run then embeds only the filings it lacks (and must not hold others).
    `half` ("A" or "B") keeps the companies of that half (`company_halves` of the whole file),
    `companies` the first N of them; the report has a table for all and one per half."""
    from app.builders import build_embedder, build_parts

    every_question = load_questions(questions_file)
    halves = company_halves(every_question)
    files, questions = choose_subset(in_half(every_question, half), pdf_dir, companies)
    embedder = build_embedder(settings)
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode() + hashlib.sha256(path.read_bytes()).digest())
    collection = collection or collection_name(
        f"docqa-{digest.hexdigest()[:8]}",
        embedder.fingerprint,
        settings.embedding.chunk_size,
        settings.embedding.chunk_overlap,
    )
    run_settings = eval_settings(
        settings,
        collection=collection,
        data_dir=data_dir if data_dir is not None else settings.data_dir / "eval",
    )
    parts = build_parts(run_settings, embedder=embedder)
    try:
        library, ids = _ingest(parts, files, progress)
        outcomes = []
        for done, question in enumerate(questions, 1):
            outcomes.append(_ask(parts, question, ids, without_filing))
            if progress is not None:
                progress("questions", done, len(questions))
    finally:
        parts.close()
    retrieval = run_settings.retrieval
    report = DocQAReport(
        config={
            "pdf_dir": str(pdf_dir),
            "questions": str(questions_file),
            "companies": companies,
            "half": half,
            "embedding_model": settings.embedding.model,
            "chunk_size": parts.pipeline.chunk_size,
            "chunk_overlap": parts.pipeline.chunk_overlap,
            "retrieval_mode": retrieval.mode,
            "routing": retrieval.routing,
            "profile": settings.questions.profile,
            "abstain_missing_share": settings.abstention.missing_share,
            "abstain_acronym_weight": settings.abstention.acronym_weight,
            "reranker": parts.reranker.name,
            "answer_mode": parts.ask_service.mode,
            "top_k": TOP_K,
            "collection": collection,
            "data_dir": str(run_settings.data_dir),
        },
        library=library,
        outcomes=outcomes,
    )
    report.tables["docrag"] = summarize(outcomes)
    for name in "AB":
        chosen = [o for o in outcomes if halves[o.question.company.lower()] == name]
        if chosen:
            report.tables[f"docrag {name}"] = summarize(chosen)
    return report


def _ingest(
    parts: Any, files: Sequence[Path], progress: EvalProgress | None
) -> tuple[LibrarySummary, dict[str, str]]:
    """Each filing through `IngestPipeline.ingest`, as an upload; returns file name -> id."""
    started = time.perf_counter()
    ids: dict[str, str] = {}
    pages = chunks = new = 0
    for done, path in enumerate(files):
        if progress is not None:
            progress("ingest", done, len(files))
        result = parts.pipeline.ingest(path.read_bytes(), path.name)
        ids[path.name] = result.document.id
        pages += result.document.pages
        chunks += result.document.chunks
        new += int(result.created)
    if progress is not None:
        progress("ingest", len(files), len(files))
    summary = LibrarySummary(
        filings=[p.name for p in files],
        pages=pages,
        chunks=chunks,
        new_filings=new,
        ingest_wall_s=round(time.perf_counter() - started, 1),
    )
    return summary, ids


def _ask(parts: Any, question: DocQuestion, ids: dict[str, str], without: bool) -> Outcome:
    service = parts.ask_service
    started = time.perf_counter()
    answer: Answer = service.ask(Question(text=question.question, top_k=TOP_K))
    latency = (time.perf_counter() - started) * 1000
    sources = _pages(answer.sources)
    abstained_without: bool | None = None
    abstained_without_company: bool | None = None
    if without:
        others = tuple(i for name, i in ids.items() if name != question.filename)
        abstained_without = _abstains(service, question, others)
        # The company's other filings left out too: a company the library does not hold.
        prefix = question.filename.split("_")[0] + "_"
        strangers = tuple(i for name, i in ids.items() if not name.startswith(prefix))
        abstained_without_company = (
            abstained_without if strangers == others else _abstains(service, question, strangers)
        )
    detail: dict[str, object] = {
        "answer": answer.answer[:400],
        "sources": [f"{s.filename} p{s.page}" for s in sources],
    }
    if service.selector.abstention is not None:
        # For calibration: what abstention saw, with and without the filing.
        assessment = _assessment(parts, question.question, None)
        if assessment is not None:
            detail["missing_share"] = round(assessment.missing_share, 3)
            detail["terms"] = [[t.text, round(t.weight, 3), t.missing] for t in assessment.terms]
        if without and abstained_without is not None:
            others = tuple(i for name, i in ids.items() if name != question.filename)
            elsewhere = _assessment(parts, question.question, Filters(document_ids=others))
            if elsewhere is not None:
                detail["uncovered_years_without_filing"] = list(elsewhere.uncovered_years)
                detail["missing_share_without_filing"] = round(elsewhere.missing_share, 3)
                detail["terms_without_filing"] = [
                    [t.text, round(t.weight, 3), t.missing] for t in elsewhere.terms
                ]
    return Outcome(
        question=question,
        top5_evidence=evidence_found(question, sources),
        top5_all_right_filing=all_from_filing(question, sources),
        latency_ms=round(latency, 1),
        cited_evidence=evidence_found(question, _pages(answer.citations)),
        abstained=not answer.grounded,
        abstained_without_filing=abstained_without,
        abstained_without_company=abstained_without_company,
        detail=detail,
    )


def _assessment(parts: Any, question: str, filters: Filters | None) -> Assessment | None:
    """Abstention's view of a question, through the service's own search and selection."""
    return parts.ask_service.find_sources(question, TOP_K, filters).selection.assessment


def _abstains(service: Any, question: DocQuestion, allowed: tuple[str, ...]) -> bool | None:
    if not allowed:
        return None
    answer = service.ask(
        Question(text=question.question, top_k=TOP_K, filters=Filters(document_ids=allowed))
    )
    return not answer.grounded


def format_docqa(report: DocQAReport) -> str:
    c, lib = report.config, report.library
    lines = [
        f"library      {len(lib.filings)} filings, {lib.pages} pages, {lib.chunks} chunks "
        f"({lib.new_filings} ingested now, {lib.ingest_wall_s:.0f} s)",
        f"retrieval    {c['retrieval_mode']}, routing {'on' if c['routing'] else 'off'}, "
        f"reranker {c['reranker'] or 'none'}, {c['answer_mode']} answers, top {c['top_k']}",
        f"abstention   missing share >= {c['abstain_missing_share']:g} "
        f"(acronym weight {c['abstain_acronym_weight']:g})",
        "",
        format_table(report.tables),
    ]
    return "\n".join(lines)
