"""What a sync pass did, and what a sync shows (`GET /knowledge-bases`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal


@dataclass(frozen=True, slots=True)
class FileProblem:
    path: str
    error: str


@dataclass
class PassReport:
    """What one pass did."""

    added: int = 0
    replaced: int = 0
    renamed: int = 0
    deleted: int = 0
    unchanged: int = 0
    failed: list[FileProblem] = field(default_factory=list)
    skipped: list[FileProblem] = field(default_factory=list)  # unsupported, duplicates
    waiting: list[str] = field(default_factory=list)  # still being written

    @property
    def changes(self) -> int:
        return self.added + self.replaced + self.renamed + self.deleted

    @property
    def in_sync(self) -> int:
        """Files of the folder that have their document."""
        return self.added + self.replaced + self.renamed + self.unchanged


SyncState = Literal["idle", "syncing", "error"]


@dataclass(frozen=True, slots=True)
class SyncStatus:
    """A sync as `GET /knowledge-bases` shows it."""

    folder: str
    watch: bool
    state: SyncState
    files: int
    failed: tuple[FileProblem, ...] = ()
    skipped: tuple[FileProblem, ...] = ()
    last_pass_at: datetime | None = None
    error: str | None = None  # why the last pass stopped, when it did

    def to_json(self) -> dict[str, object]:
        return {
            "folder": self.folder,
            "watch": self.watch,
            "state": self.state,
            "files": self.files,
            "failed": [{"path": p.path, "error": p.error} for p in self.failed],
            "skipped": [{"path": p.path, "error": p.error} for p in self.skipped],
            "last_pass_at": self.last_pass_at.isoformat() if self.last_pass_at else None,
            "error": self.error,
        }
