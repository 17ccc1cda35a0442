"""While a document is read, its first pages answer questions after a small first batch, and
the pages reported as answerable only grow, ending with every page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ingest.writing import FIRST_BATCH
from tests import samples as f
from tests.ingest.test_pipeline import make_pipeline


def test_the_first_pages_answer_after_a_small_first_batch(tmp_path: Path, embedder: Any) -> None:
    pipeline = make_pipeline(tmp_path, embedder, embed_batch_size=256)
    seen: list[tuple[int, int]] = []

    def progress(stage: str, done: int, total: int) -> None:
        if stage == "answerable":
            seen.append((done, total))  # (pages wholly stored, chunks stored)

    doc = pipeline.ingest(f.MULTIPAGE_PDF.read_bytes(), "report.pdf", progress=progress).document
    assert doc.chunks > FIRST_BATCH
    first_pages, first_chunks = seen[0]
    assert first_chunks == FIRST_BATCH and 1 <= first_pages < doc.pages
    pages = [p for p, _ in seen]
    assert pages == sorted(pages)
    assert seen[-1] == (doc.pages, doc.chunks)
    assert doc.answerable_pages == doc.pages == f.MULTIPAGE_PDF_PAGES
