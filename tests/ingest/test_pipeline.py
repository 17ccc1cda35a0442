"""The ingest pipeline with the real model and embedded Chroma: identity, provenance,
clean failure and recovery after a crash."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from ingest import store as store_module
from ingest.bulk import IngestItem, ingest_many
from ingest.catalog import DocumentCatalog
from ingest.ids import chunk_id_for, safe_filename
from ingest.pipeline import IngestPipeline, IngestResult
from ingest.recovery import recover
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
        embed_batch_size=kwargs.get("embed_batch_size", 64),
        parser=kwargs.get("parser"),
        on_change=kwargs.get("on_change"),
    )


def chunks_of(pipeline: IngestPipeline) -> ChromaChunkStore:
    """The pipeline's store, to read back what it wrote."""
    store = pipeline.store
    assert isinstance(store, ChromaChunkStore)
    return store


@pytest.fixture
def pipeline(tmp_path: Path, embedder: Any) -> IngestPipeline:
    return make_pipeline(tmp_path, embedder)


def test_chunks_carry_pages_and_stable_ids(pipeline: IngestPipeline) -> None:
    result = pipeline.ingest(f.MULTIPAGE_PDF.read_bytes(), "report.pdf")
    doc = result.document
    assert result.created and doc.status == "ready" and doc.pages == f.MULTIPAGE_PDF_PAGES
    chunks = chunks_of(pipeline).get(where={"document_id": doc.id})
    assert len(chunks) == doc.chunks > f.MULTIPAGE_PDF_PAGES
    assert {c.id for c in chunks} == {chunk_id_for(doc.id, i) for i in range(doc.chunks)}
    with_phrase = [c for c in chunks if f.PAGE_TWO_PHRASE in c.text]
    assert with_phrase
    assert all(c.metadata["page_start"] <= 2 <= c.metadata["page_end"] for c in with_phrase)


def test_chunks_never_exceed_the_model_window(tmp_path: Path, embedder: Any) -> None:
    pipeline = make_pipeline(tmp_path, embedder, chunk_size=10_000, chunk_overlap=16)
    assert pipeline.chunk_size == embedder.max_tokens
    pipeline.ingest(f.MULTIPAGE_PDF.read_bytes(), "report.pdf")
    for chunk in chunks_of(pipeline).get():
        assert embedder.count_tokens(chunk.text) <= embedder.max_tokens


def test_same_bytes_are_stored_once(pipeline: IngestPipeline) -> None:
    first = pipeline.ingest(b"Ferns grow in the shade.", "a.txt")
    second = pipeline.ingest(b"Ferns grow in the shade.", "b.txt")
    assert second.created is False and second.document.id == first.document.id
    assert chunks_of(pipeline).count() == first.document.chunks


def test_a_refused_file_writes_nothing(pipeline: IngestPipeline) -> None:
    with pytest.raises(EncryptedDocument):
        pipeline.ingest(f.ENCRYPTED_PDF.read_bytes(), "locked.pdf")
    assert chunks_of(pipeline).count() == 0 and pipeline.catalog.count() == 0


def test_a_failure_mid_write_removes_what_was_written(
    pipeline: IngestPipeline, embedder: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline.writer.batch_size = 2
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
    assert chunks_of(pipeline).count() == 0 and pipeline.catalog.count() == 0
    assert not pipeline.files.root.exists() or list(pipeline.files.root.iterdir()) == []


def test_recovery_removes_documents_that_never_became_ready(tmp_path: Path, embedder: Any) -> None:
    crashed = make_pipeline(tmp_path, embedder)
    kept = crashed.ingest(b"Ferns grow in the shade.", "ferns.txt").document
    # What a crash between writing chunks and marking the document ready leaves behind:
    crashed.catalog.put(replace(kept, id="deadbeef", status="pending"))
    chunks_of(crashed).add(
        [StoredChunk("deadbeef:0", "deadbeef", "half written")], [[1.0] + [0.0] * 383]
    )
    chunks_of(crashed).add(
        [StoredChunk("orphan:0", "orphan", "no record")], [[0.0, 1.0] + [0.0] * 382]
    )

    restarted = make_pipeline(tmp_path, embedder)
    removed = recover(restarted)
    assert set(removed) == {"deadbeef", "orphan"}
    assert chunks_of(restarted).document_ids() == {kept.id}
    assert [r.id for r in restarted.catalog.all()] == [kept.id]


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


def _notes(count: int) -> list[bytes]:
    topics = ["ferns", "comets", "glaciers", "violins", "bridges", "tulips", "owls", "canals"]
    return [
        f"Note {i} is about {topics[i % len(topics)]} and nothing else, number {i}.".encode()
        for i in range(count)
    ]


def test_ingest_many_embeds_several_documents_per_batch(
    pipeline: IngestPipeline, embedder: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from parsers.errors import EmptyDocument

    pipeline.writer.batch_size = 4
    stored = pipeline.ingest(b"Ferns grow in the shade.", "ferns.txt").document
    batches: list[int] = []
    real = embedder.embed_documents

    def counting(texts: Any) -> Any:
        batches.append(len(texts))
        return real(texts)

    monkeypatch.setattr(embedder, "embed_documents", counting)
    notes = _notes(10)
    items = [IngestItem(data, f"note{i}.txt", {"n": i}) for i, data in enumerate(notes)]
    items += [
        IngestItem(b"Ferns grow in the shade.", "again.txt"),  # stored before this call
        IngestItem(notes[0], "copy.txt"),  # the same bytes twice in one call
        IngestItem(b"   \n", "blank.txt"),  # refused by the parser
    ]
    calls: list[tuple[str, int, int]] = []
    results = ingest_many(pipeline, items, progress=lambda *a: calls.append(a))

    assert len(results) == len(items)
    new = results[:10]
    assert all(isinstance(r, IngestResult) and r.created for r in new)
    assert all(r.document.status == "ready" and r.document.chunks == 1 for r in new)  # type: ignore[union-attr]
    assert [r.document.metadata["n"] for r in new] == list(range(10))  # type: ignore[union-attr]
    again, copy, blank = results[10:]
    assert isinstance(again, IngestResult) and not again.created
    assert again.document.id == stored.id
    assert isinstance(copy, IngestResult) and not copy.created
    assert copy.document.id == new[0].document.id  # type: ignore[union-attr]
    assert isinstance(blank, EmptyDocument)
    # Ten one-chunk documents go through the model in full batches, not one call each.
    assert batches == [4, 4, 2]
    assert chunks_of(pipeline).count() == 11 and pipeline.catalog.count() == 11
    chunk = chunks_of(pipeline).get(where={"document_id": new[3].document.id})  # type: ignore[union-attr]
    assert chunk[0].metadata["meta.n"] == 3 and chunk[0].metadata["filename"] == "note3.txt"
    assert calls[-1] == ("documents", len(items), len(items))


def test_ingest_many_failure_removes_only_unfinished_documents(
    pipeline: IngestPipeline, embedder: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline.writer.batch_size = 2  # a window of 4 batches: 8 one-chunk documents
    items = [IngestItem(data, f"note{i}.txt") for i, data in enumerate(_notes(12))]
    calls = {"n": 0}
    real = embedder.embed_documents

    def fail_in_second_window(texts: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 6:
            raise RuntimeError("disk full")
        return real(texts)

    monkeypatch.setattr(embedder, "embed_documents", fail_in_second_window)
    with pytest.raises(RuntimeError):
        ingest_many(pipeline, items)
    records = pipeline.catalog.all()
    assert len(records) == 8 and all(r.status == "ready" for r in records)
    assert chunks_of(pipeline).document_ids() == {r.id for r in records}
    assert sorted(p.name for p in pipeline.files.root.iterdir()) == sorted(r.id for r in records)

    # Running it again stores what is missing and keeps what is there.
    results = ingest_many(pipeline, items)
    assert all(isinstance(r, IngestResult) for r in results)
    assert [r.created for r in results] == [False] * 8 + [True] * 4  # type: ignore[union-attr]
    assert chunks_of(pipeline).count() == 12


def test_ingest_many_tells_derived_indexes_about_its_chunks(tmp_path: Path, embedder: Any) -> None:
    changes: list[int] = []
    pipeline = make_pipeline(tmp_path, embedder, on_change=lambda: changes.append(1))
    ingest_many(pipeline, [IngestItem(data, f"note{i}.txt") for i, data in enumerate(_notes(3))])
    assert changes, "the lexical index would not see the new chunks"
    assert chunks_of(pipeline).count() == 3
