"""One progress recorder for documents and jobs: a write at every change of stage, at most one
per interval within a stage, and progress that never goes back."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from ingest import progress as progress_module
from ingest.progress import ProgressRecorder, Stage


@dataclass(frozen=True)
class Tracked:
    status: str
    progress: float


def test_a_write_per_stage_change_and_none_within_the_interval(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(progress_module, "PROGRESS_INTERVAL_S", 3600.0)
    saved: list[Tracked] = []
    forwarded: list[tuple[str, int, int]] = []

    def advance(record: Tracked, stage: Stage, progress: float, done: int, total: int) -> Tracked:
        return Tracked(stage, progress)

    recorder = ProgressRecorder(
        Tracked("queued", 0.0),
        advance=advance,
        save=saved.append,
        forward=lambda *call: forwarded.append(call),
    )
    recorder("parsing", 1, 10)
    recorder("parsing", 9, 10)  # within the interval: not written
    recorder("embedding", 2, 4)
    recorder("documents", 1, 3)  # passed on, never recorded
    assert saved == [Tracked("parsing", 0.01), Tracked("embedding", 0.545)]
    assert recorder.record == saved[-1]
    assert len(forwarded) == 4


def test_progress_never_goes_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(progress_module, "PROGRESS_INTERVAL_S", 0.0)
    saved: list[Tracked] = []
    recorder = ProgressRecorder(
        Tracked("queued", 0.0),
        advance=lambda r, s, p, done, total: Tracked(s, p),
        save=saved.append,
    )
    recorder("embedding", 3, 4)
    recorder("embedding", 3, 8)  # the estimate of chunks to come grew
    assert [t.progress for t in saved] == [0.767, 0.767]
