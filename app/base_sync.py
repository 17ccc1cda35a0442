"""The folder syncs of a process's knowledge bases. A base bound to a folder (its
`sync_folder`) has one `FolderSync`: with `watch`, a `FolderWatcher` keeps it in step while
the server runs (its first pass is the catch-up after a restart: only changed files are
read); without, a pass runs when asked (`POST /knowledge-bases/{name}/sync`, `docrag sync`).
Files are added and replaced through the base's background jobs, so their progress shows in
the jobs API."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from app.library import Library
from ingest.sync import FolderSync
from ingest.sync_local import LocalSyncTarget
from ingest.watching import FolderWatcher

logger = logging.getLogger(__name__)


class BaseSyncs:
    def __init__(self, *, max_bytes: int, watch: bool = True, settle_s: float = 2.0) -> None:
        self._max_bytes = max_bytes
        self._watch = watch  # whether this process runs watchers (one process of a deployment)
        self._settle_s = settle_s
        self._lock = threading.Lock()
        self._syncs: dict[str, FolderSync] = {}
        self._watchers: dict[str, FolderWatcher] = {}
        self._passes: dict[str, threading.Thread] = {}

    def bind(self, library: Library, *, start: bool) -> None:
        """(Re)binds a base to its folder, if it has one; starts its watcher with `start`."""
        self.unbind(library.name)
        folder = library.base.sync_folder
        if not folder:
            return
        sync = FolderSync(
            LocalSyncTarget(library, use_jobs=True),
            Path(folder),
            settle_s=self._settle_s,
            max_bytes=self._max_bytes,
        )
        with self._lock:
            self._syncs[library.name] = sync
        if start and library.base.watch and self._watch:
            watcher = FolderWatcher(sync)
            try:
                watcher.start()
            except Exception as e:  # a folder gone missing: shown in the status, not fatal
                logger.warning("cannot watch %s for knowledge base %s: %s", folder, library.name, e)
                return
            with self._lock:
                self._watchers[library.name] = watcher

    def unbind(self, name: str) -> None:
        with self._lock:
            sync = self._syncs.pop(name, None)
            watcher = self._watchers.pop(name, None)
            running = self._passes.pop(name, None)
        if watcher is not None:
            watcher.stop()
        elif sync is not None:
            sync.cancel()
        if running is not None:
            running.join(timeout=30)

    def close(self) -> None:
        with self._lock:
            names = list(self._syncs)
        for name in names:
            self.unbind(name)

    def status(self, name: str) -> dict[str, object] | None:
        with self._lock:
            sync = self._syncs.get(name)
            watching = name in self._watchers
        if sync is None:
            return None
        return sync.status(watch=watching).to_json()

    def run_pass(self, name: str) -> bool:
        """Starts a pass in the background; False when the base has no folder. A pass already
        running is not started twice."""
        with self._lock:
            sync = self._syncs.get(name)
            if sync is None:
                return False
            running = self._passes.get(name)
            if running is not None and running.is_alive():
                return True
            thread = threading.Thread(
                target=self._pass, args=(sync,), name=f"docrag-sync-{name}", daemon=True
            )
            self._passes[name] = thread
        thread.start()
        return True

    @staticmethod
    def _pass(sync: FolderSync) -> None:
        try:
            sync.run_pass()
        except Exception:
            logger.exception("sync of %s failed", sync.folder)
