"""The composition root: the assembly of a base's index snapshot, a base (`build_library`)
and the process (`build_parts`), in order, from the parts `app/part_builders.py` makes, with
nothing patched afterwards. Nothing else builds parts."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable

from app.base_sync import BaseSyncs
from app.broker import build_job_queue
from app.config import Settings
from app.library import IndexParts, IndexSwitch, Library, Shared, same_model
from app.part_builders import (
    build_base_store,
    build_catalog,
    build_chat_model,
    build_chunk_store,
    build_embedder,
    build_job_store,
    build_key_store,
    build_lexical,
    build_ocr_options,
    build_parser,
    build_pipeline,
    build_question_path,
    build_registry,
    build_reranker,
    connect,
    lexical_directory,
)
from app.parts import Parts
from app.query.answering import AskService
from app.query.dispatch import AnswerDispatch
from app.query.federation import FederatedAskService
from ingest.catalog import DocumentCatalog, DocumentRecord
from ingest.embedding import Embedder, same_fingerprint
from ingest.jobs import IngestJobs
from ingest.knowledge_bases import KnowledgeBase
from ingest.reindex import ActiveIndex, IndexRegistry

# Part builders, for the CLI commands and benches that build one part alone.
__all__ = [
    "build_catalog",
    "build_embedder",
    "build_library",
    "build_ocr_options",
    "build_parts",
    "connect",
    "lexical_directory",
    "same_model",
]

logger = logging.getLogger(__name__)


def build_index_parts(
    settings: Settings,
    shared: Shared,
    catalog: DocumentCatalog,
    index: ActiveIndex,
    embedder: Embedder,
    after_ready: Callable[[DocumentRecord], None],
) -> IndexParts:
    store = build_chunk_store(shared.client, index.collection, embedder)
    lexical = build_lexical(settings, shared.client, store)
    pipeline = build_pipeline(
        settings,
        embedder,
        store,
        catalog,
        parser=shared.parser,
        lexical=lexical,
        after_ready=after_ready,
    )
    retriever, ask_service = build_question_path(
        settings,
        embedder=embedder,
        store=store,
        catalog=catalog,
        lexical=lexical,
        reranker=shared.reranker,
        chat_model=shared.chat_model,
    )
    answers = AnswerDispatch(ask_service, shared.chat_model, settings.llm.agent_max_steps)
    return IndexParts(index, embedder, store, lexical, pipeline, retriever, ask_service, answers)


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


def build_library(
    shared: Shared,
    base: KnowledgeBase,
    *,
    embedder: Embedder | None = None,
    recover_now: bool = True,
) -> Library:
    """One base's parts, in order; with `recover_now` (the CLI) the crash clean-up runs
    before this returns, without it (the server) `start_background_work` runs it."""
    settings = shared.settings.for_knowledge_base(base)
    catalog = build_catalog(settings, shared.client)
    registry = build_registry(settings, shared.client)
    active, index_embedder, recorded = resolve_index(settings, registry, embedder)
    switch = IndexSwitch(
        settings=settings,
        registry=registry,
        catalog=catalog,
        first=active,
        embedder=index_embedder,
        open_index=functools.partial(build_index_parts, settings, shared, catalog),
        load_embedder=functools.partial(build_embedder, settings),
        configured_fingerprint=embedder.fingerprint if embedder is not None else None,
    )
    if not recorded:
        registry.activate(active)  # only once the collection opened with this model
    jobs = IngestJobs(
        pipeline=switch.current.pipeline,
        catalog=catalog,
        jobs=build_job_store(settings, shared.client),
        spool_dir=settings.spool_dir,
        workers=settings.limits.ingest_workers,
        before_job=switch.follow,
        broker=build_job_queue(settings),  # None: the jobs run in this process
        knowledge_base=base.name,
    )
    switch.subscribe(lambda parts: jobs.use_pipeline(parts.pipeline))
    library = Library(
        base=base,
        settings=settings,
        shared=shared,
        catalog=catalog,
        registry=registry,
        switch=switch,
        jobs=jobs,
    )
    if recover_now:
        library.recover_now()
    return library


def build_federation(shared: Shared, services: list[AskService]) -> AnswerDispatch:
    """One answer service over several bases' (`/ask` with `knowledge_bases`)."""
    return AnswerDispatch(
        FederatedAskService(services), shared.chat_model, shared.settings.llm.agent_max_steps
    )


def build_parts(
    settings: Settings, *, embedder: Embedder | None = None, recover_now: bool = True
) -> Parts:
    """All the parts of a process, every knowledge base's included: the composition root."""
    client = connect(settings)
    shared = Shared(
        settings=settings,
        client=client,
        parser=build_parser(settings),
        reranker=build_reranker(settings),
        chat_model=build_chat_model(settings),
    )

    def open_library(base: KnowledgeBase, reuse: Embedder | None) -> Library:
        return build_library(shared, base, embedder=reuse, recover_now=recover_now)

    parts = Parts(
        shared=shared,
        bases=build_base_store(settings, client),
        keys=build_key_store(settings, client),
        libraries={},
        syncs=BaseSyncs(max_bytes=settings.limits.max_upload_bytes, watch=settings.sync.watch),
        open_library=open_library,
        federate=functools.partial(build_federation, shared),
        embedder=embedder,
    )
    parts.open_bases()
    return parts
