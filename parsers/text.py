"""Plain text and Markdown: encoding detection, newline clean-up, Markdown heading paths."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from charset_normalizer import CharsetMatch, from_bytes

from parsers.errors import SUPPORTED_TYPES, CorruptDocument, EmptyDocument, UnsupportedFileType
from parsers.signatures import describe_binary, detect_bom
from parsers.types import Page, ParsedDocument, Section

_BOM_LABELS = {"utf-8-sig": "UTF-8", "utf-16": "UTF-16", "utf-32": "UTF-32"}
_CHINESE_ENCODINGS = frozenset({"gb2312", "gbk", "gb18030", "hz", "cp936"})
# Short texts leave the detector nearly undecided between CJK codecs (a GBK sentence scores
# the same as Korean cp949) or between Latin code pages. Within this margin of chaos we
# prefer, in order, GB18030 (only when the result reads as common Chinese) and then
# Windows-1252 (a superset of Latin-1 for printable text).
_NEAR_TIE = 0.05
_PREFERRED_ON_TIE = ("gb18030", "cp1252")
_SAMPLE_CHARS = 4096


def decode_text(data: bytes) -> str:
    """Decode a text file whose encoding is unknown; newlines come back as LF.

    Order: byte-order mark, strict UTF-8, then charset detection. Raises
    `UnsupportedFileType` for binary content or an encoding that cannot be recognised,
    `CorruptDocument` for a file whose byte-order mark lies about its content.
    """
    return _decode(data, filename=None)[0]


def _decode(data: bytes, filename: str | None) -> tuple[str, str]:
    """The text and the name of the encoding it was read with."""
    name = f"'{filename}'" if filename else "The file"
    bom_codec = detect_bom(data)
    if bom_codec is not None:
        try:
            text = data.decode(bom_codec)
        except UnicodeDecodeError as e:
            label = _BOM_LABELS[bom_codec]
            raise CorruptDocument(
                f"{name} starts with a {label} byte-order mark but is not valid {label}: "
                "it may be damaged or truncated. Save it again as UTF-8 and upload it."
            ) from e
        return _normalise_newlines(text), _BOM_LABELS[bom_codec].lower()

    binary_kind = describe_binary(data)
    if binary_kind is not None:
        raise UnsupportedFileType(
            f"{name} is not a text file: it looks like {binary_kind}. "
            f"docrag reads {SUPPORTED_TYPES} files."
        )

    try:
        return _normalise_newlines(data.decode("utf-8")), "utf-8"
    except UnicodeDecodeError:
        pass

    for encoding in _candidate_encodings(data):
        try:
            return _normalise_newlines(data.decode(encoding)), encoding
        except (UnicodeDecodeError, LookupError):
            continue
    raise UnsupportedFileType(
        f"{name} is not in a text encoding docrag can recognise. "
        "Save it as UTF-8 and upload it again."
    )


def _candidate_encodings(data: bytes) -> list[str]:
    """Encodings to try, best first, from the detector plus our tie-breaking rules."""
    # BOM-less UTF-16/32 never gets here with NULs (rejected as binary), so the detector's
    # UTF-16 guesses on NUL-free bytes are always misreadings of a CJK legacy encoding.
    matches: list[CharsetMatch] = [
        m for m in from_bytes(data) if not m.encoding.startswith(("utf_16", "utf_32"))
    ]
    if not matches:
        # The detector gives up on text dense with symbols and full-width punctuation,
        # which Chinese web text often is.
        return ["gb18030"] if _reads_as_chinese(data) else []
    best = matches[0]
    if best.encoding in _CHINESE_ENCODINGS:
        return ["gb18030"]
    candidates: list[str] = []
    for preferred in _PREFERRED_ON_TIE:
        tied = any(
            preferred in m.could_be_from_charset and m.chaos <= best.chaos + _NEAR_TIE
            for m in matches
        )
        if not tied:
            continue
        if preferred == "gb18030" and not _reads_as_chinese(data):
            continue
        candidates.append(preferred)
        break
    candidates.extend(m.encoding for m in matches)
    if "cp1252" in candidates:
        # cp1252 leaves five bytes undefined; Latin-1 reads them all.
        candidates.insert(candidates.index("cp1252") + 1, "latin_1")
    return candidates


def _reads_as_chinese(data: bytes) -> bool:
    """True when the bytes decode as GB18030 to mostly common Chinese characters.

    Text in another CJK encoding also decodes as GB18030 byte for byte, but lands on rare
    characters; genuine Chinese text stays within GB2312's 3,755 most common ones.
    """
    try:
        text = data.decode("gb18030")[:_SAMPLE_CHARS]
    except UnicodeDecodeError:
        return False
    non_ascii = [c for c in text if ord(c) > 0x7F]
    if not non_ascii:
        return False
    common = sum(1 for c in non_ascii if _is_common_chinese(c))
    return common >= 0.8 * len(non_ascii)


def _is_common_chinese(char: str) -> bool:
    if "\u3000" <= char <= "\u303f" or "\uff00" <= char <= "\uffef":
        return True  # CJK and full-width punctuation
    if not "\u4e00" <= char <= "\u9fff":
        return False
    try:
        encoded = char.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return 0xB0 <= encoded[0] <= 0xD7  # GB2312 level 1: the most frequent hanzi


def _normalise_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")


class TextParser:
    """A .txt file is one page and one section."""

    media_type = "text/plain"

    def parse(self, data: bytes, filename: str) -> ParsedDocument:
        text, encoding = _decode(data, filename)
        if not text.strip():
            raise EmptyDocument(filename=filename)
        return ParsedDocument(
            filename=filename,
            media_type=self.media_type,
            pages=(Page(number=1, text=text),),
            sections=(Section(text=text, page=None, heading=None),),
            paginated=False,
            title=None,
            metadata={"encoding": encoding},
        )


# CommonMark ATX heading: up to three spaces, 1-6 '#', then a space or the end of the line;
# an optional closing run of '#' is not part of the text.
_ATX_HEADING = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")


@dataclass
class _Block:
    """Lines under one heading while the Markdown is being read."""

    level: int  # 0 before the first heading
    heading: str | None
    lines: list[str] = field(default_factory=list)

    def has_body(self) -> bool:
        body = self.lines[1:] if self.level else self.lines
        return any(line.strip() for line in body)


class MarkdownParser:
    """A Markdown file becomes one section per heading block, labelled with its heading path."""

    media_type = "text/markdown"

    def parse(self, data: bytes, filename: str) -> ParsedDocument:
        text, encoding = _decode(data, filename)
        if not text.strip():
            raise EmptyDocument(filename=filename)
        sections, title = split_markdown_sections(text)
        return ParsedDocument(
            filename=filename,
            media_type=self.media_type,
            pages=(Page(number=1, text=text),),
            sections=tuple(sections),
            paginated=False,
            title=title,
            metadata={"encoding": encoding},
        )


def split_markdown_sections(text: str) -> tuple[list[Section], str | None]:
    """Sections under ATX headings, with heading paths like "Intro > Install", and the
    first H1 as title. Lines inside fenced code blocks are never headings."""
    sections: list[Section] = []
    title: str | None = None
    path: list[tuple[int, str]] = []
    block = _Block(level=0, heading=None)
    carried: list[str] = []  # a heading with no body of its own, prefixed to its first child
    fence: str | None = None

    def close(block: _Block, next_level: int | None) -> None:
        nonlocal carried
        if block.level and not block.has_body() and next_level is not None:
            if next_level > block.level:
                carried = [*carried, *block.lines]
                return
        body = "\n".join([*carried, *block.lines]).strip()
        carried = []
        if body:
            sections.append(Section(text=body, page=None, heading=block.heading))

    for line in text.split("\n"):
        if fence is not None:
            block.lines.append(line)
            if line.strip().startswith(fence) and not line.strip().strip(fence[0]):
                fence = None
            continue
        fence_match = _FENCE.match(line)
        if fence_match:
            fence = fence_match.group(1)
            block.lines.append(line)
            continue
        heading_match = _ATX_HEADING.match(line)
        if heading_match is None:
            block.lines.append(line)
            continue
        level = len(heading_match.group(1))
        heading_text = (heading_match.group(2) or "").strip()
        close(block, next_level=level)
        while path and path[-1][0] >= level:
            path.pop()
        path.append((level, heading_text))
        if level == 1 and title is None and heading_text:
            title = heading_text
        heading = " > ".join(part for _, part in path if part) or None
        block = _Block(level=level, heading=heading, lines=[line])
    close(block, next_level=None)
    return sections, title
