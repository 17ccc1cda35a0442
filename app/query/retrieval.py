"""Retrieval: the chunks that best match a question, only from documents that answer
questions (ready, or being read: the pages stored so far).

Dense search (Chroma) and lexical search (BM25) run with the same filters inside each search,
and their rankings are fused with reciprocal rank fusion. Every hit carries its cosine
similarity and the share of the question's terms it contains, so the relevance gate can
judge hits found by either side."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal, Protocol

from app.query.analysis import QuestionAnalysis, plain_analysis
from app.query.question_vectors import question_vector
from ingest.catalog import DocumentCatalog, answers_questions
from ingest.embedding import Embedder
from ingest.filters import Filters as Filters  # re-exported: the question path's filters
from ingest.ids import chunk_generation
from ingest.lexical import LexicalHit, LexicalSearch, MatchingChunks, fuse_rankings
from ingest.store import ChunkSearch, ScoredChunk, StoredChunk

RetrievalMode = Literal["hybrid", "dense", "lexical"]


@dataclass(frozen=True, slots=True)
class Hit:
    chunk_id: str
    document_id: str
    filename: str
    text: str
    ordinal: int
    page_start: int | None
    page_end: int | None
    heading: str | None
    score: float  # cosine similarity to the question, comparable across queries
    term_overlap: float = 0.0  # share of the question's terms found in the chunk
    # How far the embedding model can read the question (1 = every token known): a cosine
    # computed on a question the model cannot read means nothing.
    dense_trust: float = 1.0
    fused_score: float = 0.0  # position in the fused ranking (higher is better)
    rerank_score: float | None = None
    ocr: bool = False  # the chunk's text was read from a page image
    figure: bool = False  # the chunk describes the figures on its page (a vision model's)
    vector: tuple[float, ...] | None = field(default=None, repr=False, compare=False)
    context: str | None = None  # the header indexed with the chunk (title, section, page)
    knowledge_base: str | None = None  # the base it was found in (set by the ask service)

    def reranked(self, score: float) -> Hit:
        return replace(self, rerank_score=score)

    @property
    def trusted_score(self) -> float:
        return self.score * self.dense_trust

    @property
    def relevance(self) -> float:
        """The best available ranking signal for this hit."""
        return self.rerank_score if self.rerank_score is not None else self.fused_score


def hit_from_chunk(chunk: StoredChunk, score: float, vector: Sequence[float] | None = None) -> Hit:
    meta = chunk.metadata

    def optional_int(key: str) -> int | None:
        value = meta.get(key)
        return int(value) if value is not None else None

    heading = meta.get("heading")
    context = meta.get("context")
    return Hit(
        chunk_id=chunk.id,
        document_id=chunk.document_id,
        filename=str(meta.get("filename", "")),
        text=chunk.text,
        ordinal=int(meta.get("ordinal", 0)),
        page_start=optional_int("page_start"),
        page_end=optional_int("page_end"),
        heading=str(heading) if heading is not None else None,
        score=score,
        ocr=bool(meta.get("ocr", False)),
        figure=bool(meta.get("figure", False)),
        vector=tuple(vector) if vector is not None else None,
        context=str(context) if context else None,
    )


class Retriever(Protocol):
    def retrieve(
        self, query: str | QuestionAnalysis, k: int, filters: Filters | None = None
    ) -> list[Hit]: ...


# Of the candidates, the share that stays open to the rest of the library when a question
# names documents (a soft filter, in case the naming was wrong; a reranker may promote them).
# Kept from the first routing rule; not tuned since.
OPEN_TO_THE_REST = 0.25


def _cosine(a: Sequence[float], b: Sequence[float] | None) -> float:
    # Of a chunk only BM25 found: comparable with the dense side's (normalised) scores.
    if b is None:
        return 0.0
    import numpy as np

    return float(np.dot(np.asarray(a, dtype=np.float32), np.asarray(b, dtype=np.float32)))


class HybridRetriever:
    """Dense, lexical or both (fused by reciprocal rank fusion), chosen by `mode`."""

    def __init__(
        self,
        *,
        embedder: Embedder,
        store: ChunkSearch,
        catalog: DocumentCatalog,
        lexical: LexicalSearch | None,
        mode: RetrievalMode = "hybrid",
        rrf_k: int = 60,
        dense_weight: float = 1.0,
        lexical_weight: float = 1.0,
        readability_power: float = 4.0,
        analyze: Callable[[str, Filters | None], QuestionAnalysis] = plain_analysis,
        exact_filter_max_chunks: int = 5000,
        fusion_depth: int = 0,
    ) -> None:
        if mode != "dense" and lexical is None:
            raise ValueError(f"retrieval mode {mode!r} needs a lexical index")
        self._embedder = embedder
        self._store = store
        self._catalog = catalog
        self._lexical = lexical
        self.mode = mode
        self._rrf_k = rrf_k
        self._weights = (dense_weight, lexical_weight)
        self._readability_power = readability_power
        self._analyze = analyze
        self._exact_filter_max = exact_filter_max_chunks
        self._fusion_depth = fusion_depth

    def retrieve(
        self, query: str | QuestionAnalysis, k: int, filters: Filters | None = None
    ) -> list[Hit]:
        """The `k` best chunks; when the question names documents, theirs come first (a soft
        filter: the rest of the library follows, in case the naming was wrong)."""
        filters = filters or Filters()
        analysis = self._analyze(query, filters) if isinstance(query, str) else query
        vector = question_vector(self._embedder, analysis.text)
        if not analysis.routed:
            return self._retrieve(analysis, vector, k, filters)
        named = replace(filters, document_ids=analysis.routed)
        routed = self._retrieve(analysis, vector, k, named)
        seen = {h.chunk_id for h in routed}
        rest = [h for h in self._retrieve(analysis, vector, k, filters) if h.chunk_id not in seen]
        head = routed[: k - min(int(k * OPEN_TO_THE_REST), len(rest))]
        return head + rest[: k - len(head)]

    def _retrieve(
        self, analysis: QuestionAnalysis, vector: Sequence[float], k: int, filters: Filters
    ) -> list[Hit]:
        # Each side's list is fused deeper than the k kept: a chunk ranked 30th by both sides
        # is better evidence than one ranked 3rd by one side alone, and a list cut at k hides
        # the agreement that reciprocal rank fusion rewards.
        fetch, keep = max(k, self._fusion_depth), k
        hits: list[Hit] = []
        for _ in range(3):
            hits, exhausted = self._search(analysis, vector, fetch, filters, keep)
            hits = self._only_ready(hits)
            # Chunks of a document not yet counted by its record are invisible; fetch more.
            if len(hits) >= k or exhausted:
                break
            fetch, keep = fetch * 2, keep * 2
        return hits[:k]

    def _search(
        self,
        analysis: QuestionAnalysis,
        vector: Sequence[float],
        k: int,
        filters: Filters,
        keep: int,
    ) -> tuple[list[Hit], bool]:
        """Each side's `k` best, fused; the `keep` best of the fusion as hits (only they are
        read from the stores)."""
        dense = self._dense(vector, k, filters) if self.mode != "lexical" else []
        lexical = (
            self._lexical.search(analysis.text, k, filters)
            if self._lexical is not None and self.mode != "dense"
            else []
        )
        exhausted = len(dense) < k and len(lexical) < k

        # The dense side has nothing to say about what its model cannot read; scaling its
        # weight keeps it from drowning BM25 on, say, Chinese under an English-only model.
        trust = self._embedder.known_token_share(analysis.text) ** self._readability_power
        dense_weight, lexical_weight = self._weights
        if self.mode == "hybrid":
            dense_weight *= trust
        fused = fuse_rankings(
            [
                ([s.chunk.id for s in dense], dense_weight if self.mode != "lexical" else 0.0),
                ([h.chunk_id for h in lexical], lexical_weight if self.mode != "dense" else 0.0),
            ],
            k=self._rrf_k,
        )[:keep]
        wanted = {chunk_id for chunk_id, _ in fused}
        found = self._hits(
            vector,
            [s for s in dense if s.chunk.id in wanted],
            [h for h in lexical if h.chunk_id in wanted],
        )
        hits = [
            replace(
                found[chunk_id],
                fused_score=score,
                term_overlap=self._coverage(analysis, found[chunk_id].text, chunk_id),
                dense_trust=trust,
            )
            for chunk_id, score in fused
            if chunk_id in found
        ]
        return hits, exhausted

    def _coverage(self, analysis: QuestionAnalysis, text: str, chunk_id: str) -> float:
        if self._lexical is None:
            return 0.0
        return self._lexical.term_overlap(analysis.terms, text, chunk_id)

    def _hits(
        self, vector: Sequence[float], dense: list[ScoredChunk], lexical: list[LexicalHit]
    ) -> dict[str, Hit]:
        """Every chunk either side found, with its text and vector. The lexical index holds
        the vectors beside the tokens; Chroma is asked for the texts of the chunks only BM25
        found, and for the vectors of chunks the index does not hold (yet)."""
        chunks = {s.chunk.id: s.chunk for s in dense}
        scores = {s.chunk.id: s.score for s in dense}
        vectors = {h.chunk_id: h.vector for h in lexical if h.vector is not None}
        vectors.update((s.chunk.id, s.vector) for s in dense if s.vector is not None)
        missing = [h.chunk_id for h in lexical if h.chunk_id not in chunks]
        for chunk_id, (chunk, _) in self._store.get_by_ids(missing).items():
            chunks[chunk_id] = chunk
        unknown = [c for c in chunks if c not in vectors]
        if unknown and self._lexical is not None:
            vectors.update(self._lexical.vectors(unknown))
            unknown = [c for c in unknown if c not in vectors]
        for chunk_id, (_, stored) in self._store.get_by_ids(unknown, with_vectors=True).items():
            if stored is not None:
                vectors[chunk_id] = stored
        return {
            chunk_id: hit_from_chunk(
                chunk,
                scores[chunk_id] if chunk_id in scores else _cosine(vector, vectors.get(chunk_id)),
                vectors.get(chunk_id),
            )
            for chunk_id, chunk in chunks.items()
        }

    def _dense(self, vector: Sequence[float], k: int, filters: Filters) -> list[ScoredChunk]:
        # Chroma's `where` scans the metadata of the whole collection: a filter that keeps few
        # chunks is answered by listing them, with their vectors, in the lexical index and
        # scoring every one exactly, at a cost that follows the filter and not the library.
        if filters and self._lexical is not None and self._exact_filter_max > 0:
            matching = self._lexical.matching_chunks(filters, self._exact_filter_max)
            if matching is not None and bool(matching.known.all()):
                return self._nearest_among(vector, matching, k)
        # The vectors of the hits come from the lexical index when there is one.
        with_vectors = self._lexical is None
        return self._store.query(vector, k, filters.where(), with_vectors=with_vectors)

    def _nearest_among(
        self, vector: Sequence[float], matching: MatchingChunks, k: int
    ) -> list[ScoredChunk]:
        import numpy as np

        if not matching.ids:
            return []
        matrix, query = matching.vectors, np.asarray(vector, dtype=np.float32)
        # Cosine, as the collection's space measures it. einsum, not BLAS: OpenBLAS threads
        # spin after a call and take CPU from the other questions.
        norms = np.sqrt(np.einsum("ij,ij->i", matrix, matrix)) * float(np.sqrt(query @ query))
        scores = np.einsum("ij,j->i", matrix, query) / np.where(norms > 0, norms, 1.0)
        best = [int(i) for i in np.argsort(-scores, kind="stable")[:k]]
        chunks = self._store.get_by_ids([matching.ids[i] for i in best])
        return [
            ScoredChunk(chunks[chunk_id][0], float(scores[i]), matrix[i].tolist())
            for i in best
            if (chunk_id := matching.ids[i]) in chunks
        ]

    def _only_ready(self, hits: Sequence[Hit]) -> list[Hit]:
        # One read of the records decides for every hit: while a replace switches a document
        # to its next generation, a question sees the old chunks or the new, never both.
        records = self._catalog.get_many([h.document_id for h in hits])
        return [
            h
            for h in hits
            if (record := records.get(h.document_id)) is not None
            and answers_questions(record)
            and chunk_generation(h.chunk_id) == record.generation
        ]
