"""The ingest pipeline with the real model and embedded Chroma: identity, provenance,
clean failure and recovery after a crash."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from ingest import store as store_module
from ingest.catalog import DocumentCatalog
from ingest.pipeline import IngestPipeline, chunk_id_for, safe_filename
from ingest.store import ChromaChunkStore, ChromaRecordStore, StoredChunk
from parsers.errors import EncryptedDocument
from tests import samples as f


def make_pipeline(root: Path, embedder: Any, **kwargs: Any) -> IngestPipeline:
    client = store_module.connect(path=root / "chroma")
    return IngestPipeline(
        embedder=embedder,
        store=ChromaChunkStore(client, "t_chunks", embedder.fingerprint),
        catalog=DocumentCatalog(
            ChromaRecordStore(client, "t_documents"), ChromaRecordStore(client, "t_content")
        ),
        files_dir=root / "files",
        chunk_size=kwargs.get("chunk_size", 120),
        chunk_overlap=kwargs.get("chunk_overlap", 16),
    )


@pytest.fixture
def pipeline(tmp_path: Path, embedder: Any) -> IngestPipeline:
    return make_pipeline(tmp_path, embedder)


def test_chunks_carry_pages_and_stable_ids(pipeline: IngestPipeline) -> None:
    result = pipeline.ingest(f.MULTIPAGE_PDF.read_bytes(), "report.pdf")
    doc = result.document
    assert result.created and doc.status == "ready" and doc.pages == f.MULTIPAGE_PDF_PAGES
    chunks = pipeline._store.get(where={"document_id": doc.id})
    assert len(chunks) == doc.chunks > f.MULTIPAGE_PDF_PAGES
    assert {c.id for c in chunks} == {chunk_id_for(doc.id, i) for i in range(doc.chunks)}
    with_phrase = [c for c in chunks if f.PAGE_TWO_PHRASE in c.text]
    assert with_phrase
    assert all(c.metadata["page_start"] <= 2 <= c.metadata["page_end"] for c in with_phrase)


def test_chunks_never_exceed_the_model_window(tmp_path: Path, embedder: Any) -> None:
    pipeline = make_pipeline(tmp_path, embedder, chunk_size=10_000, chunk_overlap=16)
    assert pipeline.chunk_size == embedder.max_tokens
    pipeline.ingest(f.MULTIPAGE_PDF.read_bytes(), "report.pdf")
    for chunk in pipeline._store.get():
        assert embedder.count_tokens(chunk.text) <= embedder.max_tokens


def test_same_bytes_are_stored_once(pipeline: IngestPipeline) -> None:
    first = pipeline.ingest(b"Ferns grow in the shade.", "a.txt")
    second = pipeline.ingest(b"Ferns grow in the shade.", "b.txt")
    assert second.created is False and second.document.id == first.document.id
    assert pipeline._store.count() == first.document.chunks


def test_a_refused_file_writes_nothing(pipeline: IngestPipeline) -> None:
    with pytest.raises(EncryptedDocument):
        pipeline.ingest(f.ENCRYPTED_PDF.read_bytes(), "locked.pdf")
    assert pipeline._store.count() == 0 and pipeline._catalog.count() == 0


def test_a_failure_mid_write_removes_what_was_written(
    pipeline: IngestPipeline, embedder: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline._embed_batch_size = 2
    calls = {"n": 0}
    real = embedder.embed_documents

    def fail_on_second_batch(texts: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("disk full")
        return real(texts)

    monkeypatch.setattr(embedder, "embed_documents", fail_on_second_batch)
    with pytest.raises(RuntimeError):
        pipeline.ingest(f.MULTIPAGE_PDF.read_bytes(), "report.pdf")
    assert calls["n"] == 2
    assert pipeline._store.count() == 0 and pipeline._catalog.count() == 0
    assert not pipeline._files_dir.exists() or list(pipeline._files_dir.iterdir()) == []


def test_recovery_removes_documents_that_never_became_ready(tmp_path: Path, embedder: Any) -> None:
    crashed = make_pipeline(tmp_path, embedder)
    kept = crashed.ingest(b"Ferns grow in the shade.", "ferns.txt").document
    # What a crash between writing chunks and marking the document ready leaves behind:
    crashed._catalog.put(replace(kept, id="deadbeef", status="pending"))
    crashed._store.add(
        [StoredChunk("deadbeef:0", "deadbeef", "half written")], [[1.0] + [0.0] * 383]
    )
    crashed._store.add([StoredChunk("orphan:0", "orphan", "no record")], [[0.0, 1.0] + [0.0] * 382])

    restarted = make_pipeline(tmp_path, embedder)
    removed = restarted.recover()
    assert set(removed) == {"deadbeef", "orphan"}
    assert restarted._store.document_ids() == {kept.id}
    assert [r.id for r in restarted._catalog.all()] == [kept.id]


@pytest.mark.parametrize(
    ("raw", "safe"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\report.pdf", "report.pdf"),
        ("bad\x00name\n.txt", "badname.txt"),
        ("", "upload"),
        ("..", "upload"),
        (".hidden.txt", "hidden.txt"),
        ("报告.pdf", "报告.pdf"),
    ],
)
def test_safe_filename(raw: str, safe: str) -> None:
    assert safe_filename(raw) == safe
