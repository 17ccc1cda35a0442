"""Stored originals: the uploaded bytes of every document, one file per generation.

They let a queued job survive a restart, let `docrag reindex` embed every document again,
and are what the web viewer shows. A file is named by document id (plus `.g<generation>`
after a replace), never by the name it was uploaded under.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from pathlib import Path

_PLAIN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
_PARTIAL = ".part"


def write_atomically(path: Path, data: bytes) -> None:
    """Writes `data` to `path` so that a reader (or a crash) never sees half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + _PARTIAL)
    partial.write_bytes(data)
    partial.replace(path)


class StoredFiles:
    """The original files under one directory."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path_of(self, document_id: str, generation: int = 0) -> Path:
        """Where a document's original is (or would be) stored. Refuses an id that is not a
        plain name, so no caller can reach outside the directory."""
        if not _PLAIN_ID.fullmatch(document_id):
            raise ValueError(f"not a document id: {document_id!r}")
        name = document_id if generation == 0 else f"{document_id}.g{generation}"
        return self.root / name

    def exists(self, document_id: str, generation: int = 0) -> bool:
        return self.path_of(document_id, generation).is_file()

    def read(self, document_id: str, generation: int = 0) -> bytes:
        """The stored bytes (`FileNotFoundError` when there are none)."""
        return self.path_of(document_id, generation).read_bytes()

    def save(self, document_id: str, data: bytes, generation: int = 0) -> None:
        path = self.path_of(document_id, generation)
        if path.exists() and path.stat().st_size == len(data):
            return  # stored when its job was queued
        write_atomically(path, data)

    def unlink(self, document_id: str, generation: int = 0) -> None:
        path = self.path_of(document_id, generation)
        path.unlink(missing_ok=True)
        path.with_name(path.name + _PARTIAL).unlink(missing_ok=True)

    def remove_strays(self, generations: Mapping[str, int], min_age_s: float = 0.0) -> None:
        """Removes every file but the current generation's original of each document in
        `generations` (document id -> its current generation). Files younger than
        `min_age_s` are kept: another process may have stored one before its record."""
        if not self.root.is_dir():
            return
        young = time.time() - min_age_s
        for path in self.root.iterdir():
            if not path.is_file() or (min_age_s and path.stat().st_mtime > young):
                continue
            document_id, _, rest = path.name.partition(".")
            current = generations.get(document_id)
            generation = int(rest[1:]) if rest[:1] == "g" and rest[1:].isdigit() else 0
            # A queued job's original is its document's current (first) generation: kept.
            if current is None or rest.endswith(_PARTIAL[1:]) or generation != current:
                path.unlink(missing_ok=True)
