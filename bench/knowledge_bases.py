"""How to keep knowledge bases apart in Chroma: a collection per base, or one collection with
the base as a metadata filter. Measured on embedded Chroma, in one run, on the same vectors:

- question latency (dense top-20) in a small base beside a large one, and in the large one;
- the cost of deleting the small base (drop its collection, or delete by filter);
- whether the filtered layout returns what the separate one does (recall of the top-20).

    python bench/knowledge_bases.py [--large 30000] [--small 2000] [--queries 200] [--json]

The vectors are random unit vectors of the default model's width (384): latency depends on
counts and width, not on meaning; recall is measured against exact search in the base.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import chromadb
import numpy as np

DIM = 384
BATCH = 5000


def _vectors(rng: np.random.Generator, n: int) -> np.ndarray:
    v = rng.standard_normal((n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _add(collection: chromadb.Collection, ids: list[str], vectors: np.ndarray, base: str) -> None:
    for start in range(0, len(ids), BATCH):
        end = start + BATCH
        collection.add(
            ids=ids[start:end],
            embeddings=vectors[start:end].tolist(),
            metadatas=[{"kb": base}] * len(ids[start:end]),
        )


def _p(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)) * 1000, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large", type=int, default=30000)
    parser.add_argument("--small", type=int, default=2000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    rng = np.random.default_rng(7)
    large, small = _vectors(rng, args.large), _vectors(rng, args.small)
    large_ids = [f"l{i}" for i in range(args.large)]
    small_ids = [f"s{i}" for i in range(args.small)]
    queries = _vectors(rng, args.queries)
    truth = np.argsort(-(queries @ small.T), axis=1)[:, :20]
    space = {"hnsw:space": "cosine"}

    root = Path(tempfile.mkdtemp(prefix="docrag-kb-bench-"))
    try:
        client = chromadb.PersistentClient(path=str(root))
        shared = client.create_collection("shared", metadata=space, embedding_function=None)
        own_large = client.create_collection("kb_large", metadata=space, embedding_function=None)
        own_small = client.create_collection("kb_small", metadata=space, embedding_function=None)
        _add(shared, large_ids, large, "large")
        _add(shared, small_ids, small, "small")
        _add(own_large, large_ids, large, "large")
        _add(own_small, small_ids, small, "small")

        # Alternating, so that both layouts see the same machine state.
        timings: dict[str, list[float]] = {k: [] for k in ("collection", "filter")}
        timings_large: dict[str, list[float]] = {k: [] for k in ("collection", "filter")}
        recall: dict[str, list[float]] = {k: [] for k in ("collection", "filter")}
        for i, query in enumerate(queries.tolist()):
            wanted = {small_ids[j] for j in truth[i]}
            for layout in ("collection", "filter") if i % 2 else ("filter", "collection"):
                start = time.perf_counter()
                if layout == "collection":
                    found = own_small.query(query_embeddings=[query], n_results=20, include=[])
                else:
                    found = shared.query(
                        query_embeddings=[query], n_results=20, where={"kb": "small"}, include=[]
                    )
                timings[layout].append(time.perf_counter() - start)
                recall[layout].append(len(wanted & set(found["ids"][0])) / 20)
                start = time.perf_counter()
                if layout == "collection":
                    own_large.query(query_embeddings=[query], n_results=20, include=[])
                else:
                    shared.query(
                        query_embeddings=[query], n_results=20, where={"kb": "large"}, include=[]
                    )
                timings_large[layout].append(time.perf_counter() - start)

        start = time.perf_counter()
        client.delete_collection("kb_small")
        drop_s = time.perf_counter() - start
        start = time.perf_counter()
        shared.delete(where={"kb": "small"})
        filter_delete_s = time.perf_counter() - start
    finally:
        shutil.rmtree(root, ignore_errors=True)

    result = {
        "large_chunks": args.large,
        "small_chunks": args.small,
        "queries": args.queries,
        "small_base_p50_ms": {k: _p(v, 50) for k, v in timings.items()},
        "small_base_p95_ms": {k: _p(v, 95) for k, v in timings.items()},
        "large_base_p50_ms": {k: _p(v, 50) for k, v in timings_large.items()},
        "small_base_recall_at_20": {k: round(statistics.mean(v), 3) for k, v in recall.items()},
        "delete_small_base_s": {
            "collection": round(drop_s, 3),
            "filter": round(filter_delete_s, 3),
        },
    }
    ratio = result["small_base_p50_ms"]["filter"] / max(
        result["small_base_p50_ms"]["collection"], 1e-9
    )
    result["small_base_filter_over_collection"] = round(ratio, 2)
    if args.json:
        print(json.dumps(result))
        return
    for key, value in result.items():
        print(f"{key}: {value}")


if __name__ == "__main__":
    main()
