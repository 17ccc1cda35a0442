"""The document catalog: one record per uploaded document, and its extracted pages."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal, Protocol, runtime_checkable

from ingest.store import ChromaRecordStore, MetadataValue, RecordStore
from parsers.types import Page, ParsedDocument

# queued -> parsing -> embedding -> ready | failed. "pending" is what earlier versions wrote
# while a document was being written; it means the same as "embedding".
DocumentStatus = Literal["queued", "parsing", "ocr", "embedding", "pending", "ready", "failed"]
# A document in one of these states is still being ingested (or was, when a crash hit).
UNFINISHED: frozenset[str] = frozenset({"queued", "parsing", "ocr", "embedding", "pending"})


@dataclass(frozen=True, slots=True)
class DocumentRecord:
    id: str
    filename: str
    media_type: str
    size_bytes: int
    sha256: str
    status: DocumentStatus
    created_at: datetime
    updated_at: datetime
    pages: int = 0
    chunks: int = 0
    title: str | None = None
    error: str | None = None
    metadata: Mapping[str, MetadataValue] = field(default_factory=dict)
    progress: float = 0.0  # 0..1 while being ingested, 1 when ready
    error_code: str | None = None
    job_id: str | None = None  # the background job ingesting it, if any
    # Bumped by every replace; only chunks of the current generation answer questions.
    generation: int = 0
    # While it is read: pages 1 to this one are wholly indexed and already answer questions.
    answerable_pages: int = 0

    def with_status(self, status: DocumentStatus, **changes: object) -> DocumentRecord:
        return replace(self, status=status, updated_at=utcnow(), **changes)  # type: ignore[arg-type]


def utcnow() -> datetime:
    return datetime.now(UTC)


_USER_PREFIX = "meta."


def _to_metadata(record: DocumentRecord) -> dict[str, MetadataValue]:
    flat: dict[str, MetadataValue] = {}
    for key, value in asdict(record).items():
        if key == "metadata" or value is None:
            continue
        flat[key] = value.isoformat() if isinstance(value, datetime) else value
    for key, value in record.metadata.items():
        flat[_USER_PREFIX + key] = value
    return flat


def _from_metadata(record_id: str, flat: Mapping[str, MetadataValue]) -> DocumentRecord:
    user = {k[len(_USER_PREFIX) :]: v for k, v in flat.items() if k.startswith(_USER_PREFIX)}
    title = flat.get("title")
    error = flat.get("error")
    error_code = flat.get("error_code")
    job_id = flat.get("job_id")
    return DocumentRecord(
        id=record_id,
        filename=str(flat.get("filename", "")),
        media_type=str(flat.get("media_type", "")),
        size_bytes=int(flat.get("size_bytes", 0)),
        sha256=str(flat.get("sha256", "")),
        status=str(flat.get("status", "failed")),  # type: ignore[arg-type]
        created_at=datetime.fromisoformat(str(flat.get("created_at"))),
        updated_at=datetime.fromisoformat(str(flat.get("updated_at", flat.get("created_at")))),
        pages=int(flat.get("pages", 0)),
        chunks=int(flat.get("chunks", 0)),
        title=str(title) if title is not None else None,
        error=str(error) if error is not None else None,
        metadata=user,
        progress=float(flat.get("progress", 1.0 if flat.get("status") == "ready" else 0.0)),
        error_code=str(error_code) if error_code is not None else None,
        job_id=str(job_id) if job_id is not None else None,
        generation=int(flat.get("generation", 0)),
        answerable_pages=int(flat.get("answerable_pages", 0)),
    )


def answers_questions(record: DocumentRecord) -> bool:
    """Whether a document's chunks (of its current generation) may answer questions: it is
    ready, or it is still being read and some of its chunks are stored already (`chunks`
    counts them while it is read)."""
    return record.status == "ready" or (record.status == "embedding" and record.chunks > 0)


def still_reading(record: DocumentRecord) -> bool:
    """Being read, and answering questions from the pages indexed so far."""
    return record.status != "ready" and answers_questions(record)


def _content_key(document_id: str, generation: int) -> str:
    # Each generation has its own page texts, so a replace switches them with the record.
    return document_id if generation == 0 else f"{document_id}:g{generation}"


def new_record(
    document_id: str,
    sha256: str,
    data: bytes,
    filename: str,
    *,
    status: DocumentStatus,
    metadata: Mapping[str, MetadataValue] | None = None,
    job_id: str | None = None,
    media_type: str = "",
    created_at: datetime | None = None,
) -> DocumentRecord:
    """The record of a document about to be written: every record starts here."""
    now = utcnow()
    return DocumentRecord(
        id=document_id,
        filename=filename,
        media_type=media_type,
        size_bytes=len(data),
        sha256=sha256,
        status=status,
        created_at=created_at or now,
        updated_at=now,
        metadata=dict(metadata or {}),
        job_id=job_id,
    )


def ready_record(
    record: DocumentRecord, parsed: ParsedDocument, chunks: int, **changes: Any
) -> DocumentRecord:
    """The record of a document whose chunks are all stored: visible to questions."""
    return replace(
        record,
        status="ready",
        media_type=parsed.media_type,
        pages=len(parsed.pages) if parsed.paginated else 0,
        answerable_pages=len(parsed.pages) if parsed.paginated else 0,
        chunks=chunks,
        title=parsed.title,
        progress=1.0,
        updated_at=utcnow(),
        **changes,
    )


class DocumentCatalog:
    """Document records and page texts, kept in the same Chroma as the chunks so that several
    API processes sharing a Chroma server share one catalog."""

    def __init__(self, records: RecordStore, contents: RecordStore) -> None:
        self._records = records
        self._contents = contents

    def put(self, record: DocumentRecord) -> None:
        self._records.put(record.id, _to_metadata(record))

    def get(self, document_id: str) -> DocumentRecord | None:
        found = self._records.get([document_id]).get(document_id)
        return _from_metadata(document_id, found[0]) if found else None

    def get_many(self, document_ids: Sequence[str]) -> dict[str, DocumentRecord]:
        return {
            rid: _from_metadata(rid, meta)
            for rid, (meta, _) in self._records.get(list(dict.fromkeys(document_ids))).items()
        }

    def all(self) -> list[DocumentRecord]:
        """Every record, newest first."""
        records = [_from_metadata(rid, meta) for rid, meta in self._records.all().items()]
        records.sort(key=lambda r: (r.created_at, r.id), reverse=True)
        return records

    def page(self, limit: int, offset: int) -> tuple[list[DocumentRecord], int]:
        """One page of records, newest first, and how many there are. Read as one page
        from the store when it can (records are kept in the order they were created)."""
        if isinstance(self._records, PagedRecordStore):
            found, total = self._records.page_from_newest(limit, offset)
            return [_from_metadata(rid, meta) for rid, meta in found], total
        records = self.all()
        return records[offset : offset + limit], len(records)

    def count(self) -> int:
        return self._records.count()

    def delete(self, document_id: str) -> None:
        record = self.get(document_id)
        self._records.delete([document_id])
        keys = {document_id}
        if record is not None:
            keys.add(_content_key(document_id, record.generation))
        self._contents.delete(sorted(keys))

    def put_content(self, document_id: str, pages: Sequence[Page], generation: int = 0) -> None:
        body = json.dumps(
            [{"number": p.number, "text": p.text, "ocr": p.ocr} for p in pages], ensure_ascii=False
        )
        self._contents.put(_content_key(document_id, generation), {"pages": len(pages)}, body)

    def delete_content(self, document_id: str, generation: int) -> None:
        self._contents.delete([_content_key(document_id, generation)])

    def content(self, document_id: str, generation: int = 0) -> list[Page] | None:
        key = _content_key(document_id, generation)
        found = self._contents.get([key]).get(key)
        if not found:
            return None
        return [
            Page(int(p["number"]), str(p["text"]), bool(p.get("ocr", False)))
            for p in json.loads(found[1])
        ]


@runtime_checkable
class PagedRecordStore(Protocol):
    def page_from_newest(
        self, limit: int, offset: int
    ) -> tuple[list[tuple[str, dict[str, MetadataValue]]], int]: ...


class ChromaPagedRecordStore(ChromaRecordStore):
    """Records read a page at a time. Chroma returns a collection's rows in the order they
    were first written (an upsert keeps a row's place), and a document's record is first
    written when it is created, so the newest records are the last rows."""

    def page_from_newest(
        self, limit: int, offset: int
    ) -> tuple[list[tuple[str, dict[str, MetadataValue]]], int]:
        total = self.count()
        end = total - max(0, offset)
        if limit <= 0 or end <= 0:
            return [], total
        start = max(0, end - limit)
        result = self._collection.get(include=["metadatas"], limit=end - start, offset=start)
        rows = list(zip(result["ids"], result["metadatas"] or [], strict=True))
        return [(rid, dict(meta or {})) for rid, meta in reversed(rows)], total
