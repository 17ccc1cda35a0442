"""Load: concurrent clients uploading (waiting, in the background, and duplicates) and asking
(extractive answers) against a real `docrag serve` for a while; then the consistency check.

    .venv/bin/python bench/load.py [--clients 8] [--duration 120] [--server URL] [--out FILE]

Without --server, a server is started on embedded Chroma in a temporary data directory with
the packaged MiniLM, offline (log beside the JSON summary). Reports requests and errors per
kind (an error is a 5xx, a refused request that should have passed, or no answer), p50/p95/max
of /ask, and whether the final chunk count equals the sum of the documents' chunk counts.
Written to bench/results/load.json by default.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hostile_pdfs import Server, free_port  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "bench" / "results" / "load.json"
TOPICS = ["greenhouse", "harbour", "railway", "library", "vineyard", "observatory", "bakery"]
CITIES = ["Lyon", "Porto", "Gdansk", "Bergen", "Tallinn", "Cork", "Ghent"]
MONTHS = ["March", "June", "September", "December"]


def make_document(rng: random.Random, tag: str) -> bytes:
    sentences = []
    for _ in range(rng.randint(4, 40)):
        topic, city = rng.choice(TOPICS), rng.choice(CITIES)
        sentences.append(
            f"Note {tag}: the {topic} project in {city} has a budget of "
            f"{rng.randint(10, 900)} thousand euros and opens in {rng.choice(MONTHS)}."
        )
    return " ".join(sentences).encode()


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self.errors: dict[str, list[str]] = defaultdict(list)
        self.ask_latencies: list[float] = []
        self.jobs: list[str] = []
        self.stored: list[bytes] = []

    def record(self, kind: str, ok: bool, detail: str = "") -> None:
        with self.lock:
            self.counts[kind] += 1
            if not ok:
                self.errors[kind].append(detail[:200])


def client_loop(base: str, n: int, deadline: float, stats: Stats) -> None:
    rng = random.Random(n)
    i = 0
    with httpx.Client(base_url=base, timeout=300) as http:
        while time.monotonic() < deadline:
            i += 1
            roll = rng.random()
            kind = "?"
            try:
                if roll < 0.12:
                    kind = "upload"
                    data = make_document(rng, f"{n}-{i}")
                    r = http.post("/documents", files=[("files", (f"c{n}-{i}.txt", data))])
                    stats.record(kind, r.status_code == 201, r.text)
                    if r.status_code == 201:
                        with stats.lock:
                            stats.stored.append(data)
                elif roll < 0.22:
                    kind = "upload_async"
                    data = make_document(rng, f"{n}-{i}-async")
                    r = http.post(
                        "/documents",
                        files=[("files", (f"a{n}-{i}.txt", data))],
                        params={"wait": "false"},
                    )
                    stats.record(kind, r.status_code == 202, r.text)
                    if r.status_code == 202:
                        with stats.lock:
                            stats.jobs.append(r.json()["jobs"][0]["id"])
                elif roll < 0.27 and stats.stored:
                    kind = "upload_duplicate"
                    with stats.lock:
                        data = rng.choice(stats.stored)
                    r = http.post("/documents", files=[("files", ("dup.txt", data))])
                    stats.record(kind, r.status_code == 200, r.text)
                elif roll < 0.32:
                    kind = "list"
                    r = http.get("/documents", params={"limit": 100})
                    stats.record(kind, r.status_code == 200, r.text)
                else:
                    kind = "ask"
                    question = (
                        f"What is the budget of the {rng.choice(TOPICS)} project in "
                        f"{rng.choice(CITIES)}?"
                    )
                    began = time.monotonic()
                    r = http.post("/ask", json={"question": question})
                    elapsed = time.monotonic() - began
                    stats.record(kind, r.status_code == 200, r.text)
                    if r.status_code == 200:
                        with stats.lock:
                            stats.ask_latencies.append(elapsed)
            except httpx.HTTPError as e:
                stats.record(kind, False, f"{type(e).__name__}: {e}")


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def consistency(base: str, jobs: list[str]) -> dict[str, Any]:
    with httpx.Client(base_url=base, timeout=120) as http:
        deadline = time.monotonic() + 1800
        unfinished = list(jobs)
        while unfinished and time.monotonic() < deadline:
            unfinished = [
                j
                for j in unfinished
                if http.get(f"/jobs/{j}").json()["status"] not in ("ready", "failed")
            ]
            time.sleep(1)
        job_states = Counter(http.get(f"/jobs/{j}").json()["status"] for j in jobs)
        documents: list[dict[str, Any]] = []
        while True:
            page = http.get("/documents", params={"limit": 1000, "offset": len(documents)}).json()
            documents += page["data"]
            if len(documents) >= page["total"] or not page["data"]:
                break
        health = http.get("/health").json()
    ready = [d for d in documents if d["status"] == "ready"]
    return {
        "documents": len(documents),
        "statuses": dict(Counter(d["status"] for d in documents)),
        "jobs": dict(job_states),
        "sum_of_document_chunks": sum(d["chunks"] for d in ready),
        "store_chunks": health["chunks"],
        "consistent": sum(d["chunks"] for d in ready) == health["chunks"]
        and len(ready) == len(documents),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--duration", type=float, default=120.0, help="seconds of load")
    parser.add_argument("--server", help="URL of a running docrag (default: start one)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)

    with tempfile.TemporaryDirectory(prefix="docrag-load-") as tmp:
        server = None
        base = args.server
        if base is None:
            log_path = args.out.with_suffix(".server.log")
            log_path.unlink(missing_ok=True)
            server = Server(Path(tmp), free_port(), log_path)
            server.start()
            base = server.base_url
        try:
            stats = Stats()
            started = time.monotonic()
            deadline = started + args.duration
            threads = [
                threading.Thread(target=client_loop, args=(base, n, deadline, stats))
                for n in range(args.clients)
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            load_seconds = time.monotonic() - started
            final = consistency(base, stats.jobs)
        finally:
            if server is not None:
                server.stop()

    latencies = stats.ask_latencies
    summary = {
        "clients": args.clients,
        "duration_s": args.duration,
        "load_seconds": round(load_seconds, 1),
        "requests": dict(stats.counts),
        "errors": {k: len(v) for k, v in stats.errors.items()},
        "error_samples": {k: v[:3] for k, v in stats.errors.items()},
        "ask_latency_s": {
            "p50": round(percentile(latencies, 0.5), 3),
            "p95": round(percentile(latencies, 0.95), 3),
            "max": round(max(latencies), 3) if latencies else None,
            "mean": round(statistics.fmean(latencies), 3) if latencies else None,
        },
        "final": final,
    }
    args.out.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    total_errors = sum(summary["errors"].values())
    print(
        f"{args.clients} clients for {load_seconds:.0f} s: "
        f"{sum(stats.counts.values())} requests {dict(stats.counts)}, {total_errors} errors"
    )
    lat = summary["ask_latency_s"]
    print(f"/ask p50 {lat['p50']} s, p95 {lat['p95']} s, max {lat['max']} s")
    print(
        f"final: {final['documents']} documents {final['statuses']}, jobs {final['jobs']}; "
        f"store {final['store_chunks']} chunks, documents sum {final['sum_of_document_chunks']}"
        f" -> {'consistent' if final['consistent'] else 'INCONSISTENT'}"
    )
    print(f"written to {args.out}")
    sys.exit(0 if total_errors == 0 and final["consistent"] else 1)


if __name__ == "__main__":
    main()
