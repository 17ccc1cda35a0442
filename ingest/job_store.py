"""Job records: one per background ingest or replace, kept in their own record collection
beside the catalog, so that every process sharing a Chroma server sees the same jobs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

from ingest.catalog import utcnow
from ingest.ids import DEFAULT_KNOWLEDGE_BASE
from ingest.store import MetadataValue, RecordStore

JobKind = Literal["ingest", "replace"]
JobStatus = Literal["queued", "parsing", "ocr", "embedding", "ready", "failed"]
ACTIVE: frozenset[str] = frozenset({"queued", "parsing", "ocr", "embedding"})

# Finished jobs are forgotten this long after they finished.
JOB_RETENTION = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class JobRecord:
    id: str
    kind: JobKind
    document_id: str
    filename: str
    status: JobStatus
    created_at: datetime
    updated_at: datetime
    progress: float = 0.0
    pages_done: int = 0  # pages read so far (parsing, ocr)
    pages_total: int = 0
    answerable_pages: int = 0  # pages 1 to this one answer questions while it is read
    created: bool = False  # the job stored a new document (or a new version of one)
    error_code: str | None = None
    error: str | None = None
    # A replace's new metadata as JSON; None keeps the document's metadata.
    metadata_json: str | None = None
    knowledge_base: str = DEFAULT_KNOWLEDGE_BASE  # the base whose collections it writes

    def updated(self, **changes: object) -> JobRecord:
        return replace(self, updated_at=utcnow(), **changes)  # type: ignore[arg-type]

    @property
    def finished(self) -> bool:
        return self.status not in ACTIVE


class JobStore:
    def __init__(self, records: RecordStore) -> None:
        self._records = records

    def put(self, job: JobRecord) -> None:
        flat: dict[str, MetadataValue] = {}
        for key, value in asdict(job).items():
            if value is not None:
                flat[key] = value.isoformat() if isinstance(value, datetime) else value
        self._records.put(job.id, flat)

    def get(self, job_id: str) -> JobRecord | None:
        found = self._records.get([job_id]).get(job_id)
        return _job_from(job_id, found[0]) if found else None

    def all(self) -> list[JobRecord]:
        jobs = [_job_from(job_id, flat) for job_id, flat in self._records.all().items()]
        jobs.sort(key=lambda j: (j.created_at, j.id))
        return jobs

    def delete(self, job_ids: list[str]) -> None:
        self._records.delete(job_ids)


def _job_from(job_id: str, flat: Mapping[str, MetadataValue]) -> JobRecord:
    def optional(key: str) -> str | None:
        value = flat.get(key)
        return str(value) if value is not None else None

    return JobRecord(
        id=job_id,
        kind=str(flat.get("kind", "ingest")),  # type: ignore[arg-type]
        document_id=str(flat.get("document_id", "")),
        filename=str(flat.get("filename", "")),
        status=str(flat.get("status", "failed")),  # type: ignore[arg-type]
        created_at=datetime.fromisoformat(str(flat.get("created_at"))),
        updated_at=datetime.fromisoformat(str(flat.get("updated_at", flat.get("created_at")))),
        progress=float(flat.get("progress", 0.0)),
        pages_done=int(flat.get("pages_done", 0)),
        pages_total=int(flat.get("pages_total", 0)),
        answerable_pages=int(flat.get("answerable_pages", 0)),
        created=bool(flat.get("created", False)),
        error_code=optional("error_code"),
        error=optional("error"),
        metadata_json=optional("metadata_json"),
        knowledge_base=str(flat.get("knowledge_base", DEFAULT_KNOWLEDGE_BASE)),
    )
