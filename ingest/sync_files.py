"""The files of a synced folder: which ones are documents, and what says they changed."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from parsers.registry import SUPPORTED_EXTENSIONS, file_extension

# Files that editors, office suites and downloads write beside the real one.
_TEMPORARY_SUFFIXES = (".part", ".partial", ".crdownload", ".download", ".tmp", ".swp", "~")


@dataclass(frozen=True, slots=True)
class FileStamp:
    """What says a file may have changed without reading it."""

    size: int
    mtime_ns: int


class SyncFolderMissing(Exception):
    """The synced folder does not exist (or is not a folder)."""


def is_temporary(name: str) -> bool:
    """Hidden files, office lock files and partial downloads: never documents."""
    return name.startswith((".", "~")) or name.lower().endswith(_TEMPORARY_SUFFIXES)


@dataclass(frozen=True, slots=True)
class FolderScan:
    files: dict[str, FileStamp]
    unsupported: list[str]


def stamp_of(stat: os.stat_result) -> FileStamp:
    return FileStamp(stat.st_size, stat.st_mtime_ns)


def scan_folder(folder: Path) -> FolderScan:
    """Every file below `folder` (hidden folders and temporary files left out), by path."""
    if not folder.is_dir():
        raise SyncFolderMissing(f"{folder} is not a folder; check the path given to sync")
    files: dict[str, FileStamp] = {}
    unsupported: list[str] = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not is_temporary(d))
        for name in sorted(names):
            if is_temporary(name):
                continue
            full = Path(root, name)
            path = full.relative_to(folder).as_posix()
            try:
                stat = full.stat()
            except OSError:
                continue  # removed while the folder was read
            if file_extension(name) not in SUPPORTED_EXTENSIONS:
                unsupported.append(path)
            elif os.path.isfile(full):
                files[path] = stamp_of(stat)
    return FolderScan(files, unsupported)
