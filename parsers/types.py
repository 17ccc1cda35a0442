"""Plain data passed from the parsers to chunking and on to ingest."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


def _no_metadata() -> Mapping[str, str]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Page:
    """The text of one page; `number` is 1-based, in the PDF's page order. `ocr`: the text
    was read from the page's image, not from a text layer. `figures`: what a vision model
    saw in the figures and charts drawn on the page (each indexed as a chunk of its own)."""

    number: int
    text: str
    ocr: bool = False
    figures: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PageRead:
    """A page as soon as its parser has read it, with what is known of its document by then:
    the page count and the file's own title (a PDF's metadata title, read before its
    pages), so that a caller can chunk the first pages as a whole-document parse would."""

    page: Page
    page_count: int
    metadata_title: str | None = None


@dataclass(frozen=True, slots=True)
class Section:
    """A run of text with one provenance: a PDF page, a Markdown heading block, a whole text file.

    `page` is None for formats without pages. `heading` is the heading path
    ("Intro > Install") for Markdown, None elsewhere.
    """

    text: str
    page: int | None
    heading: str | None
    ocr: bool = False  # read from the page's image (see `Page.ocr`)
    figure: bool = False  # a description of the page's figures (see `Page.figures`)


@dataclass(frozen=True, slots=True)
class ParsedDocument:
    """A parsed file: its pages for display and its sections for chunking."""

    filename: str
    media_type: str
    pages: tuple[Page, ...]
    sections: tuple[Section, ...]
    paginated: bool
    title: str | None = None
    # hash=False: a mapping is unhashable, and documents are never used as keys.
    metadata: Mapping[str, str] = field(default_factory=_no_metadata, hash=False)
    # Keys (`parsers.layout.furniture_key`) of the running headers, footers and page numbers
    # found on most pages; pages keep them, chunks leave them out.
    furniture: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        # Copy into a read-only view so a frozen document cannot change under its readers.
        if not isinstance(self.metadata, MappingProxyType):
            object.__setattr__(self, "metadata", MappingProxyType(dict(self.metadata)))

    def __reduce__(self) -> tuple[type[ParsedDocument], tuple[object, ...]]:
        # Documents cross the parse workers' pipe, and a read-only view does not pickle.
        return ParsedDocument, (
            self.filename,
            self.media_type,
            self.pages,
            self.sections,
            self.paginated,
            self.title,
            dict(self.metadata),
            self.furniture,
        )

    @property
    def text(self) -> str:
        """The whole extracted text, pages separated by a blank line."""
        return "\n\n".join(page.text for page in self.pages if page.text)


@dataclass(frozen=True, slots=True)
class Chunk:
    """A piece of a document sized for the embedding model, with the pages it spans."""

    ordinal: int
    text: str
    page_start: int | None
    page_end: int | None
    heading: str | None
    ocr: bool = False  # some of its text was read from a page image by OCR
    # A short header indexed (embedded, searched) with the text but never quoted: the
    # document's title, the heading, the pages and the column headings of a table that
    # started before the chunk. Index `context + "\n" + text`; show `text`.
    context: str = ""
    figure: bool = False  # a vision model's description of the figures on its page
