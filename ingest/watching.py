"""Watch mode: a folder kept in sync while the service runs (watchdog).

A pass runs at start (so a restart catches up with what changed while it was down), then
once the folder has been quiet for `debounce_s` after a change. A pass that found files
still being written runs again after `settle_s`; a pass every `rescan_s` catches what the
file-system events missed (network folders report none).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from watchdog.events import (
    EVENT_TYPE_CLOSED,
    EVENT_TYPE_CREATED,
    EVENT_TYPE_DELETED,
    EVENT_TYPE_EVENTS_LOST,
    EVENT_TYPE_MODIFIED,
    EVENT_TYPE_MOVED,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer

from ingest.sync import FolderSync, SyncCancelled, SyncStatus
from ingest.sync_files import SyncFolderMissing

logger = logging.getLogger(__name__)

# Opening or reading a file is no change (and a pass reads files itself).
_CHANGES = frozenset(
    {
        EVENT_TYPE_CREATED,
        EVENT_TYPE_MODIFIED,
        EVENT_TYPE_DELETED,
        EVENT_TYPE_MOVED,
        EVENT_TYPE_CLOSED,
        EVENT_TYPE_EVENTS_LOST,
    }
)


class _Changes(FileSystemEventHandler):
    def __init__(self, on_change: Callable[[], None]) -> None:
        self._on_change = on_change

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in _CHANGES:
            self._on_change()


class FolderWatcher:
    """Runs `sync`'s passes on a thread of its own between `start` and `stop`."""

    def __init__(
        self,
        sync: FolderSync,
        *,
        debounce_s: float = 1.0,
        rescan_s: float = 300.0,
        retry_s: float = 30.0,
    ) -> None:
        self.sync = sync
        self.debounce_s = debounce_s
        self.rescan_s = rescan_s
        self.retry_s = retry_s
        self._changed_at: float | None = None
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._observer: Observer | None = None  # type: ignore[valid-type]

    def status(self) -> SyncStatus:
        return self.sync.status(watch=True)

    def start(self) -> None:
        """Starts watching; raises `SyncFolderMissing` when the folder is not there."""
        folder = self.sync.folder
        if not folder.is_dir():
            raise SyncFolderMissing(f"{folder} is not a folder; check the folder to watch")
        observer = Observer()
        observer.schedule(_Changes(self._changed), str(folder), recursive=True)
        observer.daemon = True
        observer.start()
        self._observer = observer
        self._thread = threading.Thread(
            target=self._run, name=f"docrag-sync-{folder.name}", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stops watching; a pass in progress ends at its next file (or job)."""
        self._stopping.set()
        self.sync.cancel()
        self._wake.set()
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout)
        if self._thread is not None:
            self._thread.join(timeout)
        self._observer = self._thread = None

    def _changed(self) -> None:
        self._changed_at = time.monotonic()
        self._wake.set()

    def _run(self) -> None:
        scheduled = time.monotonic()  # a pass at start
        while not self._stopping.is_set():
            changed_at = self._changed_at
            due = scheduled if changed_at is None else min(scheduled, changed_at + self.debounce_s)
            wait = due - time.monotonic()
            if wait > 0:
                self._wake.wait(wait)
                self._wake.clear()
                continue
            self._changed_at = None  # a change from now on asks for another pass
            scheduled = time.monotonic() + self._run_pass()

    def _run_pass(self) -> float:
        """Runs one pass; returns how long until the next one is due without changes."""
        try:
            report = self.sync.run_pass()
        except SyncCancelled:
            return 0.0
        except Exception:
            logger.exception("sync of %s failed; trying again later", self.sync.folder)
            return self.retry_s
        if report.changes or report.failed:
            logger.info(
                "synced %s: %d added, %d replaced, %d renamed, %d deleted, %d failed",
                self.sync.folder,
                report.added,
                report.replaced,
                report.renamed,
                report.deleted,
                len(report.failed),
            )
        return self.sync.settle_s if report.waiting else self.rescan_s
