"""The change feed: which documents changed in which chunk collection, and when.

Every process that writes chunks adds one entry per document it changed, after the chunks
are in Chroma and before the document is marked ready. Every lexical index reads the entries
newer than its cursor and fetches only those documents' chunks, so an index follows the
writes of every process sharing the Chroma server, whatever their number.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ingest.store import StoredChunk

# Entries older than this are removed; an index that was away longer builds itself again.
RETENTION_S = 7 * 24 * 3600.0
_PLACEHOLDER_VECTOR = [1.0]  # entries are found by their metadata, never by similarity


@dataclass(frozen=True, slots=True)
class Change:
    id: str
    document_id: str
    at: float  # the writer's clock, seconds since the epoch
    origin: str  # the index that wrote it


class EntryStore(Protocol):
    """A Chroma collection of small rows queried by their metadata."""

    def add(self, chunks: Sequence[StoredChunk], vectors: Sequence[Sequence[float]]) -> None: ...

    def get(
        self, where: Mapping[str, Any] | None = None, limit: int | None = None
    ) -> list[StoredChunk]: ...

    def delete_ids(self, ids: Sequence[str]) -> None: ...


class ChangeFeed:
    def __init__(self, entries: EntryStore, clock: Any = time.time) -> None:
        self._entries = entries
        self._clock = clock
        self._pruned_at = 0.0

    def now(self) -> float:
        return float(self._clock())

    def announce(self, collection: str, document_ids: Iterable[str], origin: str) -> None:
        at = self.now()
        changes = [
            StoredChunk(
                id=f"{collection}:{uuid.uuid4().hex}",
                document_id=document_id,
                text=collection,
                metadata={"collection": collection, "at": at, "origin": origin},
            )
            for document_id in dict.fromkeys(document_ids)
        ]
        if changes:
            self._entries.add(changes, [_PLACEHOLDER_VECTOR] * len(changes))
        if at - self._pruned_at > 3600:
            self._pruned_at = at
            self.prune(collection, at - RETENTION_S)

    def since(self, collection: str, after: float) -> list[Change]:
        """Every entry of `collection` written at or after `after`, oldest first."""
        found = self._entries.get(
            where={"$and": [{"collection": collection}, {"at": {"$gte": after}}]}
        )
        changes = [
            Change(
                e.id,
                e.document_id,
                float(e.metadata.get("at", 0.0)),
                str(e.metadata.get("origin", "")),
            )
            for e in found
        ]
        changes.sort(key=lambda c: c.at)
        return changes

    def prune(self, collection: str, before: float) -> None:
        old = self._entries.get(
            where={"$and": [{"collection": collection}, {"at": {"$lt": before}}]}, limit=5000
        )
        self._entries.delete_ids([e.id for e in old])
