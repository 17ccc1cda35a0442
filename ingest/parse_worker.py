"""Parsing in worker processes, each parse with a time limit and a memory limit.

Parsers run third-party code on untrusted bytes: a PDF can make pypdf loop for ever, inflate
a stream into gigabytes or crash the interpreter. Each parse therefore runs in a separate
process, with its address space capped by `RLIMIT_AS` and its wall time by the parent, which
kills it when the time is up. A failure costs that one file: it becomes a `ParseError` with a
stable code (`parse_timeout`, `parse_memory_limit`, `parser_crashed`), and the worker is
replaced.

Workers are reused between parses (a fresh process per file would cost more than parsing a
small file); one that failed in any way is never reused.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

from parsers.errors import ParseError
from parsers.types import Page, ParsedDocument, Section

logger = logging.getLogger(__name__)

# The function a worker calls, as "module:function"; tests name their own to inject faults.
DEFAULT_TARGET = "parsers.registry:parse_document"

# Called in the parent as pages arrive from a parser that streams them: (page, page count).
PageCallback = Callable[[Page, int], None]

# A worker that ran out of memory so badly that it could not even report it exits with this.
_EXIT_OUT_OF_MEMORY = 86
# A worker is replaced after this many parses, so a slow leak in a parser cannot build up.
_PARSES_PER_WORKER = 200
_BOOT = (
    "import json, sys; sys.path[:0] = json.loads(sys.argv[1]); "
    "from ingest.parse_worker import main; main(sys.argv[2:])"
)


class ParseTimeout(ParseError):
    code = "parse_timeout"
    template = "{name} took too long to parse and was stopped."


class ParseMemoryLimit(ParseError):
    code = "parse_memory_limit"
    template = "{name} needed more memory to parse than docrag allows and was stopped."


class ParserCrashed(ParseError):
    code = "parser_crashed"
    template = (
        "{name} made the parser crash. The file may be damaged or built to attack document "
        "readers; check that it opens on your computer, then upload it again."
    )


@dataclass(frozen=True, slots=True)
class ParseLimits:
    timeout_s: float = 120.0
    memory_mb: int = 2048
    workers: int = 2


# -- the worker side -------------------------------------------------------------------------


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
        [(p.number, p.text) for p in document.pages],
        [(s.text, s.page, s.heading) for s in document.sections],
        document.paginated,
        document.title,
        dict(document.metadata),
    )


def _from_plain(plain: tuple[Any, ...]) -> ParsedDocument:
    filename, media_type, pages, sections, paginated, title, metadata = plain
    return ParsedDocument(
        filename=filename,
        media_type=media_type,
        pages=tuple(Page(n, t) for n, t in pages),
        sections=tuple(Section(t, p, h) for t, p, h in sections),
        paginated=paginated,
        title=title,
        metadata=metadata,
    )


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
        target, data, filename, stream = request
        request = None
        reply: tuple[Any, ...]
        try:
            function = _resolve(target)
            if stream:

                def send_page(page: Page, total: int) -> None:
                    conn.send(("page", page.number, page.text, total))

                document = function(data, filename, on_page=send_page)
            else:
                document = function(data, filename)
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
            os._exit(_EXIT_OUT_OF_MEMORY)
        except Exception as e:  # e.g. an exception a test defined that does not pickle
            conn.send(("failed", f"cannot send the result: {type(e).__name__}: {e}"))


# -- the parent side -------------------------------------------------------------------------


class _Worker:
    """One worker process (see `main`), talking over its own pipes.

    A fresh interpreter rather than a fork: it inherits no threads, locks or models from the
    service, and never re-imports the caller's main module."""

    def __init__(self, memory_bytes: int) -> None:
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        try:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    _BOOT,
                    # The worker finds the same modules as the service (and a test's fault
                    # module), wherever it was started from.
                    json.dumps([p for p in sys.path if p]),
                    str(to_child_r),
                    str(from_child_w),
                    str(memory_bytes),
                ],
                pass_fds=(to_child_r, from_child_w),
                stdin=subprocess.DEVNULL,
                close_fds=True,
            )
        finally:
            os.close(to_child_r)
            os.close(from_child_w)
        self._send = Connection(to_child_w, readable=False)
        self.conn = Connection(from_child_r, writable=False)
        self.parses = 0
        self.reusable = False  # set once a parse ends with a clean reply

    def send(self, message: object) -> None:
        self._send.send(message)

    def alive(self) -> bool:
        return self.process.poll() is None

    def exit_code(self) -> int | None:
        try:
            return self.process.wait(5)
        except subprocess.TimeoutExpired:
            return None

    def stop(self) -> None:
        try:
            self._send.send(None)
            self.process.wait(2)
        except (OSError, ValueError, subprocess.TimeoutExpired):
            pass
        self.kill()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)
        self._send.close()
        self.conn.close()


def _signal_name(code: int) -> str:
    try:
        return signal.Signals(-code).name
    except ValueError:
        return f"signal {-code}"


class ProcessParser:
    """Parses files in worker processes with the given limits; at most `limits.workers` at
    once (more callers wait their turn)."""

    def __init__(self, limits: ParseLimits, *, target: str = DEFAULT_TARGET) -> None:
        self.limits = limits
        self.target = target
        self._slots = threading.BoundedSemaphore(max(1, limits.workers))
        self._idle: list[_Worker] = []
        self._all: set[_Worker] = set()
        self._lock = threading.Lock()
        self._closed = False

    @contextmanager
    def _worker(self) -> Iterator[_Worker]:
        with self._slots:
            if self._closed:
                raise ParserCrashed("parsing stopped: the service is shutting down")
            with self._lock:
                worker = None
                while self._idle and worker is None:
                    candidate = self._idle.pop()
                    if candidate.alive():
                        worker = candidate
                    else:
                        candidate.kill()
            if worker is None:
                worker = _Worker(self.limits.memory_mb * 1024 * 1024)
                with self._lock:
                    self._all.add(worker)
            worker.reusable = False
            try:
                yield worker
            finally:
                worker.parses += 1
                if worker.reusable and not self._closed and worker.parses < _PARSES_PER_WORKER:
                    with self._lock:
                        self._idle.append(worker)
                else:
                    worker.kill()
                    with self._lock:
                        self._all.discard(worker)

    def parse(
        self, data: bytes, filename: str, *, on_page: PageCallback | None = None
    ) -> ParsedDocument:
        """The parsed document, or a `ParseError`. With `on_page`, a parser that can stream
        (PDF) reports each page as soon as it is read; an exception raised by `on_page`
        stops the parse and is raised here."""
        with self._worker() as worker:
            started = time.monotonic()
            deadline = started + self.limits.timeout_s
            worker.send((self.target, data, filename, on_page is not None))
            while True:
                message = self._receive(worker, deadline, filename)
                kind = message[0]
                if kind == "page":
                    assert on_page is not None
                    on_page(Page(message[1], message[2]), message[3])
                    continue
                if kind == "ok":
                    worker.reusable = True
                    logger.debug("parsed %r in %.2f s", filename, time.monotonic() - started)
                    return _from_plain(message[1])
                if kind == "error":
                    worker.reusable = True  # the parser refused the file; the worker is fine
                    error: ParseError = message[1]
                    raise error
                if kind == "memory":
                    # The worker survived, but its heap may be left fragmented: replace it.
                    raise self._memory_error(filename)
                logger.error("the parser failed on %r: %s", filename, message[1])
                raise ParserCrashed(filename=filename)

    def _receive(self, worker: _Worker, deadline: float, filename: str) -> tuple[Any, ...]:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                worker.kill()
                logger.warning(
                    "parsing %r took longer than %g s; the worker was stopped",
                    filename,
                    self.limits.timeout_s,
                )
                raise ParseTimeout(
                    f"'{filename}' took longer than {self.limits.timeout_s:g} s to parse and "
                    "was stopped. The file may be damaged or built to make readers loop; if it "
                    "is just very large, split it or raise DOCRAG_LIMITS__PARSE_TIMEOUT_S."
                )
            # The pipe also reports the worker's death: its end closes, the read sees EOF.
            if not wait([worker.conn], remaining):
                continue
            try:
                message: tuple[Any, ...] = worker.conn.recv()
                return message
            except (EOFError, OSError):
                pass  # it died, perhaps mid-message
            code = worker.exit_code()
            worker.kill()
            if code == _EXIT_OUT_OF_MEMORY:
                raise self._memory_error(filename)
            how = _signal_name(code) if code is not None and code < 0 else f"exit code {code}"
            logger.error("the parser process died on %r (%s)", filename, how)
            raise ParserCrashed(
                f"'{filename}' made the parser crash ({how}). The file may be damaged or built "
                "to attack document readers; check that it opens on your computer, then "
                "upload it again."
            )

    def _memory_error(self, filename: str) -> ParseMemoryLimit:
        logger.warning(
            "parsing %r needed more than %d MiB; the worker was stopped",
            filename,
            self.limits.memory_mb,
        )
        return ParseMemoryLimit(
            f"'{filename}' needed more than {self.limits.memory_mb} MiB of memory to parse and "
            "was stopped. The file may be a decompression bomb; if it is a genuine large "
            "document, split it or raise DOCRAG_LIMITS__PARSE_MEMORY_MB."
        )

    def close(self) -> None:
        """Stops every worker; a parse still in progress fails with `ParserCrashed`."""
        self._closed = True
        with self._lock:
            idle, self._idle = self._idle, []
            busy = self._all - set(idle)
            self._all = set()
        for worker in idle:
            worker.stop()
        for worker in busy:
            # Only the process: the thread parsing with it sees the pipe close and cleans up.
            if worker.alive():
                worker.process.kill()


def main(argv: list[str]) -> None:
    requests_fd, replies_fd, memory_bytes = (int(a) for a in argv[:3])
    # Warm up before the first request: the common parsers' imports cost more than most parses.
    importlib.import_module("parsers.registry")
    _serve(
        Connection(requests_fd, writable=False),
        Connection(replies_fd, readable=False),
        memory_bytes,
    )


if __name__ == "__main__":  # python -m ingest.parse_worker FD_IN FD_OUT MEMORY_BYTES
    main(sys.argv[1:])
