"""Start-up: embedded and server Chroma, refusing a different embedding model, and cleaning
up what a crash left half-written."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from ingest.errors import EmbedderMismatch
from ingest.store import StoredChunk
from tests.conftest import wait_until

NOTES = b"The aurora greenhouse opens in March. Its budget is forty thousand euros."


class OtherModel:
    """The real model under another name: what switching DOCRAG_EMBEDDING__MODEL looks like."""

    def __init__(self, embedder: Any) -> None:
        self._inner = embedder

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    @property
    def fingerprint(self) -> str:
        return "sentence-transformers:some/other-model:384:normalized"


def test_a_different_embedding_model_keeps_the_index_answering_and_asks_for_a_reindex(
    make_client: Any, make_settings: Any, embedder: Any
) -> None:
    settings = make_settings()
    client = make_client(settings)
    client.post("/documents", files=[("files", ("notes.txt", NOTES))])
    client.__exit__(None, None, None)
    # The configured model changed; the index still holds the old model's vectors, so it
    # is queried with the model recorded for it (loaded by name), not the new one.
    with TestClient(create_app(settings, embedder=OtherModel(embedder))) as restarted:
        health = restarted.get("/health").json()
        assert health["reindex_needed"] is True
        assert health["embedding_model"] == settings.embedding.model
        answer = restarted.post("/ask", json={"question": "When does the greenhouse open?"})
        assert answer.status_code == 200
        assert answer.json()["citations"][0]["filename"] == "notes.txt"


def test_an_unrecorded_collection_built_by_another_model_is_refused_with_a_way_out(
    make_settings: Any, embedder: Any
) -> None:
    from ingest import store as store_module

    settings = make_settings()
    client = store_module.connect(path=settings.chroma_dir)
    client.create_collection(
        "docrag_chunks", metadata={"hnsw:space": "cosine", "docrag_embedder": "another:768"}
    )
    with pytest.raises(EmbedderMismatch) as refused:
        with TestClient(create_app(settings, embedder=embedder)):
            pass
    message = str(refused.value)
    assert "DOCRAG_EMBEDDING__MODEL" in message and "docrag reindex" in message


def test_cli_reports_the_mismatch_instead_of_a_traceback(
    make_settings: Any, make_client: Any, monkeypatch: pytest.MonkeyPatch, minilm_path: str
) -> None:
    from typer.testing import CliRunner

    from app.cli import cli

    settings = make_settings()
    make_client(settings).post("/documents", files=[("files", ("notes.txt", NOTES))])
    monkeypatch.setenv("DOCRAG_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("DOCRAG_EMBEDDING__MODEL", minilm_path)
    monkeypatch.setenv("DOCRAG_CHROMA__COLLECTION", "docrag")
    # Same data, but the catalog says another model built it.
    from ingest import store as store_module

    client = store_module.connect(path=settings.chroma_dir)
    collection = client.get_collection("docrag_chunks")
    collection.modify(metadata={"docrag_embedder": "another:768"})
    result = CliRunner().invoke(cli, ["ask", "When does the greenhouse open?"])
    assert result.exit_code == 2
    assert "DOCRAG_EMBEDDING__MODEL" in result.output and "Traceback" not in result.output


def test_start_up_removes_documents_a_crash_left_half_written(
    make_settings: Any, make_client: Any
) -> None:
    settings = make_settings()
    client = make_client(settings)
    kept = client.post("/documents", files=[("files", ("notes.txt", NOTES))]).json()
    container = client.app.state.parts
    record = container.catalog.get(kept["documents"][0]["id"])
    container.catalog.put(replace(record, id="c" * 32, status="pending"))
    container.store.add(
        [StoredChunk("c" * 32 + ":0", "c" * 32, "half written", {"filename": "x.txt"})],
        [[1.0] + [0.0] * 383],
    )
    client.__exit__(None, None, None)

    restarted = make_client(settings)
    # The clean-up runs beside the service's start: the leftovers go within moments.
    wait_until(
        lambda: (
            [d["id"] for d in restarted.get("/documents").json()["data"]]
            == [kept["documents"][0]["id"]]
        ),
        30,
        "the crash clean-up",
    )
    assert restarted.get("/health").json()["chunks"] == kept["documents"][0]["chunks"]


@pytest.mark.integration
def test_the_whole_path_against_a_chroma_server(
    make_client: Any, chroma_server: tuple[str, int]
) -> None:
    host, port = chroma_server
    client = make_client(chroma={"host": host, "port": port, "collection": "e2e"})
    assert client.get("/health").json()["chroma"] == f"server {host}:{port}"
    doc = client.post("/documents", files=[("files", ("notes.txt", NOTES))]).json()
    doc_id = doc["documents"][0]["id"]
    body = client.post("/ask", json={"question": "When does the aurora greenhouse open?"}).json()
    assert body["grounded"] and body["citations"][0]["document_id"] == doc_id
    # A second API process on the same server sees the same catalog and index.
    other = make_client(chroma={"host": host, "port": port, "collection": "e2e"})
    assert other.get(f"/documents/{doc_id}").status_code == 200
    assert other.post("/ask", json={"question": "aurora budget"}).json()["grounded"]
    assert other.delete(f"/documents/{doc_id}").status_code == 204
    gone = client.post("/ask", json={"question": "When does the aurora greenhouse open?"}).json()
    assert gone["grounded"] is False
