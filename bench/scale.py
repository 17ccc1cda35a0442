"""Cost as the library grows: questions, writes, disk, memory and start-up, 10k chunks up.

    .venv/bin/python bench/scale.py --sizes 10000,100000 --output results.json

Per size and Chroma mode (embedded, and a `chroma run` server): a fresh store is filled with
N chunks through ingest's write path (Chroma, then the lexical index, one publish per
300-chunk document) from real texts (SciFact passages in 150-word pieces, repeated with 10%
of the words dropped per copy) and random unit vectors (no model encode). With --reuse DIR
the filled stores stay in DIR and later runs measure them again without filling. Measured:
hybrid retrieval (`HybridRetriever` without the query encode) for SciFact questions, 1 and 8
clients, and the CPU per question; with a filter on one of 100 shards (1.2% of the chunks
at 100k, 3% at 10k), both the exact filtered search (chunks listed by the lexical index) and
Chroma's `where` in the same run, how their top 10 agree and the recall of each against every
matching vector scored; adding one 100-page document (300 chunks) here and to an empty
library, and deleting it (medians of 5, with the median of each step of the add: Chroma's
upsert, the lexical index, the publish, the catalog record); disk; and in a fresh process
the time to open everything and answer, and the RSS after 50 questions. Today's index (bm25s
rebuilt from all of Chroma after each write: `ingest/lexical.py` at f9e7ca1) is measured in
the same run up to --baseline-max chunks, with how its top 10 agrees.

What a question costs before retrieval (word counts, the title index, the question's
embedding), before and after issue 23, is measured by `bench/question_cost.py`.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import gc
import gzip
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import types
import zlib
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402

from app.query.retrieval import Filters, HybridRetriever  # noqa: E402
from app.retrieval_settings import RetrievalSettings  # noqa: E402
from ingest import store as store_module  # noqa: E402
from ingest.catalog import DocumentCatalog, DocumentRecord, utcnow  # noqa: E402
from ingest.lexical import (  # noqa: E402
    ChangeFeed,
    IndexedChunkStore,
    LexicalHit,
    LexicalIndex,
    Tokenizer,
)
from ingest.store import ChromaChunkStore, ChromaRecordStore, StoredChunk  # noqa: E402

DATA = REPO.parent / "shared" / "data" / "scifact"
BASELINE_COMMIT = "f9e7ca1"
DIMENSION = 384
DOCUMENT_CHUNKS = 300  # a 100-page document
SHARDS = 100  # `meta.shard` takes 100 values: a filter on one keeps 1% of the chunks
QUESTIONS = 200
K = 20


def texts() -> list[str]:
    pieces = []
    with gzip.open(DATA / "corpus.jsonl.gz", "rt", encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            words = f"{row['title']} {row['text']}".split()
            pieces += [" ".join(words[i : i + 150]) for i in range(0, len(words), 150)]
    return pieces


def questions() -> list[str]:
    with open(DATA / "queries.jsonl", encoding="utf-8") as f:
        return [json.loads(line)["text"] for line in f][:QUESTIONS]


def chunk_text(base: list[str], i: int, rng: random.Random) -> str:
    text = base[i % len(base)]
    if i < len(base):
        return text
    return " ".join(w for w in text.split() if rng.random() > 0.1)


def unit_vectors(n: int, rng: np.random.Generator) -> list[list[float]]:
    v = rng.standard_normal((n, DIMENSION)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    return v.tolist()  # type: ignore[no-any-return]


class RandomQueryEmbedder:
    """A question's vector without the model: retrieval cost only. The same question gets
    the same random vector, so that two searches for it can be compared."""

    fingerprint = "random-unit"

    def known_token_share(self, text: str) -> float:
        return 1.0

    def embed_query(self, text: str) -> list[float]:
        return unit_vectors(1, np.random.default_rng(zlib.crc32(text.encode())))[0]


def document(
    doc: str, shard: int, base: list[str], start: int, rng: random.Random
) -> list[StoredChunk]:
    meta = {"filename": f"{doc}.pdf", "generation": 0, "meta.shard": shard}
    bodies = [chunk_text(base, start + o, rng) for o in range(DOCUMENT_CHUNKS)]
    return [StoredChunk(f"{doc}:{o}", doc, t, {**meta, "ordinal": o}) for o, t in enumerate(bodies)]


def ready(catalog: DocumentCatalog, doc: str, chunks: int, shard: int) -> None:
    now = utcnow()
    fields = (doc, f"{doc}.pdf", "application/pdf", 1, doc, "ready", now, now)
    catalog.put(DocumentRecord(*fields, chunks=chunks, metadata={"shard": shard}))  # type: ignore[arg-type]


def retriever_over(
    store: ChromaChunkStore,
    catalog: DocumentCatalog,
    lexical: Any,
    exact_filter_max: int = 5000,
    fusion_depth: int = RetrievalSettings().fusion_depth,
) -> Any:
    embedder: Any = RandomQueryEmbedder()
    return HybridRetriever(
        embedder=embedder,
        store=store,
        catalog=catalog,
        lexical=lexical,
        exact_filter_max_chunks=exact_filter_max,
        fusion_depth=fusion_depth,
    )


class Library:
    """One store, catalog and lexical index on a Chroma client: what a service opens."""

    def __init__(self, client: Any, root: Path, prefix: str = "scale") -> None:
        self.store = ChromaChunkStore(client, f"{prefix}_chunks", RandomQueryEmbedder.fingerprint)
        records = [ChromaRecordStore(client, f"{prefix}_{n}") for n in ("documents", "content")]
        self.catalog = DocumentCatalog(*records)
        self.lexical = LexicalIndex(
            collection=self.store.name,
            source=self.store,
            feed=ChangeFeed(ChromaChunkStore(client, f"{prefix}_lexical_feed", "change-feed")),
            tokenizer=Tokenizer(),
            directory=root / "lexical" / prefix,
        )
        self.writes = IndexedChunkStore(self.store, self.lexical)
        self.retriever = retriever_over(self.store, self.catalog, self.lexical)
        # Filters always through Chroma's `where`, as before the exact filtered search.
        self.where_retriever = retriever_over(self.store, self.catalog, self.lexical, 0)

    def add(
        self, chunks: list[StoredChunk], shard: int, vectors: list[list[float]]
    ) -> dict[str, float]:
        """Writes one document as the pipeline does; seconds per step."""
        steps = {
            "chroma": lambda: self.store.add(chunks, vectors),
            "lexical": lambda: self.lexical.index_chunks(chunks, vectors),
            "publish": self.lexical.publish,
            "catalog": lambda: ready(self.catalog, chunks[0].document_id, len(chunks), shard),
        }
        return {name: seconds(step) for name, step in steps.items()}

    def delete(self, doc: str) -> None:
        self.writes.delete_document(doc)
        self.lexical.publish()
        self.catalog.delete(doc)


WRITE_ROUNDS = 5


def write_costs(
    library: Library, chunks: list[StoredChunk], vectors: Any
) -> tuple[float, float, dict[str, float]]:
    """Median seconds to add this document and to delete it over `WRITE_ROUNDS` rounds, and
    the median of each step of the add."""
    adds, deletes, steps = [], [], []
    for _ in range(WRITE_ROUNDS):
        steps.append(library.add(chunks, 7, vectors))
        adds.append(sum(steps[-1].values()))
        start = time.perf_counter()
        library.delete(chunks[0].document_id)
        deletes.append(time.perf_counter() - start)
    medians = {name: round(float(np.median([s[name] for s in steps])), 3) for name in steps[0]}
    return round(float(np.median(adds)), 3), round(float(np.median(deletes)), 3), medians


def seconds(action: Any) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def percentile(samples: list[float], q: float) -> float:
    return round(float(np.percentile(np.asarray(samples) * 1000, q)), 1)


def latencies(ask: Any, queries: list[str], clients: int) -> list[float]:
    def timed(q: str) -> float:
        start = time.perf_counter()
        ask(q)
        return time.perf_counter() - start

    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        return list(pool.map(timed, queries))


def baseline_class() -> Any:
    """Today's BM25 index, as committed before this change."""
    git = ["git", "show", f"{BASELINE_COMMIT}:ingest/lexical.py"]
    source = subprocess.run(git, cwd=REPO, check=True, capture_output=True, text=True).stdout
    module = types.ModuleType("lexical_bm25s_baseline")
    sys.modules[module.__name__] = module  # its dataclasses look themselves up there
    exec(compile(source, "lexical_bm25s_baseline", "exec"), module.__dict__)
    return module.BM25Index


class BaselineAdapter:
    """Today's index behind the retriever's lexical interface (filters as a `where`)."""

    def __init__(self, index: Any) -> None:
        self.index = index

    def search(self, query: str, k: int, filters: Filters | None = None) -> Any:
        found = self.index.search(query, k, filters.where() if filters else None)
        return [LexicalHit(h.chunk_id, h.score) for h in found]

    def matching_chunks(self, filters: Filters, limit: int) -> None:
        return None  # filters go to Chroma's where, as they did

    def vectors(self, chunk_ids: Any) -> dict[str, list[float]]:
        return {}  # vectors come from Chroma, as they did

    def term_overlap(self, query: str, text: str, chunk_id: str | None = None) -> float:
        return float(self.index.term_overlap(query, text, chunk_id))


def measure_baseline(
    client: Any, root: Path, library: Library, queries: list[str], extra: list[StoredChunk]
) -> dict[str, Any]:
    cls = baseline_class()
    generations = ChromaRecordStore(client, "scale_meta")

    def open_index() -> Any:
        path = root / "bm25s" / "scale.json.gz"
        return cls(source=library.store, generations=generations, tokenizer=Tokenizer(), path=path)

    index = open_index()
    built_s = seconds(lambda: index.search("warm", 1))  # the first question builds it
    retriever = retriever_over(library.store, library.catalog, BaselineAdapter(index))
    hybrid = latencies(lambda q: retriever.retrieve(q, K), queries, 1)
    shard = Filters(metadata={"shard": 7})
    filtered = latencies(lambda q: retriever.retrieve(q, K, shard), queries, 1)
    overlap, differences = [], [0.0]
    for q in queries:
        old = {h.chunk_id: h.score for h in index.search(q, 10)}
        new = {h.chunk_id: h.score for h in library.lexical.search(q, 10)}
        if old:
            overlap.append(len(old.keys() & new.keys()) / len(old))
            differences += [abs(new[c] - old[c]) / old[c] for c in old.keys() & new.keys()]
    vectors = unit_vectors(len(extra), np.random.default_rng(3))

    def write_then_ask(write: Any) -> None:
        write()
        index.mark_changed()
        index.search("warm", 1)  # the next question rebuilds the index

    add_s = seconds(lambda: write_then_ask(lambda: library.store.add(extra, vectors)))
    delete_s = seconds(lambda: write_then_ask(lambda: library.store.delete_document("added")))
    start_s = seconds(lambda: open_index().search("warm", 1))  # saved tokens, then a rebuild
    return {
        "bm25s_build_s": round(built_s, 2),
        "bm25s_question_p50_ms": percentile(hybrid, 50),
        "bm25s_question_p95_ms": percentile(hybrid, 95),
        "bm25s_filtered_p95_ms": percentile(filtered, 95),
        "bm25s_add_document_s": round(add_s, 2),
        "bm25s_delete_document_s": round(delete_s, 2),
        "bm25s_start_s": round(start_s, 2),
        "bm25s_top10_overlap": round(float(np.mean(overlap)), 4) if overlap else None,
        "bm25s_score_max_relative_difference": float(f"{max(differences):.2g}"),
    }


def disk_mb(*paths: Path) -> float:
    total = sum(f.stat().st_size for p in paths if p.exists() for f in p.rglob("*") if f.is_file())
    return round(total / 1e6, 1)


def service_start(root: Path, server: tuple[str, int] | None) -> dict[str, float]:
    """A fresh process opens the library and answers; its start time and RSS."""
    args = [sys.executable, __file__, "--serve-once", str(root)]
    if server:
        args += ["--host", server[0], "--port", str(server[1])]
    done = subprocess.run(args, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def serve_once(root: Path, host: str | None, port: int) -> None:
    start = time.perf_counter()
    client = store_module.connect(path=root / "chroma", host=host, port=port)
    library = Library(client, root)
    library.retriever.retrieve("vitamin D and bone density", K)
    start_s = time.perf_counter() - start
    for q in questions()[:50]:
        library.retriever.retrieve(q, K)
    # The peak of this process's own memory: ru_maxrss would carry the parent's over exec.
    status = Path("/proc/self/status").read_text().splitlines()
    rss_mb = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024
    print(json.dumps({"start_s": round(start_s, 2), "rss_mb": round(rss_mb, 1)}))


def start_server(root: Path) -> tuple[subprocess.Popen[bytes], tuple[str, int]]:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    chroma = str(Path(sys.executable).parent / "chroma")
    log = open(root / "server.log", "wb")  # noqa: SIM115 - lives as long as the server
    command = [chroma, *f"run --path {root / 'server-db'} --host 127.0.0.1 --port {port}".split()]
    proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            store_module.connect(host="127.0.0.1", port=port)
            return proc, ("127.0.0.1", port)
        except Exception:
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError("chroma run did not start")


def fill(library: Library, root: Path, size: int, base: list[str]) -> float:
    """Fills the library to `size` chunks, or reuses a library filled by an earlier run."""
    marker = root / "filled.json"
    if marker.exists():
        return float(json.loads(marker.read_text())["fill_s"])
    rng, vrng = random.Random(0), np.random.default_rng(0)
    fill_start = time.perf_counter()
    for d in range(size // DOCUMENT_CHUNKS):
        chunks = document(f"doc{d}", d % SHARDS, base, d * DOCUMENT_CHUNKS, rng)
        library.add(chunks, d % SHARDS, unit_vectors(len(chunks), vrng))
    fill_s = time.perf_counter() - fill_start
    marker.write_text(json.dumps({"fill_s": fill_s}))
    return fill_s


def filtered_dense_recall(library: Library, queries: list[str], shard: Filters) -> dict[str, float]:
    """Recall@10 of filtered dense search, exact and through Chroma's `where`, against every
    matching vector scored."""
    rows = library.store.get(where=shard.where())
    stored = library.store.get_by_ids([c.id for c in rows], with_vectors=True)
    ids = list(stored)
    matrix = np.asarray([stored[c][1] for c in ids], dtype=np.float32)
    embedder = RandomQueryEmbedder()
    exact, where = (
        retriever_over(library.store, library.catalog, library.lexical, limit)
        for limit in (5000, 0)
    )
    recalls: dict[str, list[float]] = {"exact": [], "where": []}
    for q in queries:
        scores = matrix @ np.asarray(embedder.embed_query(q), dtype=np.float32)
        truth = {ids[i] for i in np.argsort(-scores)[:10]}
        for name, retriever in (("exact", exact), ("where", where)):
            retriever.mode = "dense"
            found = {h.chunk_id for h in retriever.retrieve(q, 10, shard)}
            recalls[name].append(len(found & truth) / len(truth))
    return {f"filtered_dense_recall_{n}": round(float(np.mean(r)), 3) for n, r in recalls.items()}


def cpu_per_question(ask: Any, queries: list[str]) -> float:
    """CPU milliseconds this process spends per question, one client (embedded Chroma's
    threads included; a server's are not)."""
    start = time.process_time()
    for q in queries:
        ask(q)
    return round((time.process_time() - start) * 1000 / len(queries), 1)


def measure(
    client: Any, root: Path, size: int, base: list[str], queries: list[str], baseline_max: int
) -> dict[str, Any]:
    library = Library(client, root)
    fill_s = fill(library, root, size, base)
    print(f"  {library.store.count()} chunks, filled in {fill_s:.0f} s", flush=True)
    retrieve, shard = library.retriever.retrieve, Filters(metadata={"shard": 7})
    retrieve("warm up", K)  # an index of an older format is built again here, once
    hybrid = latencies(lambda q: retrieve(q, K), queries, 1)
    hybrid8 = latencies(lambda q: retrieve(q, K), queries * 2, 8)
    filtered = latencies(lambda q: retrieve(q, K, shard), queries, 1)
    where = library.where_retriever.retrieve
    filtered_where = latencies(lambda q: where(q, K, shard), queries, 1)

    def top10(ask: Any, q: str) -> set[str]:
        return {h.chunk_id for h in ask(q, 10, shard)}

    agreement = [len(top10(retrieve, q) & top10(where, q)) / 10 for q in queries[:50]]
    recall = filtered_dense_recall(library, queries[:50], shard)
    cpu_ms = cpu_per_question(lambda q: retrieve(q, K), queries)
    rng, vrng = random.Random(1), np.random.default_rng(1)
    extra = document("added", 7, base, 17, rng)
    vectors = unit_vectors(len(extra), vrng)
    add_s, delete_s, add_steps = write_costs(library, extra, vectors)
    add_empty_s, _, empty_steps = write_costs(Library(client, root, prefix="empty"), extra, vectors)
    row: dict[str, Any] = {
        "chunks": library.store.count(),
        "fill_s": round(fill_s, 1),
        "question_p50_ms": percentile(hybrid, 50),
        "question_p95_ms": percentile(hybrid, 95),
        "question_p95_ms_8_clients": percentile(hybrid8, 95),
        "question_cpu_ms": cpu_ms,
        "filtered_p95_ms": percentile(filtered, 95),
        "filtered_where_p95_ms": percentile(filtered_where, 95),
        "filtered_top10_agreement": round(float(np.mean(agreement)), 3),
        **recall,
        "add_document_s": add_s,
        "add_document_empty_s": add_empty_s,
        "add_steps_s": add_steps,
        "add_steps_empty_s": empty_steps,
        "delete_document_s": delete_s,
    }
    if size <= baseline_max:
        row.update(measure_baseline(client, root, library, queries, extra))
    return row


def run(
    size: int, mode: str, base: list[str], queries: list[str], upto: int, reuse: Path | None
) -> dict[str, Any]:
    if reuse is not None:
        root = reuse / f"{mode}-{size}"
        root.mkdir(parents=True, exist_ok=True)
    else:
        root = Path(tempfile.mkdtemp(prefix=f"scale-{mode}-{size}-"))
    proc, server = start_server(root) if mode == "server" else (None, None)
    try:
        host, port = server if server else (None, 8000)
        client = store_module.connect(path=root / "chroma", host=host, port=port)
        row = {"mode": mode, **measure(client, root, size, base, queries, upto)}
        row["disk_mb"] = disk_mb(root / "chroma", root / "server-db", root / "lexical")
        row["lexical_disk_mb"] = disk_mb(root / "lexical")
        del client
        gc.collect()  # the service process takes the lexical index's writer
        if mode == "embedded":
            from chromadb.api.client import SharedSystemClient

            SharedSystemClient.clear_system_cache()  # the service process opens it alone
        row.update(service_start(root, server))
        return row
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(10)
        if reuse is None:
            shutil.rmtree(root, ignore_errors=True)


COLUMNS = (
    "chunks mode question_p50_ms question_p95_ms question_p95_ms_8_clients question_cpu_ms "
    "filtered_p95_ms filtered_where_p95_ms filtered_dense_recall_exact filtered_dense_recall_where "
    "add_document_s add_document_empty_s delete_document_s disk_mb rss_mb start_s "
    "bm25s_question_p95_ms bm25s_filtered_p95_ms bm25s_add_document_s bm25s_delete_document_s "
    "bm25s_start_s bm25s_top10_overlap"
).split()


def table(rows: list[dict[str, Any]]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + " --- |" * len(COLUMNS)]
    for row in rows:
        lines.append("| " + " | ".join(str(row.get(c, "")) for c in COLUMNS) + " |")
    return "\n".join(lines)


def main() -> None:
    layout = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=layout)
    parser.add_argument("--sizes", default="10000,100000", help="chunk counts, comma-separated")
    parser.add_argument("--modes", default="embedded,server", help="embedded, server or both")
    what = "largest size at which today's bm25s index is measured too"
    parser.add_argument("--baseline-max", type=int, default=100_000, help=what)
    parser.add_argument("--output", type=Path, default=REPO / "bench" / "results" / "scale.json")
    what = "keep the filled libraries in this directory and reuse them in later runs"
    parser.add_argument("--reuse", type=Path, help=what)
    parser.add_argument("--serve-once", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--host", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=8000, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_once:
        serve_once(args.serve_once, args.host, args.port)
        return
    base, queries = texts(), questions()
    rows = []
    for size in [int(s) for s in args.sizes.split(",")]:
        for mode in args.modes.split(","):
            print(f"== {size} chunks, {mode} Chroma", flush=True)
            rows.append(run(size, mode, base, queries, args.baseline_max, args.reuse))
            print(json.dumps(rows[-1]), flush=True)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(rows, indent=2) + "\n")
    print(table(rows))


if __name__ == "__main__":
    main()
