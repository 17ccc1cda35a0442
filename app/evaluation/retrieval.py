"""`docrag eval`: retrieval quality on a dataset in BEIR layout, measured through the real
ingest pipeline, retriever and reranker.

A BEIR dataset is a folder with `corpus.jsonl[.gz]` (`_id`, `title`, `text`), `queries.jsonl`
(`_id`, `text`) and `qrels/<split>.tsv` (`query-id`, `corpus-id`, `score`). Every corpus record
becomes one document of an evaluation collection that is kept and reused by later runs with the
same embedding model and chunking, so the corpus is embedded once."""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from app.config import Settings
from app.evaluation.beir import (
    CorpusRecord,
    DatasetError,
    EvalProgress,
    load_beir,
    mean_metrics,
    ndcg_at_k,
    percentile,
    rank_passages,
)
from app.query.answering import AskService
from app.query.selection import Selection


def collection_name(dataset: str, fingerprint: str, chunk_size: int, chunk_overlap: int) -> str:
    """`<dataset>-<hash>`: one collection per corpus, embedding model and chunking, so a later
    run with the same three reuses the vectors and a change of any of them starts afresh."""
    digest = hashlib.sha256(f"{fingerprint}|{chunk_size}|{chunk_overlap}".encode()).hexdigest()
    slug = re.sub(r"[^a-zA-Z0-9._-]+", "-", dataset)[:30]
    slug = re.sub(r"^[^a-zA-Z0-9]+|[^a-zA-Z0-9]+$", "", slug) or "beir"
    return f"{slug}-{digest[:10]}"


def eval_settings(
    settings: Settings,
    *,
    collection: str,
    data_dir: Path,
    mode: Literal["hybrid", "dense", "lexical"] | None = None,
    mmr: bool | None = None,
) -> Settings:
    retrieval_changes: dict[str, Any] = {}
    if mode is not None:
        retrieval_changes["mode"] = mode
    if mmr is not None:
        retrieval_changes["mmr"] = mmr
    return settings.model_copy(
        update={
            "data_dir": data_dir,
            "chroma": settings.chroma.model_copy(update={"collection": collection}),
            "retrieval": settings.retrieval.model_copy(update=retrieval_changes),
        }
    )


# --- the run -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IngestSummary:
    records: int
    documents: int  # distinct texts: identical records are one document
    new_documents: int
    existing_documents: int
    failed_records: int
    new_chunks: int
    wall_s: float
    failures: list[str] = field(default_factory=list)  # the first few, "<id>: <reason>"


@dataclass(frozen=True, slots=True)
class QuerySummary:
    queries: int
    k: int
    wall_s: float
    retrieve_ms_p50: float
    retrieve_ms_p95: float
    rerank_ms_p50: float | None
    rerank_ms_p95: float | None


@dataclass(frozen=True, slots=True)
class EvalReport:
    dataset: str
    path: str
    split: str
    config: dict[str, Any]
    ingest: IngestSummary
    query: QuerySummary
    metrics: dict[str, float]
    stages: dict[str, dict[str, float]]  # metrics after each stage that can be measured
    per_query: dict[str, dict[str, Any]]  # query id -> its nDCG@10 and its top ten passages

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def evaluate(
    settings: Settings,
    dataset_dir: Path,
    *,
    split: str = "test",
    limit: int | None = None,
    k: int = 100,
    data_dir: Path | None = None,
    mode: Literal["hybrid", "dense", "lexical"] | None = None,
    mmr: bool | None = None,
    progress: EvalProgress | None = None,
) -> EvalReport:
    """Ingests the corpus (what is not stored yet), runs the split's queries, scores them."""
    from app.builders import build_embedder, build_parts

    dataset = load_beir(dataset_dir, split)
    query_ids = dataset.judged_queries(limit)
    if not query_ids:
        raise DatasetError(f"no query of split {split!r} has both a text and a relevant passage")

    embedder = build_embedder(settings)
    collection = collection_name(
        dataset.name,
        embedder.fingerprint,
        settings.embedding.chunk_size,
        settings.embedding.chunk_overlap,
    )
    run_settings = eval_settings(
        settings,
        collection=collection,
        data_dir=data_dir if data_dir is not None else settings.data_dir / "eval",
        mode=mode,
        mmr=mmr,
    )
    container = build_parts(run_settings, embedder=embedder)

    started = time.perf_counter()
    passages, ingest = ingest_corpus(container, dataset.corpus, progress)
    ingest = _with_wall_time(ingest, time.perf_counter() - started)

    retrieval = run_settings.retrieval
    rerank = container.reranker.name is not None
    service = container.ask_service
    k = max(k, retrieval.candidates)
    retrieved: dict[str, list[str]] = {}
    final: dict[str, list[str]] = {}
    retrieve_ms: list[float] = []
    select_ms: list[float] = []
    started = time.perf_counter()
    for done, qid in enumerate(query_ids, 1):
        text = dataset.queries[qid]
        t0 = time.perf_counter()
        hits = container.retriever.retrieve(text, k, None)
        retrieve_ms.append((time.perf_counter() - t0) * 1000)
        retrieved[qid] = rank_passages(hits, passages)
        # The answer path's own search and selection (analysis, routing, gate, rerank, MMR,
        # abstention), as /ask runs it, without neighbour expansion, which only widens texts;
        # the rest of the deeper ranking follows in its order.
        t0 = time.perf_counter()
        head = answer_path_selection(service, text, retrieval.candidates).hits
        select_ms.append((time.perf_counter() - t0) * 1000)
        # What selection dropped (or all of it, when it abstained) is not given back.
        kept = {h.chunk_id for h in head}
        rest = [h for h in hits[retrieval.candidates :] if h.chunk_id not in kept]
        final[qid] = rank_passages([*head, *rest], passages)
        if progress is not None:
            progress("queries", done, len(query_ids))
    query = QuerySummary(
        queries=len(query_ids),
        k=k,
        wall_s=round(time.perf_counter() - started, 2),
        retrieve_ms_p50=round(percentile(retrieve_ms, 50), 1),
        retrieve_ms_p95=round(percentile(retrieve_ms, 95), 1),
        rerank_ms_p50=round(percentile(select_ms, 50), 1) if rerank else None,
        rerank_ms_p95=round(percentile(select_ms, 95), 1) if rerank else None,
    )
    stages = {
        "retrieval": mean_metrics(retrieved, dataset.qrels),
        "selection": mean_metrics(final, dataset.qrels),
    }
    return EvalReport(
        dataset=dataset.name,
        path=str(dataset.path),
        split=split,
        config={
            "embedding_model": settings.embedding.model,
            "embedder": embedder.fingerprint,
            "chunk_size": container.pipeline.chunk_size,
            "chunk_overlap": container.pipeline.chunk_overlap,
            "retrieval_mode": retrieval.mode,
            "retriever": type(container.retriever).__name__,
            "dense_weight": retrieval.dense_weight,
            "lexical_weight": retrieval.lexical_weight,
            "rrf_k": retrieval.rrf_k,
            "cjk_tokenizer": retrieval.cjk_tokenizer,
            "dense_readability_power": retrieval.dense_readability_power,
            "candidates": retrieval.candidates,
            "mmr": retrieval.mmr,
            "mmr_lambda": retrieval.mmr_lambda,
            "reranker": container.reranker.name,
            "rerank_max_length": run_settings.rerank.max_length if rerank else None,
            "collection": collection,
            "chroma": container.chroma_description,
            "data_dir": str(run_settings.data_dir),
        },
        ingest=ingest,
        query=query,
        metrics=mean_metrics(final, dataset.qrels),
        stages=stages,
        per_query={
            qid: {
                "ndcg@10": round(ndcg_at_k(ranking, dataset.qrels[qid], 10), 4),
                "top10": ranking[:10],
            }
            for qid, ranking in final.items()
        },
    )


def answer_path_selection(service: AskService, text: str, candidates: int) -> Selection:
    """The sources `/ask` would give a question (and whether it abstains), `candidates` deep:
    the service's own search and selection, without neighbour expansion."""
    return service.find_sources(text, candidates, expand=0).selection


def _with_wall_time(summary: IngestSummary, seconds: float) -> IngestSummary:
    return IngestSummary(**{**asdict(summary), "wall_s": round(seconds, 2)})


def ingest_corpus(
    container: Any, corpus: Sequence[CorpusRecord], progress: EvalProgress | None
) -> tuple[dict[str, list[str]], IngestSummary]:
    """Stores every record not stored yet, one document each (`ingest_many`); returns docrag
    document id -> corpus ids. Also loads the passages of `app/evaluation/squad.py`."""
    from ingest.bulk import IngestItem, ingest_many
    from ingest.ids import document_id_for
    from ingest.pipeline import IngestResult

    passages: dict[str, list[str]] = {}
    items: dict[str, IngestItem] = {}  # the first record of each distinct text
    for record in corpus:
        data = record.document_bytes()
        document_id = document_id_for(hashlib.sha256(data).hexdigest())
        passages.setdefault(document_id, []).append(record.id)
        if document_id not in items:
            items[document_id] = IngestItem(data, f"{record.id}.txt", {"beir_id": record.id})

    # What an earlier run stored is not even parsed again.
    ids = list(items)
    stored: set[str] = set()
    for start in range(0, len(ids), 1000):
        found = container.catalog.get_many(ids[start : start + 1000])
        stored.update(i for i, r in found.items() if r.status == "ready")
    todo = [(i, item) for i, item in items.items() if i not in stored]
    if progress is not None:
        progress("ingest", len(stored), len(ids))

    def report(stage: str, done: int, total: int) -> None:
        if progress is not None:
            progress("ingest", len(stored) + done, len(ids))

    results = ingest_many(container.pipeline, [item for _, item in todo], progress=report)
    new = existing = new_chunks = 0
    failures: list[str] = []
    for (document_id, _), result in zip(todo, results, strict=True):
        if isinstance(result, IngestResult):
            if result.created:
                new += 1
                new_chunks += result.document.chunks
            else:
                existing += 1
            continue
        for corpus_id in passages.pop(document_id):
            failures.append(f"{corpus_id}: {result}")
    for ids_of_text in passages.values():
        ids_of_text.sort()
    return passages, IngestSummary(
        records=len(corpus),
        documents=len(items),
        new_documents=new,
        existing_documents=existing + len(stored),
        failed_records=len(failures),
        new_chunks=new_chunks,
        wall_s=0.0,
        failures=failures[:10],
    )


def format_report(report: EvalReport) -> str:
    c, i, q = report.config, report.ingest, report.query
    mode = c["retrieval_mode"]
    if mode == "hybrid":
        mode += (
            f" (rrf_k={c['rrf_k']}, dense_weight={c['dense_weight']:g}, "
            f"lexical_weight={c['lexical_weight']:g})"
        )
    lines = [
        f"dataset      {report.dataset} ({report.path}), split {report.split}",
        f"embedding    {c['embedding_model']}, chunks of {c['chunk_size']} tokens "
        f"(overlap {c['chunk_overlap']})",
        f"retrieval    {mode}, retriever {c['retriever']}, {q.k} chunks per query",
        f"mmr          {'on, lambda ' + format(c['mmr_lambda'], 'g') if c['mmr'] else 'off'}",
        f"reranker     {c['reranker'] or 'none'}"
        + (f", top {c['candidates']} candidates" if c["reranker"] else ""),
        f"collection   {c['collection']} ({c['chroma']})",
        "",
        f"ingest       {i.records} records, {i.documents} distinct documents: "
        f"{i.new_documents} new ({i.new_chunks} chunks), {i.existing_documents} already stored, "
        f"{i.failed_records} failed; {i.wall_s:.1f} s",
        f"queries      {q.queries} in {q.wall_s:.1f} s; retrieval p50 {q.retrieve_ms_p50:.1f} ms, "
        f"p95 {q.retrieve_ms_p95:.1f} ms"
        + (
            f"; rerank p50 {q.rerank_ms_p50:.1f} ms, p95 {q.rerank_ms_p95:.1f} ms"
            if q.rerank_ms_p50 is not None
            else ""
        ),
        "",
        f"{'stage':<12} {'nDCG@10':>8} {'R@10':>8} {'R@100':>8} {'MRR@10':>8}",
    ]
    for stage, m in report.stages.items():
        lines.append(
            f"{stage:<12} {m['ndcg@10']:>8.4f} {m['recall@10']:>8.4f} "
            f"{m['recall@100']:>8.4f} {m['mrr@10']:>8.4f}"
        )
    for failure in i.failures:
        lines.append(f"failed       {failure}")
    return "\n".join(lines)
