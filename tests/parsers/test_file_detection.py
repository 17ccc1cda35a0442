"""Choosing a parser by content first and by extension second, and the errors users see."""

from __future__ import annotations

import pickle
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from parsers.errors import (
    CorruptDocument,
    EmptyDocument,
    EncryptedDocument,
    NoExtractableText,
    ParseError,
    UnsupportedFileType,
)
from parsers.registry import SUPPORTED_TYPES, detect_parser, file_extension, parse_document

Reader = Callable[[str], bytes]
PARSERS_DIR = Path(__file__).resolve().parents[2] / "parsers"
PNG_HEADER = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01"


@pytest.mark.parametrize("name", ["report.txt", "download", "scan.PDF", "notes.md"])
def test_pdf_is_recognised_by_content_whatever_its_name(read_sample: Reader, name: str) -> None:
    document = parse_document(read_sample("three_pages.pdf"), name)

    assert document.media_type == "application/pdf"
    assert document.filename == name
    assert len(document.pages) == 3


def test_pdf_header_after_leading_junk_is_still_a_pdf(read_sample: Reader) -> None:
    data = b"\r\n" * 100 + read_sample("three_pages.pdf")

    assert detect_parser(data, "mail-attachment.bin").media_type == "application/pdf"


@pytest.mark.parametrize(
    ("name", "media_type"),
    [
        ("notes_utf8.txt", "text/plain"),
        ("guide.md", "text/markdown"),
    ],
)
def test_text_files_are_chosen_by_extension(
    read_sample: Reader, name: str, media_type: str
) -> None:
    assert parse_document(read_sample(name), name).media_type == media_type


@pytest.mark.parametrize(
    ("filename", "media_type"),
    [
        ("NOTES.TXT", "text/plain"),
        ("Read Me.Markdown", "text/markdown"),
        ("C:\\Users\\me\\Documents\\plan.md", "text/markdown"),
        ("archive.2024.txt", "text/plain"),
    ],
)
def test_extensions_ignore_case_and_paths(filename: str, media_type: str) -> None:
    assert detect_parser(b"some text", filename).media_type == media_type


def test_text_named_pdf_is_refused_with_a_hint_to_rename(read_sample: Reader) -> None:
    with pytest.raises(UnsupportedFileType) as caught:
        parse_document(read_sample("fake.pdf"), "fake.pdf")

    message = str(caught.value)
    assert "named .pdf but is not a PDF" in message
    assert "Rename it to .txt" in message


def test_image_named_pdf_says_what_it_is() -> None:
    with pytest.raises(UnsupportedFileType, match="named .pdf but is not a PDF.*PNG image"):
        parse_document(PNG_HEADER, "photo.pdf")


def test_unknown_bytes_named_pdf_are_reported_as_damaged() -> None:
    with pytest.raises(CorruptDocument, match="named .pdf but is not a PDF"):
        parse_document(bytes(range(128, 256)) * 8, "mystery.pdf")


def test_binary_named_txt_is_refused(read_sample: Reader) -> None:
    with pytest.raises(UnsupportedFileType, match="named .txt but is not text.*ZIP archive"):
        parse_document(read_sample("archive_renamed.txt"), "archive_renamed.txt")


@pytest.mark.parametrize(
    "data",
    [b"\x7fELF\x02\x01\x01\x00\x00\x00", b"MZ\x90\x00\x03\x00\x00\x00", PNG_HEADER],
)
def test_programs_and_images_named_md_are_refused(data: bytes) -> None:
    with pytest.raises(UnsupportedFileType, match="not text"):
        detect_parser(data, "readme.md")


def test_unknown_extension_names_the_supported_types(read_sample: Reader) -> None:
    with pytest.raises(UnsupportedFileType) as caught:
        parse_document(read_sample("archive_renamed.txt"), "slides.pptx")

    assert caught.value.code == "unsupported_file_type"
    assert "'slides.pptx' is not a supported file type" in str(caught.value)
    for extension in (".pdf", ".txt", ".md", ".markdown"):
        assert extension in str(caught.value)
    assert SUPPORTED_TYPES in str(caught.value)


def test_file_without_extension_is_refused() -> None:
    with pytest.raises(UnsupportedFileType, match="has no file extension"):
        parse_document(b"just text", "README")


@pytest.mark.parametrize(
    ("filename", "extension"),
    [("a.PDF", ".pdf"), (".env", ""), ("noext", ""), ("dir.d/file", ""), ("x.tar.gz", ".gz")],
)
def test_file_extension(filename: str, extension: str) -> None:
    assert file_extension(filename) == extension


@pytest.mark.parametrize(("data", "name"), [(b"", "empty.pdf"), (b" \r\n\t", "blank.txt")])
def test_empty_upload_is_empty_whatever_its_type(data: bytes, name: str) -> None:
    with pytest.raises(EmptyDocument, match="is empty"):
        parse_document(data, name)


def test_error_codes_are_stable_and_distinct() -> None:
    codes = {
        UnsupportedFileType: "unsupported_file_type",
        EncryptedDocument: "encrypted_document",
        CorruptDocument: "corrupt_document",
        NoExtractableText: "no_text_layer",
        EmptyDocument: "empty_document",
    }
    for error_class, code in codes.items():
        assert issubclass(error_class, ParseError)
        assert error_class.code == code
        assert error_class(filename="x.pdf").message.startswith("'x.pdf'")


def test_errors_survive_the_trip_back_from_a_worker_process(read_sample: Reader) -> None:
    # Parsing runs in worker processes; their exceptions come back pickled.
    with pytest.raises(EncryptedDocument) as caught:
        parse_document(read_sample("encrypted.pdf"), "encrypted.pdf")

    restored = pickle.loads(pickle.dumps(caught.value))
    assert type(restored) is EncryptedDocument
    assert str(restored) == str(caught.value)
    assert restored.code == "encrypted_document"


def test_importing_parsers_loads_no_framework() -> None:
    # Parsing worker processes import this package; keep their start-up light.
    script = (
        "import sys, parsers; "
        "print(sorted({'fastapi', 'chromadb', 'pydantic', 'langchain_core'} & set(sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=PARSERS_DIR.parent,
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == "[]"
