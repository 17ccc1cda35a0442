"""PDF text extraction with pypdf, page by page."""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Callable, Iterable

from pypdf import PasswordType, PdfReader
from pypdf.errors import DependencyError

from parsers.errors import (
    CorruptDocument,
    EmptyDocument,
    EncryptedDocument,
    NoExtractableText,
    ParseError,
)
from parsers.layout import extract_page_text, find_furniture
from parsers.ocr.engine import OcrSetup
from parsers.ocr.pdf_pages import PdfPageOcr, needs_ocr
from parsers.titles import document_title
from parsers.types import Page, PageRead, ParsedDocument, Section

logger = logging.getLogger(__name__)

# Control characters other than tab and newline; form feeds and stray NULs come out of
# some producers' text streams and mean nothing to a reader.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u00ad]")
_HORIZONTAL_SPACE = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_BLANK_LINES = re.compile(r"\n{3,}")

# Values some producers write when the author left a field empty (reportlab, Word).
_PLACEHOLDERS = frozenset({"untitled", "unknown", "anonymous", "unspecified", "none", "null"})
_METADATA_FIELDS = {
    "/Author": "author",
    "/Subject": "subject",
    "/Keywords": "keywords",
    "/Creator": "creator",
    "/Producer": "producer",
}


# Called with each page as soon as its text is read.
PageCallback = Callable[[PageRead], None]


def sections_from_pages(pages: Iterable[Page]) -> tuple[Section, ...]:
    """A PDF's sections for chunking: one per page, then one per description of its figures;
    pages without text carry no provenance worth keeping."""
    sections: list[Section] = []
    for page in pages:
        if page.text:
            sections.append(Section(page.text, page=page.number, heading=None, ocr=page.ocr))
        sections += (
            Section(text, page=page.number, heading=None, figure=True) for text in page.figures
        )
    return tuple(sections)


def normalise_pdf_text(text: str) -> str:
    """Light clean-up of extracted text: drop control characters, collapse runs of spaces,
    trim lines and keep at most one blank line; line breaks are otherwise kept."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", text)
    text = _HORIZONTAL_SPACE.sub(" ", text)
    text = "\n".join(line.strip() for line in text.split("\n"))
    return _BLANK_LINES.sub("\n\n", text).strip()


class PdfParser:
    """Reads a PDF's text layer, one `Page` and one `Section` per page."""

    media_type = "application/pdf"

    def __init__(self, ocr: OcrSetup | None = None) -> None:
        # Pages without a usable text layer are read by this OCR setup (None: left empty).
        self.ocr = ocr

    def parse(
        self, data: bytes, filename: str, *, on_page: PageCallback | None = None
    ) -> ParsedDocument:
        """`on_page` sees each page as it is read, so a caller can start on the first pages
        of a long document while the rest is still being parsed."""
        if not data or data.isspace():
            raise EmptyDocument(filename=filename)
        try:
            return self._parse(data, filename, on_page)
        except ParseError:
            raise
        except DependencyError as e:
            # pypdf needs the `cryptography` package for AES, even to try the empty password.
            logger.warning("cannot decrypt %r: %s (install `cryptography`)", filename, e)
            raise EncryptedDocument(
                f"'{filename}' is encrypted (AES) and could not be opened here. Remove the "
                "protection (for example by printing it to a new PDF) and upload it again."
            ) from e
        except Exception as e:
            # pypdf raises many types (its own, struct, zlib, KeyError, RecursionError...)
            # on damaged files; to the user they all mean the same thing.
            logger.info("cannot read PDF %r: %s: %s", filename, type(e).__name__, e)
            raise CorruptDocument(filename=filename) from e

    def _parse(self, data: bytes, filename: str, on_page: PageCallback | None) -> ParsedDocument:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            _unlock(reader, filename)

        page_count = len(reader.pages)
        if page_count == 0:
            # A page tree that yields nothing is a broken file, not an empty document.
            raise CorruptDocument(
                f"'{filename}' could not be read: no pages were found in it. "
                "It may be damaged; check that it opens on your computer, then upload it again."
            )

        # Read before the pages, so that a streamed page carries it (see `PageRead`).
        metadata_title, metadata = _read_metadata(reader)
        metadata["page_count"] = str(page_count)
        pages: list[Page] = []
        failed = 0
        ocr = PdfPageOcr(data, self.ocr, filename) if self.ocr is not None else None
        for number, page in enumerate(reader.pages, start=1):
            try:
                raw = extract_page_text(page)
            except Exception as e:
                # One broken page should not cost the user the rest of the document.
                logger.warning("page %d of %r: text extraction failed: %s", number, filename, e)
                raw = ""
                failed += 1
            pages.append(Page(number=number, text=normalise_pdf_text(raw or "")))
            if ocr is not None and needs_ocr(pages[-1].text):
                pages[-1] = _read_by_ocr(ocr, pages[-1])
            elif ocr is not None and ocr.setup.figures is not None:
                pages[-1] = _with_figures(ocr, pages[-1])
            if on_page is not None:
                on_page(PageRead(pages[-1], page_count, metadata_title))

        if not any(page.text for page in pages):
            if ocr is not None:
                raise ocr.no_text_error(page_count)
            if failed:
                raise CorruptDocument(
                    f"'{filename}' could not be read: text extraction failed on "
                    f"{failed} of {page_count} pages. The file may be damaged."
                )
            raise NoExtractableText(filename=filename)

        # A filing's cover page names its registrant and form; metadata titles of filings
        # are often accession numbers. The cover is the first or second page.
        title = document_title([p.text for p in pages[:2]], metadata_title)
        return ParsedDocument(
            filename=filename,
            media_type=self.media_type,
            pages=tuple(pages),
            sections=sections_from_pages(pages),
            paginated=True,
            title=title,
            metadata=metadata,
            furniture=find_furniture([p.text for p in pages]),
        )


def _read_by_ocr(ocr: PdfPageOcr, page: Page) -> Page:
    """The page as OCR reads it; unchanged when OCR fails or finds less than its layer."""
    text = ocr.read(page.number, page.text)
    if text is None:
        return page
    return Page(number=page.number, text=normalise_pdf_text(text), ocr=True)


def _with_figures(ocr: PdfPageOcr, page: Page) -> Page:
    """The page with the description of its figures, when it has any a model could describe."""
    description = ocr.describe_figures(page.number)
    if not description:
        return page
    return Page(page.number, page.text, page.ocr, (normalise_pdf_text(description),))


def _unlock(reader: PdfReader, filename: str) -> None:
    """Open files that only have an owner password (they open without asking in viewers)."""
    result = reader.decrypt("")
    if result == PasswordType.NOT_DECRYPTED:
        raise EncryptedDocument(filename=filename)


def _read_metadata(reader: PdfReader) -> tuple[str | None, dict[str, str]]:
    """Title and a few descriptive fields; broken metadata is ignored, not fatal."""
    try:
        info = reader.metadata
    except Exception as e:
        logger.info("ignoring unreadable PDF metadata: %s", e)
        return None, {}
    if info is None:
        return None, {}
    fields: dict[str, str] = {}
    for key, name in (("/Title", "title"), *_METADATA_FIELDS.items()):
        try:
            # Indexing (unlike .get) resolves indirect references.
            value = info[key] if key in info else None
        except Exception:
            continue
        if isinstance(value, str):
            cleaned = normalise_pdf_text(value).replace("\n", " ")
            if cleaned and cleaned.lower() not in _PLACEHOLDERS:
                fields[name] = cleaned
    return fields.pop("title", None), fields
