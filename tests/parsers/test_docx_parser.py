"""Word (.docx): paragraphs, heading paths and tables in document order; found by content."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable

import docx
import pytest

from parsers import docx as docx_parser
from parsers.chunking import split_into_chunks
from parsers.docx import DocxParser
from parsers.errors import CorruptDocument, EmptyDocument, EncryptedDocument, UnsupportedFileType
from parsers.registry import detect_parser, parse_document
from parsers.types import ParsedDocument

Reader = Callable[[str], bytes]
Counter = Callable[[str], int]
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@pytest.fixture(scope="module")
def handbook(read_sample: Reader) -> ParsedDocument:
    return parse_document(read_sample("harbour_handbook.docx"), "harbour_handbook.docx")


def test_headings_become_heading_paths(handbook: ParsedDocument) -> None:
    assert handbook.media_type == DOCX_TYPE
    assert [s.heading for s in handbook.sections] == [
        None,  # the Title paragraph, before any heading
        "Moorings",
        "Moorings > Booking",
        "Moorings > Booking > Winter rules",
        "Fees",
        # A custom style based on "Heading 2" is a level-2 heading too.
        "Fees > Electricity",
    ]
    assert all(s.page is None for s in handbook.sections)
    assert not handbook.paginated and len(handbook.pages) == 1


def test_title_and_author_come_from_the_document_properties(handbook: ParsedDocument) -> None:
    assert handbook.title == "Harbour Handbook"
    assert handbook.metadata["author"] == "docrag tests"


def test_tables_are_rows_of_cells_in_document_order(handbook: ParsedDocument) -> None:
    text = handbook.pages[0].text
    table = (
        "Boat length | Per night | Per week\n"
        "under 8 m | 12 euros | 70 euros\n"
        "8 to 12 m | 18 euros | 105 euros"
    )

    assert table in text
    assert (
        text.index("The fees below apply")
        < text.index(table)
        < text.index("Fees are paid at the harbour office")
    )


def test_chunks_carry_the_heading_path(handbook: ParsedDocument, count_tokens: Counter) -> None:
    chunks = split_into_chunks(handbook, count_tokens, size=200, overlap=32)

    def heading_of(phrase: str) -> str | None:
        [chunk] = [c for c in chunks if phrase in c.text]
        return chunk.heading

    assert heading_of("double their mooring lines") == "Moorings > Booking > Winter rules"
    assert heading_of("8 to 12 m | 18 euros | 105 euros") == "Fees"
    assert heading_of("16 ampere socket") == "Fees > Electricity"


@pytest.mark.parametrize("name", ["handbook.bin", "handbook", "handbook.txt", "HANDBOOK.DOCX"])
def test_word_document_is_recognised_by_content(read_sample: Reader, name: str) -> None:
    assert detect_parser(read_sample("harbour_handbook.docx"), name).media_type == DOCX_TYPE


def test_main_part_under_another_name_is_found_through_the_content_types(
    read_sample: Reader,
) -> None:
    # Word sometimes saves the main part as word/document2.xml.
    renamed = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(read_sample("harbour_handbook.docx"))) as source,
        zipfile.ZipFile(renamed, "w") as target,
    ):
        for info in source.infolist():
            data = source.read(info).replace(b"word/document.xml", b"word/document2.xml")
            name = info.filename.replace("document.xml", "document2.xml")
            target.writestr(name, data)

    document = parse_document(renamed.getvalue(), "handbook")

    assert document.media_type == DOCX_TYPE
    assert "Moorings > Booking" in [s.heading for s in document.sections]


@pytest.mark.parametrize("name", ["truncated.docx", "truncated.zip"])
def test_truncated_document_is_reported_as_damaged(read_sample: Reader, name: str) -> None:
    with pytest.raises(CorruptDocument, match="damaged or truncated"):
        parse_document(read_sample("truncated.docx"), name)


def test_other_zip_named_docx_says_what_it_is(read_sample: Reader) -> None:
    with pytest.raises(UnsupportedFileType, match="named .docx but is not a Word .*ZIP archive"):
        parse_document(read_sample("archive_renamed.txt"), "report.docx")


def test_spreadsheet_named_docx_is_called_a_spreadsheet() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")

    with pytest.raises(UnsupportedFileType, match=r"Excel workbook \(.xlsx\)"):
        parse_document(buffer.getvalue(), "budget.docx")


def test_text_named_docx_is_refused_with_a_hint_to_rename() -> None:
    with pytest.raises(UnsupportedFileType, match="contains plain text. Rename it"):
        parse_document(b"Just some notes.\n", "notes.docx")


def test_password_protected_word_file_is_reported_as_encrypted() -> None:
    # Word wraps an encrypted .docx in an OLE container holding an "EncryptedPackage" stream.
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504) + "EncryptedPackage".encode("utf-16-le")

    with pytest.raises(EncryptedDocument, match="password-protected Word document"):
        parse_document(ole + bytes(512), "secret.docx")


def test_old_word_file_named_docx_asks_for_a_docx() -> None:
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(1024)

    with pytest.raises(UnsupportedFileType, match=r"old-format Word file \(.doc\)"):
        parse_document(ole, "letter.docx")


def test_document_without_text_is_empty() -> None:
    buffer = io.BytesIO()
    docx.Document().save(buffer)

    with pytest.raises(EmptyDocument):
        DocxParser().parse(buffer.getvalue(), "blank.docx")


def test_decompression_bomb_is_refused(
    read_sample: Reader, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(docx_parser, "MAX_UNPACKED_BYTES", 10_000)

    with pytest.raises(CorruptDocument, match="decompression bomb"):
        DocxParser().parse(read_sample("harbour_handbook.docx"), "harbour_handbook.docx")
