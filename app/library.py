"""One knowledge base's parts: its catalog, jobs and index pointer, and the `IndexSwitch`
that holds an immutable snapshot of the parts bound to its active index, swapped as a whole
when `docrag reindex` switches it. Everything here is built by `app/builders.py`."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from app.config import Settings
from app.query.answering import AskService
from app.query.chat import ChatModel
from app.query.dispatch import AnswerDispatch
from app.query.rerank import Reranker
from app.query.retrieval import HybridRetriever
from app.reindexing import ReindexRunner
from ingest.catalog import DocumentCatalog, DocumentRecord
from ingest.embedding import Embedder, model_identity, same_fingerprint
from ingest.files import StoredFiles
from ingest.jobs import IngestJobs
from ingest.knowledge_bases import KnowledgeBase
from ingest.lexical import LexicalIndex
from ingest.parsing import ProcessParser
from ingest.pipeline import IngestPipeline
from ingest.recovery import recover
from ingest.reindex import ActiveIndex, IndexRegistry, reembed
from ingest.store import ChromaChunkStore

logger = logging.getLogger(__name__)

# With a shared Chroma server another process may be mid-ingest when this one starts.
SERVER_RECOVERY_GRACE = timedelta(minutes=30)
# How often a running service looks whether `docrag reindex` switched the index.
INDEX_CHECK_INTERVAL_S = 1.0
SWITCH_RETRY_S = 60.0


@dataclass(frozen=True)
class IndexParts:
    """Everything bound to one chunk collection and its embedding model. A request takes one
    snapshot and keeps it, so it never mixes two indexes."""

    index: ActiveIndex
    embedder: Embedder
    store: ChromaChunkStore
    lexical: LexicalIndex
    pipeline: IngestPipeline
    retriever: HybridRetriever
    ask_service: AskService
    answers: AnswerDispatch  # every face's one way to answer (app/query/dispatch.py)


@dataclass(frozen=True)
class Shared:
    """What every knowledge base of a process uses: built once."""

    settings: Settings  # the service's own (a base's are `settings.for_knowledge_base`)
    client: Any
    parser: ProcessParser | None
    reranker: Reranker
    chat_model: ChatModel | None


def same_model(a: str, b: str) -> bool:
    """Whether two model settings name the same model (a local directory by its real path;
    the packaged all-MiniLM-L6-v2 is its hub id)."""
    return model_identity(a) == model_identity(b)


# (index, its embedder, what the pipeline calls once a document is ready) -> the snapshot
OpenIndex = Callable[[ActiveIndex, Embedder, Callable[[DocumentRecord], None]], IndexParts]


class IndexSwitch:
    """A base's active index: the snapshot in use (`current`), and the one step that follows
    a reindex (`follow`). Built with the index active at start; `follow` replaces the
    snapshot as a whole, and tells its listeners (the job workers) the new one."""

    def __init__(
        self,
        *,
        settings: Settings,
        registry: IndexRegistry,
        catalog: DocumentCatalog,
        first: ActiveIndex,
        embedder: Embedder,
        open_index: OpenIndex,
        load_embedder: Callable[[str], Embedder],
        configured_fingerprint: str | None = None,  # known when the embedder was handed in
    ) -> None:
        self._settings = settings
        self._registry = registry
        self._catalog = catalog
        self._open_index = open_index
        self._load_embedder = load_embedder
        self.configured_fingerprint = configured_fingerprint
        self._listeners: list[Callable[[IndexParts], None]] = []
        self._lock = threading.Lock()
        self.current = self._open(first, embedder)
        self._checked_at = time.monotonic()

    def subscribe(self, listener: Callable[[IndexParts], None]) -> None:
        self._listeners.append(listener)

    @property
    def reindex_needed(self) -> bool:
        """The configured embedding model is not the one the active index was built with."""
        index = self.current.index
        if self.configured_fingerprint is not None:
            return not same_fingerprint(self.configured_fingerprint, index.fingerprint)
        return not same_model(index.model, self._settings.embedding.model)

    def follow(self, max_age_s: float = INDEX_CHECK_INTERVAL_S) -> bool:
        """Switches to the index `docrag reindex` made active, if it changed; True if it did.
        Looks at the pointer at most every `max_age_s` seconds."""
        now = time.monotonic()
        if now - self._checked_at < max_age_s:
            return False
        self._checked_at = now
        try:
            active = self._registry.active()
        except Exception as e:  # Chroma unreachable: the request itself will say so
            logger.warning("cannot read the active index pointer: %s", e)
            return False
        if active is None or active == self.current.index:
            return False
        with self._lock:
            previous = self.current
            if active == previous.index:
                return False
            try:
                embedder = (
                    previous.embedder
                    if same_fingerprint(previous.embedder.fingerprint, active.fingerprint)
                    else self._load_embedder(active.model)
                )
                parts = self._open(active, embedder)
            except Exception:
                # Keep answering from the index in use; try again in a minute.
                logger.exception("cannot switch to index %s; staying on it", active.collection)
                self._checked_at = now + SWITCH_RETRY_S
                return False
            self.current = parts
            for listener in self._listeners:
                listener(parts)
        logger.info(
            "switched to index %s (model %s) from %s",
            active.collection,
            active.model,
            previous.index.collection,
        )
        return True

    def _open(self, index: ActiveIndex, embedder: Embedder) -> IndexParts:
        written_to = index.collection
        return self._open_index(index, embedder, lambda r: self._carry_over(written_to, r))

    def _carry_over(self, written_to: str, record: DocumentRecord) -> None:
        """An upload or replace that began before a reindex switch finishes into the old
        collection; its chunks are then written again into the active one."""
        active = self._registry.active()
        if active is None or active.collection == written_to:
            return
        self.follow(max_age_s=0)
        current = self.current
        if current.store.name != active.collection:
            return  # could not switch (logged); the next reindex will catch it
        current.pipeline.discard_chunks(record.id)  # through the lexical index too
        chunks = reembed(current.pipeline, record)
        stored = self._catalog.get(record.id)
        if stored is not None and stored.generation == record.generation:
            if stored.chunks != chunks:
                self._catalog.put(replace(stored, chunks=chunks))
        logger.info(
            "document %s was stored into %s after the switch; copied into %s",
            record.id,
            written_to,
            current.store.name,
        )


class UsesShared:
    """The process-wide parts, for a class holding `shared`."""

    shared: Shared

    @property
    def client(self) -> Any:
        return self.shared.client

    @property
    def parser(self) -> ProcessParser | None:
        return self.shared.parser

    @property
    def reranker(self) -> Reranker:
        return self.shared.reranker

    @property
    def chat_model(self) -> ChatModel | None:
        return self.shared.chat_model


@dataclass
class Library(UsesShared):
    """The parts of one knowledge base in this process; only `switch.current` changes."""

    base: KnowledgeBase
    settings: Settings  # the base's settings
    shared: Shared
    catalog: DocumentCatalog
    registry: IndexRegistry
    switch: IndexSwitch
    jobs: IngestJobs | None
    reindexer: ReindexRunner = field(init=False, repr=False)
    _recovery: threading.Thread | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.reindexer = ReindexRunner(self)

    @property
    def name(self) -> str:
        return self.base.name

    @property
    def files(self) -> StoredFiles:
        return StoredFiles(self.settings.files_dir)

    @property
    def current(self) -> IndexParts:
        return self.switch.current

    def follow_index(self, max_age_s: float = INDEX_CHECK_INTERVAL_S) -> bool:
        return self.switch.follow(max_age_s)

    @property
    def reindex_needed(self) -> bool:
        return self.switch.reindex_needed

    # The active snapshot's parts, for callers outside a request (CLI, MCP, tests).
    @property
    def store(self) -> ChromaChunkStore:
        return self.current.store

    @property
    def pipeline(self) -> IngestPipeline:
        return self.current.pipeline

    @property
    def embedder(self) -> Embedder:
        return self.current.embedder

    @property
    def retriever(self) -> HybridRetriever:
        return self.current.retriever

    @property
    def ask_service(self) -> AskService:
        return self.current.ask_service

    @property
    def answers(self) -> AnswerDispatch:
        return self.current.answers

    @property
    def index(self) -> ActiveIndex:
        return self.current.index

    def recover_now(self) -> None:
        """The clean-up after a crash, before anything else runs (the CLI)."""
        recover(self.current.pipeline, self.recovery_grace)

    def start_background_work(self) -> None:
        """Resumes the ingest jobs an earlier run left unfinished and starts the job workers:
        only the API server does this, never a CLI command. The clean-up after a crash runs
        beside them, so start-up does not wait for a sweep of the whole library (meanwhile, a
        document a crash cut short answers from the pages it had stored, as while it was read)."""
        if self._recovery is None:
            self._recovery = threading.Thread(
                target=recover,
                args=(self.current.pipeline, self.recovery_grace),
                name="docrag-recovery",
                daemon=True,
            )
            self._recovery.start()
        if self.jobs is not None:
            self.jobs.recover(self.recovery_grace)
            self.jobs.start()

    def request_stop(self) -> None:
        if self.jobs is not None:
            self.jobs.request_stop()

    def close(self) -> None:
        """After `request_stop` and the shared parser's close (a job's parse in progress ends
        then, and the job is requeued)."""
        if self._recovery is not None:
            self._recovery.join(timeout=30)
        if self.jobs is not None:
            self.jobs.close()
        self.reindexer.join(timeout=5)

    @property
    def recovery_grace(self) -> timedelta:
        return SERVER_RECOVERY_GRACE if self.settings.chroma.host else timedelta(0)

    @property
    def chroma_description(self) -> str:
        chroma = self.settings.chroma
        if chroma.host:
            return f"server {chroma.host}:{chroma.port}"
        return f"embedded {self.settings.chroma_dir}"
