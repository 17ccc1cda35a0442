"""CSV: encoding detected, dialect sniffed, every row (and so every chunk) with its column names."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from parsers.chunking import split_into_chunks
from parsers.csv import CsvParser
from parsers.errors import CorruptDocument, EmptyDocument, UnsupportedFileType
from parsers.registry import parse_document

Reader = Callable[[str], bytes]
Counter = Callable[[str], int]
CATCH_COLUMNS = ("Date: ", "Boat: ", "Species: ", "Catch (kg): ")


def test_semicolon_file_is_split_on_semicolons(read_sample: Reader) -> None:
    document = parse_document(read_sample("catch_semicolon.csv"), "catch.csv")

    assert document.media_type == "text/csv"
    assert document.metadata["delimiter"] == ";"
    assert document.metadata["rows"] == "120"
    first = document.sections[0].text.split("\n")[0]
    # Decimal commas stay inside their value.
    assert first == "Date: 2024-03-01; Boat: Aurora; Species: Cod; Catch (kg): 40,0"


def test_every_chunk_carries_the_column_names(read_sample: Reader, count_tokens: Counter) -> None:
    document = parse_document(read_sample("catch_semicolon.csv"), "catch.csv")
    chunks = split_into_chunks(document, count_tokens, size=100, overlap=16)

    assert len(chunks) > 5
    for chunk in chunks:
        for line in chunk.text.split("\n"):
            assert all(column in line for column in CATCH_COLUMNS), line
        assert chunk.page_start is None and chunk.page_end is None


def test_sections_are_headed_by_their_row_numbers(read_sample: Reader) -> None:
    document = parse_document(read_sample("catch_semicolon.csv"), "catch.csv")
    ranges = [re.fullmatch(r"rows (\d+)-(\d+)", s.heading or "") for s in document.sections]

    assert all(ranges)
    bounds = [(int(m.group(1)), int(m.group(2))) for m in ranges if m]
    assert bounds[0][0] == 1 and bounds[-1][1] == 120
    assert all(b[0] == a[1] + 1 for a, b in zip(bounds, bounds[1:], strict=False))
    for section, (first, last) in zip(document.sections, bounds, strict=True):
        assert len(section.text.split("\n")) == last - first + 1


def test_quoted_delimiter_stays_in_its_value(read_sample: Reader) -> None:
    document = parse_document(read_sample("catch_semicolon.csv"), "catch.csv")
    [section] = [s for s in document.sections if "storm warning" in s.text]

    assert "; Remarks: storm warning; returned early" in section.text
    # Empty cells are left out rather than written as "Remarks: ".
    assert "Remarks: \n" not in section.text


def test_gbk_file_is_decoded_and_keeps_its_chinese_header(
    read_sample: Reader, count_tokens: Counter
) -> None:
    document = parse_document(read_sample("cities_gbk.csv"), "cities.csv")
    chunks = split_into_chunks(document, count_tokens, size=60, overlap=8)

    assert document.metadata["encoding"] == "gb18030"
    assert "城市: 武汉; 省份: 湖北省; 人口（万）: 1373" in document.sections[0].text
    assert "城市,省份" in document.pages[0].text  # the page shows the file as uploaded
    assert len(chunks) > 1
    assert all("城市: " in chunk.text for chunk in chunks)


def test_first_row_of_numbers_is_data_not_a_header() -> None:
    document = CsvParser().parse(b"1,2.5,3\n4,5,6\n", "numbers.csv")

    assert document.sections[0].text == "column 1: 1; column 2: 2.5; column 3: 3\n" + (
        "column 1: 4; column 2: 5; column 3: 6"
    )
    assert document.sections[0].heading == "rows 1-2"


def test_extra_cells_and_blank_header_cells_are_named_by_position() -> None:
    document = CsvParser().parse(b"name,,\nAda,London,1815,extra\n\n", "people.csv")

    assert document.sections[0].text == (
        "name: Ada; column 2: London; column 3: 1815; column 4: extra"
    )
    assert document.sections[0].heading == "row 1"


def test_single_column_file_falls_back_to_commas() -> None:
    document = CsvParser().parse(b"city\nParis\nRome\n", "cities.csv")

    assert document.sections[0].text == "city: Paris\ncity: Rome"


def test_sections_respect_the_row_limit() -> None:
    rows = "\n".join(f"{n},item {n}" for n in range(1, 26))
    document = CsvParser(rows_per_section=10).parse(f"id,name\n{rows}\n".encode(), "items.csv")

    assert [s.heading for s in document.sections] == ["rows 1-10", "rows 11-20", "rows 21-25"]


def test_header_without_rows_is_empty() -> None:
    with pytest.raises(EmptyDocument, match="header row .*but no data rows"):
        CsvParser().parse(b"date,amount\n", "ledger.csv")


def test_oversized_field_is_reported_with_its_line() -> None:
    data = b"a,b\n1,2\n3," + b"x" * 200_000 + b"\n"

    with pytest.raises(CorruptDocument, match="line 3"):
        CsvParser().parse(data, "huge.csv")


def test_binary_named_csv_is_refused(read_sample: Reader) -> None:
    with pytest.raises(UnsupportedFileType, match="named .csv but is not text"):
        parse_document(read_sample("archive_renamed.txt"), "export.csv")
