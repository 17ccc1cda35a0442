"""`docrag reindex`: a new collection built from the stored files with another embedding
model, while the running service keeps answering from the old one; then one switch."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from app.cli import cli
from app.main import create_app
from app.reindexing import reindex
from ingest import store as store_module
from ingest.catalog import DocumentRecord
from tests import samples as f

NOTES = b"The aurora greenhouse opens in March. Its budget is forty thousand euros."
LATE = b"The lighthouse keeper's cat is called Biscuit and sleeps on the lamp room stairs."


@pytest.fixture(scope="session")
def other_model(minilm_path: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Another embedding model: the same weights with a 128-token window, in another folder
    (so another name and fingerprint), which also makes its chunks shorter."""
    folder = tmp_path_factory.mktemp("minilm-128")
    for item in Path(minilm_path).iterdir():
        if item.name != "sentence_bert_config.json":
            (folder / item.name).symlink_to(item)
    config = json.loads((Path(minilm_path) / "sentence_bert_config.json").read_text())
    (folder / "sentence_bert_config.json").write_text(json.dumps({**config, "max_seq_length": 128}))
    return str(folder)


def _upload(client: Any, name: str, data: bytes) -> str:
    reply = client.post("/documents", files=[("files", (name, data))])
    assert reply.status_code == 201, reply.text
    return str(reply.json()["documents"][0]["id"])


def _cited(client: Any, question: str) -> list[str]:
    reply = client.post("/ask", json={"question": question})
    assert reply.status_code == 200, reply.text
    return [c["filename"] for c in reply.json()["citations"]]


def _chunks_listed(client: Any) -> int:
    return sum(d["chunks"] for d in client.get("/documents").json()["data"])


@pytest.mark.parametrize("where", ["embedded", "server"])
def test_reindex_with_another_model_switches_a_running_service_and_misses_nothing(
    where: str,
    make_settings: Callable[..., Any],
    make_client: Callable[..., Any],
    other_model: str,
    request: pytest.FixtureRequest,
) -> None:
    chroma: dict[str, Any] = {}
    if where == "server":
        host, port = request.getfixturevalue("chroma_server")
        chroma = {"host": host, "port": port, "collection": f"re{uuid.uuid4().hex[:8]}"}
    settings = make_settings(chroma=chroma) if chroma else make_settings()
    client = make_client(settings)
    report_id = _upload(client, "report.pdf", f.MULTIPAGE_PDF.read_bytes())
    notes_id = _upload(client, "notes.txt", NOTES)
    before = client.get("/health").json()
    report_chunks_before = client.get(f"/documents/{report_id}").json()["chunks"]

    during: dict[str, Any] = {}

    def meanwhile(record: DocumentRecord, chunks: int) -> None:
        if during:
            return
        # The old index still answers while the new one is being written...
        during["health"] = client.get("/health").json()
        during["cited"] = _cited(client, f.PAGE_TWO_QUESTION)
        # ...and takes uploads and deletes, which the reindex must catch up with.
        during["late"] = _upload(client, "late.txt", LATE)
        assert client.delete(f"/documents/{notes_id}").status_code == 204

    target = make_settings(chroma=chroma, embedding={"model": other_model})
    report, removed = reindex(target, on_document=meanwhile)

    assert during["health"]["index"] == before["index"]
    assert "report.pdf" in during["cited"]
    assert report.switched and not report.failed
    assert before["index"] in removed

    after = client.get("/health").json()
    assert after["index"] == report.collection != before["index"]
    assert after["embedding_model"] == other_model
    assert after["reindex_needed"] is True  # this service is still configured with MiniLM-256
    assert "report.pdf" in _cited(client, f.PAGE_TWO_QUESTION)
    assert "late.txt" in _cited(client, "What is the lighthouse keeper's cat called?")
    assert "notes.txt" not in _cited(client, "When does the aurora greenhouse open?")
    # The catalog's counts describe the new chunks: shorter windows, more chunks.
    report_chunks_after = client.get(f"/documents/{report_id}").json()["chunks"]
    assert report_chunks_after > report_chunks_before
    assert _chunks_listed(client) == after["chunks"]
    assert report.documents == 2
    names = store_module.collection_names(client.app.state.parts.client)
    assert before["index"] not in names and report.collection in names

    # A restart configured with the new model serves the new index without complaint.
    with TestClient(create_app(target)) as restarted:
        health = restarted.get("/health").json()
        assert health["index"] == report.collection and health["reindex_needed"] is False
        assert "late.txt" in _cited(restarted, "What is the lighthouse keeper's cat called?")


def test_cli_reindex_refuses_to_switch_when_a_stored_file_is_missing(
    env: dict[str, str], tmp_path: Path, other_model: str
) -> None:
    runner = CliRunner()
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "report.pdf").write_bytes(f.MULTIPAGE_PDF.read_bytes())
    (folder / "notes.txt").write_bytes(NOTES)
    assert runner.invoke(cli, ["ingest", str(folder)]).exit_code == 0
    files = sorted((Path(env["DOCRAG_DATA_DIR"]) / "files").iterdir())
    assert len(files) == 2
    lost = files[0]
    kept_bytes = lost.read_bytes()
    lost.unlink()

    refused = runner.invoke(cli, ["reindex", "--model", other_model])
    assert refused.exit_code == 1
    assert "not switched" in refused.output and "stored file is missing" in refused.output
    # Nothing changed: the old index still answers both documents.
    assert "smoked paprika" in runner.invoke(cli, ["ask", f.PAGE_TWO_QUESTION]).output
    assert "greenhouse" in runner.invoke(cli, ["ask", "When does the greenhouse open?"]).output

    lost.write_bytes(kept_bytes)
    done = runner.invoke(cli, ["reindex", "--model", other_model])
    assert done.exit_code == 0, done.output
    assert "switched to" in done.output and "2 document(s)" in done.output
    # The CLI, still configured with the old model, answers from the new index.
    assert "smoked paprika" in runner.invoke(cli, ["ask", f.PAGE_TWO_QUESTION]).output


def test_cli_reindex_can_switch_without_the_documents_it_could_not_read(
    env: dict[str, str], tmp_path: Path
) -> None:
    runner = CliRunner()
    one, two = tmp_path / "report.pdf", tmp_path / "notes.txt"
    one.write_bytes(f.MULTIPAGE_PDF.read_bytes())
    two.write_bytes(NOTES)
    assert runner.invoke(cli, ["ingest", str(one), str(two)]).exit_code == 0
    for stored in (Path(env["DOCRAG_DATA_DIR"]) / "files").iterdir():
        if stored.read_bytes() == NOTES:
            stored.unlink()
    # Same model: a reindex also applies new chunking settings.
    done = runner.invoke(
        cli, ["reindex", "--skip-failed"], env={"DOCRAG_EMBEDDING__CHUNK_SIZE": "64"}
    )
    assert done.exit_code == 0, done.output
    assert "failed notes.txt" in done.output and "1 document(s)" in done.output
    assert "smoked paprika" in runner.invoke(cli, ["ask", f.PAGE_TWO_QUESTION]).output


def test_a_server_reindexes_with_its_configured_model_through_http_and_the_cli(
    make_settings: Callable[..., Any],
    make_client: Callable[..., Any],
    minilm_path: str,
    other_model: str,
) -> None:
    from tests.app.live_server import live_server

    first = make_client(make_settings())
    _upload(first, "report.pdf", f.MULTIPAGE_PDF.read_bytes())
    _upload(first, "notes.txt", NOTES)
    first.__exit__(None, None, None)

    # Restarted with a new model: the old index keeps answering, with the model that built it.
    with live_server(create_app(make_settings(embedding={"model": other_model}))) as base:
        import httpx

        health = httpx.get(f"{base}/health").json()
        assert health["reindex_needed"] is True and health["embedding_model"] == minilm_path
        assert "notes.txt" in _cited(httpx.Client(base_url=base), "When does the greenhouse open?")

        runner = CliRunner()
        refused = runner.invoke(cli, ["reindex", "--server", base, "--model", minilm_path])
        assert refused.exit_code == 2 and "--model cannot be used with --server" in refused.output

        started = httpx.post(f"{base}/index/reindex")
        assert started.status_code == 202 and started.json()["status"] == "running"
        again = httpx.post(f"{base}/index/reindex")
        assert again.status_code == 409
        assert again.json()["error"]["code"] == "reindex_running"
        assert "GET /index" in again.json()["error"]["message"]
        deadline = time.monotonic() + 120
        answered: list[list[str]] = []
        with httpx.Client(base_url=base, timeout=60) as http:
            while http.get("/index").json()["reindex"]["status"] == "running":
                assert time.monotonic() < deadline, "the reindex did not finish"
                # Questions racing the rebuild and the switch are still answered.
                answered.append(_cited(http, f.PAGE_TWO_QUESTION))
        assert answered and all("report.pdf" in cited for cited in answered)
        index = httpx.get(f"{base}/index").json()
        assert index["reindex"]["status"] == "switched", index
        assert index["embedding_model"] == other_model and index["reindex_needed"] is False
        assert index["collection"] == index["reindex"]["collection"]
        assert index["reindex"]["documents_done"] == 2
        assert "report.pdf" in _cited(httpx.Client(base_url=base), f.PAGE_TWO_QUESTION)

        # The CLI does the same through the server, with a progress bar and a summary.
        done = runner.invoke(cli, ["reindex", "--server", base])
        assert done.exit_code == 0, done.output
        assert "switched to" in done.output and "2 document(s)" in done.output
        after = httpx.get(f"{base}/index").json()
        assert after["collection"] != index["collection"]
        assert "report.pdf" in _cited(httpx.Client(base_url=base), f.PAGE_TWO_QUESTION)


def test_an_upload_that_finishes_after_the_switch_reaches_the_new_index(
    make_settings: Callable[..., Any], make_client: Callable[..., Any], embedder: Any
) -> None:
    settings = make_settings()
    client = make_client(settings)
    _upload(client, "report.pdf", f.MULTIPAGE_PDF.read_bytes())
    container = client.app.state.parts
    # A request that began before the switch holds the old parts to the end.
    old_pipeline = container.pipeline
    report, _ = reindex(settings, embedder=embedder, keep_previous=True)
    assert report.switched
    late = old_pipeline.ingest(LATE, "late.txt").document

    assert container.store.name == report.collection
    assert container.store.count_document(late.id) == late.chunks > 0
    assert "late.txt" in _cited(client, "What is the lighthouse keeper's cat called?")
    assert _chunks_listed(client) == client.get("/health").json()["chunks"]


def test_reindex_parameters_that_are_not_booleans_are_refused_by_name(client: Any) -> None:
    reply = client.post("/index/reindex", params={"skip_failed": "perhaps"})
    assert reply.status_code == 422
    assert "skip_failed" in reply.json()["error"]["message"]
    # Nothing was started.
    assert client.get("/index").json()["reindex"]["status"] == "idle"
