"""Embedding overlaps parsing: a PDF's first pages are chunked and embedded while the parser
is still reading, and the chunks are the same as when the whole document is chunked at once."""

from __future__ import annotations

import io
import threading
from pathlib import Path
from typing import Any

import pytest

from ingest import reading as reading_module
from ingest.bulk import IngestItem, ingest_many
from ingest.pipeline import IngestPipeline
from parsers.pdf import PageCallback
from parsers.registry import parse_document
from parsers.types import PageRead, ParsedDocument
from tests import samples as f
from tests.ingest.test_pipeline import chunks_of, make_pipeline


class WaitingParser:
    """Fault injection: reads pages past the first run only once the embedder has been called,
    which a pipeline that embeds after parsing would never do."""

    def __init__(self, embedded: threading.Event) -> None:
        self.embedded = embedded
        self.pages_before_embedding: int | None = None

    def parse(
        self, data: bytes, filename: str, *, on_page: PageCallback | None = None
    ) -> ParsedDocument:
        def held(read: PageRead) -> None:
            number = read.page.number
            if number > reading_module.SEGMENT_PAGES and self.pages_before_embedding is None:
                if not self.embedded.wait(60):
                    raise AssertionError("nothing was embedded while the parser was reading")
                self.pages_before_embedding = number - 1
            assert on_page is not None
            on_page(read)

        return parse_document(data, filename, on_page=held if on_page else None)


@pytest.fixture
def small_segments(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reading_module, "SEGMENT_PAGES", 2)  # the sample PDF has six pages


def stored_chunks(pipeline: IngestPipeline, document_id: str) -> list[tuple[Any, ...]]:
    chunks = chunks_of(pipeline).get(where={"document_id": document_id})
    return sorted(
        (
            c.metadata["ordinal"],
            c.metadata.get("context", ""),
            c.text,
            c.metadata["page_start"],
            c.metadata["page_end"],
        )
        for c in chunks
    )


def drafted_report() -> bytes:
    """Eight pages; a PDF metadata title but no cover that names the document; a page
    footer on every page and a running "draft" header on the first four only, so the
    furniture of the whole document is not what its first pages alone show."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=A4, invariant=1)
    pdf.setTitle("Harbourside Survey of Moorings")
    for number in range(1, 9):
        if number <= 4:
            pdf.drawString(72, 800, "DRAFT for the harbour committee")
        y = 760
        for line in range(30):
            pdf.drawString(
                72, y, f"Mooring {number}-{line} holds {number * line} boats in calm weather."
            )
            y -= 20
        pdf.drawString(72, 40, f"Page {number} of 8")
        pdf.showPage()
    pdf.save()
    return out.getvalue()


@pytest.mark.parametrize("sample", ["field report", "drafted report"])
def test_streamed_chunks_equal_whole_document_chunks(
    tmp_path: Path, embedder: Any, small_segments: None, sample: str
) -> None:
    data = f.MULTIPAGE_PDF.read_bytes() if sample == "field report" else drafted_report()
    streamed = make_pipeline(tmp_path / "a", embedder)
    doc = streamed.ingest(data, "report.pdf").document
    whole = make_pipeline(tmp_path / "b", embedder)
    [result] = ingest_many(whole, [IngestItem(data, "report.pdf")])  # parses, then chunks
    stored = stored_chunks(streamed, doc.id)
    assert stored == stored_chunks(whole, doc.id)
    expected = whole.reader.chunk(parse_document(data, "report.pdf"))
    assert [(c.context, c.text) for c in expected] == [(c[1], c[2]) for c in stored]
    assert doc.chunks == len(stored)
    # No chunk spans the boundary between two runs of pages.
    for *_, first, last in stored:
        assert (first - 1) // 2 == (last - 1) // 2
    if sample == "drafted report":
        # The metadata title heads every chunk; the header and footer of the first pages,
        # furniture only to the whole document, are left out of their chunks.
        assert all(c[1].startswith("Harbourside Survey of Moorings") for c in stored)
        assert not any("DRAFT" in c[2] or "of 8" in c[2] for c in stored)


class ScriptedFeed:
    """Fault injection: a feed that hands over its events in the steps given, one step per
    batch the writer writes, whose whole document chunks into fewer chunks than it streamed,
    with a different first one (as when later pages show more furniture)."""

    def __init__(self, steps: list[list[Any]]) -> None:
        self.steps = steps

    def take(self, block: bool, timeout: float = 0.5) -> list[Any]:
        return self.steps.pop(0) if self.steps else []


def test_a_revision_rewrites_changed_chunks_and_removes_those_beyond_its_count(
    tmp_path: Path, embedder: Any
) -> None:
    from ingest.catalog import new_record
    from ingest.ids import chunk_id_for
    from ingest.reading import ChunksReady, ChunksRevised, ParseDone
    from ingest.writing import ChunkWriter
    from parsers.types import Chunk

    pipeline = make_pipeline(tmp_path, embedder)
    record = new_record("doc", "0" * 64, b"x", "report.pdf", status="parsing")
    streamed = [
        Chunk(i, f"page {i + 1} text", i + 1, i + 1, None, context="Draft") for i in range(3)
    ]
    revised = Chunk(0, "page 1 text without its header", 1, 1, None, context="Survey")
    parsed = parse_document(f.MULTIPAGE_PDF.read_bytes(), "report.pdf")
    # All three streamed chunks are written (one a batch) before the revision comes.
    feed = ScriptedFeed(
        [
            [ChunksReady("application/pdf", streamed)],
            [],
            [],
            [ChunksRevised([revised], 2)],
            [ParseDone(parsed)],
        ]
    )
    writer = ChunkWriter(embedder, pipeline.store, batch_size=1)
    _, count = writer.write_streamed(record, feed, lambda *_: None)  # type: ignore[arg-type]
    stored = chunks_of(pipeline).get(where={"document_id": "doc"})
    assert count == 2
    assert sorted((c.id, c.text, c.metadata["context"]) for c in stored) == [
        (chunk_id_for("doc", 0), "page 1 text without its header", "Survey"),
        (chunk_id_for("doc", 1), "page 2 text", "Draft"),
    ]
