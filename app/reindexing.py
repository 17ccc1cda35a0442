"""`docrag reindex`: every stored document embedded again into a new collection, then one
switch. Running services keep answering from the old collection until the switch and move
to the new one (and its model) on their next request."""

from __future__ import annotations

import logging
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

from app.config import Settings
from app.part_builders import (
    build_catalog,
    build_chunk_store,
    build_embedder,
    build_lexical,
    build_parser,
    build_pipeline,
    build_registry,
    build_reindex_lease,
    connect,
    lexical_directory,
)
from ingest import store as store_module
from ingest.catalog import DocumentRecord
from ingest.embedding import Embedder
from ingest.reindex import Reindexer, ReindexReport, ReindexRunning

if TYPE_CHECKING:
    from app.library import Library

logger = logging.getLogger(__name__)


def reindex(
    settings: Settings,
    *,
    model: str | None = None,
    embedder: Embedder | None = None,
    skip_failed: bool = False,
    keep_previous: bool = False,
    settle_timeout_s: float = 600.0,
    on_start: Callable[[list[DocumentRecord]], None] | None = None,
    on_document: Callable[[DocumentRecord, int], None] | None = None,
) -> tuple[ReindexReport, list[str]]:
    """Rebuilds the index with `model` (default: the configured one). Returns the report and
    the collections removed: leftovers of interrupted reindexes, and the previous one unless
    `keep_previous`."""
    client = connect(settings)
    with build_reindex_lease(settings, client) as lease:
        catalog = build_catalog(settings, client)
        registry = build_registry(settings, client)
        active = registry.active()
        current = active.collection if active else registry.legacy_collection
        removed = [
            name
            for name in store_module.collection_names(client)
            if registry.is_chunk_collection(name) and name != current
        ]
        for name in removed:
            _drop(settings, client, name)
        model = model or settings.embedding.model
        embedder = embedder or build_embedder(settings, model)
        store = build_chunk_store(client, registry.new_collection_name(), embedder)
        lexical = build_lexical(settings, client, store)
        parser = build_parser(settings)
        try:
            target = build_pipeline(
                settings, embedder, store, catalog, parser=parser, lexical=lexical
            )
            if on_start is not None:
                on_start([r for r in catalog.all() if r.status == "ready"])

            def written(record: DocumentRecord, chunks: int) -> None:
                lease.renew()
                if on_document is not None:
                    on_document(record, chunks)

            reindexer = Reindexer(
                catalog=catalog,
                registry=registry,
                target=target,
                store=store,
                model=model,
                settle_timeout_s=settle_timeout_s,
            )
            try:
                report = reindexer.run(skip_failed=skip_failed, on_document=written)
            except BaseException:
                _drop(settings, client, store.name)  # interrupted: the old index stays active
                raise
        finally:
            parser.close()
        if not report.switched:
            _drop(settings, client, store.name)
        elif not keep_previous and current in store_module.collection_names(client):
            _drop(settings, client, current)
            removed.append(current)
        return report, removed


def _drop(settings: Settings, client: object, name: str) -> None:
    store_module.drop_collection(client, name)
    shutil.rmtree(lexical_directory(settings, name), ignore_errors=True)
    logger.info("removed collection %s", name)


ReindexState = Literal["idle", "running", "switched", "not_switched", "failed"]


@dataclass(frozen=True)
class ReindexStatus:
    status: ReindexState = "idle"
    model: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    documents_total: int = 0
    documents_done: int = 0
    chunks: int = 0
    collection: str | None = None
    failed: dict[str, str] = field(default_factory=dict)
    error: str | None = None


class ReindexRunner:
    """Runs one reindex at a time in the service's process (the only way with embedded
    Chroma, which belongs to one process), then switches the service over at once."""

    def __init__(self, parts: Library) -> None:
        self._parts = parts
        self._lock = threading.Lock()
        self._status = ReindexStatus()
        self._thread: threading.Thread | None = None

    def status(self) -> ReindexStatus:
        with self._lock:
            return self._status

    def start(self, *, skip_failed: bool = False, keep_previous: bool = False) -> ReindexStatus:
        with self._lock:
            if self._status.status == "running":
                raise ReindexRunning(
                    "a reindex is already running in this service; GET /index shows its progress"
                )
            settings = self._parts.settings
            self._status = ReindexStatus(
                status="running", model=settings.embedding.model, started_at=datetime.now(UTC)
            )
            self._thread = threading.Thread(
                target=self._run,
                args=(skip_failed, keep_previous),
                name="docrag-reindex",
                daemon=True,
            )
            self._thread.start()
            return self._status

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def _update(self, **changes: object) -> None:
        with self._lock:
            self._status = replace(self._status, **changes)  # type: ignore[arg-type]

    def _run(self, skip_failed: bool, keep_previous: bool) -> None:
        parts = self._parts
        # The model already loaded is reused when it is the configured one.
        embedder = None if parts.reindex_needed else parts.embedder

        def on_start(records: list[DocumentRecord]) -> None:
            self._update(documents_total=len(records))

        def on_document(record: DocumentRecord, chunks: int) -> None:
            status = self.status()
            self._update(documents_done=status.documents_done + 1, chunks=status.chunks + chunks)

        try:
            report, _ = reindex(
                parts.settings,
                embedder=embedder,
                skip_failed=skip_failed,
                keep_previous=keep_previous,
                on_start=on_start,
                on_document=on_document,
            )
        except ReindexRunning as e:
            self._update(status="failed", error=str(e), finished_at=datetime.now(UTC))
            return
        except Exception as e:
            logger.exception("reindex failed")
            self._update(
                status="failed",
                error=f"the reindex failed ({type(e).__name__}); the server log has details. "
                "The index in use is unchanged.",
                finished_at=datetime.now(UTC),
            )
            return
        if report.switched:
            parts.follow_index(max_age_s=0)
        self._update(
            status="switched" if report.switched else "not_switched",
            collection=report.collection,
            failed=dict(report.failed),
            chunks=report.chunks,
            documents_done=report.documents,
            finished_at=datetime.now(UTC),
        )
