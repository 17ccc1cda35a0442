"""Embedding overlaps parsing: a PDF's first pages are chunked and embedded while the parser
is still reading, and the chunks are the same as when the whole document is chunked at once."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from ingest import reading as reading_module
from ingest.bulk import IngestItem, ingest_many
from ingest.pipeline import IngestPipeline
from parsers.pdf import PageCallback
from parsers.registry import parse_document
from parsers.types import Page, ParsedDocument
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
        def held(page: Page, total: int) -> None:
            if page.number > reading_module.SEGMENT_PAGES and self.pages_before_embedding is None:
                if not self.embedded.wait(60):
                    raise AssertionError("nothing was embedded while the parser was reading")
                self.pages_before_embedding = page.number - 1
            assert on_page is not None
            on_page(page, total)

        return parse_document(data, filename, on_page=held if on_page else None)


@pytest.fixture
def small_segments(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reading_module, "SEGMENT_PAGES", 2)  # the sample PDF has six pages


def stored_chunks(pipeline: IngestPipeline, document_id: str) -> list[tuple[Any, ...]]:
    chunks = chunks_of(pipeline).get(where={"document_id": document_id})
    return sorted(
        (c.metadata["ordinal"], c.text, c.metadata["page_start"], c.metadata["page_end"])
        for c in chunks
    )


def test_embedding_starts_before_parsing_ends(
    tmp_path: Path, embedder: Any, monkeypatch: pytest.MonkeyPatch, small_segments: None
) -> None:
    embedded = threading.Event()
    real = embedder.embed_documents

    def embed(texts: Any) -> Any:
        embedded.set()
        return real(texts)

    monkeypatch.setattr(embedder, "embed_documents", embed)
    parser = WaitingParser(embedded)
    pipeline = make_pipeline(tmp_path, embedder, parser=parser, embed_batch_size=4)
    doc = pipeline.ingest(f.MULTIPAGE_PDF.read_bytes(), "report.pdf").document
    assert doc.status == "ready" and doc.pages == f.MULTIPAGE_PDF_PAGES
    assert parser.pages_before_embedding == 2


def test_streamed_chunks_equal_whole_document_chunks(
    tmp_path: Path, embedder: Any, small_segments: None
) -> None:
    data = f.MULTIPAGE_PDF.read_bytes()
    streamed = make_pipeline(tmp_path / "a", embedder)
    doc = streamed.ingest(data, "report.pdf").document
    whole = make_pipeline(tmp_path / "b", embedder)
    [result] = ingest_many(whole, [IngestItem(data, "report.pdf")])  # parses, then chunks
    assert stored_chunks(streamed, doc.id) == stored_chunks(whole, doc.id)
    expected = whole.reader.chunk(parse_document(data, "report.pdf"))
    assert [c.text for c in expected] == [c[1] for c in stored_chunks(streamed, doc.id)]
    # No chunk spans the boundary between two runs of pages.
    for _, _, first, last in stored_chunks(streamed, doc.id):
        assert (first - 1) // 2 == (last - 1) // 2
