"""Parsing in worker processes: real parses come back whole, hostile ones (a loop, a memory
bomb, a segfault, an exit) fail that one file with their own code, and the next parse works."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ingest.parse_worker import (
    ParseLimits,
    ParseMemoryLimit,
    ParserCrashed,
    ParseTimeout,
    ProcessParser,
)
from parsers.errors import EncryptedDocument, TooManyPages
from parsers.registry import parse_document
from parsers.types import Page
from tests import samples as f
from tests.hostile_parsing import TARGET

NOTES = b"The aurora greenhouse opens in March."


@pytest.fixture
def parser() -> Iterator[ProcessParser]:
    parser = ProcessParser(ParseLimits(timeout_s=3, memory_mb=256, workers=1), target=TARGET)
    yield parser
    parser.close()


def test_a_parse_in_a_worker_equals_one_in_process(parser: ProcessParser) -> None:
    data = f.MULTIPAGE_PDF.read_bytes()
    assert parser.parse(data, "report.pdf") == parse_document(data, "report.pdf")


def test_pages_stream_in_order_before_the_result(parser: ProcessParser) -> None:
    seen: list[tuple[int, int]] = []
    parsed = parser.parse(
        f.MULTIPAGE_PDF.read_bytes(),
        "report.pdf",
        on_page=lambda page, total: seen.append((page.number, total)),
    )
    assert seen == [(n, f.MULTIPAGE_PDF_PAGES) for n in range(1, f.MULTIPAGE_PDF_PAGES + 1)]
    assert [p.number for p in parsed.pages] == [n for n, _ in seen]


def test_a_refusal_comes_back_as_the_parsers_own_error(parser: ProcessParser) -> None:
    with pytest.raises(EncryptedDocument) as refused:
        parser.parse(f.ENCRYPTED_PDF.read_bytes(), "locked.pdf")
    assert "password" in str(refused.value)
    assert parser.parse(NOTES, "notes.txt").pages == (Page(1, NOTES.decode()),)


@pytest.mark.parametrize(
    ("filename", "error", "code", "hint"),
    [
        ("hang.pdf", ParseTimeout, "parse_timeout", "DOCRAG_LIMITS__PARSE_TIMEOUT_S"),
        ("bomb.pdf", ParseMemoryLimit, "parse_memory_limit", "DOCRAG_LIMITS__PARSE_MEMORY_MB"),
        ("segfault.pdf", ParserCrashed, "parser_crashed", "SIGSEGV"),
        ("exit.pdf", ParserCrashed, "parser_crashed", "exit code 3"),
    ],
)
def test_a_hostile_parse_fails_alone(
    parser: ProcessParser, filename: str, error: type[Exception], code: str, hint: str
) -> None:
    with pytest.raises(error) as failed:
        parser.parse(b"%PDF-1.7 whatever", filename)
    assert failed.value.code == code  # type: ignore[attr-defined]
    assert filename in str(failed.value) and hint in str(failed.value)
    # The only worker was replaced: the next file parses normally.
    assert parser.parse(NOTES, "notes.txt").pages[0].text == NOTES.decode()


def test_an_exception_from_the_page_callback_stops_the_parse(parser: ProcessParser) -> None:
    def refuse(page: Page, total: int) -> None:
        raise TooManyPages(f"{total} pages")

    with pytest.raises(TooManyPages):
        parser.parse(f.MULTIPAGE_PDF.read_bytes(), "report.pdf", on_page=refuse)
    assert parser.parse(NOTES, "notes.txt").pages[0].text == NOTES.decode()


def test_a_worker_is_reused_after_a_clean_parse(parser: ProcessParser) -> None:
    parser.parse(NOTES, "a.txt")
    with pytest.raises(EncryptedDocument):
        parser.parse(f.ENCRYPTED_PDF.read_bytes(), "locked.pdf")
    [worker] = parser._all
    parser.parse(NOTES + b" Again.", "b.txt")
    assert parser._all == {worker} and worker.alive()


def test_close_stops_every_worker(parser: ProcessParser) -> None:
    parser.parse(NOTES, "a.txt")
    workers = set(parser._all)
    parser.close()
    assert workers and not any(w.alive() for w in workers)
