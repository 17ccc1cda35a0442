"""Which chunk collection answers questions, and with which embedding model.

The pointer is one record in Chroma (beside the lexical generation tokens), so every process
sharing a Chroma server switches together when `docrag reindex` finishes a new collection.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from ingest.store import RecordStore


@dataclass(frozen=True, slots=True)
class ActiveIndex:
    collection: str  # the Chroma collection holding the chunks
    model: str  # what loads the embedding model: a hub id or a local directory
    fingerprint: str  # the embedder's fingerprint, as stored on the collection


class IndexRegistry:
    _RECORD_ID = "active_index"

    def __init__(self, records: RecordStore, prefix: str) -> None:
        self._records = records
        self._prefix = prefix

    @property
    def legacy_collection(self) -> str:
        """The collection every docrag before reindex wrote to, and the first one now."""
        return f"{self._prefix}_chunks"

    def is_chunk_collection(self, name: str) -> bool:
        return name == self.legacy_collection or name.startswith(self.legacy_collection + "_r")

    def active(self) -> ActiveIndex | None:
        found = self._records.get([self._RECORD_ID]).get(self._RECORD_ID)
        if not found:
            return None
        meta = found[0]
        return ActiveIndex(
            collection=str(meta["collection"]),
            model=str(meta["model"]),
            fingerprint=str(meta["fingerprint"]),
        )

    def activate(self, index: ActiveIndex) -> None:
        self._records.put(
            self._RECORD_ID,
            {
                "collection": index.collection,
                "model": index.model,
                "fingerprint": index.fingerprint,
                "activated_at": datetime.now(UTC).isoformat(),
            },
        )

    def new_collection_name(self) -> str:
        # Chroma names: 3-512 characters of [a-zA-Z0-9._-], starting and ending alphanumeric.
        stamp = datetime.now(UTC).strftime("%Y%m%dt%H%M%S%f")
        return f"{self.legacy_collection}_r{stamp}"
