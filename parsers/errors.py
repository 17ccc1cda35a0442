"""Why a file could not be parsed, in words a user can act on.

Each class has a stable `code` (the API reports it) and a default message built from the
file name. The message is the exception's only argument, so the errors survive pickling
across the worker processes that run the parsers.
"""

from __future__ import annotations

from typing import ClassVar

SUPPORTED_TYPES = (
    "PDF (.pdf), Word (.docx), HTML (.html, .htm), CSV (.csv), plain text (.txt), "
    "Markdown (.md, .markdown) and images (.png, .jpg, .tiff, .webp)"
)


class ParseError(Exception):
    """Base class: the file was received but docrag cannot turn it into text."""

    code: ClassVar[str] = "parse_error"
    template: ClassVar[str] = "{name} could not be parsed."

    def __init__(self, message: str | None = None, *, filename: str | None = None) -> None:
        if message is None:
            name = f"'{filename}'" if filename else "The file"
            message = self.template.format(name=name, supported=SUPPORTED_TYPES)
        super().__init__(message)

    @property
    def message(self) -> str:
        return str(self)


class UnsupportedFileType(ParseError):
    code = "unsupported_file_type"
    template = "{name} is not a supported file type. docrag reads {supported} files."


class EncryptedDocument(ParseError):
    code = "encrypted_document"
    template = (
        "{name} is password-protected. Remove the password (for example by printing it to a "
        "new PDF) and upload it again."
    )


class CorruptDocument(ParseError):
    code = "corrupt_document"
    template = (
        "{name} could not be read: it looks damaged or truncated. "
        "Check that the file opens on your computer, then upload it again."
    )


class NoExtractableText(ParseError):
    code = "no_text_layer"
    template = (
        "{name} has no text layer: its pages look like scanned images, and OCR is off or not "
        "installed here. Install tesseract (apt-get install tesseract-ocr) or set "
        "DOCRAG_OCR__ENGINE, then upload it again."
    )


class EmptyDocument(ParseError):
    code = "empty_document"
    template = "{name} is empty: it has no content, or only whitespace."


class TooManyPages(ParseError):
    """More pages than the service accepts; raised after parsing, where the limit is known."""

    code = "too_many_pages"
    template = "{name} has more pages than docrag accepts. Split it into smaller files."
