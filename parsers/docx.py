"""Word (.docx): paragraphs, headings and tables in document order, with python-docx."""

from __future__ import annotations

import io
import logging
import re
import zipfile
from collections.abc import Iterator

import docx
from docx.document import Document
from docx.enum.style import WD_STYLE_TYPE
from docx.oxml.ns import qn
from docx.styles.style import ParagraphStyle
from lxml import etree

from parsers.errors import CorruptDocument, EmptyDocument, ParseError, UnsupportedFileType
from parsers.outline import HeadingOutline
from parsers.types import Page, ParsedDocument

logger = logging.getLogger(__name__)

ZIP_MAGIC = b"PK\x03\x04"
DOCUMENT_PART = "word/document.xml"
CONTENT_TYPES_PART = "[Content_Types].xml"
DOCUMENT_CONTENT_TYPE = b"wordprocessingml.document.main+xml"
_MAX_CONTENT_TYPES_BYTES = 1024 * 1024
# Word files compress well, but not a thousandfold: past this, unpacking is an attack.
MAX_UNPACKED_BYTES = 256 * 1024 * 1024

_P, _TBL, _TR, _TC = qn("w:p"), qn("w:tbl"), qn("w:tr"), qn("w:tc")
_SDT, _SDT_CONTENT, _CUSTOM_XML = qn("w:sdt"), qn("w:sdtContent"), qn("w:customXml")
_TEXT, _TAB, _BREAK, _CR = qn("w:t"), qn("w:tab"), qn("w:br"), qn("w:cr")
_NO_BREAK_HYPHEN = qn("w:noBreakHyphen")
_PPR, _PSTYLE, _OUTLINE_LEVEL, _VAL = qn("w:pPr"), qn("w:pStyle"), qn("w:outlineLvl"), qn("w:val")
# Subtrees without visible text of their own: properties, field codes, and the fallback
# copy of a drawing (Word writes text boxes twice, as DrawingML and as VML).
_SKIPPED = frozenset(
    {
        qn("w:pPr"),
        qn("w:rPr"),
        qn("w:instrText"),
        qn("w:delText"),
        "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback",
    }
)
_HEADING_STYLE = re.compile(r"^heading\s*([1-9])$", re.IGNORECASE)
_BODY_TEXT_OUTLINE_LEVEL = 9
_CELL_SEPARATOR = " | "


def looks_like_docx(data: bytes) -> bool:
    """A ZIP archive holding a Word main document part; judged by content, not by name.

    A damaged archive whose central directory cannot be read still counts when the part's
    name appears in its local headers, so that it is reported as a damaged Word file.
    """
    if not data.startswith(ZIP_MAGIC):
        return False
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = archive.namelist()
            if DOCUMENT_PART in names:
                return True
            # Word sometimes names the main part differently (word/document2.xml); the
            # content types say what it is.
            if CONTENT_TYPES_PART not in names:
                return False
            info = archive.getinfo(CONTENT_TYPES_PART)
            if info.file_size > _MAX_CONTENT_TYPES_BYTES:
                return False
            return DOCUMENT_CONTENT_TYPE in archive.read(info)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError):
        return DOCUMENT_PART.encode() in data


class DocxParser:
    """A Word document as one page, in sections under its Heading 1..9 paragraphs."""

    media_type = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

    def parse(self, data: bytes, filename: str) -> ParsedDocument:
        try:
            _check_unpacked_size(data, filename)
            document = docx.Document(io.BytesIO(data))
        except ParseError:
            raise
        except ValueError as e:
            if "not a Word file" not in str(e):
                raise CorruptDocument(filename=filename) from e
            # python-docx opens documents only: not templates (.dotx) or macro files (.docm).
            raise UnsupportedFileType(
                f"'{filename}' is a Word template or macro-enabled document, which docrag "
                "does not read. Save it as a Word document (.docx) and upload it again."
            ) from e
        except Exception as e:
            logger.info("cannot open .docx %r: %s: %s", filename, type(e).__name__, e)
            raise CorruptDocument(filename=filename) from e
        try:
            return self._parse(document, filename)
        except ParseError:
            raise
        except Exception as e:
            logger.info("cannot read .docx %r: %s: %s", filename, type(e).__name__, e)
            raise CorruptDocument(filename=filename) from e

    def _parse(self, document: Document, filename: str) -> ParsedDocument:
        heading_levels, title_styles = _paragraph_styles(document)
        outline = HeadingOutline()
        title_paragraph: str | None = None
        for block in _blocks(document.element.body):
            if block.tag == _TBL:
                outline.add_text(_table_text(block))
                continue
            text = _paragraph_text(block).strip()
            if not text:
                continue
            style_id = _style_id(block)
            level = _outline_level(block) or heading_levels.get(style_id or "")
            if level is not None:
                outline.add_heading(level, text)
            else:
                if title_paragraph is None and style_id in title_styles:
                    title_paragraph = " ".join(text.split())
                outline.add_text(text)
        sections = outline.sections()
        if not sections:
            raise EmptyDocument(filename=filename)
        return ParsedDocument(
            filename=filename,
            media_type=self.media_type,
            pages=(Page(number=1, text=outline.text),),
            sections=tuple(sections),
            paginated=False,
            title=_core_title(document) or title_paragraph or outline.first_level_one,
            metadata=_core_metadata(document),
        )


def _check_unpacked_size(data: bytes, filename: str) -> None:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        unpacked = sum(info.file_size for info in archive.infolist())
    if unpacked > MAX_UNPACKED_BYTES:
        raise CorruptDocument(
            f"'{filename}' unpacks to {unpacked // (1024 * 1024)} MiB, more than the "
            f"{MAX_UNPACKED_BYTES // (1024 * 1024)} MiB a Word document can plausibly hold; "
            "docrag refuses it as a possible decompression bomb."
        )


def _blocks(container: etree._Element) -> Iterator[etree._Element]:
    """Paragraphs and tables in document order, looking inside content controls."""
    for child in container.iterchildren():
        if child.tag in (_P, _TBL):
            yield child
        elif child.tag == _SDT:
            content = child.find(_SDT_CONTENT)
            if content is not None:
                yield from _blocks(content)
        elif child.tag == _CUSTOM_XML:
            yield from _blocks(child)


def _paragraph_text(paragraph: etree._Element) -> str:
    """Visible text of a paragraph, including hyperlinks, tracked insertions, fields' results
    and text boxes; deleted text and field codes left out."""
    parts: list[str] = []
    stack = list(reversed(paragraph))
    while stack:
        element = stack.pop()
        tag = element.tag
        if tag in _SKIPPED:
            continue
        if tag == _TEXT:
            parts.append(element.text or "")
        elif tag == _TAB:
            parts.append("\t")
        elif tag in (_BREAK, _CR):
            parts.append("\n")
        elif tag == _NO_BREAK_HYPHEN:
            parts.append("-")
        else:
            if tag == _P:  # a paragraph inside a text box
                parts.append("\n")
            stack.extend(reversed(element))
    return "".join(parts)


def _table_text(table: etree._Element) -> str:
    """One line per row, cells joined by " | "; a nested table is flattened into its cell."""
    lines = []
    for row in table.iterchildren(_TR):
        cells = [_cell_text(cell) for cell in row.iterchildren(_TC)]
        if any(cells):
            lines.append(_CELL_SEPARATOR.join(cells))
    return "\n".join(lines)


def _cell_text(cell: etree._Element) -> str:
    parts = [
        _table_text(block).replace("\n", "; ") if block.tag == _TBL else _paragraph_text(block)
        for block in _blocks(cell)
    ]
    return " ".join(" ".join(parts).split())


def _style_id(paragraph: etree._Element) -> str | None:
    style = paragraph.find(f"{_PPR}/{_PSTYLE}")
    return style.get(_VAL) if style is not None else None


def _outline_level(element: etree._Element | None) -> int | None:
    """Heading level 1-9 from a direct outline level (w:outlineLvl 0-8), if any."""
    if element is None:
        return None
    node = element.find(f"{_PPR}/{_OUTLINE_LEVEL}")
    if node is None:
        return None
    try:
        value = int(node.get(_VAL, ""))
    except ValueError:
        return None
    return value + 1 if 0 <= value < _BODY_TEXT_OUTLINE_LEVEL else None


def _paragraph_styles(document: Document) -> tuple[dict[str, int], set[str]]:
    """Heading level by paragraph style id (Heading N, styles based on them, or styles with
    an outline level), and the ids of title styles."""
    levels: dict[str, int] = {}
    titles: set[str] = set()
    for style in document.styles:
        if style.type != WD_STYLE_TYPE.PARAGRAPH or not isinstance(style, ParagraphStyle):
            continue
        if (style.name or "").lower() == "title":
            titles.add(style.style_id)
        level = _style_heading_level(style)
        if level is not None:
            levels[style.style_id] = level
    return levels, titles


def _style_heading_level(style: ParagraphStyle) -> int | None:
    current: ParagraphStyle | None = style
    for _ in range(10):  # base-style chains are short; a cycle must not loop forever
        if current is None:
            return None
        match = _HEADING_STYLE.match(current.name or "")
        if match:
            return int(match.group(1))
        level = _outline_level(current.element)
        if level is not None:
            return level
        base = current.base_style
        current = base if isinstance(base, ParagraphStyle) else None
    return None


def _core_title(document: Document) -> str | None:
    try:
        title = document.core_properties.title
    except Exception:
        return None
    title = " ".join((title or "").split())
    return title or None


def _core_metadata(document: Document) -> dict[str, str]:
    metadata: dict[str, str] = {}
    try:
        properties = document.core_properties
        fields = {
            "author": properties.author,
            "subject": properties.subject,
            "keywords": properties.keywords,
        }
    except Exception:
        return metadata
    for name, value in fields.items():
        cleaned = " ".join((value or "").split())
        if cleaned:
            metadata[name] = cleaned
    return metadata
