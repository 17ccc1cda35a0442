"""Markdown: one section per heading block, labelled with its heading path."""

from __future__ import annotations

from collections.abc import Callable

from parsers.text import MarkdownParser
from parsers.types import ParsedDocument

Reader = Callable[[str], bytes]


def parse_guide(read_sample: Reader) -> ParsedDocument:
    return MarkdownParser().parse(read_sample("guide.md"), "guide.md")


def parse_text(text: str) -> ParsedDocument:
    return MarkdownParser().parse(text.encode(), "notes.md")


def test_sections_carry_nested_heading_paths(read_sample: Reader) -> None:
    document = parse_guide(read_sample)

    assert [section.heading for section in document.sections] == [
        "Docrag Guide",
        "Docrag Guide > Install",
        "Docrag Guide > Install > Requirements",
        "Docrag Guide > Usage",
        "Appendix > Licence",
    ]
    assert all(section.page is None for section in document.sections)
    assert document.media_type == "text/markdown"
    assert not document.paginated


def test_title_is_the_first_level_one_heading(read_sample: Reader) -> None:
    assert parse_guide(read_sample).title == "Docrag Guide"


def test_heading_line_stays_in_the_section_text(read_sample: Reader) -> None:
    install = parse_guide(read_sample).sections[1]

    assert install.text.startswith("## Install\n\nCreate a virtual environment")


def test_comment_inside_a_code_block_is_not_a_heading(read_sample: Reader) -> None:
    install = parse_guide(read_sample).sections[1]

    assert "# this line is a shell comment, not a heading" in install.text
    assert "pip install docrag" in install.text


def test_heading_without_body_is_kept_with_its_first_subsection(read_sample: Reader) -> None:
    licence = parse_guide(read_sample).sections[-1]

    assert licence.text.startswith("# Appendix\n\n## Licence\n\nThe project is released")


def test_whole_file_is_kept_as_the_single_page(read_sample: Reader) -> None:
    document = parse_guide(read_sample)

    assert len(document.pages) == 1
    assert document.pages[0].text == read_sample("guide.md").decode()


def test_text_before_the_first_heading_has_no_heading() -> None:
    document = parse_text("Intro paragraph.\n\n# Start\n\nBody.\n")

    assert [(s.heading, s.text) for s in document.sections] == [
        (None, "Intro paragraph."),
        ("Start", "# Start\n\nBody."),
    ]
    assert document.title == "Start"


def test_closing_hashes_and_hashtags() -> None:
    document = parse_text("## Setup ##\n\n#hashtag is not a heading\n\n### Deep\n\ntext\n")

    assert [s.heading for s in document.sections] == ["Setup", "Setup > Deep"]
    assert "#hashtag is not a heading" in document.sections[0].text
    assert document.title is None  # no level-one heading


def test_sibling_heading_replaces_the_previous_one_in_the_path() -> None:
    document = parse_text("# A\n\na\n\n## B\n\nb\n\n## C\n\nc\n\n# D\n\nd\n")

    assert [s.heading for s in document.sections] == ["A", "A > B", "A > C", "D"]
