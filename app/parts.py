"""The composition root: builds every part once from the settings."""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from app.config import Settings
from app.errors import StoreUnavailable
from app.query.answering import AskService
from app.query.llm import ChatModel, ExtractiveAnswerer, GenerationParams, OpenAIChatModel
from app.query.rerank import CrossEncoderReranker, NoReranker, Reranker
from app.query.retrieval import HybridRetriever, Retriever
from ingest import store as store_module
from ingest.catalog import DocumentCatalog, DocumentRecord
from ingest.embedding import Embedder, SentenceTransformerEmbedder
from ingest.index import ActiveIndex, IndexRegistry
from ingest.jobs import IngestJobs, JobStore
from ingest.lexical import BM25Index, Tokenizer
from ingest.parse_worker import ParseLimits, ProcessParser
from ingest.pipeline import IngestPipeline
from ingest.store import ChromaChunkStore, ChromaRecordStore

logger = logging.getLogger(__name__)

# With a shared Chroma server another process may be mid-ingest when this one starts.
SERVER_RECOVERY_GRACE = timedelta(minutes=30)
# How often a running service looks whether `docrag reindex` switched the index.
INDEX_CHECK_INTERVAL_S = 1.0
SWITCH_RETRY_S = 60.0


@dataclass
class IndexParts:
    """Everything that depends on the active chunk collection and its embedding model."""

    embedder: Embedder
    store: ChromaChunkStore
    lexical: BM25Index
    pipeline: IngestPipeline
    retriever: Retriever
    ask_service: AskService


@dataclass
class Container:
    settings: Settings
    embedder: Embedder
    store: ChromaChunkStore
    lexical: BM25Index
    catalog: DocumentCatalog
    pipeline: IngestPipeline
    retriever: Retriever
    reranker: Reranker
    chat_model: ChatModel | None
    ask_service: AskService
    parser: ProcessParser | None = None
    jobs: IngestJobs | None = None
    client: Any = None
    registry: IndexRegistry | None = None
    index: ActiveIndex | None = None
    configured_model: str = ""
    configured_fingerprint: str | None = None  # known when the embedder was handed in
    _checked_at: float = field(default=0.0, repr=False)
    _switch_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def start_background_work(self) -> None:
        """Resumes the ingest jobs an earlier run left unfinished and starts the job workers:
        only the API server does this, never a CLI command."""
        if self.jobs is not None:
            self.jobs.recover(SERVER_RECOVERY_GRACE if self.settings.chroma.host else timedelta(0))
            self.jobs.start()

    def close(self) -> None:
        if self.jobs is not None:
            self.jobs.request_stop()
        if self.parser is not None:
            self.parser.close()  # a job's parse in progress ends now; the job is requeued
        if self.jobs is not None:
            self.jobs.close()

    @property
    def chroma_description(self) -> str:
        chroma = self.settings.chroma
        if chroma.host:
            return f"server {chroma.host}:{chroma.port}"
        return f"embedded {self.settings.chroma_dir}"

    @property
    def reindex_needed(self) -> bool:
        """The configured embedding model is not the one the active index was built with."""
        if self.index is None:
            return False
        if self.configured_fingerprint is not None:
            return self.configured_fingerprint != self.index.fingerprint
        return not same_model(self.index.model, self.configured_model)

    def refresh_index(self, max_age_s: float = INDEX_CHECK_INTERVAL_S) -> bool:
        """Switches to the index `docrag reindex` made active, if it changed; True if it did.
        Looks at the pointer at most every `max_age_s` seconds. A request already running
        keeps the parts it started with, so it never mixes two indexes."""
        if self.registry is None:
            return False
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
            if active == self.index:
                return False
            try:
                embedder = (
                    self.embedder
                    if self.embedder.fingerprint == active.fingerprint
                    else build_embedder(self.settings, active.model)
                )
                parts = build_index_parts(
                    self.settings,
                    self.client,
                    embedder,
                    active.collection,
                    catalog=self.catalog,
                    parser=self.parser,
                    reranker=self.reranker,
                    chat_model=self.chat_model,
                )
            except Exception:
                # Keep answering from the index in use; try again in a minute.
                logger.exception("cannot switch to index %s; staying on it", active.collection)
                self._checked_at = now + SWITCH_RETRY_S
                return False
            self._carry_over_from(parts)
            self.embedder, self.store, self.lexical = parts.embedder, parts.store, parts.lexical
            self.pipeline, self.retriever = parts.pipeline, parts.retriever
            self.ask_service = parts.ask_service
            if self.jobs is not None:
                self.jobs.use_pipeline(parts.pipeline)
            previous, self.index = self.index, active
        logger.info(
            "switched to index %s (model %s) from %s",
            active.collection,
            active.model,
            previous.collection if previous else None,
        )
        return True

    def _carry_over_from(self, parts: IndexParts) -> None:
        parts.pipeline.after_ready = functools.partial(self._carry_over, parts.store.name)

    def _carry_over(self, written_to: str, record: DocumentRecord) -> None:
        """An upload or replace that began before a reindex switch finishes into the old
        collection; its chunks are then written again into the active one."""
        if self.registry is None:
            return
        active = self.registry.active()
        if active is None or active.collection == written_to:
            return
        self.refresh_index(max_age_s=0)
        store, pipeline = self.store, self.pipeline
        if store.name != active.collection:
            return  # could not switch (logged); the next reindex will catch it
        store.delete_document(record.id)
        chunks = pipeline.write_chunks(record)
        current = self.catalog.get(record.id)
        if current is not None and current.generation == record.generation:
            if current.chunks != chunks:
                self.catalog.put(replace(current, chunks=chunks))
        logger.info(
            "document %s was stored into %s after the switch; copied into %s",
            record.id,
            written_to,
            store.name,
        )


def same_model(a: str, b: str) -> bool:
    """Whether two model settings name the same model (a local directory by its real path)."""

    def norm(name: str) -> str:
        return str(Path(name).resolve()) if Path(name).is_dir() else name

    return norm(a) == norm(b)


def build_embedder(settings: Settings, model: str | None = None) -> Embedder:
    return SentenceTransformerEmbedder(
        model or settings.embedding.model,
        device=settings.embedding.device,
        batch_size=settings.embedding.batch_size,
    )


def connect(settings: Settings) -> Any:
    chroma = settings.chroma
    try:
        return store_module.connect(
            path=settings.chroma_dir,
            host=chroma.host,
            port=chroma.port,
            ssl=chroma.ssl,
            headers=(
                {"Authorization": f"Bearer {chroma.auth_token.get_secret_value()}"}
                if chroma.auth_token
                else None
            ),
        )
    except store_module.StoreUnavailable as e:
        raise StoreUnavailable(str(e)) from e


def build_catalog(settings: Settings, client: Any) -> DocumentCatalog:
    prefix = settings.chroma.collection
    return DocumentCatalog(
        ChromaRecordStore(client, f"{prefix}_documents"),
        ChromaRecordStore(client, f"{prefix}_content"),
    )


def build_registry(settings: Settings, client: Any) -> IndexRegistry:
    prefix = settings.chroma.collection
    return IndexRegistry(ChromaRecordStore(client, f"{prefix}_meta"), prefix)


def build_parser(settings: Settings) -> ProcessParser:
    limits = settings.limits
    return ProcessParser(
        ParseLimits(
            timeout_s=limits.parse_timeout_s,
            memory_mb=limits.parse_memory_mb,
            workers=limits.parse_workers,
        )
    )


def build_pipeline(
    settings: Settings,
    embedder: Embedder,
    store: ChromaChunkStore,
    catalog: DocumentCatalog,
    *,
    parser: ProcessParser | None,
    on_change: Callable[[], None] | None,
) -> IngestPipeline:
    return IngestPipeline(
        embedder=embedder,
        store=store,
        catalog=catalog,
        files_dir=settings.files_dir,
        chunk_size=settings.embedding.chunk_size,
        chunk_overlap=settings.embedding.chunk_overlap,
        embed_batch_size=settings.embedding.ingest_batch_size,
        on_change=on_change,
        max_pages=settings.limits.max_pages,
        parser=parser,
    )


def _is_first_collection(settings: Settings, collection: str) -> bool:
    return collection == f"{settings.chroma.collection}_chunks"


def lexical_cache_path(settings: Settings, collection: str) -> Path:
    """Where the BM25 tokens of a chunk collection are cached (the first collection keeps the
    name it had before reindex existed)."""
    name = settings.chroma.collection if _is_first_collection(settings, collection) else collection
    return settings.data_dir / "lexical" / f"{name}.json.gz"


def build_lexical(settings: Settings, client: Any, store: ChromaChunkStore) -> BM25Index:
    prefix = settings.chroma.collection
    retrieval = settings.retrieval
    # The index of the first collection keeps its old token.
    legacy = _is_first_collection(settings, store.name)
    return BM25Index(
        source=store,
        generations=ChromaRecordStore(client, f"{prefix}_meta"),
        tokenizer=Tokenizer(retrieval.cjk_tokenizer),
        path=lexical_cache_path(settings, store.name),
        k1=retrieval.bm25_k1,
        b=retrieval.bm25_b,
        token_id="lexical_generation" if legacy else f"lexical_generation:{store.name}",
    )


def build_index_parts(
    settings: Settings,
    client: Any,
    embedder: Embedder,
    collection: str,
    *,
    catalog: DocumentCatalog,
    parser: ProcessParser | None,
    reranker: Reranker,
    chat_model: ChatModel | None,
) -> IndexParts:
    store = ChromaChunkStore(client, collection, embedder.fingerprint)
    lexical = build_lexical(settings, client, store)
    pipeline = build_pipeline(
        settings, embedder, store, catalog, parser=parser, on_change=lexical.mark_changed
    )
    retrieval = settings.retrieval
    retriever = HybridRetriever(
        embedder=embedder,
        store=store,
        catalog=catalog,
        lexical=lexical,
        mode=retrieval.mode,
        rrf_k=retrieval.rrf_k,
        dense_weight=retrieval.dense_weight,
        lexical_weight=retrieval.lexical_weight,
        readability_power=retrieval.dense_readability_power,
    )
    llm = settings.llm
    ask_service = AskService(
        retriever=retriever,
        reranker=reranker,
        chat_model=chat_model,
        extractive=ExtractiveAnswerer(embedder),
        count_tokens=embedder.count_tokens,
        store=store,
        candidates=retrieval.candidates,
        min_score=retrieval.min_score,
        min_term_overlap=retrieval.min_term_overlap,
        mmr_lambda=retrieval.mmr_lambda if retrieval.mmr else None,
        expand_neighbors=retrieval.expand_neighbors,
        context_tokens=llm.context_tokens,
        history_tokens=llm.history_tokens,
        condense=llm.condense,
        condense_max_tokens=llm.condense_max_tokens,
    )
    return IndexParts(embedder, store, lexical, pipeline, retriever, ask_service)


def build_chat_model(settings: Settings) -> ChatModel | None:
    llm = settings.llm
    if not (llm.enabled and llm.model):
        return None
    defaults = llm.generation
    return OpenAIChatModel(
        model=llm.model,
        base_url=llm.base_url,
        api_key=llm.api_key.get_secret_value() if llm.api_key else None,
        timeout_s=llm.timeout_s,
        connect_timeout_s=llm.connect_timeout_s,
        max_retries=llm.max_retries,
        defaults=GenerationParams(
            temperature=defaults.temperature,
            top_p=defaults.top_p,
            max_tokens=defaults.max_tokens,
            stop=tuple(defaults.stop),
        ),
    )


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
    if embedder is not None and embedder.fingerprint == active.fingerprint:
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


def build_container(settings: Settings, *, embedder: Embedder | None = None) -> Container:
    client = connect(settings)
    catalog = build_catalog(settings, client)
    registry = build_registry(settings, client)
    active, index_embedder, recorded = resolve_index(settings, registry, embedder)
    parser = build_parser(settings)
    reranker: Reranker = NoReranker()
    if settings.rerank.model:
        reranker = CrossEncoderReranker(
            settings.rerank.model,
            max_length=settings.rerank.max_length,
            device=settings.rerank.device,
        )
    chat_model = build_chat_model(settings)
    parts = build_index_parts(
        settings,
        client,
        index_embedder,
        active.collection,
        catalog=catalog,
        parser=parser,
        reranker=reranker,
        chat_model=chat_model,
    )
    if not recorded:
        registry.activate(active)  # only once the collection opened with this model
    container = Container(
        settings=settings,
        embedder=parts.embedder,
        store=parts.store,
        lexical=parts.lexical,
        catalog=catalog,
        pipeline=parts.pipeline,
        retriever=parts.retriever,
        reranker=reranker,
        chat_model=chat_model,
        ask_service=parts.ask_service,
        parser=parser,
        client=client,
        registry=registry,
        index=active,
        configured_model=settings.embedding.model,
        configured_fingerprint=embedder.fingerprint if embedder is not None else None,
    )
    container.jobs = IngestJobs(
        pipeline=parts.pipeline,
        catalog=catalog,
        jobs=JobStore(ChromaRecordStore(client, f"{settings.chroma.collection}_jobs")),
        spool_dir=settings.data_dir / "incoming",
        workers=settings.limits.ingest_workers,
        before_job=container.refresh_index,
    )
    container._carry_over_from(parts)
    container._checked_at = time.monotonic()
    parts.pipeline.recover(SERVER_RECOVERY_GRACE if settings.chroma.host else timedelta(0))
    return container
