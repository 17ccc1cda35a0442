"""Table rows, page furniture and titles on PDFs drawn with reportlab, parsed and chunked
with the real tokenizer."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest
from reportlab.lib.pagesizes import letter
from reportlab.pdfgen import canvas

from parsers.chunking import indexed_text, split_into_chunks
from parsers.layout import find_furniture, is_column_header, is_table_row, page_title
from parsers.pdf import PdfParser
from parsers.types import ParsedDocument

Counter = Callable[[str], int]

YEARS = ("2023", "2022", "2021")
ITEMS = [f"Widget line item number {n}" for n in range(1, 61)]


def value(row: int, column: int) -> str:
    amount = 1000 + row * 37 + column * 11
    return f"({amount:,})" if row % 5 == 0 else f"{amount:,}"


def draw_cell(pdf: canvas.Canvas, x: float, y: float, text: str) -> None:
    # One text object per cell, as financial printers write them: pypdf's plain text
    # puts every cell on a line of its own.
    pdf.drawRightString(x, y, text)


def statement_pdf(pages: int = 4, *, title: str | None = None) -> bytes:
    """A filing-like PDF: a running header and footer on every page, a page number, and a
    cash-flow table whose rows run over several pages under a header of years."""
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=letter)
    if title is not None:
        pdf.setTitle(title)
    rows = iter(enumerate(ITEMS))
    for number in range(1, pages + 1):
        pdf.setFont("Helvetica", 9)
        pdf.drawString(72, 750, "Harbour Widgets Inc. | Annual Report 2023")
        pdf.drawString(72, 738, "Table of Contents")
        pdf.setFont("Helvetica", 10)
        y = 700.0
        if number == 1:
            pdf.drawString(72, y, "Consolidated Statement of Cash Flows")
            y -= 20
            pdf.drawString(72, y, "(Millions)")
            for column, year in enumerate(YEARS):
                draw_cell(pdf, 400 + column * 70, y, year)
            y -= 16
        for row, item in rows:
            pdf.drawString(72, y, item)
            for column in range(3):
                draw_cell(pdf, 400 + column * 70, y, value(row, column))
            y -= 14
            if y < 120:
                break
        pdf.setFont("Helvetica", 8)
        pdf.drawCentredString(306, 40, f"Page {number}")
        pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def cover_pdf(metadata_title: str) -> bytes:
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=letter)
    pdf.setTitle(metadata_title)
    lines = [
        "UNITED STATES",
        "SECURITIES AND EXCHANGE COMMISSION",
        "Washington, D.C. 20549",
        "FORM 10-K",
        "ANNUAL REPORT PURSUANT TO SECTION 13 OR 15(d) OF THE SECURITIES EXCHANGE ACT OF 1934",
        "For the fiscal year ended December 31, 2023",
        "Commission file number 1-12345",
        "HARBOUR WIDGETS INC.",
        "(Exact name of registrant as specified in its charter)",
    ]
    for index, line in enumerate(lines):
        pdf.drawString(72, 720 - 18 * index, line)
    pdf.showPage()
    pdf.drawString(72, 720, "Part I. Item 1. Business. Harbour Widgets makes widgets.")
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


@pytest.fixture(scope="module")
def statement() -> ParsedDocument:
    return PdfParser().parse(statement_pdf(), "harbour-10k.pdf")


def row_line(item: str, row: int) -> str:
    return " ".join([item, *(value(row, column) for column in range(3))])


def test_a_table_row_is_one_line_with_its_values_in_column_order(
    statement: ParsedDocument,
) -> None:
    lines = statement.pages[0].text.split("\n")

    assert "(Millions) 2023 2022 2021" in lines
    assert row_line(ITEMS[0], 0) in lines
    assert row_line(ITEMS[4], 4) in lines  # "(1,148)": parenthesised negatives too


def test_prose_lines_are_not_joined_with_their_neighbours(read_sample: Callable) -> None:
    document = PdfParser().parse(read_sample("pdflatex-4-pages.pdf"), "paper.pdf")

    # A paragraph's lines stay lines, each ending with the page's own numbers as before.
    for page in document.pages:
        assert page.text.splitlines()[-1] == str(page.number)
    assert max(len(line) for page in document.pages for line in page.text.splitlines()) < 120


def test_running_header_footer_and_page_numbers_are_found(statement: ParsedDocument) -> None:
    assert {"harbour widgets inc. | annual report #", "table of contents", "page #"} <= set(
        statement.furniture
    )
    assert not any("widget line item" in key for key in statement.furniture)


def test_pages_keep_their_furniture_but_chunks_leave_it_out(
    statement: ParsedDocument, count_tokens: Counter
) -> None:
    assert all("Table of Contents" in page.text for page in statement.pages)
    assert "Page 3" in statement.pages[2].text

    chunks = split_into_chunks(statement, count_tokens, 128, 16)

    text = "\n".join(chunk.text for chunk in chunks)
    assert "Table of Contents" not in text
    assert "Annual Report 2023" not in text
    assert not any(line.startswith("Page ") for line in text.split("\n"))
    # Every row made it into some chunk, whole.
    chunk_lines = {line for chunk in chunks for line in chunk.text.split("\n")}
    for row, item in enumerate(ITEMS):
        assert row_line(item, row) in chunk_lines


def test_every_chunk_with_rows_carries_the_column_headings(
    statement: ParsedDocument, count_tokens: Counter
) -> None:
    chunks = split_into_chunks(statement, count_tokens, 128, 16)

    with_rows = [c for c in chunks if "Widget line item" in c.text]
    assert len(with_rows) > 3  # the table runs over several chunks
    for chunk in with_rows:
        assert "(Millions) 2023 2022 2021" in indexed_text(chunk).split("\n")
        assert count_tokens(indexed_text(chunk)) <= 128
    # The headings are repeated in the context, never pasted into the quoted text.
    assert sum("(Millions)" in chunk.text for chunk in chunks) == 1


def test_chunk_context_names_the_document_and_pages(
    statement: ParsedDocument, count_tokens: Counter
) -> None:
    chunks = split_into_chunks(statement, count_tokens, 128, 16)

    # No title in the metadata and no cover page: the file name stands in.
    assert all(chunk.context.startswith("harbour-10k | ") for chunk in chunks)
    last = chunks[-1]
    assert f"p. {last.page_end}" in last.context or f"-{last.page_end}" in last.context


def test_chunks_starting_on_a_page_carry_the_heading_it_opens_with(
    statement: ParsedDocument, count_tokens: Counter
) -> None:
    chunks = split_into_chunks(statement, count_tokens, 128, 16)

    on_first = [c for c in chunks if c.page_start == 1]
    later = [c for c in chunks if c.page_start != 1]
    assert on_first and later
    for chunk in on_first:
        assert chunk.context.startswith("harbour-10k | Consolidated Statement of Cash Flows | p")
    # Pages 2 on open with table rows, not a heading: their chunks get none.
    assert not any("Consolidated" in c.context for c in later)
    # The heading is in the context, not pasted into the quoted text of later chunks.
    assert not any("Consolidated" in c.text for c in later)


def test_a_page_title_is_the_capitalised_lines_a_page_opens_with() -> None:
    assert (
        page_title("Amcor plc and Subsidiaries\nConsolidated Balance Sheets\n($ in millions)")
        == "Amcor plc and Subsidiaries — Consolidated Balance Sheets"
    )
    assert page_title("Note 9— Taxes\nThe Company is subject to taxes.") == "Note 9— Taxes"
    assert page_title("continued from the page before, as the Company said.") is None
    assert page_title("Net sales 14,694 14,544 12,861\nCost of sales") is None
    assert page_title("The following discussion should be read with the statements.") is None


def test_filing_title_comes_from_its_cover_not_its_accession_number() -> None:
    document = PdfParser().parse(cover_pdf("0000909832-21-000014"), "0000909832-21-000014.pdf")

    assert document.title == "Harbour Widgets Inc. — Form 10-K 2023"


def test_metadata_title_is_kept_when_it_names_the_document() -> None:
    document = PdfParser().parse(statement_pdf(title="Harbour Widgets Annual Report"), "x.pdf")

    assert document.title == "Harbour Widgets Annual Report"


def test_accession_number_in_metadata_is_not_a_title() -> None:
    document = PdfParser().parse(statement_pdf(title="0000764478-23-000041"), "bb.pdf")

    assert document.title is None


def test_short_documents_have_no_furniture() -> None:
    pages = ["Report\nSome text here\n1", "Report\nMore text\n2"]

    assert find_furniture(pages) == frozenset()


@pytest.mark.parametrize(
    ("line", "row", "header"),
    [
        ("Net income $ 5,363 $ 4,869 $ 5,058", True, False),
        ("Interest expense (132,716 ) (50,219 ) (29,142 )", True, False),
        ("(Millions) 2018 2017 2016", True, True),
        ("Three Months Ended July 29, 2023 July 30, 2022", True, True),
        ("In 2018 and 2017 we sold 3 plants", False, False),
        ("Revenue grew by 12% in 2023.", False, False),
    ],
)
def test_table_lines_are_told_from_prose(line: str, row: bool, header: bool) -> None:
    assert is_table_row(line) is row
    assert is_column_header(line) is header
