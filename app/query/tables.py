"""Table rows read with their table: the column headings and the unit over a row, and its
caption, so that a quoted row says which period each figure is and in what unit
("Net income (in millions): 2021 5,007; 2020 4,002; 2019 3,659").

A row's table is read from the lines above it in its chunk; when the chunk starts in the
middle of the table, from the stored text of its page (`PageTexts`). What is indexed is not
changed: this only reads."""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from app.query.retrieval import Hit
from ingest.catalog import DocumentCatalog
from parsers.layout import is_column_header, is_table_row

# A line this long without table values is prose: the table above it has ended. The
# chunker's own threshold (parsers/chunking.py), so both read a table's extent alike.
PROSE_LINE = 90
# Lines read above a table's column headings for its unit and caption: a title, a unit line
# and a date line ("Year Ended December 31,") in the filings looked at; not tuned.
CAPTION_LINES = 3
# Documents whose page texts are kept in memory between questions: a few filings asked
# about in a row; not tuned.
CACHED_DOCUMENTS = 8

_UNIT = re.compile(
    r"\b(?:(?:dollars|amounts|shares|usd|\$)\s+)?in\s+(?:millions|thousands|billions)\b[^)\n:]*"
    r"|(?<=\()(?:millions|thousands|billions)\b[^)\n]*"
    r"|单位\s*[:：]\s*[^\s,，;；)）]+",
    re.IGNORECASE,
)
_COLUMN = re.compile(r"(?<![\d/])(?:FY|Q[1-4]\s?)?'?(?:19|20)\d\d(?!\d)", re.IGNORECASE)
_CJK_YEAR = re.compile(r"^(?:19|20)\d\d年")
_CELL = re.compile(r"^\(?[-–—]?\$?\d[\d,]*(?:\.\d+)?\)?%?\)?$|^[-–—]+$")


@dataclass(frozen=True, slots=True)
class TableFrame:
    header: str | None = None  # the column-heading line ("(in millions) 2021 2020 2019")
    unit: str | None = None  # "in millions", "单位：万元"
    caption: str = ""  # the lines over the headings (the table's title, a lead-in)

    @property
    def found(self) -> bool:
        return self.header is not None or self.unit is not None


class PageTexts(Protocol):
    def page_text(self, document_id: str, page: int) -> str | None: ...


class CatalogPageTexts:
    """The page texts the catalog keeps for each document (what the web viewer shows), the
    last few documents' held in memory."""

    def __init__(self, catalog: DocumentCatalog) -> None:
        self._catalog = catalog
        self._pages: OrderedDict[tuple[str, int], dict[int, str]] = OrderedDict()
        self._lock = threading.Lock()

    def page_text(self, document_id: str, page: int) -> str | None:
        record = self._catalog.get(document_id)
        if record is None:
            return None
        key = (document_id, record.generation)
        with self._lock:
            pages = self._pages.get(key)
            if pages is not None:
                self._pages.move_to_end(key)
        if pages is None:
            content = self._catalog.content(document_id, record.generation) or []
            pages = {p.number: p.text for p in content}
            with self._lock:
                self._pages[key] = pages
                while len(self._pages) > CACHED_DOCUMENTS:
                    self._pages.popitem(last=False)
        return pages.get(page)


def is_headings(line: str) -> bool:
    """A table's column headings: years over columns as the parsers read them ("2021 2020",
    "Fiscal 2023"), or as Chinese writes them ("2021年 2020年", "2021年12月31日")."""
    if is_column_header(line):
        return True
    tokens = line.split()
    return sum(bool(_CJK_YEAR.match(t)) for t in tokens) >= 2 and not is_table_row(line)


def frame_above(lines: Sequence[str]) -> TableFrame | None:
    """The frame of the table a row is in, read upwards from the lines above the row: its
    column headings, then a few lines over them for the unit and the caption. None when the
    lines run out inside the table (the table starts before them); an empty frame when prose
    comes first without headings, with that prose as the caption."""
    header: str | None = None
    over: list[str] = []
    for line in reversed(lines):
        text = line.strip()
        if not text:
            continue
        if header is None:
            if is_headings(text):
                header = text
            elif not is_table_row(text) and (len(text) > PROSE_LINE or _unit_in(text)):
                return _frame(None, [text])  # a lead-in ("... as follows (in millions):")
            continue  # a row or a sub-heading ("Current assets:") of the same table
        if is_table_row(text) or len(over) == CAPTION_LINES:
            break  # another table above this one
        over.append(text)
    if header is None:
        return None
    return _frame(header, over)


def _frame(header: str | None, over: Sequence[str]) -> TableFrame:
    unit = next((m for line in [header or "", *over] if (m := _unit_in(line))), None)
    # The unit is no part of what the table is about ("(in millions)" names no line item).
    lines = [line.replace(unit, "") if unit else line for line in reversed(over)]
    caption = " ".join(" ".join(lines).replace("()", " ").split())
    return TableFrame(header, unit, caption)


def row_frame(hit: Hit, row: str, pages: PageTexts | None) -> TableFrame:
    """The frame of a row of `hit`'s text: from the lines above it in the chunk; when the
    chunk starts inside the table, from the stored text of its page, or at least the column
    headings the chunk's context header carries."""
    frame = frame_above(hit.text[: max(hit.text.find(row), 0)].split("\n"))
    if frame is None and pages is not None and hit.page_start is not None:
        for page in range(hit.page_start, (hit.page_end or hit.page_start) + 1):
            text = pages.page_text(hit.document_id, page) or ""
            if (at := text.find(row)) >= 0:
                frame = frame_above(text[:at].split("\n"))
                break
    if frame is None and hit.context:
        last = hit.context.split("\n")[-1].strip()
        frame = _frame(last, []) if is_headings(last) else None
    return frame or TableFrame()


def _unit_in(line: str) -> str | None:
    match = _UNIT.search(line)
    return match.group(0).strip(" ,;") if match else None


def split_row(row: str) -> tuple[str, list[str]]:
    """A row's line item and its values, a lone "$" joined to the value after it."""
    tokens = row.split()
    end = len(tokens)
    while end > 0 and (_CELL.match(tokens[end - 1]) or tokens[end - 1] == "$"):
        end -= 1
    values: list[str] = []
    for token in tokens[end:]:
        if values and values[-1] == "$":
            values[-1] += token
        else:
            values.append(token)
    return " ".join(tokens[:end]), [v for v in values if v != "$"]


def quoted_row(row: str, frame: TableFrame) -> str:
    """The row as an answer quotes it: its line item, the unit, and each value after its
    column's heading when the headings name one column per value; else the headings as
    they stand, before the values."""
    label, values = split_row(row)
    if not frame.found or not values:
        return row
    columns = _COLUMN.findall(frame.header or "")
    unit = f" ({frame.unit})" if frame.unit else ""
    if len(columns) == len(values):
        cells = "; ".join(f"{c.strip()} {v}" for c, v in zip(columns, values, strict=True))
    elif frame.header:
        headings = frame.header.replace(frame.unit, "") if frame.unit else frame.header
        headings = " ".join(headings.replace("()", " ").split())
        cells = f"[{headings}] {' '.join(values)}"
    else:
        cells = " ".join(values)
    return f"{label}{unit}: {cells}"
