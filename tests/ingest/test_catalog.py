"""The catalog lists documents newest first, one page read from Chroma at a time."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ingest import store as store_module
from ingest.catalog import ChromaPagedRecordStore, DocumentCatalog, DocumentRecord
from ingest.store import ChromaRecordStore


def record(i: int) -> DocumentRecord:
    at = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=i)
    return DocumentRecord(f"d{i}", f"file{i}.pdf", "application/pdf", 10, f"s{i}", "ready", at, at)


def test_pages_are_newest_first_and_read_one_page_at_a_time(tmp_path: Path) -> None:
    client = store_module.connect(path=tmp_path / "chroma")
    records = ChromaPagedRecordStore(client, "t_documents")
    catalog = DocumentCatalog(records, ChromaRecordStore(client, "t_content"))
    for i in range(9):
        catalog.put(record(i))
    catalog.put(replace(record(3), status="failed"))  # an update keeps its place
    catalog.delete("d5")
    later = record(5)
    catalog.put(replace(later, created_at=later.created_at + timedelta(hours=1)))  # uploaded again

    read: list[int] = []
    collection = records._collection
    original_get = collection.get

    def counting_get(*args: Any, **kwargs: Any) -> Any:
        found = original_get(*args, **kwargs)
        read.append(len(found["ids"]))
        return found

    collection.get = counting_get
    newest_first = [r.id for r in catalog.all()]
    assert newest_first == ["d5", "d8", "d7", "d6", "d4", "d3", "d2", "d1", "d0"]
    read.clear()
    pages = [catalog.page(4, offset) for offset in (0, 4, 8, 12)]
    assert [[r.id for r in page] for page, _ in pages] == [
        newest_first[0:4],
        newest_first[4:8],
        newest_first[8:9],
        [],
    ]
    assert {total for _, total in pages} == {9}
    assert max(read) <= 4  # never the whole catalog
    assert pages[1][0][1].status == "failed"
