"""FinanceBench-style document QA: docrag (`docrag eval --questions`, through the real
pipeline and `AskService`) and the plain LangChain tutorial pipeline on the same filings and
questions in the same run, side by side.

LangChain: `PyPDFLoader` -> `RecursiveCharacterTextSplitter(1000, 200)` -> `Chroma` with
`HuggingFaceEmbeddings` (the same packaged MiniLM) -> `similarity_search(k=5)`. It has no
citations and never abstains, so those columns are docrag's alone.

    python bench/financebench.py --pdfs ../shared/data/financebench-pdfs \
        --questions ../shared/data/financebench/questions_dev.jsonl [--companies N] \
        [--work DIR] [--out FILE] [--vectors DIR]

With `--vectors DIR` the chunks of both pipelines get the vectors `bench/vector_cache.py`
describes (computed on a GPU by `bench/gpu_embed.py`), looked up by text; questions are
embedded here as always. The LangChain rows are also given per FinanceBench half
(`company_halves`): "langchain A" and "langchain B".

Needs the `bench` extra (langchain-chroma, langchain-community) and langchain-huggingface
installed with --no-deps (its pins would replace huggingface_hub).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # app, ingest and bench
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from app.evaluation.docqa import TOP_K  # noqa: E402  (the same cutoff on both sides)
from app.evaluation.docqa_metrics import (  # noqa: E402
    DocQuestion,
    Outcome,
    SourcePage,
    all_from_filing,
    choose_subset,
    company_halves,
    evidence_found,
    format_table,
    load_questions,
    summarize,
)


def run_langchain(
    files: Sequence[Path],
    questions: Sequence[DocQuestion],
    work: Path,
    vectors: tuple[Path, Any] | None = None,
) -> tuple[list[Outcome], dict[str, Any]]:
    """`vectors`: the folder of `--vectors` and its `VectorTable`."""
    from langchain_chroma import Chroma
    from langchain_huggingface import HuggingFaceEmbeddings

    from bench.vector_cache import langchain_splits, lookup_embeddings
    from ingest.embedding import default_model

    embeddings = HuggingFaceEmbeddings(
        model_name=default_model(),
        model_kwargs={"device": "cpu"},
        encode_kwargs={"normalize_embeddings": True},
    )
    lookup = lookup_embeddings(embeddings, vectors[1]) if vectors is not None else None
    started = time.perf_counter()
    # One store per work folder, grown file by file: a later run (or a larger subset) embeds only
    # the filings the store does not hold yet.
    store = Chroma(
        collection_name="financebench",
        embedding_function=lookup or embeddings,
        persist_directory=str(work / "langchain"),
    )
    held: set[str] = set()
    for offset in range(0, store._collection.count(), 5000):  # SQLite caps a query's variables
        page = store.get(include=["metadatas"], limit=5000, offset=offset)["metadatas"]
        held.update(Path(str(m.get("source", ""))).name for m in page)
    pages = chunks = 0
    for path in files:
        if path.name in held:
            continue
        # PyPDFLoader, then RecursiveCharacterTextSplitter(1000, 200); with `vectors`, the
        # splits `bench/vector_cache.py record` kept, if it kept them.
        loaded, splits = langchain_splits(path, vectors[0] / "splits" if vectors else None)
        for start in range(0, len(splits), 5000):  # Chroma refuses larger batches
            store.add_documents(splits[start : start + 5000])
        pages, chunks = pages + loaded, chunks + len(splits)
    ingest_s = time.perf_counter() - started
    if lookup is not None:
        print(
            f"langchain: {lookup.looked_up} chunk vectors looked up, {lookup.misses} embedded here"
        )
    # A store grown by a larger run holds other filings too: search only this run's.
    extra = held - {p.name for p in files}
    only = {"source": {"$in": [str(p) for p in files]}} if extra else None
    outcomes = []
    for question in questions:
        t0 = time.perf_counter()
        found = store.similarity_search(question.question, k=TOP_K, filter=only)
        latency = (time.perf_counter() - t0) * 1000
        sources = [
            SourcePage(
                Path(str(d.metadata.get("source", ""))).name,
                int(d.metadata["page"]) + 1,  # PyPDFLoader counts pages from 0
                int(d.metadata["page"]) + 1,
            )
            for d in found
        ]
        outcomes.append(
            Outcome(
                question=question,
                top5_evidence=evidence_found(question, sources),
                top5_all_right_filing=all_from_filing(question, sources),
                latency_ms=round(latency, 1),
                detail={"sources": [f"{s.filename} p{s.page}" for s in sources]},
            )
        )
    return outcomes, {"pages": pages, "chunks": chunks, "ingest_s": round(ingest_s, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pdfs", type=Path, required=True)
    parser.add_argument("--questions", type=Path, required=True)
    parser.add_argument("--companies", type=int, default=None)
    parser.add_argument("--work", type=Path, default=Path("/tmp/docrag-financebench"))
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument(
        "--collection",
        default=None,
        help="docrag's collection (default: named after the filings); an earlier run's, to "
        "embed only the filings it lacks",
    )
    parser.add_argument("--skip-langchain", action="store_true")
    parser.add_argument(
        "--vectors",
        type=Path,
        default=None,
        help="chunk vectors computed elsewhere, looked up by text (bench/vector_cache.py)",
    )
    parser.add_argument(
        "--skip-docrag",
        action="store_true",
        help="only the LangChain side (e.g. to build its store)",
    )
    args = parser.parse_args()

    from app.config import Settings
    from app.evaluation.docqa import evaluate_docqa, format_docqa

    every = load_questions(args.questions)
    files, questions = choose_subset(every, args.pdfs, args.companies)
    print(f"{len(files)} filings, {len(questions)} questions: {', '.join(p.name for p in files)}")
    vectors: tuple[Path, Any] | None = None
    lookup: Any = None
    if args.vectors is not None:
        from bench.vector_cache import VectorTable, docrag_lookup

        table = VectorTable(args.vectors)
        vectors = (args.vectors, table)
        if not args.skip_docrag:
            lookup = docrag_lookup(args.vectors, table)
    langchain: dict[str, Any] = {}
    tables: dict[str, Any] = {}
    if not args.skip_langchain:
        started = time.perf_counter()
        outcomes, langchain = run_langchain(files, questions, args.work, vectors)
        langchain["wall_s"] = round(time.perf_counter() - started, 1)
        tables["langchain"] = summarize(outcomes)
        # The halves of the whole questions file, so a --companies subset keeps them.
        halves = company_halves(every)
        for half in "AB":
            chosen = [o for o in outcomes if halves[o.question.company.lower()] == half]
            if chosen:
                tables[f"langchain {half}"] = summarize(chosen)
        print(format_table(tables), flush=True)
    if args.skip_docrag:
        return

    def progress(stage: str, done: int, total: int) -> None:
        print(f"  docrag {stage} {done}/{total}", flush=True)
        if lookup is not None and stage == "ingest" and done == total:
            # Counted here: answering embeds passages' sentences too, which are not chunks.
            found, missed = lookup.looked_up, lookup.misses
            print(f"docrag: {found} chunk vectors looked up, {missed} embedded here", flush=True)

    started = time.perf_counter()
    report = evaluate_docqa(
        Settings(data_dir=args.work / "docrag"),
        args.pdfs,
        args.questions,
        companies=args.companies,
        collection=args.collection,
        progress=progress,
    )
    docrag_s = time.perf_counter() - started
    report.tables.update(tables)
    print(format_docqa(report))
    print(f"\ndocrag wall {docrag_s:.0f} s; langchain {langchain or 'skipped'}")
    if args.out is not None:
        payload = report.to_dict() | {"langchain": langchain, "docrag_wall_s": round(docrag_s, 1)}
        args.out.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
        print(f"results written to {args.out}")


if __name__ == "__main__":
    main()
