"""Choosing a parser: by content first (magic bytes), by file extension second."""

from __future__ import annotations

from typing import Protocol

from parsers.errors import (
    SUPPORTED_TYPES,
    CorruptDocument,
    EmptyDocument,
    ParseError,
    UnsupportedFileType,
)
from parsers.pdf import PdfParser
from parsers.signatures import describe_binary, detect_bom, has_pdf_header
from parsers.text import MarkdownParser, TextParser, decode_text
from parsers.types import ParsedDocument

__all__ = ["SUPPORTED_TYPES", "Parser", "detect_parser", "file_extension", "parse_document"]


class Parser(Protocol):
    """Turns the bytes of one file into a `ParsedDocument`, or raises a `ParseError`."""

    media_type: str

    def parse(self, data: bytes, filename: str) -> ParsedDocument: ...


# Parsers hold no state, so one instance of each serves every call.
_PDF = PdfParser()
_TEXT = TextParser()
_MARKDOWN = MarkdownParser()
_BY_EXTENSION: dict[str, Parser] = {
    ".pdf": _PDF,
    ".txt": _TEXT,
    ".md": _MARKDOWN,
    ".markdown": _MARKDOWN,
}


def file_extension(filename: str) -> str:
    """Lower-case extension with its dot ("" if none); Windows and POSIX paths both work."""
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    stem, dot, extension = base.rpartition(".")
    if not dot or not stem.strip("."):
        return ""  # no dot, or a dot file such as ".env"
    return f".{extension.lower()}"


def detect_parser(data: bytes, filename: str) -> Parser:
    """The parser for these bytes. Raises `UnsupportedFileType` or `CorruptDocument`."""
    if has_pdf_header(data):
        return _PDF
    extension = file_extension(filename)
    parser = _BY_EXTENSION.get(extension)
    if parser is None:
        if not extension:
            raise UnsupportedFileType(
                f"'{filename}' has no file extension, so docrag cannot tell what it is. "
                f"docrag reads {SUPPORTED_TYPES} files."
            )
        raise UnsupportedFileType(filename=filename)
    binary_kind = describe_binary(data)
    if parser is _PDF:
        raise _not_a_pdf(data, filename, binary_kind)
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


def parse_document(data: bytes, filename: str) -> ParsedDocument:
    """Parse one uploaded file. Every failure is a `ParseError` with a message for the user."""
    if not data or data.isspace():
        raise EmptyDocument(filename=filename)
    return detect_parser(data, filename).parse(data, filename)
