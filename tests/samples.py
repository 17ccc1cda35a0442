"""The sample files the tests use (made by tests/files/make_files.py, or real ones noted in
tests/files/LICENSES.md), with what is known to be in them."""

from __future__ import annotations

from pathlib import Path

FILES = Path(__file__).parent / "files"

# Six pages of about 250 words, each with one fact found nowhere else.
MULTIPAGE_PDF = FILES / "field_report.pdf"
MULTIPAGE_PDF_PAGES = 6
PAGE_TWO_PHRASE = "smoked paprika"
PAGE_TWO_QUESTION = "What is the secret ingredient of the harbour stew?"

THREE_PAGES_PDF = FILES / "three_pages.pdf"
ENCRYPTED_PDF = FILES / "encrypted.pdf"
CORRUPT_PDF = FILES / "truncated.pdf"
SCANNED_PDF = FILES / "scanned.pdf"
FAKE_PDF = FILES / "fake.pdf"
BINARY_TXT = FILES / "archive_renamed.txt"
MARKDOWN = FILES / "guide.md"
GBK_TEXT = FILES / "chinese_gbk.txt"

# Real PDFs from other producers (pdfTeX, matplotlib); sources and licences in LICENSES.md.
REAL_PDFS = [
    FILES / "pdflatex-4-pages.pdf",
    FILES / "pdflatex-outline.pdf",
    FILES / "matplotlib.pdf",
]
