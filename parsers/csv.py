"""CSV: rows rendered with their column names, in sections of consecutive rows."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator

from parsers.errors import CorruptDocument, EmptyDocument
from parsers.text import _decode
from parsers.types import Page, ParsedDocument, Section

_SNIFF_CHARS = 16 * 1024
_DELIMITERS = ",;\t|"
_NUMBER = re.compile(r"^[-+]?(\d[\d,. ]*)?\d(?:[eE][-+]?\d+)?%?$")
_FIELD_SEPARATOR = "; "


class CsvParser:
    """A CSV file as one page (its text as uploaded) and sections of rows for chunking.

    Every row is written as "name: value; name: value" with the header's column names, so
    whichever chunk a row lands in, it still says what its values are. A section holds up
    to `rows_per_section` rows, fewer when they would exceed about `section_chars`
    characters, and is headed with its data rows' numbers ("rows 1-50", the header row not
    counted) since a CSV has no pages.
    """

    media_type = "text/csv"

    def __init__(self, rows_per_section: int = 50, section_chars: int = 600) -> None:
        if rows_per_section < 1 or section_chars < 1:
            raise ValueError("rows_per_section and section_chars must be positive")
        self.rows_per_section = rows_per_section
        self.section_chars = section_chars

    def parse(self, data: bytes, filename: str) -> ParsedDocument:
        text, encoding = _decode(data, filename)
        if not text.strip():
            raise EmptyDocument(filename=filename)
        dialect = sniff_dialect(text)
        reader = csv.reader(io.StringIO(text, newline=""), dialect)
        try:
            rows = [row for row in reader if any(cell.strip() for cell in row)]
        except csv.Error as e:
            raise CorruptDocument(
                f"'{filename}' could not be read as CSV (line {reader.line_num}: {e}). "
                "Check that its quotes are balanced, or save it again from a spreadsheet."
            ) from e
        if not rows:
            raise EmptyDocument(filename=filename)
        if _is_header(rows[0]):
            columns, data_rows = _column_names(rows[0]), rows[1:]
        else:
            columns, data_rows = [], rows
        if not data_rows:
            raise EmptyDocument(
                f"'{filename}' has a header row ({', '.join(columns)}) but no data rows."
            )
        sections = list(self._sections(columns, data_rows))
        return ParsedDocument(
            filename=filename,
            media_type=self.media_type,
            pages=(Page(number=1, text=text.strip("\n")),),
            sections=tuple(sections),
            paginated=False,
            title=None,
            metadata={
                "encoding": encoding,
                "delimiter": dialect.delimiter,
                "rows": str(len(data_rows)),
                "columns": str(max(len(columns), *(len(row) for row in data_rows))),
            },
        )

    def _sections(self, columns: list[str], rows: list[list[str]]) -> Iterator[Section]:
        lines: list[str] = []
        first = 1
        size = 0
        for number, row in enumerate(rows, start=1):
            line = render_row(columns, row)
            if lines and (
                len(lines) >= self.rows_per_section or size + len(line) > self.section_chars
            ):
                yield _section(lines, first, number - 1)
                lines, first, size = [], number, 0
            lines.append(line)
            size += len(line) + 1
        if lines:
            yield _section(lines, first, len(rows))


def sniff_dialect(text: str) -> type[csv.Dialect] | csv.Dialect:
    """The file's delimiter and quoting, guessed from its start; a comma when unsure."""
    sample = text[:_SNIFF_CHARS]
    if len(text) > _SNIFF_CHARS and "\n" in sample:
        sample = sample[: sample.rindex("\n")]  # a cut row would mislead the guess
    try:
        return csv.Sniffer().sniff(sample, delimiters=_DELIMITERS)
    except csv.Error:
        return csv.excel


def render_row(columns: list[str], row: list[str]) -> str:
    """ "name: value; name: value", skipping empty cells; extra cells are named by position."""
    fields = []
    for index, cell in enumerate(row):
        value = " ".join(cell.split())
        if not value:
            continue
        name = columns[index] if index < len(columns) else f"column {index + 1}"
        fields.append(f"{name}: {value}")
    return _FIELD_SEPARATOR.join(fields)


def _is_header(row: list[str]) -> bool:
    """The first row names the columns unless it holds only numbers (then it is data)."""
    values = [cell.strip() for cell in row if cell.strip()]
    return not all(_NUMBER.match(value) for value in values)


def _column_names(row: list[str]) -> list[str]:
    return [" ".join(cell.split()) or f"column {index}" for index, cell in enumerate(row, 1)]


def _section(lines: list[str], first: int, last: int) -> Section:
    heading = f"row {first}" if first == last else f"rows {first}-{last}"
    return Section(text="\n".join(lines), page=None, heading=heading)
