"""Clean-up after a crash: what an ingest, replace or bulk ingest left half written.

A background job's document is not touched here: its job resumes it or marks it failed
(`IngestJobs.recover`).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from ingest.catalog import UNFINISHED, utcnow
from ingest.ids import chunk_generation
from ingest.pipeline import IngestPipeline

logger = logging.getLogger(__name__)


def recover(pipeline: IngestPipeline, stale_after: timedelta = timedelta(0)) -> list[str]:
    """Removes documents that never became ready (except those of background jobs), chunks
    that belong to no document or to a generation a replace left behind, and stray stored
    files; returns the ids of the documents removed. With several processes on one Chroma
    server, `stale_after` keeps a start-up from removing another process's work in progress."""
    catalog, store = pipeline.catalog, pipeline.store
    cutoff = utcnow() - stale_after
    removed = []
    records = {r.id: r for r in catalog.all()}
    for record in records.values():
        if record.status in UNFINISHED and record.job_id is None and record.updated_at <= cutoff:
            with pipeline.document_lock(record.id):
                pipeline.remove(record.id)
            removed.append(record.id)
    orphans: set[str] = set()
    stale: list[str] = []
    for chunk_id, document_id in store.chunk_refs():
        owner = records.get(document_id)
        if owner is None:
            orphans.add(document_id)
        elif owner.status == "failed":
            stale.append(chunk_id)
        elif owner.status == "ready" and chunk_generation(chunk_id) != owner.generation:
            # A newer generation may be another process's replace in progress.
            if chunk_generation(chunk_id) < owner.generation or not stale_after:
                stale.append(chunk_id)
    for orphan in orphans:
        store.delete_document(orphan)
        removed.append(orphan)
    store.delete_ids(stale)
    if removed or stale:
        pipeline.notify_change()
    if removed:
        logger.warning("removed %d unfinished document(s) left by an earlier run", len(removed))
    if stale:
        logger.warning("removed %d chunk(s) of replaced or failed documents", len(stale))
    pipeline.files.remove_strays(
        {r.id: r.generation for r in catalog.all()}, min_age_s=stale_after.total_seconds()
    )
    return removed
