"""The streamed parse feed: typed events in order, and the limits a reader enforces."""

from __future__ import annotations

from typing import Any

import pytest

from ingest import reading as reading_module
from ingest.reading import (
    ChunkFeed,
    ChunksReady,
    DocumentReader,
    FeedEvent,
    InProcessParser,
    PageParsed,
    ParseDone,
    ParseFailed,
)
from parsers.errors import EncryptedDocument, TooManyPages
from tests import samples as f


def reader_for(embedder: Any, **kwargs: Any) -> DocumentReader:
    return DocumentReader(InProcessParser(), embedder.count_tokens, 120, 16, **kwargs)


def all_events(feed: ChunkFeed) -> list[FeedEvent]:
    events: list[FeedEvent] = []
    while not events or not isinstance(events[-1], ParseDone | ParseFailed):
        events += feed.take(block=True, timeout=30)
    return events


def test_a_pdf_streams_pages_then_chunks_per_run_then_the_document(
    embedder: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reading_module, "SEGMENT_PAGES", 2)
    reader = reader_for(embedder)
    with ChunkFeed(reader, f.MULTIPAGE_PDF.read_bytes(), "report.pdf") as feed:
        events = all_events(feed)
    pages = [e for e in events if isinstance(e, PageParsed)]
    assert pages == [PageParsed(n, f.MULTIPAGE_PDF_PAGES) for n in range(1, 7)]
    runs = [e for e in events if isinstance(e, ChunksReady)]
    assert len(runs) == f.MULTIPAGE_PDF_PAGES // 2  # one per run of two pages
    assert {c.page_start for c in runs[1].chunks} <= {3, 4}
    # The first run is handed over before the parser reads page 3.
    assert events.index(runs[0]) < events.index(PageParsed(3, f.MULTIPAGE_PDF_PAGES))
    done = events[-1]
    assert isinstance(done, ParseDone) and len(done.parsed.pages) == f.MULTIPAGE_PDF_PAGES
    ordinals = [c.ordinal for run in runs for c in run.chunks]
    assert ordinals == list(range(len(ordinals)))


def test_a_refusal_arrives_as_the_last_event(embedder: Any) -> None:
    with ChunkFeed(reader_for(embedder), f.ENCRYPTED_PDF.read_bytes(), "locked.pdf") as feed:
        last = all_events(feed)[-1]
    assert isinstance(last, ParseFailed) and isinstance(last.error, EncryptedDocument)


def test_the_page_limit_stops_a_streamed_parse(embedder: Any) -> None:
    reader = reader_for(embedder, max_pages=3)
    with ChunkFeed(reader, f.MULTIPAGE_PDF.read_bytes(), "report.pdf") as feed:
        last = all_events(feed)[-1]
    assert isinstance(last, ParseFailed) and isinstance(last.error, TooManyPages)
    assert "DOCRAG_LIMITS__MAX_PAGES" in str(last.error)
