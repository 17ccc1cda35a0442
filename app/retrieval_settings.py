"""The question path's settings: retrieval (`DOCRAG_RETRIEVAL__*`: search, fusion, the
relevance gate, routing), abstention (`DOCRAG_ABSTENTION__*`) and the document profile
(`DOCRAG_QUESTIONS__*`). Parts of `app.config.Settings`; no setting changes two steps."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import BaseModel, Field, model_validator

from app.query.profiles import ProfileName


class RetrievalSettings(BaseModel):
    mode: Literal["hybrid", "dense", "lexical"] = Field(
        "hybrid", description="dense (embeddings), lexical (BM25) or hybrid (both, fused)"
    )
    rrf_k: int = Field(60, ge=1, description="reciprocal rank fusion constant")
    dense_weight: float = Field(1.0, ge=0.0, description="weight of the dense ranking in fusion")
    lexical_weight: float = Field(1.0, ge=0.0, description="weight of the BM25 ranking in fusion")
    dense_readability_power: float = Field(
        4.0,
        ge=0.0,
        description="the dense side's weight (in fusion and in the relevance gate) is scaled by "
        "(share of the question's tokens the embedding model knows) ** this; 0 = off",
    )
    cjk_tokenizer: Literal["bigram", "jieba"] = Field(
        "bigram",
        description="BM25 words for Chinese/Japanese/Korean: character unigrams and bigrams, "
        "or jieba words",
    )
    exact_filter_max_chunks: int = Field(
        5000, ge=0, description="filters keeping ≤ this many chunks are searched exactly; 0 = off"
    )
    bm25_k1: float = Field(0.9, ge=0.0, description="BM25 term-frequency saturation")
    bm25_b: float = Field(0.4, ge=0.0, le=1.0, description="BM25 length normalisation")
    mmr: bool = Field(
        False, description="diversify the kept chunks with maximal marginal relevance"
    )
    mmr_lambda: float = Field(
        0.7, ge=0.0, le=1.0, description="MMR trade-off: 1 = relevance only, 0 = diversity only"
    )
    distinct_pages: bool = Field(
        True,
        description="at most one source per page of a paged document: a page's further "
        "chunks give their places to other pages (when there are enough of them)",
    )
    expand_neighbors: int = Field(
        0, ge=0, le=3, description="widen each kept chunk with this many neighbours on each side"
    )
    candidates: int = Field(20, ge=1, le=500, description="chunks fetched before reranking")
    fusion_depth: int = Field(
        100,
        ge=1,
        le=1000,
        description="chunks each side (dense, BM25) ranks for fusion before the candidates are "
        "cut; chunks both sides rank lower beat one that only one side ranks high",
    )
    top_k: int = Field(5, ge=1, le=50, description="chunks kept for the answer by default")
    min_score: float = Field(
        0.25,
        ge=-1.0,
        le=1.0,
        description="cosine similarity a chunk needs to count as relevant (unless it passes "
        "min_term_overlap); when no chunk is relevant the documents do not contain the answer",
    )
    min_term_overlap: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description="share of the question's terms a chunk must contain to count as relevant "
        "(a CJK character counts half a word, weighted by its rarity in the library; unless "
        "it passes min_score)",
    )

    routing: bool = Field(
        True,
        description="a question that names documents (company, product, person, file name; "
        "with a year or form type, that period) searches their chunks first",
    )

    @model_validator(mode="after")
    def _top_k_within_candidates(self) -> Self:
        if self.top_k > self.candidates:
            raise ValueError("retrieval.top_k cannot exceed retrieval.candidates")
        return self


class AbstentionSettings(BaseModel):
    """The last step of selection: answer `grounded: false` without the chat model."""

    missing_share: float = Field(
        0.75,
        ge=0.0,
        le=1.0,
        description="abstain when the names the question writes (weighted by rarity in the "
        "library) are missing from every candidate for at least this share of their weight; "
        "1 = off",
    )
    acronym_weight: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description="weight of a name written in capitals (USD, EBITDA, ACME) against one "
        "written as a proper noun",
    )
    common_share: float = Field(
        0.01,
        gt=0.0,
        le=1.0,
        description="a name held by at least this share of the chunks weighs nothing (a "
        "capitalised common word)",
    )
    periods: bool = Field(
        True,
        description="abstain when the question asks about a year that none of the documents "
        "it names reports (only a profile that knows what a document reports can tell: "
        "filings)",
    )


class QuestionSettings(BaseModel):
    profile: ProfileName = Field(
        "generic",
        description="what the question path knows about the documents: generic (any "
        "documents: titles, file names, dates) or filings (SEC filings: cover-page words, form "
        "types, the three years a 10-K reports, comparisons of years)",
    )
