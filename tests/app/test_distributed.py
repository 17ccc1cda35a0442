"""docrag past one process, with real processes: redis-server, `chroma run`, two `docrag worker`
processes and two API processes (one of them `docrag serve --workers 2`). Faults are real:
kill -9 of a worker in the middle of a document, a Redis restart that loses every queued
message, a Chroma server restart while a document is written, an API process killed while a
client reads a streamed answer."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.app.cluster import Cluster, long_report, page_subject, wait_for
from tests.conftest import FILES, smollm_path, unavailable

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.llm]

LEASE_S = 3  # a dead worker's job is queued again within a few seconds
BIG_PAGES = 300


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, minilm_path: str) -> Iterator[Cluster]:
    pytest.importorskip("celery", reason="pip install 'docrag[queue]'")
    root = tmp_path_factory.mktemp("cluster")
    try:
        cluster = Cluster(
            root,
            {
                "DOCRAG_EMBEDDING__MODEL": minilm_path,
                "DOCRAG_QUEUE__LEASE_S": str(LEASE_S),
                # Written in small batches, so a kill lands between two of them.
                "DOCRAG_EMBEDDING__INGEST_BATCH_SIZE": "16",
                "DOCRAG_LIMITS__PARSE_WORKERS": "1",
                "DOCRAG_LOG_LEVEL": "INFO",
            },
        )
    except FileNotFoundError as e:
        unavailable(f"{e} needed for the distributed tests")
        raise
    cluster.start_stores()
    try:
        yield cluster
    finally:
        cluster.close()


@pytest.fixture(scope="module")
def apis(cluster: Cluster, llm_server: str) -> Cluster:
    """API process `a` (one process) and `b` (`docrag serve --workers 2`), both with a chat
    model, so that an answer streams long enough to be cut."""
    if smollm_path() is None:
        unavailable("SmolLM2 weights missing")
    cluster.env.update({"DOCRAG_LLM__BASE_URL": llm_server, "DOCRAG_LLM__MODEL": "smollm2"})
    cluster.start_api("a")
    cluster.start_api("b", processes=2)
    return cluster


def ensure_workers(cluster: Cluster, *names: str) -> None:
    for name in names:
        worker = cluster.workers.get(name)
        if worker is None or not worker.running:
            cluster.start_worker(name)


def source_documents(answer: dict[str, Any]) -> set[str]:
    return {s["document_id"] for s in answer["sources"]}


def chunk_ids(cluster: Cluster, document_id: str) -> list[str]:
    import chromadb

    client = chromadb.HttpClient(host="127.0.0.1", port=cluster.chroma_port)
    found = client.get_collection("docrag_chunks").get(where={"document_id": document_id})
    return list(found["ids"])


def assert_stored_once(cluster: Cluster, document: dict[str, Any]) -> None:
    """The document's chunks are exactly its ordinals 0..chunks-1: a run cut short and run
    again wrote each chunk once, under the same ids."""
    from ingest.ids import chunk_id_for

    ids = chunk_ids(cluster, document["id"])
    assert len(ids) == len(set(ids)) == document["chunks"] > 0
    assert set(ids) == {chunk_id_for(document["id"], n) for n in range(document["chunks"])}


def mid_document(cluster: Cluster, job_id: str) -> dict[str, Any]:
    """The job once a third of its chunks are written (or once it ended, which fails)."""
    return cluster.wait_job(
        "a",
        job_id,
        lambda j: (
            j["status"] in ("ready", "failed")
            or (j["status"] == "embedding" and j["progress"] > 0.3)
        ),
        300,
    )


def ready_document(cluster: Cluster, api: str, document_id: str) -> dict[str, Any]:
    listed = cluster.documents(api)
    found = [d for d in listed["data"] if d["id"] == document_id]
    assert len(found) == 1 and found[0]["status"] == "ready", found
    return found[0]


def test_queued_jobs_wait_for_a_worker_and_survive_a_redis_restart(apis: Cluster) -> None:
    cluster = apis
    assert not cluster.workers  # the API processes ingest nothing themselves
    job = cluster.upload("a", "field_report.pdf", (FILES / "field_report.pdf").read_bytes())
    time.sleep(3)
    assert cluster.job("b", job["id"])["status"] == "queued"  # the other process sees it too
    # Redis loses its data: the message is gone, the job's record in Chroma is not.
    cluster.redis.kill()
    cluster.start_redis()
    ensure_workers(cluster, "w1", "w2")
    done = cluster.wait_job("b", job["id"], lambda j: j["status"] in ("ready", "failed"), 180)
    assert done["status"] == "ready", done
    assert ready_document(cluster, "b", job["document_id"])["pages"] == 6


def test_an_upload_to_one_api_process_is_ingested_by_a_worker_and_answered_by_another(
    apis: Cluster,
) -> None:
    cluster = apis
    ensure_workers(cluster, "w1", "w2")
    job = cluster.upload("a", "three_pages.pdf", (FILES / "three_pages.pdf").read_bytes())
    # Progress comes from the worker, through the job's record, to any API process.
    done = cluster.wait_job("b", job["id"], lambda j: j["status"] in ("ready", "failed"), 120)
    assert done["status"] == "ready" and done["progress"] == 1.0, done
    assert "Task docrag.ingest_document" in "".join(w.text() for w in cluster.workers.values())
    # Answered by the other API process: its lexical index followed the worker's write.
    answer = wait_for(
        lambda: (
            (a := cluster.ask("b", "What is the secret ingredient of the harbour stew?"))
            and job["document_id"] in source_documents(a)
            and a
        ),
        60,
        "an answer from the new document",
    )
    cited = [s for s in answer["sources"] if s["document_id"] == job["document_id"]]
    assert any("smoked paprika" in s["text"] for s in cited)


def test_a_worker_killed_mid_document_leaves_it_to_another(apis: Cluster) -> None:
    cluster = apis
    ensure_workers(cluster, "w1")
    if "w2" in cluster.workers:
        cluster.workers["w2"].stop()
    before = cluster.documents("a")["total"]
    job = cluster.upload("a", "tide_survey.pdf", long_report(BIG_PAGES, "kittiwake"))
    # w1 is the only worker: it holds the document; kill it in the middle of the writes.
    assert mid_document(cluster, job["id"])["status"] == "embedding"
    cluster.start_worker("w2")
    cluster.workers["w1"].kill()
    done = cluster.wait_job("a", job["id"], lambda j: j["status"] in ("ready", "failed"), 300)
    assert done["status"] == "ready", done
    assert cluster.documents("a")["total"] == before + 1
    document = ready_document(cluster, "a", job["document_id"])
    assert document["pages"] == BIG_PAGES
    assert_stored_once(cluster, document)
    answer = cluster.ask("b", f"How often did counters see the {page_subject(217)} feeding?")
    assert job["document_id"] in source_documents(answer)
    assert any(s["page"] == 217 for s in answer["sources"]), answer["sources"]
    ensure_workers(cluster, "w1")


def test_a_chroma_restart_mid_document_is_retried_to_the_end(apis: Cluster) -> None:
    cluster = apis
    ensure_workers(cluster, "w1", "w2")
    job = cluster.upload("a", "gull_survey.pdf", long_report(BIG_PAGES, "guillemot"))
    assert mid_document(cluster, job["id"])["status"] == "embedding"
    cluster.chroma.stop()
    time.sleep(2 * LEASE_S)  # the write fails meanwhile; the task waits to be retried
    cluster.start_chroma()
    done = cluster.wait_job("b", job["id"], lambda j: j["status"] in ("ready", "failed"), 300)
    assert done["status"] == "ready", done
    logs = "".join(w.text() for w in cluster.workers.values())
    assert re.search(rf"Chroma unreachable; job {job['id']} retried", logs)
    assert_stored_once(cluster, ready_document(cluster, "b", job["document_id"]))


def test_deleting_a_document_mid_ingest_stops_its_job_on_the_worker(apis: Cluster) -> None:
    cluster = apis
    ensure_workers(cluster, "w1", "w2")
    job = cluster.upload("a", "tern_survey.pdf", long_report(BIG_PAGES, "sandwich tern"))
    assert mid_document(cluster, job["id"])["status"] == "embedding"
    deleted = httpx.delete(f"{cluster.apis['b']}/documents/{job['document_id']}", timeout=30)
    assert deleted.status_code == 204
    done = cluster.wait_job("a", job["id"], lambda j: j["status"] in ("ready", "failed"), 120)
    assert done["status"] == "failed" and done["error"]["code"] == "document_not_found", done
    assert job["document_id"] not in {d["id"] for d in cluster.documents("a")["data"]}
    assert chunk_ids(cluster, job["document_id"]) == []


def test_killing_an_api_process_mid_stream_leaves_the_others_answering(apis: Cluster) -> None:
    cluster = apis
    question = {
        "question": "What did the inspectors say about the nests?",
        "stream": True,
        "generation": {"max_tokens": 400},
    }
    url = cluster.apis["a"]
    with httpx.stream("POST", f"{url}/ask", json=question, timeout=60) as response:
        assert response.status_code == 200
        lines = response.iter_lines()
        wait_for(lambda: next(lines).startswith("event: delta"), 60, "the first words")
        cluster.api_service("a").kill()
        with pytest.raises(httpx.HTTPError):  # cut: the stream never reaches its `done`
            rest = list(lines)
            assert "event: done" not in rest, "the answer ended before the kill"
    for _ in range(4):
        answer = cluster.ask("b", f"Where does the {page_subject(12)} nest?")
        assert answer["sources"], answer
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/health", timeout=5)
