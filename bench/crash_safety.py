"""Crash safety: SIGKILL a real `docrag serve` in the middle of ingesting a large PDF, start it
again on the same data directory, and check that no partial document is visible and that the
upload then succeeds.

    .venv/bin/python bench/crash_safety.py [--file PDF] [--mode sync|async|both] [--out FILE]

sync: a `POST /documents` (wait=true) is killed mid-way: after the restart the half-written
document is gone (not listed, no chunks, no citations), and the same upload succeeds.
async: a `POST /documents?wait=false` job is killed mid-way: after the restart the job resumes
by itself from the stored file; until it is ready no chunk of it answers a question, and in the
end its chunk count is exactly the document's. The same upload then answers 200 (stored).

The server runs embedded Chroma in a temporary data directory with the packaged MiniLM,
offline; its log is written beside the JSON summary (bench/results/crash_safety.json).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hostile_pdfs import Server, free_port  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DEFAULT_FILE = REPO.parent / "shared" / "data" / "financebench-pdfs" / "AMCOR_2023_10K.pdf"
DEFAULT_OUT = REPO / "bench" / "results" / "crash_safety.json"
QUESTION = "What were the net sales for the fiscal year?"


def poll(check: Any, what: str, timeout: float = 900.0, every: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            found = check()
        except httpx.HTTPError:
            found = None
        if found:
            return found
        time.sleep(every)
    raise SystemExit(f"gave up waiting for {what}")


def visible_state(base: str) -> dict[str, Any]:
    documents = httpx.get(f"{base}/documents", params={"limit": 1000}, timeout=30).json()["data"]
    health = httpx.get(f"{base}/health", timeout=30).json()
    asked = httpx.post(f"{base}/ask", json={"question": QUESTION}, timeout=120).json()
    ready_chunks = sum(d["chunks"] for d in documents if d["status"] == "ready")
    return {
        "documents": [
            {"id": d["id"], "status": d["status"], "chunks": d["chunks"]} for d in documents
        ],
        "store_chunks": health["chunks"],
        "ready_chunks": ready_chunks,
        "cited_documents": sorted({c["document_id"] for c in asked["citations"]}),
    }


def kill(server: Server) -> None:
    assert server.proc is not None
    os.kill(server.proc.pid, signal.SIGKILL)
    server.proc.wait()


def chunks_written(base: str) -> bool:
    return int(httpx.get(f"{base}/health", timeout=10).json()["chunks"]) > 0


def run_sync(server: Server, data: bytes, name: str) -> dict[str, Any]:
    base = server.base_url
    outcome: dict[str, Any] = {}

    def upload() -> None:
        try:
            httpx.post(f"{base}/documents", files=[("files", (name, data))], timeout=3600)
        except httpx.HTTPError as e:
            outcome["upload_error"] = type(e).__name__  # expected: the server was killed

    thread = threading.Thread(target=upload, daemon=True)
    thread.start()
    poll(lambda: chunks_written(base), "the first chunks to be written")
    before = httpx.get(f"{base}/documents", timeout=10).json()["data"]
    kill(server)
    thread.join(30)
    server.start()
    after = visible_state(base)
    began = time.monotonic()
    again = httpx.post(f"{base}/documents", files=[("files", (name, data))], timeout=3600)
    seconds = time.monotonic() - began
    final = visible_state(base)
    doc = again.json()["documents"][0] if again.status_code < 300 else None
    checks = {
        "partial_document_listed_before_kill": [d["status"] for d in before],
        "nothing_listed_after_restart": after["documents"] == [],
        "no_chunks_after_restart": after["store_chunks"] == 0,
        "no_citations_after_restart": after["cited_documents"] == [],
        "upload_again_succeeded": again.status_code == 201 and doc is not None,
        "store_matches_catalog": final["store_chunks"] == final["ready_chunks"],
        "cited_after_upload": bool(doc) and final["cited_documents"] == [doc["id"]],
    }
    return {
        "mode": "sync",
        "killed_after": outcome,
        "after_restart": after,
        "upload_again": {"status": again.status_code, "seconds": round(seconds, 1), "doc": doc},
        "final": final,
        "checks": checks,
    }


def run_async(server: Server, data: bytes, name: str) -> dict[str, Any]:
    base = server.base_url
    response = httpx.post(
        f"{base}/documents", files=[("files", (name, data))], params={"wait": "false"}, timeout=60
    )
    job = response.json()["jobs"][0]
    poll(lambda: chunks_written(base), "the first chunks to be written")
    at_kill = httpx.get(f"{base}/jobs/{job['id']}", timeout=10).json()
    kill(server)
    server.start()
    after = visible_state(base)
    statuses: list[str] = []
    early_citations: list[str] = []

    def finished() -> Any:
        state = httpx.get(f"{base}/jobs/{job['id']}", timeout=10).json()
        statuses.append(state["status"])
        if state["status"] in ("ready", "failed"):
            return state
        # Until the document is ready, nothing of it answers a question. A citation means it
        # was ready when the question ran, so it must still be ready afterwards.
        cited = httpx.post(f"{base}/ask", json={"question": QUESTION}, timeout=120).json()
        document = httpx.get(f"{base}/documents/{job['document_id']}", timeout=10).json()
        if cited["citations"] and document["status"] != "ready":
            early_citations.append(document["status"])
        return None

    done = poll(finished, "the resumed job", every=2.0)
    final = visible_state(base)
    again = httpx.post(f"{base}/documents", files=[("files", (name, data))], timeout=3600)
    doc = httpx.get(f"{base}/documents/{job['document_id']}", timeout=10).json()
    checks = {
        "job_at_kill": f"{at_kill['status']} {at_kill['progress']:.2f}",
        "not_ready_after_restart": all(d["status"] != "ready" for d in after["documents"]),
        "no_citations_after_restart": after["cited_documents"] == [],
        "job_resumed_to_ready": done["status"] == "ready",
        "no_citations_before_ready": early_citations == [],
        "store_matches_catalog": final["store_chunks"] == final["ready_chunks"] == doc["chunks"],
        "cited_when_ready": final["cited_documents"] == [doc["id"]],
        "same_upload_answers_200": again.status_code == 200,
    }
    return {
        "mode": "async",
        "after_restart": after,
        "job_statuses_seen": sorted(set(statuses), key=statuses.index),
        "final": final,
        "checks": checks,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, default=DEFAULT_FILE)
    parser.add_argument("--mode", choices=["sync", "async", "both"], default="both")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    data = args.file.read_bytes()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    log_path = args.out.with_suffix(".server.log")
    log_path.unlink(missing_ok=True)
    results = []
    for mode in ["sync", "async"] if args.mode == "both" else [args.mode]:
        with tempfile.TemporaryDirectory(prefix="docrag-crash-") as tmp:
            server = Server(Path(tmp), free_port(), log_path)
            server.start()
            try:
                run = run_sync if mode == "sync" else run_async
                results.append(run(server, data, args.file.name))
            finally:
                server.stop()
    summary = {"file": args.file.name, "size_mb": round(len(data) / 1e6, 2), "runs": results}
    args.out.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    failed = False
    for run in results:
        print(f"{run['mode']}:")
        for check, value in run["checks"].items():
            ok = value if isinstance(value, bool) else True
            failed |= not ok
            print(f"  {'ok  ' if ok else 'FAIL'} {check}: {value}")
    print(f"written to {args.out}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
