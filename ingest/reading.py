"""Reading a file into chunks: parse (wherever the parser runs it), check the page limit,
chunk with the embedding model's tokens.

`ChunkFeed` streams this: it parses on a thread of its own and hands over typed events as
they happen, so that a PDF's first pages are embedded while the parser reads on. Each run of
`SEGMENT_PAGES` pages is chunked as soon as it is complete; chunks never span two runs, and
the runs depend only on page numbers. A streamed run's context header has the document's
title as the whole document has it (its cover pages and the metadata title, which the parser
reads before the pages); its furniture is what the pages read so far show. When the parse is
done, the whole document is chunked once more (`DocumentReader.chunk`, the one chunking
path), and the chunks that came out otherwise (furniture found later) are handed over again
(`ChunksRevised`), so a streamed file ends with exactly the chunks of the whole document.
"""

from __future__ import annotations

import itertools
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from parsers.chunking import split_into_chunks
from parsers.errors import NoExtractableText, TooManyPages
from parsers.layout import FurnitureTally
from parsers.ocr import OcrOptions, OcrSetup, build_ocr
from parsers.pdf import PageCallback, sections_from_pages
from parsers.registry import parse_document
from parsers.titles import document_title
from parsers.types import Chunk, Page, PageRead, ParsedDocument, Section

# Pages chunked together; a chunk never spans two such runs.
SEGMENT_PAGES = 8


class DocumentParser(Protocol):
    def parse(
        self, data: bytes, filename: str, *, on_page: PageCallback | None = None
    ) -> ParsedDocument: ...


class InProcessParser:
    """Parses in the calling process, without limits: for tools that trust their files. The
    service parses in worker processes instead (`ingest.parsing.ProcessParser`).

    `ocr` means what it means for the worker processes: how pages without a text layer (and
    image files) are read; None, they are not. Each thread builds its own engine on first
    use, since an engine reads one page at a time."""

    def __init__(self, ocr: OcrOptions | None = None) -> None:
        self.ocr = ocr
        self._local = threading.local()

    def parse(
        self, data: bytes, filename: str, *, on_page: PageCallback | None = None
    ) -> ParsedDocument:
        return parse_document(data, filename, on_page=on_page, ocr=self._ocr_setup())

    def _ocr_setup(self) -> OcrSetup | None:
        if self.ocr is None:
            return None
        if not hasattr(self._local, "setup"):
            self._local.setup = build_ocr(self.ocr)
        setup: OcrSetup | None = self._local.setup
        return setup


def _spans_any(chunk: Chunk, pages: set[int | None]) -> bool:
    """Whether the chunk draws text from any of these pages (OCR'd ones, for its flag)."""
    if not pages or chunk.page_start is None or chunk.page_end is None:
        return False
    return any(p is not None and chunk.page_start <= p <= chunk.page_end for p in pages)


def _segment(page: int | None) -> int:
    return 0 if page is None else (page - 1) // SEGMENT_PAGES


@dataclass(frozen=True, slots=True)
class DocumentReader:
    parser: DocumentParser
    count_tokens: Callable[[str], int]
    chunk_size: int
    chunk_overlap: int
    max_pages: int | None = None  # None: no limit

    def check_page_count(self, filename: str, pages: int) -> None:
        if self.max_pages is not None and pages > self.max_pages:
            raise TooManyPages(
                f"'{filename}' has {pages} pages; docrag accepts at most "
                f"{self.max_pages} pages per document. Split it into smaller files, or raise "
                "DOCRAG_LIMITS__MAX_PAGES."
            )

    def parse(self, data: bytes, filename: str) -> ParsedDocument:
        parsed = self.parser.parse(data, filename)
        self.check_page_count(filename, len(parsed.pages))
        return parsed

    def chunk(self, parsed: ParsedDocument) -> list[Chunk]:
        """The chunks of a whole document, split where a streamed parse would split them."""
        chunks: list[Chunk] = []
        for _, group in itertools.groupby(
            parsed.sections, key=lambda s: _segment(s.page) if parsed.paginated else 0
        ):
            chunks += self.chunk_sections(
                list(group),
                paginated=parsed.paginated,
                first=len(chunks),
                filename=parsed.filename,
                title=parsed.title,
                furniture=parsed.furniture,
            )
        if not chunks:
            raise NoExtractableText("the file contains no text that could be indexed")
        return chunks

    def chunk_sections(
        self,
        sections: Sequence[Section],
        *,
        paginated: bool,
        first: int,
        filename: str = "",
        title: str | None = None,
        furniture: frozenset[str] = frozenset(),
    ) -> list[Chunk]:
        """Chunks of some sections of a document; its title and furniture (running headers,
        footers) give every chunk its context header and keep the furniture out."""
        part = ParsedDocument(
            filename=filename,
            media_type="",
            pages=(),
            sections=tuple(sections),
            paginated=paginated,
            title=title,
            furniture=furniture,
        )
        chunks = split_into_chunks(part, self.count_tokens, self.chunk_size, self.chunk_overlap)
        ocr_pages = {s.page for s in sections if s.ocr}
        return [replace(c, ordinal=first + c.ordinal, ocr=_spans_any(c, ocr_pages)) for c in chunks]


# -- the events of a streamed parse, in the order they come ---------------------------------


@dataclass(frozen=True, slots=True)
class PageParsed:
    pages_read: int
    page_count: int
    ocr: bool = False  # this page was read from its image


@dataclass(frozen=True, slots=True)
class ChunksReady:
    media_type: str
    chunks: list[Chunk]


@dataclass(frozen=True, slots=True)
class ChunksRevised:
    """The chunks handed over before that the whole document chunks otherwise (same ordinal,
    new content), and the number of chunks it has: any handed over at `count` or beyond are
    no longer part of it."""

    chunks: list[Chunk]
    count: int


@dataclass(frozen=True, slots=True)
class ParseDone:
    parsed: ParsedDocument


@dataclass(frozen=True, slots=True)
class ParseFailed:
    error: BaseException


FeedEvent = PageParsed | ChunksReady | ChunksRevised | ParseDone | ParseFailed


class _Cancelled(BaseException):
    # BaseException: parsers turn any Exception raised inside them into a ParseError.
    pass


class ChunkFeed:
    """Parses one file on a thread of its own and hands over its events (see the module
    docstring): `PageParsed` per page, `ChunksReady` per run of pages, `ChunksRevised` if the
    whole document chunks otherwise, then `ParseDone` or `ParseFailed`. Use it as a context
    manager, so the parse stops when the reader does."""

    def __init__(self, reader: DocumentReader, data: bytes, filename: str) -> None:
        self._reader = reader
        self._data = data
        self._filename = filename
        self._events: queue.Queue[FeedEvent] = queue.Queue()
        self._cancelled = threading.Event()
        self._streamed: list[Page] = []
        self._segment: list[Page] = []
        self._handed: list[Chunk] = []
        self._metadata_title: str | None = None
        self._furniture = FurnitureTally()
        self._thread = threading.Thread(target=self._run, name="docrag-chunking", daemon=True)
        self._thread.start()

    def __enter__(self) -> ChunkFeed:
        return self

    def __exit__(self, *exc: object) -> None:
        self._cancelled.set()

    def take(self, block: bool, timeout: float = 0.5) -> list[FeedEvent]:
        """The events ready now; with `block`, waits up to `timeout` for the first."""
        events: list[FeedEvent] = []
        if block:
            try:
                events.append(self._events.get(timeout=timeout))
            except queue.Empty:
                return events
        while True:
            try:
                events.append(self._events.get_nowait())
            except queue.Empty:
                return events

    def _flush(self, document: ParsedDocument | None = None) -> None:
        """Chunks the pages of the current run: with the document's title and furniture once
        the parse is done, else with those the pages read so far give."""
        sections = sections_from_pages(self._segment)
        self._segment = []
        if not sections:
            return
        if document is None:
            covers = [p.text for p in self._streamed[:2]]
            title = document_title(covers, self._metadata_title)
            furniture = self._furniture.furniture()
        else:
            title, furniture = document.title, document.furniture
        chunks = self._reader.chunk_sections(
            sections,
            paginated=True,
            first=len(self._handed),
            filename=self._filename,
            title=title,
            furniture=furniture,
        )
        self._handed += chunks
        self._events.put(ChunksReady("application/pdf", chunks))

    def _revise(self, document: ParsedDocument) -> None:
        """Hands over again the chunks that the whole document chunks otherwise."""
        whole = self._reader.chunk(document)
        handed = self._handed
        revised = [c for c in whole if c.ordinal >= len(handed) or handed[c.ordinal] != c]
        if revised or len(whole) != len(handed):
            self._events.put(ChunksRevised(revised, len(whole)))

    def _on_page(self, read: PageRead) -> None:
        if self._cancelled.is_set():
            raise _Cancelled
        page = read.page
        self._reader.check_page_count(self._filename, read.page_count)
        self._metadata_title = read.metadata_title
        if self._segment and _segment(page.number) != _segment(self._segment[-1].number):
            self._flush()
        self._segment.append(page)
        self._streamed.append(page)
        self._furniture.add(page.text)
        self._events.put(PageParsed(len(self._streamed), read.page_count, page.ocr))
        if _segment(page.number + 1) != _segment(page.number):
            self._flush()  # the run is complete: no need to wait for the next page

    def _run(self) -> None:
        filename = self._filename
        try:
            parsed = self._reader.parser.parse(self._data, filename, on_page=self._on_page)
            self._data = b""
            self._reader.check_page_count(filename, len(parsed.pages))
            if self._streamed:
                if sections_from_pages(self._streamed) != parsed.sections or not parsed.paginated:
                    raise RuntimeError(
                        f"the pages streamed for {filename!r} differ from the result"
                    )
                self._flush(parsed)
                self._revise(parsed)
            else:
                self._events.put(ChunksReady(parsed.media_type, self._reader.chunk(parsed)))
            self._events.put(ParseDone(parsed))
        except BaseException as e:  # handed to the reading thread, which raises it
            self._events.put(ParseFailed(e))
