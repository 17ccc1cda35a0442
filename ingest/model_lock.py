"""The lock of an embedding model shared by questions and ingests: a question goes first.

An ingest embeds batch after batch, releasing the model's lock between forward passes and
taking it again at once; a plain lock lets it win again and again, and a question asked while
a document is read waited through many batches (seconds, where it takes a tenth of one once
the library is idle). Work marked as background (`in_background`, around an ingest's embedding
calls) waits while a question wants the model, and for a moment after each of its passes, so
that a question's next pass (it embeds its candidates in several) does not wait behind the
ingest again: a question waits for one forward pass at most. Background work that has waited
`MAX_BACKGROUND_WAIT_S` takes the next turn even while questions keep coming, so a busy stream
of questions delays an ingest but never stops it.
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
# The longest background work gives way: then it takes the next turn (questions wait one pass).
MAX_BACKGROUND_WAIT_S = 2.0


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
        self._overdue = 0  # background callers that have waited their longest: they go next

    def __enter__(self) -> None:
        first = not _BACKGROUND.get()
        with self._changed:
            if first:
                self._waiting_first += 1
            deadline = time.monotonic() + MAX_BACKGROUND_WAIT_S
            overdue = False
            try:
                while True:
                    now = time.monotonic()
                    if not first and not overdue and now >= deadline:
                        overdue = True
                        self._overdue += 1
                    if self._may_enter(first, overdue):
                        break
                    self._changed.wait(self._timeout(first, overdue, deadline, now))
            finally:
                if first:
                    self._waiting_first -= 1
                if overdue:
                    self._overdue -= 1
            self._held = True
            self._held_by_first = first

    def _timeout(self, first: bool, overdue: bool, deadline: float, now: float) -> float | None:
        """How long a caller sleeps before it looks again (None: until the lock changes). A
        background caller wakes when a question's grace ends or its own wait runs out."""
        if first or overdue:
            return None
        wakes = [deadline]
        if self._first_until > now:
            wakes.append(self._first_until)
        return max(0.0, min(wakes) - now)

    def _may_enter(self, first: bool, overdue: bool) -> bool:
        if self._held:
            return False
        if overdue:
            return True
        if first:
            return self._overdue == 0
        return self._waiting_first == 0 and time.monotonic() >= self._first_until

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
