"""PDF parsing on our generated PDFs and on real ones from public sample collections."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pypdf
import pytest

from parsers.errors import (
    CorruptDocument,
    EmptyDocument,
    EncryptedDocument,
    NoExtractableText,
    ParseError,
)
from parsers.pdf import PdfParser
from parsers.types import ParsedDocument

Reader = Callable[[str], bytes]


def parse(read_sample: Reader, name: str) -> ParsedDocument:
    return PdfParser().parse(read_sample(name), name)


def test_each_page_keeps_its_own_text(read_sample: Reader) -> None:
    document = parse(read_sample, "three_pages.pdf")

    assert document.media_type == "application/pdf"
    assert document.paginated
    assert [page.number for page in document.pages] == [1, 2, 3]
    assert "forty-two ships" in document.pages[0].text
    assert "smoked paprika" in document.pages[1].text
    assert "smoked paprika" not in document.pages[0].text + document.pages[2].text
    assert "opened in 1957" in document.pages[2].text


def test_chinese_text_is_extracted_on_its_page(read_sample: Reader) -> None:
    document = parse(read_sample, "three_pages.pdf")

    assert "长江大桥于一九五七年建成通车。" in document.pages[2].text


def test_sections_are_pages_with_their_numbers(read_sample: Reader) -> None:
    document = parse(read_sample, "three_pages.pdf")

    assert [(s.page, s.heading) for s in document.sections] == [(1, None), (2, None), (3, None)]
    assert [s.text for s in document.sections] == [p.text for p in document.pages]


def test_title_and_author_come_from_pdf_metadata(read_sample: Reader) -> None:
    document = parse(read_sample, "three_pages.pdf")

    assert document.title == "Harbour Survey"
    assert document.metadata["author"] == "docrag tests"
    assert document.metadata["page_count"] == "3"
    # reportlab writes "unspecified" for an unset subject: a placeholder, not a value.
    assert "subject" not in document.metadata


def test_empty_title_in_metadata_means_no_title(read_sample: Reader) -> None:
    # pdfLaTeX with hyperref writes /Title ().
    assert parse(read_sample, "pdflatex-outline.pdf").title is None


def test_real_latex_pdf_pages_end_with_their_printed_page_numbers(read_sample: Reader) -> None:
    document = parse(read_sample, "pdflatex-4-pages.pdf")

    assert len(document.pages) == 4
    for page in document.pages:
        assert page.text.splitlines()[-1] == str(page.number)
    assert "Huardest gefburn" in document.pages[0].text
    # pypdf 7 extracts 14,471 characters from this file; normalising whitespace keeps nearly all.
    assert sum(len(page.text) for page in document.pages) > 14_000


def test_real_pdf_table_of_contents_and_section_land_on_their_pages(read_sample: Reader) -> None:
    document = parse(read_sample, "pdflatex-outline.pdf")

    assert document.pages[0].text.startswith("Contents")
    pages_with_section_8 = [p.number for p in document.pages if "8 Bar\nHello" in p.text]
    assert pages_with_section_8 == [4]


def test_type3_font_text_in_a_chart_is_extracted(read_sample: Reader) -> None:
    document = parse(read_sample, "matplotlib.pdf")

    assert "0 2 4 6 8" in document.pages[0].text


def test_pdf_with_only_an_owner_password_opens(read_sample: Reader) -> None:
    document = parse(read_sample, "owner_password_only.pdf")

    assert "This document is protected." in document.pages[0].text


@pytest.mark.parametrize("name", ["encrypted.pdf", "libreoffice-writer-password.pdf"])
def test_password_protected_pdf_is_refused_with_advice(read_sample: Reader, name: str) -> None:
    with pytest.raises(EncryptedDocument) as caught:
        parse(read_sample, name)

    assert caught.value.code == "encrypted_document"
    assert name in str(caught.value)
    assert "password-protected" in str(caught.value)
    assert "upload it again" in str(caught.value)


@pytest.mark.parametrize("name", ["scanned.pdf", "imagemagick-ASCII85Decode.pdf"])
def test_pdf_without_text_layer_and_without_ocr_says_how_to_turn_it_on(
    read_sample: Reader, name: str
) -> None:
    with pytest.raises(NoExtractableText) as caught:
        parse(read_sample, name)

    assert caught.value.code == "no_text_layer"
    assert "scanned" in str(caught.value)
    assert "OCR is off or not installed" in str(caught.value)
    assert "DOCRAG_OCR__ENGINE" in str(caught.value)


def test_truncated_pdf_is_reported_as_damaged(read_sample: Reader) -> None:
    with pytest.raises(CorruptDocument) as caught:
        parse(read_sample, "truncated.pdf")

    assert caught.value.code == "corrupt_document"
    assert "damaged or truncated" in str(caught.value)
    assert caught.value.__cause__ is not None  # the pypdf error stays in the log's traceback


def test_damaged_pdfs_never_raise_anything_but_parse_errors(read_sample: Reader) -> None:
    original = read_sample("three_pages.pdf")
    rng = random.Random(20240601)
    outcomes: set[str] = set()
    for _ in range(40):
        damaged = bytearray(original)
        for _ in range(rng.randint(1, 30)):
            damaged[rng.randrange(8, len(damaged))] = rng.randrange(256)
        try:
            PdfParser().parse(bytes(damaged), "damaged.pdf")
            outcomes.add("parsed")
        except ParseError as e:
            outcomes.add(e.code)
    assert outcomes <= {"parsed", "corrupt_document", "no_text_layer", "encrypted_document"}


def test_one_failing_page_does_not_lose_the_others(
    read_sample: Reader, monkeypatch: pytest.MonkeyPatch
) -> None:
    extract = pypdf.PageObject.extract_text

    def fail_on_page_two(page: pypdf.PageObject, *args: Any, **kwargs: Any) -> str:
        text = extract(page, *args, **kwargs)
        if "page two" in text:
            raise KeyError("/Font")  # what a broken font resource looks like
        return text

    monkeypatch.setattr(pypdf.PageObject, "extract_text", fail_on_page_two)
    document = parse(read_sample, "three_pages.pdf")

    assert [page.number for page in document.pages] == [1, 2, 3]
    assert document.pages[1].text == ""
    assert "forty-two ships" in document.pages[0].text
    assert [section.page for section in document.sections] == [1, 3]


def test_zero_bytes_is_empty_not_corrupt() -> None:
    with pytest.raises(EmptyDocument):
        PdfParser().parse(b"", "nothing.pdf")


def test_extracted_text_has_no_control_characters_or_space_runs(read_sample: Reader) -> None:
    for name in ["three_pages.pdf", "pdflatex-4-pages.pdf", "pdflatex-outline.pdf"]:
        for page in parse(read_sample, name).pages:
            assert "  " not in page.text
            assert not any(ord(c) < 32 and c != "\n" for c in page.text)
            assert "\n\n\n" not in page.text
