"""HTML: the main text under its heading path; scripts, styles, navigation and forms left out."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from parsers.chunking import split_into_chunks
from parsers.errors import EmptyDocument, UnsupportedFileType
from parsers.html import HtmlParser
from parsers.registry import detect_parser, parse_document
from parsers.types import ParsedDocument

Reader = Callable[[str], bytes]
Counter = Callable[[str], int]

# Each marks text a reader never sees as the page's content (see tests/files/make_files.py).
HIDDEN_MARKERS = [
    "SCRIPTMARKER",
    "stylemarker",
    "font-family",
    "NAVMARKER",
    "HEADERMARKER",
    "FOOTERMARKER",
    "ASIDEMARKER",
    "FORMMARKER",
    "NOSCRIPTMARKER",
    "HIDDENMARKER",
    "ROLEMARKER",
]


@pytest.fixture(scope="module")
def page(read_sample: Reader) -> ParsedDocument:
    return parse_document(read_sample("harbour_page.html"), "harbour_page.html")


def test_scripts_styles_navigation_and_forms_are_left_out(
    page: ParsedDocument, count_tokens: Counter
) -> None:
    chunks = split_into_chunks(page, count_tokens, size=200, overlap=32)
    texts = [page.pages[0].text, *(s.text for s in page.sections), *(c.text for c in chunks)]
    for marker in HIDDEN_MARKERS:
        assert not any(marker in text for text in texts), marker


def test_main_text_is_kept_with_entities_decoded(page: ParsedDocument) -> None:
    text = page.pages[0].text

    assert page.media_type == "text/html"
    assert not page.paginated and len(page.pages) == 1
    assert "Moorings cost twelve euros a night, café included." in text
    # An article's own header is content, unlike the site header around it.
    assert "Written by the harbour master." in text


def test_title_comes_from_the_title_element(page: ParsedDocument) -> None:
    assert page.title == "Harbour Guide | Port Authority"


def test_headings_become_the_heading_path_of_chunks(
    page: ParsedDocument, count_tokens: Counter
) -> None:
    chunks = split_into_chunks(page, count_tokens, size=200, overlap=32)

    def heading_of(phrase: str) -> str | None:
        [chunk] = [c for c in chunks if phrase in c.text]
        return chunk.heading

    assert heading_of("visiting boats all year") == "Harbour Guide"
    assert heading_of("outer pier floods") == "Harbour Guide > Tides > Spring tides"
    assert heading_of("Keep ropes slack") == "Harbour Guide > Tides > Spring tides"
    assert heading_of("except on Sundays") == "Harbour Guide > Fish market"
    assert all(c.page_start is None and c.page_end is None for c in chunks)


def test_tables_are_rows_of_cells(page: ParsedDocument) -> None:
    [fish] = [s for s in page.sections if s.heading == "Harbour Guide > Fish market"]

    assert "Fish | Season | Price per kilo\nCod | Winter | 14 euros\nMackerel | Summer" in fish.text


def test_list_items_are_lines_of_their_own(page: ParsedDocument) -> None:
    assert "Check the table before mooring.\nKeep ropes slack at night." in page.pages[0].text


def test_declared_legacy_encoding_is_honoured(read_sample: Reader) -> None:
    document = parse_document(read_sample("changjiang_gb2312.html"), "changjiang.html")

    assert document.title == "长江简介"
    assert [s.heading for s in document.sections] == ["长江", "长江 > 三峡"]
    assert "长江是中国最长的河流" in document.sections[0].text


@pytest.mark.parametrize("name", ["page.htm", "PAGE.HTML", "download", "saved.page"])
def test_html_is_recognised_by_extension_or_doctype(read_sample: Reader, name: str) -> None:
    assert detect_parser(read_sample("harbour_page.html"), name).media_type == "text/html"


def test_markup_in_a_text_file_stays_text(read_sample: Reader) -> None:
    assert detect_parser(read_sample("harbour_page.html"), "notes.txt").media_type == "text/plain"


def test_page_with_only_scripts_and_navigation_is_empty() -> None:
    data = b"<html><head><script>var x = 1;</script></head><body><nav>Home</nav></body></html>"

    with pytest.raises(EmptyDocument, match="no readable text"):
        HtmlParser().parse(data, "shell.html")


def test_broken_and_deeply_nested_markup_still_gives_its_text() -> None:
    # </h2> does not close the <h1>: a lenient parser puts the rest of the page inside it.
    broken = b"<html><body><h1>Not<b>es</b></h2><p>first <b>bold <i>line</p><div>second"
    document = HtmlParser().parse(broken + b"<div>" * 20_000 + b"deep text", "broken.html")

    assert document.sections[0].heading == "Notes"
    assert "first bold line" in document.pages[0].text
    assert "deep text" in document.pages[0].text


def test_binary_named_html_is_refused() -> None:
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01"

    with pytest.raises(UnsupportedFileType, match="named .html but is not text.*PNG image"):
        parse_document(png, "page.html")
