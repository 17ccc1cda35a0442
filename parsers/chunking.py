"""Splitting a parsed document into chunks that fit the embedding model, with their pages."""

from __future__ import annotations

import bisect
import functools
import itertools
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from parsers.layout import is_column_header, is_table_row, page_title, remove_furniture
from parsers.types import Chunk, ParsedDocument, Section

if TYPE_CHECKING:
    from langchain_text_splitters import RecursiveCharacterTextSplitter

# Coarse to fine; the splitter tries the next one only for pieces still too long. Each is a
# regex whose match stays at the end of the piece before it, so chunks are exact substrings
# of the text and never break inside a word unless one "word" alone exceeds the size.
SEPARATORS: tuple[str, ...] = (
    r"\n{2,}",  # paragraphs (and page boundaries)
    r"\n",  # lines
    r"(?<=[.!?])\s+|(?<=[。！？；])",  # sentence ends; Chinese needs no space after them
    r"(?<=[;:,])\s+|(?<=[，、：])",  # clauses
    r"\s+",  # words
    "",  # characters: text without spaces (Chinese) or an over-long "word"
)
_WHITESPACE = re.compile(r"\s")

JOINER = "\n\n"

# Tokens kept for a chunk's context header (title, heading, pages, a table's column
# headings) inside the size: the header is embedded with the text, in the same window.
CONTEXT_TOKENS = 48
CONTEXT_SEPARATOR = "\n"
# A line this long without table values is prose: a table above it has ended.
_PROSE_LINE = 90


@dataclass(frozen=True, slots=True)
class _Span:
    """Where one section's text lies in its group's joined text."""

    start: int
    end: int
    page: int | None


def split_into_chunks(
    document: ParsedDocument,
    count_tokens: Callable[[str], int],
    size: int,
    overlap: int,
) -> list[Chunk]:
    """Chunks of at most `size` tokens, consecutive chunks sharing about `overlap` tokens.

    `count_tokens` measures text as the embedding model reads it and must not truncate; it
    may include the special tokens ([CLS], [SEP]) or not, as long as `size` means the same.
    Every returned chunk satisfies `count_tokens(indexed_text(chunk)) <= size`: its context
    header (at most `CONTEXT_TOKENS`, or a quarter of the size) is counted in.
    Consecutive sections with the same heading are chunked together, so a chunk may span
    pages; `page_start`/`page_end` are the first and last page it draws text from. Lines of
    the document's furniture at the edges of its pages are left out; a table row (a line)
    is only ever cut when it alone exceeds the size.
    """
    if size <= 0:
        raise ValueError(f"size must be positive, got {size}")
    if not 0 <= overlap < size:
        raise ValueError(f"overlap must be at least 0 and less than size ({size}), got {overlap}")

    # The splitter measures every piece and sums the lengths; caching halves the tokenizer
    # calls, and subtracting the constant special-token cost (e.g. [CLS] and [SEP]) keeps
    # the sums from overcounting by that cost once per piece.
    measure = functools.lru_cache(maxsize=65536)(count_tokens)
    overhead = measure("")
    content_size = size - overhead
    if content_size <= 0:
        raise ValueError(
            f"size {size} leaves no room for text: an empty string already counts {overhead}"
        )
    context_budget = min(CONTEXT_TOKENS, content_size // 4)
    text_size = size - context_budget
    # Imported here: langchain-core (and pydantic behind it) costs a third of a second, and
    # the processes that only parse files never chunk.
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(
        separators=list(SEPARATORS),
        is_separator_regex=True,
        keep_separator="end",
        strip_whitespace=True,
        chunk_size=text_size - overhead,
        chunk_overlap=min(overlap, text_size - overhead - 1),
        length_function=lambda text: measure(text) - overhead,
    )

    label = document.title or _file_stem(document.filename)
    chunks: list[Chunk] = []
    # A page's figure descriptions are chunked apart from its text and from other pages.
    for (heading, figure, _), group in itertools.groupby(
        document.sections, key=lambda s: (s.heading, s.figure, s.page if s.figure else None)
    ):
        sections = [s if figure else _without_furniture(s, document.furniture) for s in group]
        # The heading a page opens with ("Consolidated Balance Sheets") goes into the context
        # of the chunks that start on it: a question names the statement, not its rows.
        titles = {} if figure else _page_titles(sections)
        text, spans = _join(sections)
        span_ends = [span.end for span in spans]
        headers = _TableHeaders(text)
        kind = "figure" if figure else None
        for start, end in _chunk_bounds(text, splitter, measure, text_size):
            page_start, page_end = _page_range(spans, span_ends, start, end)
            header = headers.missing_from(start, end)
            on_page = titles.get(page_start) if page_start is not None else None
            title_line = " | ".join(
                part
                for part in (label, heading, kind, on_page, _pages(page_start, page_end))
                if part
            )
            chunk_text = text[start:end]
            chunks.append(
                Chunk(
                    ordinal=len(chunks),
                    text=chunk_text,
                    page_start=page_start,
                    page_end=page_end,
                    heading=heading,
                    context=_fit_context(title_line, header, chunk_text, measure, size),
                    figure=figure,
                )
            )
    return chunks


def indexed_text(chunk: Chunk) -> str:
    """What is embedded and searched for a chunk: its context header, then its text."""
    return with_context(chunk.context, chunk.text)


def with_context(context: str | None, text: str) -> str:
    """A chunk's text as it is indexed (embedded, searched, weighed): its context header,
    when it has one, then its text. The one place that joins them; quotes show `text`."""
    return f"{context}{CONTEXT_SEPARATOR}{text}" if context else text


def _file_stem(filename: str) -> str:
    stem, dot, _ = filename.rpartition(".")
    return stem if dot and stem else filename


def _pages(start: int | None, end: int | None) -> str:
    if start is None:
        return ""
    return f"p. {start}" if start == end else f"pp. {start}-{end}"


def _page_titles(sections: Sequence[Section]) -> dict[int, str]:
    titles: dict[int, str] = {}
    for section in sections:
        if section.page is not None and section.page not in titles:
            title = page_title(section.text)
            if title:
                titles[section.page] = title
    return titles


def _without_furniture(section: Section, furniture: frozenset[str]) -> Section:
    if not furniture or section.page is None:
        return section
    return replace(section, text=remove_furniture(section.text, furniture))


def _fit_context(
    title_line: str, header: str | None, text: str, measure: Callable[[str], int], size: int
) -> str:
    """The fullest context that fits with `text` in `size` tokens: the title line and the
    column headings, then the title line alone, then as many of its words as fit."""

    def fits(context: str) -> bool:
        return measure(with_context(context, text)) <= size

    candidates = [title_line]
    if header:
        candidates.insert(0, f"{title_line}{CONTEXT_SEPARATOR}{header}")
    for candidate in candidates:
        if fits(candidate):
            return candidate
    words = title_line.split()
    while words:
        words.pop()
        if words and fits(" ".join(words)):
            return " ".join(words)
    return ""


class _TableHeaders:
    """For each line of a text, the column-heading line of the table it is in, if any."""

    def __init__(self, text: str) -> None:
        self._starts: list[int] = []
        self._headers: list[tuple[int, str] | None] = []
        self._rows: list[bool] = []
        active: tuple[int, str] | None = None
        position = 0
        for line in text.split("\n"):
            stripped = line.strip()
            row = is_table_row(stripped)
            if is_column_header(stripped):
                active = (position, stripped)
                row = False
            elif len(stripped) > _PROSE_LINE and not row:
                active = None
            self._starts.append(position)
            self._headers.append(active)
            self._rows.append(row)
            position += len(line) + 1

    def missing_from(self, start: int, end: int) -> str | None:
        """The column headings of the first table row in text[start:end], when they lie
        before `start` (the chunk began mid-table)."""
        first = max(bisect.bisect_right(self._starts, start) - 1, 0)
        for index in range(first, len(self._starts)):
            if self._starts[index] >= end:
                break
            if self._rows[index] and self._starts[index] >= start:
                header = self._headers[index]
                if header is None or header[0] >= start:
                    return None
                return header[1]
        return None


def _join(sections: Sequence[Section]) -> tuple[str, list[_Span]]:
    parts: list[str] = []
    spans: list[_Span] = []
    position = 0
    for section in sections:
        if parts:
            position += len(JOINER)
        spans.append(_Span(position, position + len(section.text), section.page))
        parts.append(section.text)
        position += len(section.text)
    return JOINER.join(parts), spans


def _page_range(
    spans: Sequence[_Span], span_ends: Sequence[int], start: int, end: int
) -> tuple[int | None, int | None]:
    """First and last page among the sections that [start, end) overlaps."""
    first = bisect.bisect_right(span_ends, start)
    pages = [
        span.page
        for span in itertools.takewhile(
            lambda span: span.start < end, itertools.islice(spans, first, None)
        )
        if span.page is not None
    ]
    if not pages:
        return None, None
    return min(pages), max(pages)


def _chunk_bounds(
    text: str,
    splitter: RecursiveCharacterTextSplitter,
    measure: Callable[[str], int],
    size: int,
) -> Iterator[tuple[int, int]]:
    """[start, end) of each chunk of `text`, each within `size` tokens."""
    previous_start = -1
    for piece in splitter.split_text(text):
        if not piece.strip():
            continue
        # Pieces are substrings in order, each starting after the previous one's start
        # (overlap may make them start before its end).
        start = text.find(piece, previous_start + 1)
        if start < 0:
            start = text.find(piece)
        previous_start = start
        end = start + len(piece)
        if measure(piece) <= size:
            yield start, end
        else:
            # The splitter sums per-piece counts; joined text can tokenize longer.
            yield from _split_to_fit(text, start, end, measure, size)


def _split_to_fit(
    text: str, start: int, end: int, measure: Callable[[str], int], size: int
) -> Iterator[tuple[int, int]]:
    """Cut text[start:end] into pieces within `size` tokens, preferring whitespace."""
    position = start
    while position < end:
        while position < end and text[position].isspace():
            position += 1
        if position >= end:
            return
        if measure(text[position:end]) <= size:
            yield position, _rstrip(text, position, end)
            return
        fits, too_long = position + 1, end
        if measure(text[position:fits]) > size:
            raise ValueError(f"size {size} is too small for even one character of the text")
        while too_long - fits > 1:
            middle = (fits + too_long) // 2
            if measure(text[position:middle]) <= size:
                fits = middle
            else:
                too_long = middle
        cut = fits
        # Back off to the last line break (a table row stays whole) or else the last
        # whitespace, unless that would waste most of the piece.
        last_break = text.rfind("\n", position, cut)
        last_space = (
            last_break
            if last_break > position + (cut - position) // 2
            else _last_whitespace(text, position, cut)
        )
        if last_space > position + (cut - position) // 2:
            trimmed = _rstrip(text, position, last_space)
            if trimmed > position and measure(text[position:trimmed]) <= size:
                yield position, trimmed
                position = last_space
                continue
        trimmed = _rstrip(text, position, cut)
        # Only ever hand out text that was measured.
        yield position, trimmed if measure(text[position:trimmed]) <= size else cut
        position = cut


def _last_whitespace(text: str, start: int, end: int) -> int:
    for index in range(end, start, -1):
        if index < len(text) and _WHITESPACE.match(text, index):
            return index
    return -1


def _rstrip(text: str, start: int, end: int) -> int:
    while end > start and text[end - 1].isspace():
        end -= 1
    return end
