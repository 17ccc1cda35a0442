"""The worker process of `ingest.parsing.ProcessParser`: one parse at a time, its pages and
result sent back over a pipe, its address space capped by `RLIMIT_AS`.

A worker exits when its pool tells it to, when the pool's end of the pipe closes, and when
the process that started it dies (even by SIGKILL), so no worker outlives its service.
"""

from __future__ import annotations

import importlib
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection
from typing import Any

from parsers.errors import ParseError
from parsers.ocr import OcrOptions, OcrSetup, build_ocr
from parsers.pdf import sections_from_pages
from parsers.types import Page, PageRead, ParsedDocument

# A worker that ran out of memory so badly that it could not even report it exits with this.
EXIT_OUT_OF_MEMORY = 86
# How often a worker looks whether the process that started it is still there.
_PARENT_CHECK_S = 0.5


def _limit_memory(memory_bytes: int) -> None:
    try:
        import resource
    except ImportError:  # not on POSIX: no limit rather than no parsing
        return
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))


def _resolve(target: str) -> Callable[..., ParsedDocument]:
    module, _, name = target.partition(":")
    function: Callable[..., ParsedDocument] = getattr(importlib.import_module(module), name)
    return function


def _caused_by_memory(error: BaseException) -> bool:
    """Parsers wrap what goes wrong inside them (a MemoryError becomes CorruptDocument)."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, MemoryError):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


# -- the messages across the pipe: one frozen dataclass per kind ------------------------------


@dataclass(frozen=True, slots=True)
class ParseRequest:
    """Pool to worker: parse these bytes with `target` ("module:function")."""

    target: str
    data: bytes
    filename: str
    stream: bool  # send each page as a `PageRead` as soon as it is read
    ocr: OcrOptions | None


@dataclass(frozen=True, slots=True)
class StopWorker:
    """Pool to worker: exit."""


@dataclass(frozen=True, slots=True)
class Parsed:
    """Worker to pool: the parse succeeded. With `pages_streamed`, the document's pages were
    sent already (as `PageRead`s) and are left out here, and so are its sections, which are
    exactly `sections_from_pages` of them: a page's text crosses the pipe once."""

    document: ParsedDocument
    pages_streamed: bool = False

    def with_pages(self, streamed: list[Page]) -> ParsedDocument:
        if not self.pages_streamed:
            return self.document
        return replace(self.document, pages=tuple(streamed), sections=sections_from_pages(streamed))


@dataclass(frozen=True, slots=True)
class Refused:
    """Worker to pool: the parser refused the file (the worker is fine)."""

    error: ParseError


@dataclass(frozen=True, slots=True)
class OutOfMemory:
    """Worker to pool: the parse ran out of memory (the worker is left fragmented)."""


@dataclass(frozen=True, slots=True)
class Crashed:
    """Worker to pool: the parser failed with an unexpected exception."""

    reason: str


# What a worker sends back for one request: any number of pages, then one reply.
Reply = Parsed | Refused | OutOfMemory | Crashed
WorkerMessage = PageRead | Reply


def _reply(document: ParsedDocument, streamed: list[Page]) -> Parsed:
    if streamed and list(document.pages) == streamed:
        if document.sections == sections_from_pages(streamed):
            return Parsed(replace(document, pages=(), sections=()), pages_streamed=True)
    return Parsed(document)


# A worker builds its OCR engine once and keeps it: loading one can take seconds.
_OCR_SETUPS: dict[OcrOptions, OcrSetup | None] = {}


def _ocr_setup(options: OcrOptions) -> OcrSetup | None:
    if options not in _OCR_SETUPS:
        _OCR_SETUPS[options] = build_ocr(options)
    return _OCR_SETUPS[options]


def _serve(requests: Connection, conn: Connection, memory_bytes: int) -> None:
    """A worker's loop: one request in, page messages and one reply out, until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    _limit_memory(memory_bytes)
    while True:
        try:
            request = requests.recv()
        except (EOFError, OSError):
            return
        match request:
            case ParseRequest():
                reply = _parse(request, conn)
                request = None  # the file's bytes are freed before the reply is pickled
                _send_reply(conn, reply)
            case _:  # StopWorker
                return


def _parse(request: ParseRequest, conn: Connection) -> Reply:
    """Parses one request, sending its pages as they are read when asked to stream."""
    streamed: list[Page] = []

    def send_page(read: PageRead) -> None:
        conn.send(read)
        streamed.append(read.page)

    reply: Reply
    try:
        function = _resolve(request.target)
        # Only targets that OCR are given the keyword (tests name their own targets).
        extra: dict[str, Any] = {"ocr": _ocr_setup(request.ocr)} if request.ocr is not None else {}
        if request.stream:
            extra["on_page"] = send_page
        reply = _reply(function(request.data, request.filename, **extra), streamed)
    except ParseError as e:
        reply = OutOfMemory() if _caused_by_memory(e) else Refused(e)
    except MemoryError:
        reply = OutOfMemory()
    except Exception as e:  # a parser bug: still this file's failure, not the service's
        reply = Crashed(f"{type(e).__name__}: {e}")
    return reply


def _send_reply(conn: Connection, reply: Reply) -> None:
    try:
        conn.send(reply)
    except MemoryError:
        os._exit(EXIT_OUT_OF_MEMORY)
    except Exception as e:  # e.g. an exception a test defined that does not pickle
        conn.send(Crashed(f"cannot send the result: {type(e).__name__}: {e}"))


def _exit_with_parent(parent: int) -> None:
    """Ends this worker once the process that started it is gone, even in mid-parse."""
    while os.getppid() == parent:
        time.sleep(_PARENT_CHECK_S)
    os._exit(1)


def main(argv: list[str]) -> None:
    requests_fd, replies_fd, memory_bytes, parent = (int(a) for a in argv[:4])
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()
    # Warm up before the first request: the common parsers' imports cost more than most parses.
    importlib.import_module("parsers.registry")
    _serve(
        Connection(requests_fd, writable=False),
        Connection(replies_fd, readable=False),
        memory_bytes,
    )
    os._exit(0)  # at once, even if a library left threads running


if __name__ == "__main__":  # python -m ingest.parse_worker FD_IN FD_OUT MEMORY PARENT
    main(sys.argv[1:])
