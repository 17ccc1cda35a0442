"""The document catalog: one record per uploaded document, and its extracted pages."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Literal

from ingest.store import MetadataValue, RecordStore
from parsers.types import Page

DocumentStatus = Literal["pending", "ready", "failed"]


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
        records = self.all()
        return records[offset : offset + limit], len(records)

    def count(self) -> int:
        return self._records.count()

    def delete(self, document_id: str) -> None:
        self._records.delete([document_id])
        self._contents.delete([document_id])

    def put_content(self, document_id: str, pages: Sequence[Page]) -> None:
        body = json.dumps([{"number": p.number, "text": p.text} for p in pages], ensure_ascii=False)
        self._contents.put(document_id, {"pages": len(pages)}, body)

    def content(self, document_id: str) -> list[Page] | None:
        found = self._contents.get([document_id]).get(document_id)
        if not found:
            return None
        return [Page(int(p["number"]), str(p["text"])) for p in json.loads(found[1])]
