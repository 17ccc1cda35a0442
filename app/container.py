"""The composition root: builds every part once from the settings."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from app.answering import AskService
from app.config import Settings
from app.errors import StoreUnavailable
from app.llm import ChatModel, ExtractiveAnswerer, GenerationParams, OpenAIChatModel
from app.rerank import CrossEncoderReranker, NoReranker, Reranker
from app.retrieval import HybridRetriever, Retriever
from ingest import store as store_module
from ingest.catalog import DocumentCatalog
from ingest.embedding import Embedder, SentenceTransformerEmbedder
from ingest.jobs import IngestJobs, JobStore
from ingest.lexical import BM25Index, Tokenizer
from ingest.parse_worker import ParseLimits, ProcessParser
from ingest.pipeline import IngestPipeline
from ingest.store import ChromaChunkStore, ChromaRecordStore

logger = logging.getLogger(__name__)

# With a shared Chroma server another process may be mid-ingest when this one starts.
SERVER_RECOVERY_GRACE = timedelta(minutes=30)


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


def build_embedder(settings: Settings) -> Embedder:
    return SentenceTransformerEmbedder(
        settings.embedding.model,
        device=settings.embedding.device,
        batch_size=settings.embedding.batch_size,
    )


def build_container(settings: Settings, *, embedder: Embedder | None = None) -> Container:
    embedder = embedder or build_embedder(settings)
    chroma = settings.chroma
    try:
        client = store_module.connect(
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
    prefix = chroma.collection
    store = ChromaChunkStore(client, f"{prefix}_chunks", embedder.fingerprint)
    catalog = DocumentCatalog(
        ChromaRecordStore(client, f"{prefix}_documents"),
        ChromaRecordStore(client, f"{prefix}_content"),
    )
    retrieval = settings.retrieval
    lexical = BM25Index(
        source=store,
        generations=ChromaRecordStore(client, f"{prefix}_meta"),
        tokenizer=Tokenizer(retrieval.cjk_tokenizer),
        path=settings.data_dir / "lexical" / f"{prefix}.json.gz",
        k1=retrieval.bm25_k1,
        b=retrieval.bm25_b,
    )
    limits = settings.limits
    parser = ProcessParser(
        ParseLimits(
            timeout_s=limits.parse_timeout_s,
            memory_mb=limits.parse_memory_mb,
            workers=limits.parse_workers,
        )
    )
    pipeline = IngestPipeline(
        embedder=embedder,
        store=store,
        catalog=catalog,
        files_dir=settings.files_dir,
        chunk_size=settings.embedding.chunk_size,
        chunk_overlap=settings.embedding.chunk_overlap,
        embed_batch_size=settings.embedding.ingest_batch_size,
        on_change=lexical.mark_changed,
        max_pages=limits.max_pages,
        parser=parser,
    )
    jobs = IngestJobs(
        pipeline=pipeline,
        catalog=catalog,
        jobs=JobStore(ChromaRecordStore(client, f"{prefix}_jobs")),
        spool_dir=settings.data_dir / "incoming",
        workers=limits.ingest_workers,
    )
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
    reranker: Reranker = NoReranker()
    if settings.rerank.model:
        reranker = CrossEncoderReranker(
            settings.rerank.model,
            max_length=settings.rerank.max_length,
            device=settings.rerank.device,
        )
    chat_model: ChatModel | None = None
    llm = settings.llm
    if llm.enabled and llm.model:
        defaults = llm.generation
        chat_model = OpenAIChatModel(
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
    pipeline.recover(SERVER_RECOVERY_GRACE if chroma.host else timedelta(0))
    return Container(
        settings=settings,
        embedder=embedder,
        store=store,
        lexical=lexical,
        catalog=catalog,
        pipeline=pipeline,
        retriever=retriever,
        reranker=reranker,
        chat_model=chat_model,
        ask_service=ask_service,
        parser=parser,
        jobs=jobs,
    )
