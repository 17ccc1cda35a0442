"""Selection, after retrieval: the relevance gate, rerank, one source per page, MMR
diversity, neighbour expansion and abstention, in that order. `/ask`, `/v1`, MCP and
`docrag eval` all call `SourceSelector.selection` (or `select`, its hits alone)."""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace

from app.query.abstention import Assessment, MissingNamesAbstention
from app.query.analysis import QuestionAnalysis, plain_analysis
from app.query.rerank import Reranker
from app.query.retrieval import Hit
from ingest.filters import Filters
from ingest.ids import sibling_chunk_id
from ingest.store import ChunkSearch, StoredChunk


@dataclass(frozen=True, slots=True)
class Selection:
    hits: list[Hit]  # the sources, best first; empty when none is relevant or abstained
    assessment: Assessment | None = None  # abstention's view, when it ran

    @property
    def abstained(self) -> bool:
        return self.assessment is not None and self.assessment.abstain


class SourceSelector:
    def __init__(
        self,
        *,
        reranker: Reranker,
        min_score: float,
        analyze: Callable[[str, Filters | None], QuestionAnalysis] = plain_analysis,
        store: ChunkSearch | None = None,
        min_term_overlap: float = 1.0,
        mmr_lambda: float | None = None,
        distinct_pages: bool = False,
        expand_neighbors: int = 0,
        abstention: MissingNamesAbstention | None = None,
    ) -> None:
        self.reranker = reranker
        self._analyze = analyze
        self._store = store
        self._min_score = min_score
        self._min_term_overlap = min_term_overlap
        self._mmr_lambda = mmr_lambda
        self._distinct_pages = distinct_pages
        self._expand_neighbors = expand_neighbors
        self.abstention = abstention

    def is_relevant(self, hit: Hit) -> bool:
        """The relevance gate, on scales that do not drift with the corpus: cosine similarity
        (discounted when the embedding model cannot read the question), or the share of the
        question's terms the chunk contains."""
        return hit.trusted_score >= self._min_score or hit.term_overlap >= self._min_term_overlap

    def select(
        self,
        question: str | QuestionAnalysis,
        hits: Sequence[Hit],
        top_k: int,
        expand: int | None = None,
    ) -> list[Hit]:
        return self.selection(question, hits, top_k, expand).hits

    def selection(
        self,
        question: str | QuestionAnalysis,
        hits: Sequence[Hit],
        top_k: int,
        expand: int | None = None,
    ) -> Selection:
        """Relevance gate, then rerank, then (optionally) one source per page, MMR diversity
        and neighbour expansion, then abstention: the chunks that go into the prompt."""
        analysis = self._analyze(question, None) if isinstance(question, str) else question
        if not any(self.is_relevant(h) for h in hits):
            return Selection([])
        # When the best hit holds enough of the question's terms, a hit also stays when it holds
        # that share of what the best one holds: among passages on one subject, a fixed share
        # of the question cuts good ones too (most in Chinese, where a question's terms are
        # noisier).
        best = max(h.term_overlap for h in hits)
        floor = self._min_term_overlap * best if best >= self._min_term_overlap else math.inf
        relevant = [h for h in hits if self.is_relevant(h) or h.term_overlap >= floor]
        whole = self._mmr_lambda is not None or self._distinct_pages
        kept = self.reranker.rerank(analysis.text, relevant, len(relevant) if whole else top_k)
        if self._distinct_pages:
            kept = one_per_page(kept, analysis.routed)
        if self._mmr_lambda is not None:
            kept = select_mmr(kept, top_k, self._mmr_lambda)
        kept = kept[:top_k]
        expand = self._expand_neighbors if expand is None else expand
        if expand and self._store is not None:
            kept = expand_neighbors(kept, self._store, expand)
        if self.abstention is None:
            return Selection(kept)
        # The names the question is about are in none of the candidates: the documents are
        # about something else, whatever the cosines say (app/query/abstention.py).
        assessment = self.abstention.assess(analysis, hits)
        return Selection([] if assessment.abstain else kept, assessment)


def one_per_page(hits: Sequence[Hit], routed: Collection[str] = ()) -> list[Hit]:
    """The hits in their order, a page's second and later chunks moved behind every first
    one: the evidence a question needs is usually one page, and five chunks of the same two
    pages show less of a document than five pages. Hits without a page (text files) each
    count as their own. The documents a question names (`routed`) keep their places ahead
    of the rest: a short document's second chunk on a page still beats another's page."""
    firsts: list[Hit] = []
    later: list[Hit] = []
    seen: set[tuple[str, int]] = set()
    for hit in hits:
        if hit.page_start is None:
            firsts.append(hit)
            continue
        key = (hit.document_id, hit.page_start)
        (later if key in seen else firsts).append(hit)
        seen.add(key)
    if not any(h.document_id in routed for h in hits):
        return firsts + later
    named = [h for h in firsts + later if h.document_id in routed]
    return named + [h for h in firsts + later if h.document_id not in routed]


def select_mmr(hits: Sequence[Hit], k: int, lambda_: float) -> list[Hit]:
    """Maximal marginal relevance: picks, one at a time, the hit that is relevant and least
    similar to those already picked, so near-duplicate chunks do not crowd out the rest."""
    if len(hits) <= 1 or any(h.vector is None for h in hits):
        return list(hits[:k])
    import numpy as np

    relevance = np.array([h.relevance for h in hits], dtype=np.float32)
    span = float(relevance.max() - relevance.min()) or 1.0
    relevance = (relevance - relevance.min()) / span
    vectors = np.array([h.vector for h in hits], dtype=np.float32)
    similarity = vectors @ vectors.T  # the vectors are normalised: cosine
    chosen: list[int] = []
    redundancy = np.zeros(len(hits), dtype=np.float32)
    available = np.ones(len(hits), dtype=bool)
    for _ in range(min(k, len(hits))):
        gain = lambda_ * relevance - (1 - lambda_) * redundancy
        gain[~available] = -np.inf
        best = int(np.argmax(gain))
        chosen.append(best)
        available[best] = False
        redundancy = np.maximum(redundancy, similarity[best])
    return [hits[i] for i in chosen]


def _merge_overlapping(left: str, right: str) -> str:
    """Joins consecutive chunks that share an overlap without repeating it."""
    longest = min(len(left), len(right))
    for size in range(longest, 0, -1):
        if left.endswith(right[:size]):
            return left + right[size:]
    return left.rstrip() + "\n" + right.lstrip()


def expand_neighbors(hits: Sequence[Hit], store: ChunkSearch, n: int) -> list[Hit]:
    """Widens each hit with up to `n` chunks on each side from the same document, so that an
    answer split across a chunk boundary reaches the prompt whole."""
    if n <= 0 or not hits:
        return list(hits)
    wanted = [
        sibling_chunk_id(h.chunk_id, o)
        for h in hits
        for o in range(h.ordinal - n, h.ordinal + n + 1)
        if o >= 0 and o != h.ordinal
    ]
    neighbours = {cid: chunk for cid, (chunk, _) in store.get_by_ids(wanted).items()}
    widened = []
    for h in hits:
        before = [
            neighbours.get(sibling_chunk_id(h.chunk_id, o)) for o in range(h.ordinal - n, h.ordinal)
        ]
        after = [
            neighbours.get(sibling_chunk_id(h.chunk_id, o))
            for o in range(h.ordinal + 1, h.ordinal + n + 1)
        ]
        text, pages = h.text, [p for p in (h.page_start, h.page_end) if p is not None]
        ocr, figure = h.ocr, h.figure
        for chunk in reversed([c for c in before if c is not None]):
            text = _merge_overlapping(chunk.text, text)
            pages.extend(_pages(chunk))
            ocr = ocr or bool(chunk.metadata.get("ocr"))
            figure = figure or bool(chunk.metadata.get("figure"))
        for chunk in [c for c in after if c is not None]:
            text = _merge_overlapping(text, chunk.text)
            pages.extend(_pages(chunk))
            ocr = ocr or bool(chunk.metadata.get("ocr"))
            figure = figure or bool(chunk.metadata.get("figure"))
        widened.append(
            replace(
                h,
                text=text,
                page_start=min(pages) if pages else None,
                page_end=max(pages) if pages else None,
                ocr=ocr,  # part of the widened text was read from a page image
                figure=figure,  # part of it describes a figure
            )
        )
    return widened


def _pages(chunk: StoredChunk) -> list[int]:
    return [
        int(v)
        for v in (chunk.metadata.get("page_start"), chunk.metadata.get("page_end"))
        if v is not None and not (isinstance(v, float) and math.isnan(v))
    ]
