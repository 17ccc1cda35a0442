"""The lock of an embedding model shared by questions and ingests: a question goes first.

An ingest embeds batch after batch, releasing the model's lock between forward passes and
taking it again at once; a plain lock lets it win again and again, and a question asked while
a document is read waited through many batches (seconds, where it takes a tenth of one once
the library is idle). Work marked as background (`in_background`, around an ingest's embedding
calls) waits while a question wants the model, and for a moment after each of its passes, so
that a question's next pass (it embeds its candidates in several) does not wait behind the
ingest again: a question waits for one forward pass at most.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from types import TracebackType

_BACKGROUND: ContextVar[bool] = ContextVar("docrag_background_embedding", default=False)
# After a question's pass, background work waits this long for the question's next one.
QUESTION_GRACE_S = 0.25


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
        self._held_by_first = False
        self._waiting_first = 0  # callers that are not background work, waiting
        self._first_until = 0.0  # background waits until then (a question's grace)

    def __enter__(self) -> None:
        first = not _BACKGROUND.get()
        with self._changed:
            if first:
                self._waiting_first += 1
            try:
                while not self._may_enter(first):
                    # A background caller that waits out a grace wakes when it ends.
                    grace = self._first_until - time.monotonic()
                    self._changed.wait(grace if grace > 0 and not first else None)
            finally:
                if first:
                    self._waiting_first -= 1
            self._held = True
            self._held_by_first = first

    def _may_enter(self, first: bool) -> bool:
        if self._held:
            return False
        return first or (self._waiting_first == 0 and time.monotonic() >= self._first_until)

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        with self._changed:
            self._held = False
            if self._held_by_first:
                self._first_until = time.monotonic() + QUESTION_GRACE_S
            self._changed.notify_all()
