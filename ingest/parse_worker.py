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
from multiprocessing.connection import Connection
from typing import Any

from parsers.errors import ParseError
from parsers.ocr import OcrOptions, OcrSetup, build_ocr
from parsers.types import Page, ParsedDocument, Section

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


def _plain(document: ParsedDocument) -> tuple[Any, ...]:
    # The metadata is a read-only mapping proxy, which does not pickle.
    return (
        document.filename,
        document.media_type,
        [(p.number, p.text, p.ocr, p.figures) for p in document.pages],
        [(s.text, s.page, s.heading, s.ocr, s.figure) for s in document.sections],
        document.paginated,
        document.title,
        dict(document.metadata),
        sorted(document.furniture),
    )


def from_plain(plain: tuple[Any, ...]) -> ParsedDocument:
    filename, media_type, pages, sections, paginated, title, metadata, furniture = plain
    return ParsedDocument(
        filename=filename,
        media_type=media_type,
        pages=tuple(Page(n, t, o, tuple(f)) for n, t, o, f in pages),
        sections=tuple(Section(t, p, h, o, f) for t, p, h, o, f in sections),
        paginated=paginated,
        title=title,
        metadata=metadata,
        furniture=frozenset(furniture),
    )


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
        if request is None:
            return
        target, data, filename, stream, ocr_options = request
        request = None
        reply: tuple[Any, ...]
        try:
            function = _resolve(target)
            # Only targets that OCR are given the keyword (tests name their own targets).
            extra = {"ocr": _ocr_setup(ocr_options)} if ocr_options is not None else {}
            if stream:

                def send_page(page: Page, total: int) -> None:
                    conn.send(("page", page.number, page.text, total, page.ocr, page.figures))

                document = function(data, filename, on_page=send_page, **extra)
            else:
                document = function(data, filename, **extra)
            reply = ("ok", _plain(document))
        except ParseError as e:
            reply = ("memory",) if _caused_by_memory(e) else ("error", e)
        except MemoryError:
            reply = ("memory",)
        except Exception as e:  # a parser bug: still this file's failure, not the service's
            reply = ("failed", f"{type(e).__name__}: {e}")
        finally:
            del data
        try:
            conn.send(reply)
        except MemoryError:
            os._exit(EXIT_OUT_OF_MEMORY)
        except Exception as e:  # e.g. an exception a test defined that does not pickle
            conn.send(("failed", f"cannot send the result: {type(e).__name__}: {e}"))


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
