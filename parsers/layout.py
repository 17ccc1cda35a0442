"""Page layout: table rows kept on one line, and page furniture found per document."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pypdf import PageObject

# Lines of body text are 8 points apart or more; pieces whose baselines differ by less than
# this share a line. Used when the font size cannot be read from the matrices.
_DEFAULT_HEIGHT = 10.0


@dataclass(frozen=True, slots=True)
class _Piece:
    """One line's worth of a piece of text pypdf hands out, with its start on the page.

    `x` and `y` are None for the lines after the first of a multi-line piece: the break
    before those is pypdf's and kept. `pypdf_break` says pypdf put a line break before the
    piece; for a placed piece the positions decide whether to keep it."""

    text: str
    x: float | None
    y: float | None
    height: float
    pypdf_break: bool


def extract_page_text(page: PageObject) -> str:
    """pypdf's plain text of a page, with its line breaks decided by where the text sits:
    pieces on one baseline, left to right, share a line, so a table row comes out as its
    label followed by its values in column order."""
    pieces: list[_Piece] = []
    pending_break = False

    def visit(text: str, cm: Any, tm: Any, _font: Any, font_size: float) -> None:
        nonlocal pending_break
        core = text.strip("\n")
        if not core:
            # pypdf's bare line breaks come with no usable position.
            pending_break = pending_break or "\n" in text
            return
        pieces.extend(_pieces(core, cm, tm, font_size, pending_break or text[0] == "\n"))
        pending_break = text[-1] == "\n"

    page.extract_text(visitor_text=visit)
    return _assemble_lines(pieces)


def _pieces(text: str, cm: Any, tm: Any, font_size: float, pypdf_break: bool) -> list[_Piece]:
    # Device space = text matrix x current transformation matrix.
    x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
    y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
    height = abs(font_size * (tm[2] * cm[1] + tm[3] * cm[3]))
    if not 2.0 <= height <= 72.0:
        height = _DEFAULT_HEIGHT  # a degenerate or odd matrix: assume body text
    lines = text.split("\n")
    result = [_Piece(lines[0], x, y, height, pypdf_break)]
    result += [_Piece(line, None, None, height, pypdf_break=True) for line in lines[1:]]
    return result


def _assemble_lines(pieces: list[_Piece]) -> str:
    lines: list[list[str]] = [[]]
    last: _Piece | None = None  # the last placed piece on the current line
    for piece in pieces:
        if piece.x is None:
            lines.append([piece.text])
            last = None
            continue
        if last is None:
            new_line = piece.pypdf_break
        elif piece.pypdf_break:
            new_line = not _same_line(last, piece)
        else:
            new_line = _starts_new_line(last, piece)
        if new_line:
            lines.append([])
        elif piece.pypdf_break and lines[-1] and not _continues(last, piece):
            lines[-1].append(" ")  # the break pypdf would have written becomes a space
        lines[-1].append(piece.text)
        last = piece
    return "\n".join("".join(line) for line in lines)


def _same_line(left: _Piece, right: _Piece) -> bool:
    assert left.x is not None and left.y is not None
    assert right.x is not None and right.y is not None
    tolerance = 0.3 * min(left.height, right.height)
    return abs(left.y - right.y) <= tolerance and right.x >= left.x


def _continues(left: _Piece | None, right: _Piece) -> bool:
    """pypdf reports the start of the text object for both halves of a run it cut in two
    (at a font change, say), often inside a word: the halves join with nothing between."""
    return left is not None and (left.x, left.y) == (right.x, right.y)


def _starts_new_line(left: _Piece, right: _Piece) -> bool:
    """pypdf kept these on one line; they are not when the second starts further left
    on another baseline (a producer that writes a row's label after the previous row)."""
    assert left.x is not None and left.y is not None
    assert right.x is not None and right.y is not None
    tolerance = 0.3 * min(left.height, right.height)
    return abs(left.y - right.y) > tolerance and right.x < left.x


# -- page furniture ----------------------------------------------------------------------------

# Running headers and footers sit in the first or last few lines of a page.
_EDGE_LINES = 3
# A line is furniture when it sits at the edge of at least this share of a document's pages.
_FURNITURE_SHARE = 0.5
_FURNITURE_MIN_PAGES = 4
_DIGITS = re.compile(r"\d+")
_ROMAN_PAGE_NUMBER = re.compile(r"^[ivxlc]+$")


def furniture_key(line: str) -> str:
    """What a repeated line has in common across pages: case, spacing and numbers (page
    numbers) aside."""
    key = _DIGITS.sub("#", " ".join(line.lower().split()))
    return "#" if _ROMAN_PAGE_NUMBER.match(key) else key


def _edge_keys(text: str) -> set[str]:
    lines = [line for line in text.split("\n") if line.strip()]
    edges = lines[:_EDGE_LINES] + lines[-_EDGE_LINES:]
    # Table rows differ only in their numbers, which the keys ignore: never furniture.
    return {furniture_key(line) for line in edges if not is_table_row(line)}


def find_furniture(page_texts: Sequence[str]) -> frozenset[str]:
    """The keys (see `furniture_key`) of lines that open or close most pages of a document:
    running headers and footers, page numbers, "Table of Contents" links. Needs a few pages
    to tell furniture from text; shorter documents have none."""
    tally = FurnitureTally()
    for text in page_texts:
        tally.add(text)
    return tally.furniture()


class FurnitureTally:
    """`find_furniture` page by page: after the pages added so far, `furniture()` is what
    `find_furniture` gives for them (a streamed document's furniture as far as it is read)."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()
        self._pages = 0

    def add(self, page_text: str) -> None:
        if page_text.strip():
            self._pages += 1
            self._counts.update(_edge_keys(page_text))

    def furniture(self) -> frozenset[str]:
        if self._pages < _FURNITURE_MIN_PAGES:
            return frozenset()
        threshold = max(2.0, _FURNITURE_SHARE * self._pages)
        return frozenset(key for key, count in self._counts.items() if count >= threshold and key)


def remove_furniture(text: str, furniture: frozenset[str]) -> str:
    """The page text without the furniture lines at its top and bottom edges (furniture
    words inside the body, such as a table's "Total", stay)."""
    if not furniture:
        return text
    lines = text.split("\n")
    start, end = 0, len(lines)
    for _ in range(_EDGE_LINES):
        while start < end and not lines[start].strip():
            start += 1
        if start < end and furniture_key(lines[start]) in furniture:
            start += 1
    for _ in range(_EDGE_LINES):
        while end > start and not lines[end - 1].strip():
            end -= 1
        if end > start and furniture_key(lines[end - 1]) in furniture:
            end -= 1
    return "\n".join(lines[start:end]).strip()


# -- table lines -------------------------------------------------------------------------------

# One cell of a financial table: 1,234 (1,234) -12.5% $ — and footnote marks like (1).
_VALUE = re.compile(r"^\$?\(?[-–—]?\$?\d[\d,]*(\.\d+)?\)?%?\)?$|^[-–—]+$|^\$$|^\)$")
_YEAR = re.compile(r"^(?:fy|q[1-4])?'?(19|20)\d\d[,:)]?$", re.IGNORECASE)
_PERIOD_WORDS = frozenset(
    "year years ended ending months weeks quarter fiscal december january february march "
    "april may june july august september october november total change".split()
)


def is_table_row(line: str) -> bool:
    """A line item and its values: text followed by at least two numeric cells, or a line
    of numeric cells only (a total row without a label)."""
    tokens = line.split()
    values = 0
    for token in reversed(tokens):
        if not _VALUE.match(token):
            break
        values += token not in {"$", ")"}
    return values >= 2


def is_column_header(line: str) -> bool:
    """A table's column headings: at least two years (2018 2017, "Fiscal 2023"), with
    nothing else on the line but period words and day numbers."""
    tokens = line.replace("(", " ").replace(")", " ").split()
    years = sum(bool(_YEAR.match(token)) for token in tokens)
    if years < 2:
        return False
    seen_year = False
    label_words = 0
    for token in tokens:
        word = token.strip(",.:;").lower()
        if _YEAR.match(token):
            seen_year = True
        elif word in _PERIOD_WORDS or not word or (word.isdigit() and int(word) <= 31):
            continue
        elif seen_year:
            return False  # prose that mentions years, not headings over columns
        else:
            label_words += 1  # "(In millions, except per share data) 2020 2019"
    return label_words <= 8


# -- page titles -------------------------------------------------------------------------------

_TITLE_MAX_LINES = 2
_TITLE_MAX_WORDS = 16
_TITLE_MAX_CHARS = 100
# Words a title may write in lower case ("Statement of Cash Flows", "Item 7. Risks and ...").
_MINOR_WORDS = frozenset("a an and as at by for from in of on or per the to under with vs".split())


def page_title(text: str) -> str | None:
    """The heading lines a page opens with (its furniture already removed), such as
    "Consolidated Statements of Cash Flows" or "Item 7. Management's Discussion and
    Analysis": at most two short lines whose words are capitalised, before any prose or
    table row. A page that opens mid-sentence has none."""
    found: list[str] = []
    for line in text.split("\n"):
        line = line.strip()
        if not line:
            if found:
                break
            continue
        if not _looks_like_title(line) or len(found) == _TITLE_MAX_LINES:
            break
        found.append(line)
    if not found or sum(len(line.split()) for line in found) > _TITLE_MAX_WORDS:
        return None
    return " — ".join(found)


def _looks_like_title(line: str) -> bool:
    words = line.split()
    if len(line) > _TITLE_MAX_CHARS or len(words) > _TITLE_MAX_WORDS:
        return False
    if line.endswith((".", ",", ";", ":")) and not line.endswith("Inc."):
        return False
    if is_table_row(line) or not line[0].isalnum():
        return False
    lettered = [w for w in words if any(c.isalpha() for c in w)]
    if not lettered or not any(c.isalpha() for c in words[0]) and not words[0][0].isdigit():
        return False
    if not _capitalised(lettered[0]):
        return False
    # A stray lower-case word is allowed in four: "Amcor plc", a word broken by the PDF
    # ("Balance Shee t").
    lower = sum(1 for w in lettered if not _capitalised(w) and w.lower() not in _MINOR_WORDS)
    return lower <= len(lettered) // 4


def _capitalised(word: str) -> bool:
    first = next((c for c in word if c.isalnum()), "")
    return first.isupper() or first.isdigit()
