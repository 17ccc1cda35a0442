"""Reindexing: the active-index pointer, the reindexer that rebuilds the chunk index from
the stored originals into a new collection, and the lease that lets one reindex run at once.

The pointer is one record in Chroma (beside the lexical index's change token), so every
process sharing a Chroma server switches together when a reindex finishes. The service keeps
answering from the active collection while the new one is written; the switch is one write
of the pointer. Uploads, replaces and deletes that happen during the rebuild are caught up:
before the switch, pass after pass until a pass finds nothing to do, and after it, until
every ingest that may still have been writing to the old collection has finished.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from ingest.catalog import UNFINISHED, DocumentCatalog, DocumentRecord
from ingest.ids import first_chunk_collection, is_chunk_collection, new_chunk_collection
from ingest.pipeline import IngestPipeline
from ingest.progress import ignore_progress
from ingest.reading import ChunkFeed
from ingest.store import ChromaChunkStore, RecordStore
from parsers.errors import ParseError

logger = logging.getLogger(__name__)

# A reindex records a lease beside the index pointer; another one is refused while it is fresh.
LEASE_ID = "reindex_lease"
LEASE_STALE = timedelta(minutes=10)


# -- the pointer -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ActiveIndex:
    collection: str  # the Chroma collection holding the chunks
    model: str  # what loads the embedding model: a hub id or a local directory
    fingerprint: str  # the embedder's fingerprint, as stored on the collection


class IndexRegistry:
    """Which chunk collection answers questions, and with which embedding model."""

    _RECORD_ID = "active_index"

    def __init__(self, records: RecordStore, prefix: str) -> None:
        self._records = records
        self._prefix = prefix

    @property
    def legacy_collection(self) -> str:
        """The collection every docrag before reindex wrote to, and the first one now."""
        return first_chunk_collection(self._prefix)

    def is_chunk_collection(self, name: str) -> bool:
        return is_chunk_collection(self._prefix, name)

    def new_collection_name(self) -> str:
        return new_chunk_collection(self._prefix)

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


# -- the lease ---------------------------------------------------------------------------------


class ReindexRunning(RuntimeError):
    """Another reindex of the same collections is in progress."""


class ReindexLease:
    """Held by the one reindex running; renewed as it goes, so a crashed one's lease expires."""

    def __init__(self, records: RecordStore) -> None:
        self._records = records
        self._owner = uuid.uuid4().hex

    def __enter__(self) -> ReindexLease:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def acquire(self) -> None:
        found = self._records.get([LEASE_ID]).get(LEASE_ID)
        if found:
            renewed = datetime.fromisoformat(str(found[0]["renewed_at"]))
            if datetime.now(UTC) - renewed < LEASE_STALE:
                raise ReindexRunning(
                    f"another reindex is running (started {found[0]['started_at']}); wait for "
                    "it to finish (GET /index shows its progress)"
                )
        now = datetime.now(UTC).isoformat()
        self._records.put(LEASE_ID, {"owner": self._owner, "started_at": now, "renewed_at": now})

    def renew(self) -> None:
        found = self._records.get([LEASE_ID]).get(LEASE_ID)
        if found and found[0].get("owner") == self._owner:
            meta = {**found[0], "renewed_at": datetime.now(UTC).isoformat()}
            self._records.put(LEASE_ID, meta)

    def release(self) -> None:
        found = self._records.get([LEASE_ID]).get(LEASE_ID)
        if found and found[0].get("owner") == self._owner:
            self._records.delete([LEASE_ID])


# -- the reindexer -----------------------------------------------------------------------------


def reembed(pipeline: IngestPipeline, record: DocumentRecord) -> int:
    """Embeds a stored document again, from its original file, into `pipeline`'s store under
    the record's id and generation; returns the number of chunks. Writes nothing to the
    catalog."""
    data = pipeline.files.read(record.id, record.generation)
    with ChunkFeed(pipeline.reader, data, record.filename) as feed:
        _, count = pipeline.writer.write_streamed(record, feed, ignore_progress)
    pipeline.notify_change()
    return count


@dataclass
class ReindexReport:
    collection: str
    previous: str | None
    model: str
    documents: int = 0
    chunks: int = 0
    seconds: float = 0.0
    switched: bool = False
    failed: dict[str, str] = field(default_factory=dict)  # document id -> why


class Reindexer:
    """Writes every ready document into `target`'s (new) collection, then switches to it."""

    def __init__(
        self,
        *,
        catalog: DocumentCatalog,
        registry: IndexRegistry,
        target: IngestPipeline,
        store: ChromaChunkStore,
        model: str,
        settle_grace_s: float = 2.0,
        settle_timeout_s: float = 600.0,
        poll_s: float = 1.0,
    ) -> None:
        self._catalog = catalog
        self._registry = registry
        self._target = target
        self._store = store
        self._model = model
        self._grace = settle_grace_s
        self._timeout = settle_timeout_s
        self._poll = poll_s
        self._written: dict[str, tuple[int, int]] = {}  # document id -> (generation, chunks)

    def run(
        self,
        *,
        skip_failed: bool = False,
        on_document: Callable[[DocumentRecord, int], None] | None = None,
    ) -> ReindexReport:
        active = self._registry.active()
        report = ReindexReport(
            collection=self._store.name,
            previous=active.collection if active else None,
            model=self._model,
        )
        started = time.perf_counter()
        while self._catch_up(report, on_document):
            pass
        if report.failed and not skip_failed:
            report.seconds = time.perf_counter() - started
            return report
        self._registry.activate(ActiveIndex(self._store.name, self._model, self._store.fingerprint))
        switched_at = time.time()
        report.switched = True
        logger.info("switched the index to %s", self._store.name)
        self._settle(report, on_document, switched_at)
        self._update_counts()
        report.documents = len(self._written)
        report.chunks = sum(chunks for _, chunks in self._written.values())
        report.seconds = time.perf_counter() - started
        return report

    def _catch_up(
        self,
        report: ReindexReport,
        on_document: Callable[[DocumentRecord, int], None] | None,
    ) -> bool:
        """One pass: writes what is ready but not (or not in this generation) in the new
        collection, removes what was deleted or failed since. True if it changed anything."""
        records = {r.id: r for r in self._catalog.all()}
        changed = False
        for document_id in list(self._written):
            record = records.get(document_id)
            if record is None or record.status == "failed":
                self._store.delete_document(document_id)
                del self._written[document_id]
                changed = True
        for record in sorted(records.values(), key=lambda r: r.created_at):
            if record.status != "ready" or record.id in report.failed:
                continue
            done = self._written.get(record.id)
            if done is not None and done[0] == record.generation:
                continue
            if done is not None:
                self._store.delete_document(record.id)  # replaced since it was written
            try:
                chunks = reembed(self._target, record)
            except (ParseError, FileNotFoundError) as e:
                self._store.delete_document(record.id)
                current = self._catalog.get(record.id)
                if current != record:
                    changed = True  # deleted or replaced meanwhile: the next pass sees it
                    continue
                why = e.message if isinstance(e, ParseError) else "its stored file is missing"
                report.failed[record.id] = f"{record.filename}: {why}"
                logger.warning("reindex: %s (%s) failed: %s", record.id, record.filename, why)
                continue
            self._written[record.id] = (record.generation, chunks)
            changed = True
            if on_document is not None:
                on_document(record, chunks)
        return changed

    def _settle(
        self,
        report: ReindexReport,
        on_document: Callable[[DocumentRecord, int], None] | None,
        switched_at: float,
    ) -> None:
        """After the switch: processes that have not yet seen it may still finish ingests into
        the old collection. Waits for those (the ones that began before the switch, plus a
        grace for the processes to notice it) and copies them over."""
        time.sleep(self._grace)
        cutoff = switched_at + self._grace
        deadline = time.monotonic() + self._timeout
        while True:
            self._catch_up(report, on_document)
            waiting = [
                r
                for r in self._catalog.all()
                if r.status in UNFINISHED and r.created_at.timestamp() <= cutoff
            ]
            if not waiting:
                return
            if time.monotonic() >= deadline:
                logger.warning(
                    "reindex: %d ingest(s) begun before the switch are still running; run "
                    "`docrag reindex` again once they finish if they are missing",
                    len(waiting),
                )
                return
            time.sleep(self._poll)

    def _update_counts(self) -> None:
        """The catalog's chunk counts now describe the new collection."""
        for document_id, (generation, chunks) in self._written.items():
            record = self._catalog.get(document_id)
            if record is not None and record.generation == generation and record.chunks != chunks:
                self._catalog.put(replace(record, chunks=chunks))
