"""Parsing in worker processes: real parses come back whole, hostile ones (a loop, a memory
bomb, a segfault, an exit) fail that one file with their own code, and the next parse works.
No worker outlives its pool: not when the pool is closed, not when it never is, not when the
service is killed."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingest.parsing import (
    ParseLimits,
    ParseMemoryLimit,
    ParserCrashed,
    ParseTimeout,
    ProcessParser,
)
from parsers.errors import EncryptedDocument, TooManyPages
from parsers.registry import parse_document
from parsers.types import Page, PageRead
from tests import samples as f
from tests.hostile_parsing import TARGET
from tests.ingest.stuck_parsing import TARGET as STUCK

ROOT = Path(__file__).resolve().parents[2]

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
    data = f.MULTIPAGE_PDF.read_bytes()
    parsed = parser.parse(
        data, "report.pdf", on_page=lambda read: seen.append((read.page.number, read.page_count))
    )
    assert seen == [(n, f.MULTIPAGE_PDF_PAGES) for n in range(1, f.MULTIPAGE_PDF_PAGES + 1)]
    # The pages sent one by one make up the result: text, sections and all.
    assert parsed == parse_document(data, "report.pdf")


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
    def refuse(read: PageRead) -> None:
        raise TooManyPages(f"{read.page_count} pages")

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


def _running(pid: int) -> bool:
    """Whether the process exists and is not a zombie waiting to be reaped."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not stat.exists() or stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"


def _wait_for(check: object, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return True
        time.sleep(0.1)
    return False


def test_close_stops_every_worker(parser: ProcessParser) -> None:
    parser.parse(NOTES, "a.txt")
    pids = [w.process.pid for w in parser._all]
    parser.close()
    assert pids and not any(_running(pid) for pid in pids)


def test_close_ends_a_parse_in_progress_and_its_worker(tmp_path: Path) -> None:
    parser = ProcessParser(ParseLimits(timeout_s=600, workers=1), target=STUCK)
    started = tmp_path / "started"
    failures: list[BaseException] = []

    def parse() -> None:
        try:
            parser.parse(str(started).encode(), "stuck.txt")
        except BaseException as e:
            failures.append(e)

    thread = threading.Thread(target=parse)
    thread.start()
    try:
        assert _wait_for(lambda: started.exists() and started.read_text(), 60)
        pid = int(started.read_text())
    finally:
        parser.close()
    thread.join(30)
    assert not thread.is_alive()
    assert [type(e) for e in failures] == [ParserCrashed]
    assert not _running(pid)


# A service that parses one file (its worker then waits, idle) and is stuck in another.
_SERVICE = """
import sys, threading, time
from pathlib import Path
sys.path.insert(0, {root!r})
from ingest.parsing import ParseLimits, ProcessParser
started = Path({started!r})
idle = ProcessParser(ParseLimits(workers=1))
idle.parse(b"Ferns grow in the shade.", "notes.txt")
busy = ProcessParser(ParseLimits(timeout_s=600, workers=1), target={stuck!r})
args = (str(started).encode(), "stuck.txt")
threading.Thread(target=busy.parse, args=args, daemon=True).start()
while not (started.exists() and started.read_text()):
    time.sleep(0.05)
print(*[w.process.pid for pool in (idle, busy) for w in pool._all], flush=True)
{then}
"""


def _start_service(tmp_path: Path, then: str) -> tuple[subprocess.Popen[str], list[int]]:
    """The service and the process ids of its two workers."""
    script = _SERVICE.format(
        root=str(ROOT), started=str(tmp_path / "started"), stuck=STUCK, then=then
    )
    service = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    assert service.stdout is not None
    pids = [int(p) for p in service.stdout.readline().split()]
    assert len(pids) == 2, "the service did not report its two workers"
    return service, pids


def _kill_leftovers(service: subprocess.Popen[str], pids: list[int]) -> None:
    service.kill()
    service.wait()
    for pid in pids:  # only what this test started, so a failure leaks nothing
        if _running(pid):
            os.kill(pid, 9)


def test_workers_of_a_pool_never_closed_stop_when_the_service_exits(tmp_path: Path) -> None:
    service, pids = _start_service(tmp_path, then="")
    try:
        assert service.wait(120) == 0
        # An orphan is reaped by init a moment after it ends: give it those moments.
        assert _wait_for(lambda: not any(_running(pid) for pid in pids), 10)
    finally:
        _kill_leftovers(service, pids)


def test_workers_stop_when_the_service_is_killed(tmp_path: Path) -> None:
    service, pids = _start_service(tmp_path, then="time.sleep(600)")
    try:
        service.kill()  # SIGKILL: no atexit, no finalizer, nothing runs in the service
        service.wait()
        assert _wait_for(lambda: not any(_running(pid) for pid in pids), 30)
    finally:
        _kill_leftovers(service, pids)
