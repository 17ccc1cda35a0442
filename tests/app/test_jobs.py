"""Background ingestion over HTTP: `POST /documents?wait=false`, `GET /jobs/{id}` and the
document's status, failures, and what a restart does with unfinished jobs."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from app.builders import build_parts
from ingest.store import StoredChunk
from tests import samples as f

NOTES = b"The aurora greenhouse opens in March. Its budget is forty thousand euros."
ORDER = ["queued", "parsing", "embedding", "ready"]


def poll(check: Callable[[], Any], what: str, timeout: float = 120.0) -> Any:
    """Calls `check` until it returns something truthy (a deadline only against hanging)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"gave up waiting for {what}")


def wait_for_job(client: Any, job_id: str, seen: list[dict[str, Any]] | None = None) -> Any:
    def finished() -> Any:
        job = client.get(f"/jobs/{job_id}").json()
        if seen is not None:
            seen.append(job)
        return job if job["status"] in ("ready", "failed") else None

    return poll(finished, f"job {job_id}")


class Gate:
    """Fault injection: holds the background jobs' calls to the embedding model until opened
    (after letting the first `free` through), so a test can look at a job mid-way. Questions
    and direct uploads pass freely."""

    def __init__(self, embedder: Any, monkeypatch: pytest.MonkeyPatch, free: int = 0) -> None:
        self._real = embedder.embed_documents
        self._open = threading.Event()
        self.waiting = threading.Event()
        self.calls = 0
        self._free = free
        monkeypatch.setattr(embedder, "embed_documents", self._embed)

    def _embed(self, texts: Any) -> Any:
        if not threading.current_thread().name.startswith("docrag-jobs"):
            return self._real(texts)
        self.calls += 1
        if self.calls > self._free and not self._open.is_set():
            self.waiting.set()
            self._open.wait(120)
        return self._real(texts)

    def open(self) -> None:
        self._open.set()


@pytest.fixture
def gate(embedder: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Gate]:
    gate = Gate(embedder, monkeypatch)
    yield gate
    gate.open()


def submit(client: Any, *files: tuple[str, bytes]) -> Any:
    response = client.post(
        "/documents",
        files=[("files", (name, data)) for name, data in files],
        params={"wait": "false"},
    )
    assert response.status_code == 202, response.text
    return response.json()["jobs"]


def test_a_job_goes_through_its_stages_in_order(client: Any, gate: Gate) -> None:
    first, second = submit(
        client, ("report.pdf", f.MULTIPAGE_PDF.read_bytes()), ("notes.txt", NOTES)
    )
    assert first["status"] == "queued" and first["progress"] == 0.0
    assert first["kind"] == "ingest" and first["filename"] == "report.pdf"

    gate.waiting.wait(60)  # the first job is embedding; one worker, so the second waits
    doc = client.get(f"/documents/{first['document_id']}").json()
    assert doc["status"] in ("parsing", "embedding") and doc["error"] is None
    assert client.get(f"/jobs/{second['id']}").json()["status"] == "queued"
    assert client.get(f"/documents/{second['document_id']}").json()["status"] == "queued"
    # Nothing of an unfinished document answers questions.
    asked = client.post("/ask", json={"question": "What is in the harbour stew?"}).json()
    assert asked["citations"] == []

    seen: list[dict[str, Any]] = []
    gate.open()
    done = wait_for_job(client, first["id"], seen)
    assert done["status"] == "ready" and done["progress"] == 1.0 and done["created"] is True
    statuses = [j["status"] for j in seen]
    assert statuses == sorted(statuses, key=ORDER.index)
    progress = [j["progress"] for j in seen]
    assert progress == sorted(progress) and all(0.0 <= p <= 1.0 for p in progress)

    doc = client.get(f"/documents/{first['document_id']}").json()
    assert doc["status"] == "ready" and doc["progress"] == 1.0
    assert doc["pages"] == f.MULTIPAGE_PDF_PAGES and doc["chunks"] > 0
    assert wait_for_job(client, second["id"])["status"] == "ready"
    asked = client.post("/ask", json={"question": f.PAGE_TWO_QUESTION}).json()
    assert asked["citations"] and asked["citations"][0]["document_id"] == first["document_id"]


def test_a_failed_job_reports_its_error(client: Any) -> None:
    [job] = submit(client, ("locked.pdf", f.ENCRYPTED_PDF.read_bytes()))
    done = wait_for_job(client, job["id"])
    assert done["status"] == "failed"
    assert done["error"]["code"] == "encrypted_document"
    assert "password" in done["error"]["message"]
    doc = client.get(f"/documents/{job['document_id']}").json()
    assert doc["status"] == "failed" and doc["error"] == done["error"]
    assert client.get("/health").json()["chunks"] == 0


def test_same_bytes_give_a_finished_job_or_the_running_one(client: Any, gate: Gate) -> None:
    stored = client.post("/documents", files=[("files", ("notes.txt", NOTES))]).json()
    [again] = submit(client, ("copy.txt", NOTES))
    assert again["status"] == "ready" and again["created"] is False
    assert again["document_id"] == stored["documents"][0]["id"]

    [running] = submit(client, ("report.pdf", f.MULTIPAGE_PDF.read_bytes()))
    [twin] = submit(client, ("same.pdf", f.MULTIPAGE_PDF.read_bytes()))
    assert twin["id"] == running["id"]
    gate.open()
    assert wait_for_job(client, running["id"])["status"] == "ready"


def test_refused_uploads_and_unknown_jobs(make_client: Any) -> None:
    client = make_client(limits={"max_upload_mb": 0.01})
    response = client.post(
        "/documents", files=[("files", ("big.txt", b"word " * 5000))], params={"wait": "false"}
    )
    assert response.status_code == 413 and response.json()["jobs"] == []
    missing = client.get("/jobs/nope")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "job_not_found"


def test_a_job_stopped_by_shutdown_resumes_at_the_next_start(
    make_client: Any, make_settings: Any, embedder: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings(embedding={"ingest_batch_size": 4})
    client = make_client(settings)
    gate = Gate(embedder, monkeypatch, free=1)
    [job] = submit(client, ("report.pdf", f.MULTIPAGE_PDF.read_bytes()))
    gate.waiting.wait(60)  # one batch stored, the next one held
    assert client.app.state.parts.store.count() > 0
    stopping = threading.Thread(target=client.__exit__, args=(None, None, None))
    stopping.start()
    gate.open()
    stopping.join(60)

    restarted = make_client(settings)
    done = wait_for_job(restarted, job["id"])
    assert done["status"] == "ready"
    doc = restarted.get(f"/documents/{job['document_id']}").json()
    assert restarted.get("/health").json()["chunks"] == doc["chunks"] > 4


def crashed_mid_ingest(settings: Any, embedder: Any, data: bytes, *, keep_file: bool) -> Any:
    """The state a SIGKILL during a background ingest leaves: a job and a document still
    embedding, some of its chunks written, its original stored (or, `keep_file` False, lost)."""
    container = build_parts(settings, embedder=embedder)
    assert container.jobs is not None
    job = container.jobs.submit(data, "report.pdf")  # queued, never run: no worker started
    record = container.catalog.get(job.document_id)
    container.catalog.put(record.with_status("embedding", progress=0.4))
    container.jobs._jobs.put(job.updated(status="embedding", progress=0.4))
    container.store.add(
        [StoredChunk(f"{record.id}:0", record.id, "half written", {"filename": "report.pdf"})],
        [[1.0] + [0.0] * 383],
    )
    if not keep_file:
        (settings.files_dir / record.id).unlink()
    return job


def test_restart_resumes_a_job_a_crash_interrupted(
    make_client: Any, make_settings: Any, embedder: Any
) -> None:
    settings = make_settings()
    job = crashed_mid_ingest(settings, embedder, f.MULTIPAGE_PDF.read_bytes(), keep_file=True)

    client = make_client(settings)
    done = wait_for_job(client, job.id)
    assert done["status"] == "ready"
    doc = client.get(f"/documents/{job.document_id}").json()
    assert doc["status"] == "ready" and doc["pages"] == f.MULTIPAGE_PDF_PAGES
    chunks = client.app.state.parts.store.get(where={"document_id": job.document_id})
    assert len(chunks) == doc["chunks"] and "half written" not in [c.text for c in chunks]


def test_restart_fails_a_job_whose_file_is_gone(
    make_client: Any, make_settings: Any, embedder: Any
) -> None:
    settings = make_settings()
    job = crashed_mid_ingest(settings, embedder, f.MULTIPAGE_PDF.read_bytes(), keep_file=False)

    client = make_client(settings)
    done = client.get(f"/jobs/{job.id}").json()
    assert done["status"] == "failed" and done["error"]["code"] == "interrupted"
    assert "upload the file again" in done["error"]["message"]
    doc = client.get(f"/documents/{job.document_id}").json()
    assert doc["status"] == "failed" and doc["error"]["code"] == "interrupted"
    assert client.get("/health").json()["chunks"] == 0
    # Uploading the file again works.
    again = client.post(
        "/documents", files=[("files", ("report.pdf", f.MULTIPAGE_PDF.read_bytes()))]
    )
    assert again.status_code == 201 and again.json()["documents"][0]["status"] == "ready"


def test_a_shutdown_during_a_parse_requeues_the_job(
    make_client: Any, make_settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.hostile_parsing import TARGET

    settings = make_settings(limits={"parse_timeout_s": 600})
    client = make_client(settings)
    # Fault injection: this parse never ends on its own.
    monkeypatch.setattr(client.app.state.parts.parser, "target", TARGET)
    [job] = submit(client, ("hang.pdf", f.MULTIPAGE_PDF.read_bytes()))
    poll(lambda: client.get(f"/jobs/{job['id']}").json()["status"] == "parsing", "the parse")
    client.__exit__(None, None, None)  # the shutdown stops the parse worker

    restarted = make_client(settings)  # parses with the real parser again
    done = wait_for_job(restarted, job["id"])
    assert done["status"] == "ready" and done["error"] is None
