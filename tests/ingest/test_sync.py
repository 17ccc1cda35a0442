"""Folder sync into this process's index (real files, embedded Chroma, the real model): one
pass mirrors adds, changes, deletes and renames with exact counts; a second pass changes
nothing; a restart reads only what changed; a file being written is not read half-written;
a failing file is retried only once it changes; watch mode follows the folder."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ingest.catalog import DocumentCatalog, DocumentRecord
from ingest.job_store import JobStore
from ingest.jobs import IngestJobs
from ingest.pipeline import IngestPipeline
from ingest.store import ChromaChunkStore, ChromaRecordStore
from ingest.sync import FolderSync, SyncTarget
from ingest.sync_local import LocalSyncTarget
from ingest.watching import FolderWatcher
from tests import samples as f
from tests.app.test_jobs import poll
from tests.ingest.test_pipeline import make_pipeline


class CountingEmbedder:
    """The real embedder, counting the chunks it embeds (to see that nothing is embedded)."""

    def __init__(self, embedder: Any) -> None:
        self._embedder = embedder
        self.embedded = 0

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        self.embedded += len(texts)
        result: list[list[float]] = self._embedder.embed_documents(texts)
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._embedder, name)


@dataclass
class IndexParts:
    pipeline: IngestPipeline
    store: ChromaChunkStore


@dataclass
class Library:
    """What a knowledge base of the service holds, for the sync: catalog, jobs, index."""

    catalog: DocumentCatalog
    current: IndexParts
    jobs: IngestJobs | None = None


@dataclass
class World:
    library: Library
    embedder: CountingEmbedder
    folder: Path

    def sync(self, *, use_jobs: bool = False, **options: Any) -> FolderSync:
        target = LocalSyncTarget(self.library, use_jobs=use_jobs, poll_s=0.05)
        return FolderSync(target, self.folder, **{"settle_s": 0.5, **options})

    def records(self) -> dict[str, DocumentRecord]:
        """The catalog by synced path."""
        return {str(r.metadata["sync_path"]): r for r in self.library.catalog.all()}


@pytest.fixture
def world(tmp_path: Path, embedder: Any) -> Iterator[World]:
    counting = CountingEmbedder(embedder)
    pipeline = make_pipeline(tmp_path / "data", counting)
    store = pipeline.store
    assert isinstance(store, ChromaChunkStore)
    client = store._client
    jobs = IngestJobs(
        pipeline=pipeline,
        catalog=pipeline.catalog,
        jobs=JobStore(ChromaRecordStore(client, "t_jobs")),
        spool_dir=tmp_path / "data" / "spool",
    )
    jobs.start()
    folder = tmp_path / "folder"
    folder.mkdir()
    yield World(Library(pipeline.catalog, IndexParts(pipeline, store), jobs), counting, folder)
    jobs.close()


def text(topic: str, n: int = 12) -> str:
    return " ".join(f"Note {i} about the {topic}: it was checked and logged." for i in range(n))


def write(path: Path, content: str | bytes, age_s: float = 5.0) -> None:
    """A finished file: written, and last modified `age_s` ago (so it is settled)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    past = time.time() - age_s
    os.utime(path, (past, past))


def test_one_pass_mirrors_the_folder_and_a_second_changes_nothing(world: World) -> None:
    folder = world.folder
    write(folder / "boilers.txt", text("boilers"))
    write(folder / "pumps.txt", text("pumps"))
    write(folder / "manuals" / "valves.md", "# Valves\n\n" + text("valves"))
    write(folder / "report.pdf", f.MULTIPAGE_PDF.read_bytes())
    write(folder / "budget.xlsx", b"PK\x03\x04 a spreadsheet")
    write(folder / ".notes.txt", "hidden")
    write(folder / "~$draft.docx", "an office lock file")
    sync = world.sync()

    first = sync.run_pass()
    assert (first.added, first.changes, first.failed) == (4, 4, [])
    assert [p.path for p in first.skipped] == ["budget.xlsx"]
    assert "does not read" in first.skipped[0].error
    records = world.records()
    assert sorted(records) == ["boilers.txt", "manuals/valves.md", "pumps.txt", "report.pdf"]
    assert records["manuals/valves.md"].filename == "valves.md"
    assert records["report.pdf"].pages == f.MULTIPAGE_PDF_PAGES
    assert all(r.status == "ready" for r in records.values())
    assert world.library.catalog.count() == 4

    embedded = world.embedder.embedded
    second = sync.run_pass()
    assert (second.changes, second.unchanged, second.failed) == (0, 4, [])
    assert world.records() == records
    assert world.embedder.embedded == embedded

    write(folder / "boilers.txt", text("boilers", 20))  # changed
    (folder / "pumps.txt").unlink()  # deleted
    (folder / "manuals" / "valves.md").rename(folder / "valves-2024.md")  # renamed
    write(folder / "fans.txt", text("fans"))  # added
    before_rename = records["manuals/valves.md"]
    third = sync.run_pass()
    assert (third.added, third.replaced, third.renamed, third.deleted) == (1, 1, 1, 1)
    assert third.unchanged == 1 and third.failed == []
    after = world.records()
    assert sorted(after) == ["boilers.txt", "fans.txt", "report.pdf", "valves-2024.md"]
    assert world.library.catalog.count() == 4
    assert after["boilers.txt"].id == records["boilers.txt"].id  # replaced in place
    assert after["boilers.txt"].size_bytes == len(text("boilers", 20))
    renamed = after["valves-2024.md"]
    assert renamed.id == before_rename.id and renamed.filename == "valves-2024.md"
    assert renamed.chunks == before_rename.chunks
    store = world.library.current.store
    chunks = store.get(where={"document_id": renamed.id})
    assert len(chunks) == renamed.chunks
    assert {c.metadata["filename"] for c in chunks} == {"valves-2024.md"}

    embedded = world.embedder.embedded
    fourth = sync.run_pass()
    assert (fourth.changes, fourth.unchanged) == (0, 4)
    assert world.embedder.embedded == embedded


def test_a_rename_embeds_nothing(world: World) -> None:
    write(world.folder / "a" / "log.txt", text("winter storms"))
    sync = world.sync()
    sync.run_pass()
    embedded = world.embedder.embedded
    (world.folder / "a").rename(world.folder / "b")
    report = sync.run_pass()
    assert (report.renamed, report.added, report.deleted) == (1, 0, 0)
    assert world.embedder.embedded == embedded
    assert list(world.records()) == ["b/log.txt"]


def test_a_restart_resumes_with_one_pass_reading_only_changed_files(world: World) -> None:
    write(world.folder / "kept.txt", text("harbour"))
    write(world.folder / "edited.txt", text("lanterns"))
    world.sync().run_pass()
    # Same size and time, other bytes: a pass that trusts the stored stamp does not read it.
    kept = world.folder / "kept.txt"
    stat = kept.stat()
    kept.write_bytes(text("harbour").replace("harbour", "hArbour").encode())
    os.utime(kept, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    write(world.folder / "edited.txt", text("lanterns", 15))

    restarted = world.sync()  # a new process: nothing remembered but what the catalog holds
    report = restarted.run_pass()
    assert (report.replaced, report.unchanged, report.added) == (1, 1, 0)
    pages = world.library.catalog.content(world.records()["kept.txt"].id)
    assert pages is not None and "hArbour" not in pages[0].text


def test_a_touched_file_is_read_once_and_not_stored_again(world: World) -> None:
    write(world.folder / "same.txt", text("tides"))
    sync = world.sync()
    sync.run_pass()
    generation = world.records()["same.txt"].generation
    write(world.folder / "same.txt", text("tides"), age_s=3.0)  # new time, same bytes
    assert sync.run_pass().changes == 0
    assert sync.run_pass().changes == 0
    assert world.records()["same.txt"].generation == generation


def test_a_file_being_written_is_not_read_half_written(world: World) -> None:
    lines = [f"Line {i}: the slow copy carries this sentence along.\n" for i in range(40)]
    target = world.folder / "slow.txt"
    started = threading.Event()

    def copy_slowly() -> None:
        with target.open("w") as out:
            for i, line in enumerate(lines):
                out.write(line)
                out.flush()
                if i == 0:
                    started.set()
                time.sleep(0.05)

    writer = threading.Thread(target=copy_slowly)
    writer.start()
    started.wait(10)
    sync = world.sync(settle_s=1.0)
    during = sync.run_pass()
    assert during.waiting == ["slow.txt"] and during.added == 0
    assert world.library.catalog.count() == 0
    writer.join()

    after = poll(lambda: sync.run_pass().added, "the finished copy to be stored", timeout=60)
    assert after == 1
    record = world.records()["slow.txt"]
    assert record.size_bytes == len("".join(lines).encode())
    pages = world.library.catalog.content(record.id)
    assert pages is not None and "Line 39" in pages[0].text


class CountingTarget(LocalSyncTarget):
    """The local target, counting the files it is asked to store."""

    tries = 0

    def add(self, *args: Any) -> None:
        CountingTarget.tries += 1
        super().add(*args)


def test_a_failing_file_is_reported_and_retried_only_once_it_changes(world: World) -> None:
    write(world.folder / "locked.pdf", f.ENCRYPTED_PDF.read_bytes())
    write(world.folder / "fine.txt", text("gardens"))
    CountingTarget.tries = 0
    target: SyncTarget = CountingTarget(world.library)
    sync = FolderSync(target, world.folder, settle_s=0.5)

    first = sync.run_pass()
    assert [p.path for p in first.failed] == ["locked.pdf"]
    assert "password" in first.failed[0].error
    assert first.added == 1 and CountingTarget.tries == 2
    second = sync.run_pass()
    assert [p.path for p in second.failed] == ["locked.pdf"] and second.changes == 0
    assert CountingTarget.tries == 2  # not tried again
    assert sync.status().to_json()["failed"] == [
        {"path": "locked.pdf", "error": first.failed[0].error}
    ]

    write(world.folder / "locked.pdf", f.THREE_PAGES_PDF.read_bytes())  # fixed
    third = sync.run_pass()
    assert third.added == 1 and third.failed == [] and CountingTarget.tries == 3
    assert sorted(world.records()) == ["fine.txt", "locked.pdf"]


def test_same_content_twice_is_stored_once(world: World) -> None:
    write(world.folder / "a.txt", text("orchards"))
    write(world.folder / "copy" / "a.txt", text("orchards"))
    report = world.sync().run_pass()
    assert report.added == 1 and world.library.catalog.count() == 1
    assert [p.error for p in report.skipped] == ["the same content as a.txt; stored once"]


def test_a_document_uploaded_by_hand_is_left_alone(world: World) -> None:
    pipeline = world.library.current.pipeline
    by_hand = pipeline.ingest(text("lighthouses").encode(), "by-hand.txt").document
    write(world.folder / "new.txt", text("moorings"))
    sync = world.sync()
    sync.run_pass()
    (world.folder / "new.txt").unlink()
    assert sync.run_pass().deleted == 1
    assert [r.id for r in world.library.catalog.all()] == [by_hand.id]


def test_jobs_show_the_progress_and_a_failed_job_is_remembered(world: World) -> None:
    write(world.folder / "one.txt", text("ferries"))
    write(world.folder / "locked.pdf", f.ENCRYPTED_PDF.read_bytes())
    sync = world.sync(use_jobs=True)
    report = sync.run_pass()
    assert report.added == 1 and [p.path for p in report.failed] == ["locked.pdf"]
    jobs = world.library.jobs
    assert jobs is not None
    records = world.records()
    recorded = {j.filename: j for j in jobs._jobs.all()}
    assert recorded["one.txt"].status == "ready"
    assert recorded["one.txt"].document_id == records["one.txt"].id
    assert recorded["locked.pdf"].status == "failed"
    assert records["locked.pdf"].status == "failed"

    restarted = world.sync(use_jobs=True)  # the failure is in the catalog: not tried again
    again = restarted.run_pass()
    assert [p.path for p in again.failed] == ["locked.pdf"] and again.changes == 0
    assert len(jobs._jobs.all()) == 2


def test_a_missing_folder_is_an_error_the_status_shows(world: World) -> None:
    sync = FolderSync(LocalSyncTarget(world.library), world.folder / "nowhere")
    with pytest.raises(Exception, match="is not a folder"):
        sync.run_pass()
    status = sync.status().to_json()
    assert status["state"] == "error" and "not a folder" in str(status["error"])


def test_watch_mode_follows_the_folder(world: World) -> None:
    write(world.folder / "first.txt", text("canals"))
    watcher = FolderWatcher(world.sync(use_jobs=True), debounce_s=0.3)
    watcher.start()
    try:
        poll(lambda: list(world.records()) == ["first.txt"], "the pass at start")
        (world.folder / "second.txt").write_text(text("bridges"))
        poll(lambda: sorted(world.records()) == ["first.txt", "second.txt"], "an added file")
        (world.folder / "first.txt").rename(world.folder / "renamed.txt")
        poll(lambda: sorted(world.records()) == ["renamed.txt", "second.txt"], "a rename")
        (world.folder / "second.txt").write_text(text("bridges", 30))
        poll(
            lambda: world.records()["second.txt"].size_bytes == len(text("bridges", 30)),
            "a change",
        )
        (world.folder / "renamed.txt").unlink()
        poll(lambda: list(world.records()) == ["second.txt"], "a delete")
        status = watcher.status().to_json()
        assert status["watch"] is True and status["folder"] == str(world.folder)
        poll(lambda: watcher.status().to_json()["files"] == 1, "the status to count one file")
    finally:
        watcher.stop()
    assert world.library.catalog.count() == 1


def test_files_made_alike_then_deleted_leave_nothing(world: World) -> None:
    write(world.folder / "a.txt", text("quays"))
    write(world.folder / "b.txt", text("piers"))
    sync = world.sync()
    sync.run_pass()
    write(world.folder / "a.txt", text("piers"))  # now the same content as b.txt
    assert sync.run_pass().replaced == 1
    assert world.library.catalog.count() == 2
    (world.folder / "a.txt").unlink()
    (world.folder / "b.txt").unlink()
    assert sync.run_pass().deleted == 2
    assert world.library.catalog.count() == 0
