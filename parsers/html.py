"""HTML: the page's main text, without scripts, styles, navigation or forms, under its headings."""

from __future__ import annotations

import codecs
import logging
import re

from bs4 import BeautifulSoup
from bs4.dammit import EncodingDetector
from bs4.element import NavigableString, PageElement, PreformattedString, Tag

from parsers.errors import CorruptDocument, EmptyDocument, ParseError
from parsers.outline import HeadingOutline
from parsers.signatures import detect_bom
from parsers.text import _decode
from parsers.types import Page, ParsedDocument

logger = logging.getLogger(__name__)

# Elements whose content is never part of the text a reader sees as the page's content.
_NOT_CONTENT = (
    "script",
    "style",
    "noscript",
    "template",
    "nav",
    "aside",
    "form",
    "button",
    "select",
    "textarea",
    "iframe",
    "object",
    "embed",
    "canvas",
    "svg",
    "dialog",
    "title",
)
_NOT_CONTENT_ROLES = frozenset({"navigation", "banner", "contentinfo", "search", "complementary"})
# A <header> or <footer> inside one of these belongs to that part of the page (an article's
# byline, a section's notes), not to the site around it.
_SECTIONING = frozenset({"article", "section", "main", "aside", "nav"})
_HEADINGS = {f"h{level}": level for level in range(1, 7)}
# Elements that end a line, and those that end a paragraph; everything else is inline.
_LINE_BREAKING = frozenset({"br", "li", "dt", "dd", "tr", "option", "caption", "figcaption"})
_PARAGRAPH_BREAKING = frozenset(
    {
        "address",
        "article",
        "blockquote",
        "body",
        "details",
        "div",
        "dl",
        "fieldset",
        "figure",
        "footer",
        "header",
        "hr",
        "main",
        "ol",
        "p",
        "section",
        "summary",
        "ul",
    }
)
# WHATWG: pages declaring Latin-1 or ASCII are read as Windows-1252, and GB2312/GBK as GB18030.
_DECLARED_ALIASES = {
    "iso8859-1": "cp1252",
    "ascii": "cp1252",
    "gb2312": "gb18030",
    "gbk": "gb18030",
}
_BLOCKS = frozenset({*_HEADINGS, *_LINE_BREAKING, *_PARAGRAPH_BREAKING, "table", "pre"} - {"br"})
_MAX_HEADING_CHARS = 200
_BLANK_LINES = re.compile(r"\n{3,}")
_CELL_SEPARATOR = " | "


def decode_html(data: bytes, filename: str) -> str:
    """Byte-order mark first, then the page's own charset declaration, then detection."""
    if detect_bom(data) is None:
        declared = EncodingDetector.find_declared_encoding(data, is_html=True)
        codec = _codec_name(declared)
        if codec is not None:
            try:
                return data.decode(codec).replace("\r\n", "\n").replace("\r", "\n")
            except UnicodeDecodeError:
                logger.info("HTML declares %s but is not; detecting its encoding", declared)
    return _decode(data, filename)[0]


def _codec_name(declared: str | None) -> str | None:
    if not declared:
        return None
    try:
        name = codecs.lookup(declared).name
    except LookupError:
        return None
    if name.startswith(("utf-16", "utf-32")):
        # A BOM-less page cannot really be UTF-16; browsers read the declaration as UTF-8.
        return "utf-8"
    return _DECLARED_ALIASES.get(name, name)


class HtmlParser:
    """A web page's main text as one page, in sections under its h1-h6 headings."""

    media_type = "text/html"

    def parse(self, data: bytes, filename: str) -> ParsedDocument:
        text = decode_html(data, filename)
        if not text.strip():
            raise EmptyDocument(filename=filename)
        try:
            soup = BeautifulSoup(text, "html.parser")
            title = _title(soup)
            outline = HeadingOutline()
            _TextWalker(outline).walk(_main_content(soup))
            sections = outline.sections()
        except ParseError:
            raise
        except Exception as e:
            # html.parser accepts nearly anything; what remains is pathological markup.
            logger.info("cannot read HTML %r: %s: %s", filename, type(e).__name__, e)
            raise CorruptDocument(filename=filename) from e
        if not sections:
            raise EmptyDocument(
                f"'{filename}' has no readable text outside its scripts, styles, "
                "navigation and forms."
            )
        return ParsedDocument(
            filename=filename,
            media_type=self.media_type,
            pages=(Page(number=1, text=outline.text),),
            sections=tuple(sections),
            paginated=False,
            title=title or outline.first_level_one,
            metadata={},
        )


def _title(soup: BeautifulSoup) -> str | None:
    tag = soup.find("title")
    if tag is None:
        return None
    title = " ".join(tag.get_text(" ").split())
    return title or None


def _main_content(soup: BeautifulSoup) -> Tag:
    """The part of the page that holds its content, with everything else removed."""
    for element in soup.find_all(_NOT_CONTENT):
        element.decompose()
    for element in soup.find_all(_is_hidden_or_chrome):
        # decompose() clears descendants too, which find_all may still yield afterwards.
        if not element.decomposed:
            element.decompose()
    for element in soup.find_all(("header", "footer")):
        if not element.decomposed and not any(p.name in _SECTIONING for p in element.parents):
            element.decompose()
    main = soup.find("main") or soup.find(True, role="main")
    if isinstance(main, Tag) and main.get_text(strip=True):
        return main
    body = soup.find("body")
    return body if isinstance(body, Tag) else soup


def _is_hidden_or_chrome(tag: Tag) -> bool:
    if tag.has_attr("hidden") or str(tag.get("aria-hidden", "")).lower() == "true":
        return True
    role = tag.get("role")
    return isinstance(role, str) and role.lower() in _NOT_CONTENT_ROLES


class _TextWalker:
    """Turns the element tree into headings and paragraphs; iterative, so deeply nested
    markup cannot exhaust the interpreter's stack."""

    def __init__(self, outline: HeadingOutline) -> None:
        self._outline = outline
        self._line: list[str] = []
        self._paragraph: list[str] = []

    def walk(self, root: Tag) -> None:
        # Entries are elements to visit, or a string naming the break to make on leaving one.
        stack: list[PageElement | str] = list(reversed(root.contents))
        while stack:
            node = stack.pop()
            if isinstance(node, str) and not isinstance(node, NavigableString):
                self._break(node)
            elif isinstance(node, NavigableString):
                if not isinstance(node, PreformattedString):  # comments, doctype, CDATA
                    self._line.append(str(node))
            elif isinstance(node, Tag):
                stack.extend(self._enter(node))
        self._end_paragraph()

    def _enter(self, tag: Tag) -> list[PageElement | str]:
        """Handles a start tag; returns what to visit next, in reverse order."""
        name = tag.name
        if name in _HEADINGS:
            self._end_paragraph()
            heading, rest = _split_heading(tag)
            self._outline.add_heading(_HEADINGS[name], heading)
            return list(reversed(rest))
        if name == "table":
            self._end_paragraph()
            self._outline.add_text(_table_text(tag))
            return []
        if name == "pre":
            self._end_paragraph()
            self._outline.add_text(_BLANK_LINES.sub("\n\n", tag.get_text().strip("\n")))
            return []
        if name == "br":
            self._end_line()
            return []
        if name in _LINE_BREAKING:
            self._end_line()
            return ["line", *reversed(tag.contents)]
        if name in _PARAGRAPH_BREAKING:
            self._end_paragraph()
            return ["paragraph", *reversed(tag.contents)]
        return list(reversed(tag.contents))

    def _break(self, kind: str) -> None:
        if kind == "line":
            self._end_line()
        else:
            self._end_paragraph()

    def _end_line(self) -> None:
        line = " ".join("".join(self._line).split())
        self._line = []
        if line:
            self._paragraph.append(line)

    def _end_paragraph(self) -> None:
        self._end_line()
        if self._paragraph:
            self._outline.add_text("\n".join(self._paragraph))
            self._paragraph = []


def _split_heading(tag: Tag) -> tuple[str, list[PageElement]]:
    """The heading's own text, and any blocks inside it to read as body text.

    A heading left unclosed (or closed with the wrong level, `<h1>Notes</h2>`) swallows the
    rest of the page under a lenient parser; the text up to its first block child is the
    heading, the blocks after are body, and an over-long heading is cut.
    """
    contents = list(tag.contents)
    for index, child in enumerate(contents):
        if isinstance(child, Tag) and child.name in _BLOCKS:
            inline, rest = contents[:index], contents[index:]
            break
    else:
        inline, rest = contents, []
    text = "".join(
        part.get_text() if isinstance(part, Tag) else str(part)
        for part in inline
        if not isinstance(part, PreformattedString)
    )
    text = " ".join(text.split())
    if len(text) > _MAX_HEADING_CHARS:
        text = text[: _MAX_HEADING_CHARS - 1].rsplit(" ", 1)[0] + "…"
    return text, rest


def _table_text(table: Tag) -> str:
    """One line per row, cells joined by " | "; a nested table is flattened into its cell."""
    lines = []
    for row in table.find_all("tr"):
        if row.find_parent("table") is not table:
            continue
        cells = row.find_all(("td", "th"), recursive=False)
        texts = [" ".join(cell.get_text(" ").split()) for cell in cells]
        if any(texts):
            lines.append(_CELL_SEPARATOR.join(texts))
    return "\n".join(lines)
