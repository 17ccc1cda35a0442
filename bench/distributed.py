"""Past one process, measured in one run on this machine, against its own baseline:

- ingestion: pages per second of the same kind of PDFs ingested in the API process (today's
  default, on the same Chroma server), by 1 `docrag worker` and by 2 (all uploads queued at
  once with `wait=false`; the clock stops when every job is ready);
- answering: the 95th percentile of a question's latency with 8 clients asking at once, from
  1 API process and from `docrag serve --workers 2` (extractive answers: no chat model).

    python bench/distributed.py [--documents 8] [--pages 30] [--questions 12] [--workers 1 2]
                                [--api-processes 1 2] [--json]

Real processes: redis-server, `chroma run`, docrag workers and API processes
(tests/app/cluster.py). Only ratios against the baseline of the same run mean anything on a
shared machine; on a machine with more cores, pass --workers 1 2 4 8 --api-processes 1 2 4.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.app.cluster import Cluster, long_report, page_subject  # noqa: E402

CLIENTS = 8
WORDS = "harbour estuary lagoon marsh fjord delta reef shoal sound strait firth atoll".split()


def ingest(cluster: Cluster, api: str, run: str, documents: int, pages: int) -> float:
    """Pages per second: every document uploaded at once, timed until all are ready."""
    files = [long_report(pages, f"{run}{WORDS[i % len(WORDS)]}{i}") for i in range(documents)]
    started = time.perf_counter()
    jobs = [cluster.upload(api, f"{run}-{i}.pdf", data) for i, data in enumerate(files)]
    for job in jobs:
        done = cluster.wait_job(api, job["id"], lambda j: j["status"] in ("ready", "failed"), 1800)
        assert done["status"] == "ready", done
    return documents * pages / (time.perf_counter() - started)


def question_p95(cluster: Cluster, api: str, questions: int, pages: int) -> float:
    """Seconds: the 95th percentile over `CLIENTS` clients asking `questions` each."""
    asked = [
        f"How often did counters see the {page_subject(1 + (n * 7) % pages)} feeding?"
        for n in range(questions)
    ]
    cluster.ask(api, asked[0])  # warm

    def client(_: int) -> list[float]:
        times = []
        for question in asked:
            started = time.perf_counter()
            cluster.ask(api, question)
            times.append(time.perf_counter() - started)
        return times

    with ThreadPoolExecutor(CLIENTS) as pool:
        latencies = [t for times in pool.map(client, range(CLIENTS)) for t in times]
    return statistics.quantiles(latencies, n=20)[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--documents", type=int, default=8)
    parser.add_argument("--pages", type=int, default=30)
    parser.add_argument("--questions", type=int, default=12, help="per client")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--api-processes", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--minilm", default=None, help="embedding model (default: the packaged)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    # INFO: a worker says it is ready at that level (the logs go to files).
    settings = {"DOCRAG_LOG_LEVEL": "INFO", "DOCRAG_LIMITS__PARSE_WORKERS": "1"}
    if args.minilm:
        settings["DOCRAG_EMBEDDING__MODEL"] = args.minilm
    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory(prefix="docrag-distributed-") as tmp:
        cluster = Cluster(Path(tmp), settings)
        cluster.start_stores()
        try:
            # Baseline: ingested inside the API process, as without a broker.
            cluster.start_api("inprocess", env={"DOCRAG_QUEUE__BROKER_URL": None})
            base = ingest(cluster, "inprocess", "base", args.documents, args.pages)
            rows.append({"what": "ingest, in the API process", "pages_per_s": base})
            cluster.stop_api("inprocess")
            cluster.start_api("queue")
            for n in args.workers:
                for i in range(n):
                    if f"w{i}" not in cluster.workers:
                        cluster.start_worker(f"w{i}")
                rate = ingest(cluster, "queue", f"w{n}x", args.documents, args.pages)
                rows.append({"what": f"ingest, {n} worker(s)", "pages_per_s": rate})
            cluster.stop_api("queue")
            for service in list(cluster.workers.values()):
                service.stop()
            first: float | None = None
            for n in args.api_processes:
                name = f"api{n}"
                cluster.start_api(name, processes=n)
                p95 = question_p95(cluster, name, args.questions, args.pages)
                first = first or p95
                rows.append({"what": f"8-client question p95, {n} API process(es)", "p95_s": p95})
                cluster.stop_api(name)
        finally:
            cluster.close()
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"| measured ({args.documents} PDFs x {args.pages} pages) | value | vs baseline |")
    print("| --- | --- | --- |")
    p95_base = next((r["p95_s"] for r in rows if "p95_s" in r), None)
    for row in rows:
        if "pages_per_s" in row:
            rate = float(row["pages_per_s"])  # type: ignore[arg-type]
            print(f"| {row['what']} | {rate:.1f} pages/s | {rate / base:.2f}x |")
        else:
            p95 = float(row["p95_s"])  # type: ignore[arg-type]
            ratio = p95 / float(p95_base)  # type: ignore[arg-type]
            print(f"| {row['what']} | {p95 * 1000:.0f} ms | {ratio:.2f}x |")


if __name__ == "__main__":
    main()
