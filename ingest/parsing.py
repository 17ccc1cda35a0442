"""Parsing in worker processes, each parse with a time limit and a memory limit.

Parsers run third-party code on untrusted bytes: a PDF can make pypdf loop for ever, inflate
a stream into gigabytes or crash the interpreter. Each parse therefore runs in a separate
process, with its address space capped by `RLIMIT_AS` and its wall time by the parent, which
kills it when the time is up. A failure costs that one file: it becomes a `ParseError` with a
stable code (`parse_timeout`, `parse_memory_limit`, `parser_crashed`), and the worker is
replaced.

Workers are reused between parses (a fresh process per file would cost more than parsing a
small file); one that failed in any way is never reused. Workers stop with their pool:
`close()` stops them and waits for them; a pool never closed stops them when it is collected
or the interpreter exits; and a worker whose service died exits by itself
(`ingest.parse_worker`).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait

from ingest.parse_worker import (
    EXIT_OUT_OF_MEMORY,
    Crashed,
    OutOfMemory,
    Parsed,
    ParseRequest,
    Refused,
    StopWorker,
    WorkerMessage,
)
from parsers.errors import ParseError
from parsers.ocr import OcrOptions
from parsers.pdf import PageCallback
from parsers.types import Page, PageRead, ParsedDocument

logger = logging.getLogger(__name__)

# The function a worker calls, as "module:function"; tests name their own to inject faults.
DEFAULT_TARGET = "parsers.registry:parse_document"

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
                    str(os.getpid()),
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

    def send(self, message: ParseRequest | StopWorker) -> None:
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
            self._send.send(StopWorker())
            self.process.wait(2)
        except (OSError, ValueError, subprocess.TimeoutExpired):
            pass
        self.kill()

    def kill(self) -> None:
        _end_process(self.process)
        self._send.close()
        self.conn.close()


def _end_process(process: subprocess.Popen[bytes]) -> None:
    """Kills a worker process and reaps it, so it leaves no zombie either."""
    if process.poll() is None:
        process.kill()
    try:
        process.wait(5)
    except subprocess.TimeoutExpired:
        logger.error("parse worker %d did not exit after SIGKILL", process.pid)


def _end_processes(workers: set[_Worker]) -> None:
    # Holds no reference to the pool: it runs when the pool is collected or at exit.
    for worker in list(workers):
        _end_process(worker.process)


def _signal_name(code: int) -> str:
    try:
        return signal.Signals(-code).name
    except ValueError:
        return f"signal {-code}"


class ProcessParser:
    """Parses files in worker processes with the given limits; at most `limits.workers` at
    once (more callers wait their turn)."""

    def __init__(
        self,
        limits: ParseLimits,
        *,
        target: str = DEFAULT_TARGET,
        ocr: OcrOptions | None = None,
    ) -> None:
        """`ocr`: how the workers read pages without a text layer (None: they do not)."""
        self.limits = limits
        self.target = target
        self.ocr = ocr
        self._slots = threading.BoundedSemaphore(max(1, limits.workers))
        self._idle: list[_Worker] = []
        self._all: set[_Worker] = set()  # changed in place: the finalizer holds it
        self._lock = threading.Lock()
        self._closed = False
        # A pool that is never closed still stops its workers.
        self._finalizer = weakref.finalize(self, _end_processes, self._all)

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
            worker.send(ParseRequest(self.target, data, filename, on_page is not None, self.ocr))
            streamed: list[Page] = []
            while True:
                match self._receive(worker, deadline, filename):
                    case PageRead() as read:
                        assert on_page is not None
                        streamed.append(read.page)
                        on_page(read)
                    case Parsed() as parsed:
                        worker.reusable = True
                        logger.debug("parsed %r in %.2f s", filename, time.monotonic() - started)
                        return parsed.with_pages(streamed)
                    case Refused(error=error):
                        worker.reusable = True  # the parser refused the file; the worker is fine
                        raise error
                    case OutOfMemory():
                        # The worker survived, but its heap may be fragmented: replace it.
                        raise self._memory_error(filename)
                    case Crashed(reason=reason):
                        logger.error("the parser failed on %r: %s", filename, reason)
                        raise ParserCrashed(filename=filename)

    def _receive(self, worker: _Worker, deadline: float, filename: str) -> WorkerMessage:
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
                message: WorkerMessage = worker.conn.recv()
                return message
            except (EOFError, OSError):
                pass  # it died, perhaps mid-message
            code = worker.exit_code()
            worker.kill()
            if code == EXIT_OUT_OF_MEMORY:
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
        """Stops every worker and waits for it; a parse still in progress fails with
        `ParserCrashed`."""
        self._closed = True
        with self._lock:
            idle, self._idle = self._idle, []
            busy = self._all - set(idle)
            self._all.clear()
        for worker in idle:
            worker.stop()
        for worker in busy:
            # Only the process: the thread parsing with it sees the pipe close and cleans up.
            _end_process(worker.process)
        self._finalizer.detach()
