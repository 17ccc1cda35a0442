"""What a question costs before retrieval, as the library grows: 10k and 100k chunks, the code
before issue 23 and today's in the same run.

    .venv/bin/python bench/question_cost.py --sizes 10000,100000 --output results.json

Three costs grew with the library (issue 23, item 5), each measured here against the code
at BASELINE_COMMIT, loaded from git into this process:

- The chunk count of each word of a question (what abstention weighs a name by, and what
  finds a Chinese name by its rare bigrams): a BM25 search per word, whose cost grows with
  the chunks holding it, against the term dictionary's count. The index is filled with
  SciFact passages (150-word pieces, repeated with 10% of the words dropped per copy), 5%
  of them replaced once so that deleted chunks wait for a merge as they do after replaces;
  each question's every token is counted, with the per-commit cache empty (as after each
  document written).
- The title index: the catalog counted on every question, and every record read again
  whenever the count changed, against a count at most once a second and names derived only
  for new or changed records. Measured with one document (300 chunks) added before each
  question, as while a folder is ingested, and with none (a library at rest).
- The question's embedding: twice in extractive mode (retrieval, then the answerer), against
  once (`app/query/question_vectors.py`), with the packaged MiniLM model.

Reported per size: the median microseconds per question of each, before and after, and their
ratio (before / after).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from app.query.profiles import GenericProfile  # noqa: E402
from app.query.question_vectors import question_vector  # noqa: E402
from app.query.routing import TitleIndex  # noqa: E402
from bench.scale import questions, texts  # noqa: E402  (the same SciFact chunks and queries)
from ingest import store as store_module  # noqa: E402
from ingest.catalog import DocumentCatalog, DocumentRecord, utcnow  # noqa: E402
from ingest.lexical.engine import IndexedChunk, TantivyBM25  # noqa: E402
from ingest.lexical.tokens import Tokenizer  # noqa: E402
from ingest.store import ChromaRecordStore  # noqa: E402

BASELINE_COMMIT = "0fa0536"  # before the question-cost changes of issue 23
DOCUMENT_CHUNKS = 300
QUESTIONS = 200


def baseline_module(path: str, name: str) -> types.ModuleType:
    source = subprocess.run(
        ["git", "-C", str(REPO), "show", f"{BASELINE_COMMIT}:{path}"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    module = types.ModuleType(name)
    sys.modules[name] = module  # dataclasses look their module up
    exec(compile(source, name, "exec"), module.__dict__)
    return module


def median_us(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1e6, 1)


def chunk(i: int, text: str, tokenize: Tokenizer) -> IndexedChunk:
    document = f"d{i // DOCUMENT_CHUNKS}"
    return IndexedChunk(f"{document}:{i}", document, tuple(tokenize(text)), ())


def filled_engine(engine: TantivyBM25, size: int, base: list[str], tokenize: Tokenizer) -> None:
    rng = random.Random(size)
    written = []
    for i in range(size):
        text = base[i % len(base)]
        if i >= len(base):
            text = " ".join(w for w in text.split() if rng.random() > 0.1)
        written.append(chunk(i, text, tokenize))
        if len(written) == 5000:
            engine.add(written)
            written = []
    engine.add(written)
    engine.commit()
    # Replaces: 5% of the chunks written again, their old copies deleted until a merge.
    engine.add([chunk(i, base[i % len(base)], tokenize) for i in range(0, size, 20)])
    engine.commit()


def word_counts(engine: TantivyBM25, asked: list[list[str]]) -> dict[str, float]:
    """Per question: every token counted, old way (a BM25 search each) and new."""
    searcher_terms = engine._tantivy.Query.term_query  # noqa: SLF001
    before, after = [], []
    for tokens in asked:
        searcher = engine._index.searcher()  # noqa: SLF001
        start = time.perf_counter()
        old = {
            t: int(searcher.search(searcher_terms(engine._schema, "terms", t), 1, count=True).count)  # noqa: SLF001
            for t in dict.fromkeys(tokens)
        }
        before.append(time.perf_counter() - start)
        engine._frequencies = {}  # noqa: SLF001 - the per-commit cache, empty after a write
        start = time.perf_counter()
        new = engine.frequencies(tokens)
        after.append(time.perf_counter() - start)
        engine._frequencies = {}  # noqa: SLF001
        assert all(new[t] >= old[t] for t in old)  # an upper bound at worst, never less
    return {
        "before_us": median_us(before),
        "after_us": median_us(after),
        "ratio": round(statistics.median(before) / max(statistics.median(after), 1e-9), 1),
    }


def record(i: int) -> DocumentRecord:
    now = utcnow()
    return DocumentRecord(
        id=f"doc{i:06d}",
        filename=f"report-{i}.pdf",
        media_type="application/pdf",
        size_bytes=1,
        sha256=f"{i:064d}",
        status="ready",
        created_at=now,
        updated_at=now,
        pages=100,
        chunks=DOCUMENT_CHUNKS,
        title=f"Company {i} Annual Report",
        metadata={"company": f"Company {i}", "year": 2000 + i % 25},
    )


def title_index(size: int, root: Path, old_routing: Any) -> dict[str, Any]:
    client = store_module.connect(path=root / f"chroma-{size}")
    catalog = DocumentCatalog(
        ChromaRecordStore(client, "documents"), ChromaRecordStore(client, "content")
    )
    documents = size // DOCUMENT_CHUNKS
    for i in range(documents):
        catalog.put(record(i))
    profile = GenericProfile()
    result: dict[str, Any] = {"documents": documents}
    for case, adding in (("at_rest", False), ("while_ingesting", True)):
        timings = {}
        for label, cls in (("before", old_routing.TitleIndex), ("after", TitleIndex)):
            index = cls(catalog, profile)
            index.names_a_document("company")  # the first read, outside the timing
            samples, added = [], documents + (0 if label == "before" else 10_000)
            for _ in range(QUESTIONS):
                if adding:
                    catalog.put(record(added))
                    added += 1
                start = time.perf_counter()
                index.names_a_document("company 7")
                samples.append(time.perf_counter() - start)
            timings[label] = samples
        result[case] = {
            "before_us": median_us(timings["before"]),
            "after_us": median_us(timings["after"]),
            "before_mean_us": round(statistics.mean(timings["before"]) * 1e6, 1),
            "after_mean_us": round(statistics.mean(timings["after"]) * 1e6, 1),
            "ratio_of_means": round(
                statistics.mean(timings["before"]) / max(statistics.mean(timings["after"]), 1e-9), 1
            ),
        }
    return result


def embedding(asked: list[str]) -> dict[str, float]:
    from app.builders import build_embedder
    from app.config import Settings

    embedder = build_embedder(Settings())
    embedder.embed_query("warm up")
    before, after = [], []
    for text in asked[:50]:
        start = time.perf_counter()
        embedder.embed_query(text)
        embedder.embed_query(text)
        before.append(time.perf_counter() - start)
        start = time.perf_counter()
        question_vector(embedder, text + " ")  # a question not asked before, then again
        question_vector(embedder, text + " ")
        after.append(time.perf_counter() - start)
    return {
        "before_us": median_us(before),
        "after_us": median_us(after),
        "ratio": round(statistics.median(before) / statistics.median(after), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    old_routing = baseline_module("app/query/routing.py", "routing_before_issue_23")
    base, asked = texts(), questions()
    tokenize = Tokenizer()
    asked_tokens = [tokenize(q) for q in asked]
    report: dict[str, Any] = {"baseline_commit": BASELINE_COMMIT, "sizes": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for size in (int(s) for s in args.sizes.split(",")):
            engine = TantivyBM25(None, k1=0.9, b=0.4)
            filled_engine(engine, size, base, tokenize)
            report["sizes"][size] = {
                "chunks": engine.count(),
                "word_counts": word_counts(engine, asked_tokens),
                "title_index": title_index(size, Path(tmp), old_routing),
            }
            print(json.dumps({size: report["sizes"][size]}), flush=True)
    report["question_embedding"] = embedding(asked)
    print(json.dumps({"question_embedding": report["question_embedding"]}), flush=True)
    if args.output:
        args.output.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
