"""Sections under headings for formats that have headings but no pages (HTML, Word)."""

from __future__ import annotations

from parsers.types import Section

HEADING_PATH_SEPARATOR = " > "
BLOCK_SEPARATOR = "\n\n"


class HeadingOutline:
    """Collects a document's headings and text blocks, in order, into sections.

    Each section is labelled with its heading path ("Install > Requirements") and starts
    with its own heading's text, as Markdown sections do. A heading with no text of its
    own is carried into its first subsection rather than lost or left alone in a chunk.
    """

    def __init__(self) -> None:
        self._sections: list[Section] = []
        self._path: list[tuple[int, str]] = []
        self._level = 0  # 0 before the first heading
        self._heading: str | None = None
        self._blocks: list[str] = []
        self._has_body = False
        self._carried: list[str] = []
        self._all_blocks: list[str] = []
        self.first_level_one: str | None = None

    def add_heading(self, level: int, text: str) -> None:
        text = " ".join(text.split())
        if not text:
            return  # an empty heading element labels nothing
        self._close(next_level=level)
        while self._path and self._path[-1][0] >= level:
            self._path.pop()
        self._path.append((level, text))
        if level == 1 and self.first_level_one is None:
            self.first_level_one = text
        self._level = level
        self._heading = HEADING_PATH_SEPARATOR.join(part for _, part in self._path)
        self._blocks = [text]
        self._has_body = False
        self._all_blocks.append(text)

    def add_text(self, block: str) -> None:
        block = block.strip()
        if not block:
            return
        self._blocks.append(block)
        self._has_body = True
        self._all_blocks.append(block)

    def sections(self) -> list[Section]:
        """The sections so far, the last one included; call once, at the end."""
        self._close(next_level=None)
        return self._sections

    @property
    def text(self) -> str:
        """Every heading and block in order: the document's text for display."""
        return BLOCK_SEPARATOR.join(self._all_blocks)

    def _close(self, next_level: int | None) -> None:
        if self._level and not self._has_body and next_level is not None:
            if next_level > self._level:
                self._carried.extend(self._blocks)
                self._blocks = []
                return
        body = BLOCK_SEPARATOR.join([*self._carried, *self._blocks]).strip()
        self._carried = []
        self._blocks = []
        if body:
            self._sections.append(Section(text=body, page=None, heading=self._heading))
