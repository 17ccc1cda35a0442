"""Folder sync: one pass makes a knowledge base's synced documents mirror a folder.

New files are ingested, changed ones replaced, deleted ones removed; a file that moved (the
same content at a new path, its old path gone) is renamed without being embedded again. The
sync state lives in the documents themselves: each synced document's metadata holds its
path in the folder, and the size and modification time it had when stored, so a pass after
a restart reads only the files whose size or time changed. Documents uploaded by hand carry
no path and are never touched.

A file still being written is left for a later pass: it must keep its size and time for
`settle_s` and while it is read. A file that fails is reported and tried again only once it
changes. Where the documents are written is a `SyncTarget`: this process's index
(`ingest.sync_local`) or a running server (`app.sync_remote`).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path, PurePosixPath
from typing import Protocol

from ingest.catalog import utcnow
from ingest.store import MetadataValue
from ingest.sync_files import FileStamp, scan_folder, stamp_of
from ingest.sync_status import FileProblem, PassReport, SyncState, SyncStatus

logger = logging.getLogger(__name__)

PATH_KEY = "sync_path"  # the file's path in the folder, with "/" between folders
SIZE_KEY = "sync_size"
MTIME_KEY = "sync_mtime_ns"


@dataclass(frozen=True, slots=True)
class SyncedDocument:
    """A document a sync stored, as its target lists it."""

    id: str
    path: str
    sha256: str
    stamp: FileStamp | None
    status: str
    error: str | None = None


def sync_metadata(path: str, stamp: FileStamp) -> dict[str, MetadataValue]:
    """The metadata a synced document carries: its path and the stamp it was stored with."""
    return {PATH_KEY: path, SIZE_KEY: stamp.size, MTIME_KEY: stamp.mtime_ns}


def synced_document(
    document_id: str,
    sha256: str,
    status: str,
    metadata: Mapping[str, MetadataValue],
    error: str | None = None,
) -> SyncedDocument | None:
    """A document as a sync sees it; None for a document no sync stored."""
    path = metadata.get(PATH_KEY)
    if not isinstance(path, str) or not path:
        return None
    size, mtime = metadata.get(SIZE_KEY), metadata.get(MTIME_KEY)
    stamp = (
        FileStamp(int(size), int(mtime))
        if isinstance(size, int) and isinstance(mtime, int)
        else None
    )
    return SyncedDocument(document_id, path, sha256, stamp, status, error)


def filename_of(path: str) -> str:
    return PurePosixPath(path).name


class SyncRefused(Exception):
    """The target refused one file (it cannot be read, is too large...). `retry`: the cause
    is not the file's (a document still being ingested), so the next pass tries again."""

    def __init__(self, message: str, *, retry: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.retry = retry


class SyncCancelled(Exception):
    """The sync was stopped (the service is shutting down) while it waited for a job."""


class SyncTarget(Protocol):
    """Where a sync writes: one knowledge base. Each write raises `SyncRefused` for a file
    the target will not store; anything else ends the pass."""

    def synced(self) -> list[SyncedDocument]: ...

    def add(self, path: str, data: bytes, stamp: FileStamp) -> None: ...

    def replace(self, document_id: str, path: str, data: bytes, stamp: FileStamp) -> None: ...

    def rename(self, document_id: str, path: str, stamp: FileStamp) -> None: ...

    def delete(self, document_id: str) -> None: ...

    def cancel(self) -> None:
        """Stops waiting for work in progress: the pass ends with `SyncCancelled`."""

    def close(self) -> None:
        """Releases what the target holds (a connection)."""


@dataclass(frozen=True, slots=True)
class _Read:
    data: bytes
    sha256: str


class FolderSync:
    """Passes over one folder into one target; one pass at a time."""

    def __init__(
        self,
        target: SyncTarget,
        folder: Path,
        *,
        settle_s: float = 2.0,
        max_bytes: int | None = None,
        on_change: Callable[[str, str], None] | None = None,
    ) -> None:
        self.target = target
        # Told (what, path) after each file written or removed: "added", "failed"...
        self._on_change = on_change or (lambda what, path: None)
        self.folder = folder
        self.settle_s = settle_s
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._cancelled = threading.Event()
        # path -> (stamp, why): not tried again until the file's stamp changes.
        self._failed: dict[str, tuple[FileStamp, str]] = {}
        # path -> (stamp, sha256) of files read whose content was already stored (touched).
        self._seen: dict[str, tuple[FileStamp, str]] = {}
        self._state: SyncState = "idle"
        self._last: PassReport | None = None
        self._last_at: datetime | None = None
        self._error: str | None = None

    def status(self, *, watch: bool = False) -> SyncStatus:
        last = self._last or PassReport()
        return SyncStatus(
            folder=str(self.folder),
            watch=watch,
            state=self._state,
            files=last.in_sync,
            failed=tuple(last.failed),
            skipped=tuple(last.skipped),
            last_pass_at=self._last_at,
            error=self._error,
        )

    def cancel(self) -> None:
        """Ends a pass in progress (and every later one) with `SyncCancelled`."""
        self._cancelled.set()
        self.target.cancel()

    def run_pass(self) -> PassReport:
        """Makes the target mirror the folder once. Raises `SyncFolderMissing`, or what the
        target raised when it could not be written at all (the state says `error`)."""
        with self._lock:
            self._state = "syncing"
            try:
                report = self._pass()
            except Exception as e:
                self._state, self._error = "error", str(e) or type(e).__name__
                raise
            self._state, self._error = "idle", None
            self._last, self._last_at = report, utcnow()
            return report

    # -- one pass ------------------------------------------------------------------------

    def _pass(self) -> PassReport:
        report = PassReport()
        scan = scan_folder(self.folder)
        report.skipped = [
            FileProblem(p, "docrag does not read this type") for p in scan.unsupported
        ]
        files = self._settled(scan.files, report)
        by_path: dict[str, SyncedDocument] = {}
        for document in self.target.synced():
            if document.path in by_path:  # one path, two documents: keep one
                self._delete(document, report)
            else:
                by_path[document.path] = document
        waiting = set(report.waiting)
        # content -> the path holding it (a copy elsewhere is not stored twice)
        stored = {
            d.sha256: d.path for d in by_path.values() if d.path in files or d.path in waiting
        }
        unknown: dict[str, FileStamp] = {}
        for path, stamp in files.items():
            known = by_path.get(path)
            if known is None:
                unknown[path] = stamp
            else:
                self._check_known(known, stamp, report, stored)
        gone = {  # by document id: the documents whose file is no longer there
            d.id: d for d in by_path.values() if d.path not in files and d.path not in waiting
        }
        for path, stamp in unknown.items():
            self._check_new(path, stamp, report, stored, gone)
        for document in gone.values():
            self._delete(document, report)
        for path in set(self._failed) - set(files):
            del self._failed[path]
        for path in set(self._seen) - set(files):
            del self._seen[path]
        return report

    def _check_new(
        self,
        path: str,
        stamp: FileStamp,
        report: PassReport,
        stored: dict[str, str],
        gone: dict[str, SyncedDocument],
    ) -> None:
        """A file no document names: moved here (renamed), a copy, or new (added)."""
        if self._failed_before(path, stamp, report):
            return
        read = self._read(path, stamp, report)
        if read is None:
            return
        moved = min(
            (d for d in gone.values() if d.sha256 == read.sha256),
            key=lambda d: d.status != "ready",
            default=None,
        )
        if moved is not None:
            del gone[moved.id]
        if moved is not None and moved.status == "ready":
            rename = partial(self.target.rename, moved.id, path, stamp)
            if self._write(report, path, stamp, rename, "renamed"):
                report.renamed += 1
            return
        if moved is not None:  # its failed document: start over
            self._delete(moved, report)
        if read.sha256 in stored:
            problem = f"the same content as {stored[read.sha256]}; stored once"
            report.skipped.append(FileProblem(path, problem))
            return
        add = partial(self.target.add, path, read.data, stamp)
        if self._write(report, path, stamp, add, "added"):
            report.added += 1
            stored[read.sha256] = path

    def _check_known(
        self,
        document: SyncedDocument,
        stamp: FileStamp,
        report: PassReport,
        stored: dict[str, str],
    ) -> None:
        path = document.path
        if document.status not in ("ready", "failed"):  # a background job is ingesting it
            if document.stamp == stamp:
                report.unchanged += 1
            else:
                report.waiting.append(path)  # changed since: once the job is done
            return
        if document.stamp == stamp or self._seen.get(path) == (stamp, document.sha256):
            if document.status == "failed":
                report.failed.append(FileProblem(path, document.error or "failed"))
            else:
                report.unchanged += 1
            return
        if self._failed_before(path, stamp, report):
            return
        read = self._read(path, stamp, report)
        if read is None:
            return
        if read.sha256 == document.sha256 and document.status == "ready":
            self._seen[path] = (stamp, read.sha256)  # only touched
            report.unchanged += 1
            return
        if document.status == "failed":  # a failed document cannot be replaced: start over
            self.target.delete(document.id)
            write = partial(self.target.add, path, read.data, stamp)
        else:
            write = partial(self.target.replace, document.id, path, read.data, stamp)
        if self._write(report, path, stamp, write, "replaced"):
            report.replaced += 1
            stored.pop(document.sha256, None)
            stored[read.sha256] = path

    def _write(
        self,
        report: PassReport,
        path: str,
        stamp: FileStamp,
        write: Callable[[], None],
        outcome: str,
    ) -> bool:
        """One write to the target; a refused file is reported (and remembered, so that it
        is tried again only once it changes)."""
        try:
            write()
        except SyncRefused as e:
            self._on_change("failed", path)
            report.failed.append(FileProblem(path, e.message))
            if not e.retry:
                self._failed[path] = (stamp, e.message)
            logger.info("sync of %s: %s", path, e.message)
            return False
        self._failed.pop(path, None)
        self._on_change(outcome, path)
        return True

    def _delete(self, document: SyncedDocument, report: PassReport) -> None:
        self.target.delete(document.id)
        self._on_change("deleted", document.path)
        self._seen.pop(document.path, None)
        report.deleted += 1

    def _failed_before(self, path: str, stamp: FileStamp, report: PassReport) -> bool:
        """A file that failed and has not changed since: reported, not tried again."""
        failed = self._failed.get(path)
        if failed is None or failed[0] != stamp:
            return False
        report.failed.append(FileProblem(path, failed[1]))
        return True

    def _settled(self, files: dict[str, FileStamp], report: PassReport) -> dict[str, FileStamp]:
        """The files that kept their size and time for `settle_s`; the others are left for a
        later pass (`report.waiting`)."""
        now_ns = time.time_ns()
        settle_ns = int(self.settle_s * 1e9)
        young = {p: s for p, s in files.items() if now_ns - s.mtime_ns < settle_ns}
        if not young:
            return files
        newest = max(s.mtime_ns for s in young.values())
        time.sleep(min(self.settle_s, max(0.0, (newest + settle_ns - now_ns) / 1e9)))
        settled = dict(files)
        for path, stamp in young.items():
            try:
                now = stamp_of((self.folder / path).stat())
            except OSError:
                now = None
            if now != stamp:
                del settled[path]
                report.waiting.append(path)
        return settled

    def _read(self, path: str, stamp: FileStamp, report: PassReport) -> _Read | None:
        """The file's bytes and hash; None (waiting) when it changed while it was read."""
        if self._cancelled.is_set():
            raise SyncCancelled(f"the sync of {self.folder} was stopped")
        if self.max_bytes is not None and stamp.size > self.max_bytes:
            problem = f"larger than the {self.max_bytes / 1048576:g} MiB upload limit"
            report.failed.append(FileProblem(path, problem))
            self._failed[path] = (stamp, problem)
            return None
        full = self.folder / path
        try:
            data = full.read_bytes()
            after = stamp_of(full.stat())
        except OSError as e:
            report.failed.append(FileProblem(path, f"cannot be read: {e.strerror or e}"))
            return None
        if after != stamp or len(data) != stamp.size:
            report.waiting.append(path)
            return None
        return _Read(data, hashlib.sha256(data).hexdigest())
