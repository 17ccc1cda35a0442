"""Progress of one ingest, recorded on a record (a document's or a job's) while it runs.

Progress arrives as (stage, done, total) calls: ("parsing", pages read, page count),
("embedding", chunks stored, chunks expected), ("answerable", pages wholly stored, chunks
stored) after each batch written while a document is read, and, from `ingest_many`,
("documents", done, total). A record is written at every change of stage and otherwise at
most once a second; an "answerable" report changes the record and is written with the next.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Generic, Literal, Protocol, TypeVar

ProgressCallback = Callable[[str, int, int], None]
Stage = Literal["parsing", "ocr", "embedding"]
# What is already searchable while a document is read: (pages wholly stored, chunks stored).
ANSWERABLE = "answerable"

# A record's progress is written at most this often (plus every change of stage).
PROGRESS_INTERVAL_S = 1.0


class _Progressing(Protocol):
    @property
    def status(self) -> str: ...

    @property
    def progress(self) -> float: ...


R = TypeVar("R", bound=_Progressing)


def overall_progress(stage: str, done: int, total: int) -> float:
    """One number for a progress report: reading counts for a tenth, embedding for the rest;
    1.0 only once the document is ready."""
    share = min(1.0, done / total) if total > 0 else 0.0
    if stage in ("parsing", "ocr"):
        return round(0.1 * share, 3)
    if stage == "embedding":
        return round(0.1 + 0.89 * share, 3)
    return 0.0


def ignore_progress(stage: str, done: int, total: int) -> None:
    """A progress callback for callers that do not follow progress."""


def _recorded_stage(stage: str) -> Stage | None:
    if stage == "parsing":
        return "parsing"
    if stage == "ocr":  # pages read from their images, slow: reported apart
        return "ocr"
    if stage == "embedding":
        return "embedding"
    return None


class ProgressRecorder(Generic[R]):
    """A progress callback that keeps `record` up to date: `advance(record, stage, progress)`
    makes the new record and `save` writes it, throttled (see the module docstring);
    `answerable(record, pages, chunks)` records what is searchable already. Every call is
    passed on to `forward` first, unthrottled."""

    def __init__(
        self,
        record: R,
        *,
        advance: Callable[[R, Stage, float, int, int], R],
        save: Callable[[R], None],
        forward: ProgressCallback | None = None,
        answerable: Callable[[R, int, int], R] | None = None,
    ) -> None:
        self.record = record
        self._advance = advance
        self._save = save
        self._forward = forward
        self._answerable = answerable
        self._last_write = 0.0

    def __call__(self, stage: str, done: int, total: int) -> None:
        if self._forward is not None:
            self._forward(stage, done, total)
        if stage == ANSWERABLE:
            if self._answerable is not None:
                self.record = self._answerable(self.record, done, total)
            return
        recorded = _recorded_stage(stage)
        if recorded is None:
            return
        now = time.monotonic()
        if recorded == self.record.status and now - self._last_write < PROGRESS_INTERVAL_S:
            return
        self._last_write = now
        progress = max(self.record.progress, overall_progress(recorded, done, total))
        self.record = self._advance(self.record, recorded, progress, done, total)
        self._save(self.record)
