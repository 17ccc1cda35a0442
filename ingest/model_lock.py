"""The lock of an embedding model shared by questions and ingests: a question goes first.

An ingest embeds batch after batch, releasing the model's lock between forward passes and
taking it again at once; a plain lock lets it win again and again, and a question asked while
a document is read waited through many batches (seconds, where it takes a tenth of one once
the library is idle). Work marked as background (`in_background`, around an ingest's embedding
calls) waits while a question wants the model; a question waits for one forward pass at most.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from types import TracebackType

_BACKGROUND: ContextVar[bool] = ContextVar("docrag_background_embedding", default=False)


@contextmanager
def in_background() -> Iterator[None]:
    """Marks the model calls inside as background work (an ingest's batches)."""
    token = _BACKGROUND.set(True)
    try:
        yield
    finally:
        _BACKGROUND.reset(token)


class QuestionFirstLock:
    """A mutex (`with lock:`) under which background callers give way to waiting others."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._held = False
        self._waiting_first = 0  # callers that are not background work, waiting

    def __enter__(self) -> None:
        first = not _BACKGROUND.get()
        with self._changed:
            if first:
                self._waiting_first += 1
            try:
                self._changed.wait_for(
                    lambda: not self._held and (first or self._waiting_first == 0)
                )
            finally:
                if first:
                    self._waiting_first -= 1
            self._held = True

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        with self._changed:
            self._held = False
            self._changed.notify_all()
