"""Rebuilding the chunk index from the stored original files into a new collection.

The service keeps answering from the active collection while the new one is written; the
switch is one write of the index pointer. Uploads, replaces and deletes that happen during
the rebuild are caught up: before the switch, pass after pass until a pass finds nothing to
do, and after it, until every ingest that may still have been writing to the old
collection has finished.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from ingest.catalog import UNFINISHED, DocumentCatalog, DocumentRecord
from ingest.index import ActiveIndex, IndexRegistry
from ingest.pipeline import IngestPipeline
from ingest.store import ChromaChunkStore
from parsers.errors import ParseError

logger = logging.getLogger(__name__)


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
                chunks = self._target.write_chunks(record)
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
