"""Bytes and a file name in, parsed pages and token-sized chunks out. No framework imports."""

from parsers.chunking import split_into_chunks
from parsers.errors import (
    CorruptDocument,
    EmptyDocument,
    EncryptedDocument,
    NoExtractableText,
    ParseError,
    TooManyPages,
    UnsupportedFileType,
)
from parsers.registry import SUPPORTED_TYPES, Parser, detect_parser, parse_document
from parsers.types import Chunk, Page, ParsedDocument, Section

__all__ = [
    "SUPPORTED_TYPES",
    "Chunk",
    "CorruptDocument",
    "EmptyDocument",
    "EncryptedDocument",
    "NoExtractableText",
    "Page",
    "ParseError",
    "ParsedDocument",
    "Parser",
    "Section",
    "TooManyPages",
    "UnsupportedFileType",
    "detect_parser",
    "parse_document",
    "split_into_chunks",
]
