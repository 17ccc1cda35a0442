"""What fusing deeper lists costs per question: hybrid retrieval of the candidates (20) with
each side's list cut at the candidates, against each side ranking `fusion_depth` chunks (the
default, 100), alternating question by question on one store filled by `bench/scale.py`.

    .venv/bin/python bench/scale.py --sizes 100000 --modes embedded --reuse /tmp/scale-stores
    .venv/bin/python bench/fusion_depth.py --store /tmp/scale-stores/embedded-100000

The query encode is left out (random query vectors, as in bench/scale.py): it is the same at
any depth."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import scale  # noqa: E402

from app.retrieval_settings import RetrievalSettings  # noqa: E402
from ingest import store as store_module  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", type=Path, required=True, help="a filled bench/scale.py store")
    parser.add_argument("--rounds", type=int, default=3, help="passes over the questions")
    args = parser.parse_args()
    defaults = RetrievalSettings()
    k, depth = defaults.candidates, defaults.fusion_depth
    client = store_module.connect(path=args.store / "chroma")
    library = scale.Library(client, args.store)
    print(f"{library.store.count()} chunks; candidates {k}; fusion depth {depth}")
    shallow = scale.retriever_over(library.store, library.catalog, library.lexical, fusion_depth=0)
    deep = scale.retriever_over(library.store, library.catalog, library.lexical, fusion_depth=depth)
    queries = scale.questions()
    for retriever in (shallow, deep):
        retriever.retrieve("warm up", k)
    times: dict[str, list[float]] = {"shallow": [], "deep": []}
    for _ in range(args.rounds):
        for q in queries:
            for name, retriever in (("shallow", shallow), ("deep", deep)):
                started = time.perf_counter()
                retriever.retrieve(q, k)
                times[name].append((time.perf_counter() - started) * 1000)
    for name, samples in times.items():
        p50, p95 = np.percentile(samples, [50, 95])
        print(f"{name:8} p50 {p50:6.1f} ms  p95 {p95:6.1f} ms  ({len(samples)} questions)")
    ratio = np.percentile(times["deep"], 50) / np.percentile(times["shallow"], 50)
    print(f"deep / shallow p50: {ratio:.2f}")


if __name__ == "__main__":
    main()
