"""One knowledge base's parts: its catalog, jobs, index pointer and an immutable snapshot of
the parts bound to its active index, swapped as a whole when `docrag reindex` switches it."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from app.broker import build_job_queue
from app.builders import (
    build_catalog,
    build_embedder,
    build_lexical,
    build_pipeline,
    build_question_path,
    build_registry,
    same_model,
)
from app.config import Settings
from app.query.answering import AskService
from app.query.chat import ChatModel
from app.query.dispatch import AnswerDispatch
from app.query.rerank import Reranker
from app.query.retrieval import HybridRetriever
from app.reindexing import ReindexRunner
from ingest.catalog import DocumentCatalog, DocumentRecord
from ingest.embedding import Embedder, same_fingerprint
from ingest.files import StoredFiles
from ingest.jobs import IngestJobs, JobStore
from ingest.knowledge_bases import KnowledgeBase
from ingest.lexical import LexicalIndex
from ingest.parsing import ProcessParser
from ingest.pipeline import IngestPipeline
from ingest.recovery import recover
from ingest.reindex import ActiveIndex, IndexRegistry, reembed
from ingest.store import ChromaChunkStore, ChromaRecordStore

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


def build_index_parts(
    settings: Settings,
    client: Any,
    index: ActiveIndex,
    embedder: Embedder,
    *,
    catalog: DocumentCatalog,
    parser: ProcessParser | None,
    reranker: Reranker,
    chat_model: ChatModel | None,
) -> IndexParts:
    store = ChromaChunkStore(client, index.collection, embedder.fingerprint)
    lexical = build_lexical(settings, client, store)
    pipeline = build_pipeline(settings, embedder, store, catalog, parser=parser, lexical=lexical)
    retriever, ask_service = build_question_path(
        settings,
        embedder=embedder,
        store=store,
        catalog=catalog,
        lexical=lexical,
        reranker=reranker,
        chat_model=chat_model,
    )
    answers = AnswerDispatch(ask_service, chat_model, settings.llm.agent_max_steps)
    return IndexParts(index, embedder, store, lexical, pipeline, retriever, ask_service, answers)


@dataclass(frozen=True)
class Shared:
    """What every knowledge base of a process uses: built once."""

    settings: Settings  # the service's own (a base's are `settings.for_knowledge_base`)
    client: Any
    parser: ProcessParser | None
    reranker: Reranker
    chat_model: ChatModel | None


def resolve_index(
    settings: Settings, registry: IndexRegistry, embedder: Embedder | None
) -> tuple[ActiveIndex, Embedder, bool]:
    """The active index and the model to query it with. Before any reindex that is the first
    collection and the configured model. When the configured model differs from the one
    the active index was built with, the index keeps working with its own model (loaded by
    the name it recorded) until `docrag reindex` builds one with the configured model."""
    active = registry.active()
    if active is None:
        embedder = embedder or build_embedder(settings)
        return (
            ActiveIndex(registry.legacy_collection, settings.embedding.model, embedder.fingerprint),
            embedder,
            False,
        )
    if embedder is not None and same_fingerprint(embedder.fingerprint, active.fingerprint):
        return active, embedder, True
    if embedder is None and same_model(active.model, settings.embedding.model):
        return active, build_embedder(settings), True
    logger.warning(
        "the active index %s was built with embedding model %s, not the configured %s: "
        "answering with %s until `docrag reindex` re-embeds the documents with the new one",
        active.collection,
        active.model,
        embedder.fingerprint if embedder is not None else settings.embedding.model,
        active.model,
    )
    return active, build_embedder(settings, active.model), True


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
    """The parts of one knowledge base in this process. The long-lived ones never change;
    `current` is replaced as a whole by `follow_index`, the one step that follows a reindex."""

    base: KnowledgeBase
    settings: Settings  # the base's settings
    shared: Shared
    catalog: DocumentCatalog
    registry: IndexRegistry
    current: IndexParts
    jobs: IngestJobs | None = None
    configured_fingerprint: str | None = None  # known when the embedder was handed in
    reindexer: ReindexRunner = field(init=False, repr=False)
    _checked_at: float = field(default=0.0, repr=False)
    _recovery: threading.Thread | None = field(default=None, repr=False)
    _switch_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self.reindexer = ReindexRunner(self)

    @property
    def name(self) -> str:
        return self.base.name

    @property
    def files(self) -> StoredFiles:
        return StoredFiles(self.settings.files_dir)

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

    def start_background_work(self) -> None:
        """Resumes the ingest jobs an earlier run left unfinished and starts the job workers:
        only the API server does this, never a CLI command. The clean-up after a crash runs
        beside them, so start-up does not wait for a sweep of the whole library (what a crash
        left is invisible to questions meanwhile: only ready documents answer)."""
        if self._recovery is None:
            self._recovery = threading.Thread(
                target=recover,
                args=(self.current.pipeline, self._recovery_grace),
                name="docrag-recovery",
                daemon=True,
            )
            self._recovery.start()
        if self.jobs is not None:
            self.jobs.recover(self._recovery_grace)
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
    def _recovery_grace(self) -> timedelta:
        return SERVER_RECOVERY_GRACE if self.settings.chroma.host else timedelta(0)

    @property
    def chroma_description(self) -> str:
        chroma = self.settings.chroma
        if chroma.host:
            return f"server {chroma.host}:{chroma.port}"
        return f"embedded {self.settings.chroma_dir}"

    @property
    def reindex_needed(self) -> bool:
        """The configured embedding model is not the one the active index was built with."""
        if self.configured_fingerprint is not None:
            return not same_fingerprint(self.configured_fingerprint, self.index.fingerprint)
        return not same_model(self.index.model, self.settings.embedding.model)

    def follow_index(self, max_age_s: float = INDEX_CHECK_INTERVAL_S) -> bool:
        """Switches to the index `docrag reindex` made active, if it changed; True if it did.
        Looks at the pointer at most every `max_age_s` seconds."""
        now = time.monotonic()
        if now - self._checked_at < max_age_s:
            return False
        self._checked_at = now
        try:
            active = self.registry.active()
        except Exception as e:  # Chroma unreachable: the request itself will say so
            logger.warning("cannot read the active index pointer: %s", e)
            return False
        if active is None or active == self.index:
            return False
        with self._switch_lock:
            previous = self.current
            if active == previous.index:
                return False
            try:
                embedder = (
                    previous.embedder
                    if same_fingerprint(previous.embedder.fingerprint, active.fingerprint)
                    else build_embedder(self.settings, active.model)
                )
                parts = self._index_parts(active, embedder)
            except Exception:
                # Keep answering from the index in use; try again in a minute.
                logger.exception("cannot switch to index %s; staying on it", active.collection)
                self._checked_at = now + SWITCH_RETRY_S
                return False
            self.current = parts
            if self.jobs is not None:
                self.jobs.use_pipeline(parts.pipeline)
        logger.info(
            "switched to index %s (model %s) from %s",
            active.collection,
            active.model,
            previous.index.collection,
        )
        return True

    def _index_parts(self, index: ActiveIndex, embedder: Embedder) -> IndexParts:
        parts = build_index_parts(
            self.settings,
            self.client,
            index,
            embedder,
            catalog=self.catalog,
            parser=self.parser,
            reranker=self.reranker,
            chat_model=self.chat_model,
        )
        self._watch(parts)
        return parts

    def _watch(self, parts: IndexParts) -> None:
        written_to = parts.store.name
        parts.pipeline.after_ready = lambda record: self._carry_over(written_to, record)

    def _carry_over(self, written_to: str, record: DocumentRecord) -> None:
        """An upload or replace that began before a reindex switch finishes into the old
        collection; its chunks are then written again into the active one."""
        active = self.registry.active()
        if active is None or active.collection == written_to:
            return
        self.follow_index(max_age_s=0)
        current = self.current
        if current.store.name != active.collection:
            return  # could not switch (logged); the next reindex will catch it
        current.pipeline.discard_chunks(record.id)  # through the lexical index too
        chunks = reembed(current.pipeline, record)
        stored = self.catalog.get(record.id)
        if stored is not None and stored.generation == record.generation:
            if stored.chunks != chunks:
                self.catalog.put(replace(stored, chunks=chunks))
        logger.info(
            "document %s was stored into %s after the switch; copied into %s",
            record.id,
            written_to,
            current.store.name,
        )


def build_library(
    shared: Shared,
    base: KnowledgeBase,
    *,
    embedder: Embedder | None = None,
    recover_now: bool = True,
) -> Library:
    """One base's parts; with `recover_now` (the CLI) the crash clean-up runs before this
    returns, without it (the server) `start_background_work` runs it in the background."""
    settings = shared.settings.for_knowledge_base(base)
    client = shared.client
    catalog = build_catalog(settings, client)
    registry = build_registry(settings, client)
    active, index_embedder, recorded = resolve_index(settings, registry, embedder)
    current = build_index_parts(
        settings,
        client,
        active,
        index_embedder,
        catalog=catalog,
        parser=shared.parser,
        reranker=shared.reranker,
        chat_model=shared.chat_model,
    )
    library = Library(
        base=base,
        settings=settings,
        shared=shared,
        catalog=catalog,
        registry=registry,
        current=current,
        configured_fingerprint=embedder.fingerprint if embedder is not None else None,
    )
    library._watch(current)
    if not recorded:
        registry.activate(active)  # only once the collection opened with this model
    library.jobs = IngestJobs(
        pipeline=current.pipeline,
        catalog=catalog,
        jobs=JobStore(ChromaRecordStore(client, f"{settings.chroma.collection}_jobs")),
        spool_dir=settings.spool_dir,
        workers=settings.limits.ingest_workers,
        before_job=library.follow_index,
        broker=build_job_queue(settings),  # None: the jobs run in this process
        knowledge_base=base.name,
    )
    library._checked_at = time.monotonic()
    if recover_now:
        recover(current.pipeline, library._recovery_grace)
    return library
