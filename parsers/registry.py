"""Choosing a parser: by content first (magic bytes), by file extension second."""

from __future__ import annotations

import io
import re
import zipfile
from typing import Protocol

from parsers.csv import CsvParser
from parsers.docx import ZIP_MAGIC, DocxParser, looks_like_docx
from parsers.errors import (
    SUPPORTED_TYPES,
    CorruptDocument,
    EmptyDocument,
    EncryptedDocument,
    ParseError,
    UnsupportedFileType,
)
from parsers.html import HtmlParser
from parsers.image import ImageParser, looks_like_image
from parsers.ocr.engine import OcrSetup
from parsers.pdf import PageCallback, PdfParser
from parsers.signatures import describe_binary, detect_bom, has_pdf_header
from parsers.text import MarkdownParser, TextParser, decode_text
from parsers.types import ParsedDocument

__all__ = [
    "SUPPORTED_EXTENSIONS",
    "SUPPORTED_TYPES",
    "Parser",
    "detect_parser",
    "file_extension",
    "parse_document",
]


class Parser(Protocol):
    """Turns the bytes of one file into a `ParsedDocument`, or raises a `ParseError`."""

    media_type: str

    def parse(self, data: bytes, filename: str) -> ParsedDocument: ...


# Parsers hold no state, so one instance of each serves every call.
_PDF = PdfParser()
_TEXT = TextParser()
_MARKDOWN = MarkdownParser()
_HTML = HtmlParser()
_DOCX = DocxParser()
_CSV = CsvParser()
_IMAGE = ImageParser()
_BY_EXTENSION: dict[str, Parser] = {
    ".pdf": _PDF,
    ".docx": _DOCX,
    ".html": _HTML,
    ".htm": _HTML,
    ".csv": _CSV,
    ".txt": _TEXT,
    ".md": _MARKDOWN,
    ".markdown": _MARKDOWN,
    ".png": _IMAGE,
    ".jpg": _IMAGE,
    ".jpeg": _IMAGE,
    ".tif": _IMAGE,
    ".tiff": _IMAGE,
    ".webp": _IMAGE,
}
# The extensions docrag reads (content decides too: a PDF under any name is read as a PDF).
SUPPORTED_EXTENSIONS: frozenset[str] = frozenset(_BY_EXTENSION)

# Only a document that says it is HTML; markup fragments in a text file stay text.
_HTML_START = re.compile(
    rb"^(?:\xef\xbb\xbf)?\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html)[\s>]", re.I | re.S
)
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# Office keeps a password-protected .docx in an OLE container with this stream (UTF-16LE).
_ENCRYPTED_PACKAGE = "EncryptedPackage".encode("utf-16-le")
# What else a ZIP archive may be, by a member only that format has.
_ZIP_FORMATS: tuple[tuple[str, str], ...] = (
    ("xl/workbook.xml", "an Excel workbook (.xlsx)"),
    ("ppt/presentation.xml", "a PowerPoint presentation (.pptx)"),
    ("META-INF/container.xml", "an EPUB e-book"),
    ("content.xml", "an OpenDocument file (.odt, .ods, .odp)"),
)


def file_extension(filename: str) -> str:
    """Lower-case extension with its dot ("" if none); Windows and POSIX paths both work."""
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    stem, dot, extension = base.rpartition(".")
    if not dot or not stem.strip("."):
        return ""  # no dot, or a dot file such as ".env"
    return f".{extension.lower()}"


def detect_parser(data: bytes, filename: str) -> Parser:
    """The parser for these bytes. Raises `UnsupportedFileType`, `EncryptedDocument` or
    `CorruptDocument`."""
    if has_pdf_header(data):
        return _PDF
    if looks_like_docx(data):
        return _DOCX
    extension = file_extension(filename)
    parser = _BY_EXTENSION.get(extension)
    # An image under another format's name is refused below, saying what it is.
    if looks_like_image(data) and parser in (None, _IMAGE):
        return _IMAGE
    if parser is None:
        if _HTML_START.match(data[:4096]):
            return _HTML
        if not extension:
            raise UnsupportedFileType(
                f"'{filename}' has no file extension, so docrag cannot tell what it is. "
                f"docrag reads {SUPPORTED_TYPES} files."
            )
        raise UnsupportedFileType(filename=filename)
    binary_kind = _describe_zip(data) or describe_binary(data)
    if parser is _PDF:
        raise _not_a_pdf(data, filename, binary_kind)
    if parser is _DOCX:
        raise _not_a_docx(data, filename, binary_kind)
    if parser is _IMAGE:
        looks = f": it looks like {binary_kind}" if binary_kind else ""
        raise UnsupportedFileType(
            f"'{filename}' is named {extension} but is not a PNG, JPEG, TIFF or WebP "
            f"image{looks}. docrag reads {SUPPORTED_TYPES} files."
        )
    if binary_kind is not None:
        raise UnsupportedFileType(
            f"'{filename}' is named {extension} but is not text: it looks like "
            f"{binary_kind}. docrag reads {SUPPORTED_TYPES} files."
        )
    return parser


def _not_a_pdf(data: bytes, filename: str, binary_kind: str | None) -> ParseError:
    """The most useful error for a file named .pdf that has no PDF header."""
    if binary_kind is not None:
        return UnsupportedFileType(
            f"'{filename}' is named .pdf but is not a PDF: it looks like {binary_kind}. "
            f"docrag reads {SUPPORTED_TYPES} files."
        )
    if _is_unicode_text(data):
        return UnsupportedFileType(
            f"'{filename}' is named .pdf but is not a PDF: it contains plain text. "
            "Rename it to .txt (or .md for Markdown) and upload it again."
        )
    return CorruptDocument(
        f"'{filename}' is named .pdf but is not a PDF: it has no PDF header. "
        "It may be damaged, or a file of another type renamed to .pdf."
    )


def _not_a_docx(data: bytes, filename: str, binary_kind: str | None) -> ParseError:
    """The most useful error for a file named .docx that is not a Word document."""
    if data.startswith(_OLE_MAGIC):
        if _ENCRYPTED_PACKAGE in data:
            return EncryptedDocument(
                f"'{filename}' is a password-protected Word document. Remove the password "
                "(in Word: File > Info > Protect Document) and upload it again."
            )
        return UnsupportedFileType(
            f"'{filename}' is named .docx but is an old-format Word file (.doc). "
            "Open it in Word and save it as .docx, then upload it again."
        )
    if data.startswith(ZIP_MAGIC) and not _is_readable_zip(data):
        return CorruptDocument(
            f"'{filename}' could not be read: the archive inside it is damaged or truncated. "
            "Check that it opens in Word, then upload it again."
        )
    if binary_kind is not None:
        return UnsupportedFileType(
            f"'{filename}' is named .docx but is not a Word document: it looks like "
            f"{binary_kind}. docrag reads {SUPPORTED_TYPES} files."
        )
    if _is_unicode_text(data):
        return UnsupportedFileType(
            f"'{filename}' is named .docx but is not a Word document: it contains plain "
            "text. Rename it to .txt (or .md, .html, .csv as fits) and upload it again."
        )
    return CorruptDocument(
        f"'{filename}' is named .docx but is not a Word document: it is not a ZIP archive. "
        "It may be damaged, or a file of another type renamed to .docx."
    )


def _is_readable_zip(data: bytes) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(data)):
            return True
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError):
        return False


def _describe_zip(data: bytes) -> str | None:
    """What a ZIP archive holds, when it is an office or e-book format; None otherwise."""
    if not data.startswith(ZIP_MAGIC):
        return None
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError):
        return None
    for member, description in _ZIP_FORMATS:
        if member in names:
            return description
    return "a ZIP archive"


def _is_unicode_text(data: bytes) -> bool:
    """Strictly Unicode text; a detector would read almost any bytes as some code page."""
    if detect_bom(data) is None:
        if b"\x00" in data:
            return False
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return False
        return True
    try:
        decode_text(data)
    except ParseError:
        return False
    return True


def parse_document(
    data: bytes,
    filename: str,
    *,
    on_page: PageCallback | None = None,
    ocr: OcrSetup | None = None,
) -> ParsedDocument:
    """Parse one uploaded file. Every failure is a `ParseError` with a message for the user.

    `on_page` sees each page of a PDF as soon as it is read (other formats have no pages
    worth streaming). `ocr` reads PDF pages without a text layer, and image files; without
    it they have no text."""
    if not data or data.isspace():
        raise EmptyDocument(filename=filename)
    parser = detect_parser(data, filename)
    if ocr is not None and parser is _PDF:
        parser = PdfParser(ocr)
    elif ocr is not None and parser is _IMAGE:
        parser = ImageParser(ocr)
    if on_page is not None and isinstance(parser, PdfParser):
        return parser.parse(data, filename, on_page=on_page)
    return parser.parse(data, filename)
