"""Answering: retrieve, rerank, gate on relevance, prompt, generate, check citations."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from app.llm import ChatModel, ExtractiveAnswerer, GenerationParams, Usage
from app.prompting import PromptSource, build_messages, fit_sources
from app.rerank import Reranker
from app.retrieval import Filters, Hit, Retriever, expand_neighbors, select_mmr
from ingest.store import ChromaChunkStore

NOT_FOUND_EN = "The documents do not contain an answer to this question."
NOT_FOUND_ZH = "文档中没有找到这个问题的答案。"
_CJK = re.compile(r"[\u3400-\u9fff]")
_MARKER = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")


@dataclass(frozen=True, slots=True)
class Question:
    text: str
    top_k: int
    filters: Filters = Filters()
    generation: GenerationParams = GenerationParams()


@dataclass(frozen=True, slots=True)
class Citation:
    n: int
    document_id: str
    filename: str
    page: int | None
    page_end: int | None
    heading: str | None
    text: str
    score: float
    rerank_score: float | None


@dataclass(frozen=True, slots=True)
class Timings:
    retrieve_ms: float
    rerank_ms: float
    generate_ms: float


@dataclass(frozen=True, slots=True)
class Answer:
    answer: str
    grounded: bool
    citations: list[Citation]
    mode: Literal["generative", "extractive"]
    model: str | None
    usage: Usage | None
    timings: Timings
    finish_reason: str | None = None


def not_found_message(question: str) -> str:
    return NOT_FOUND_ZH if _CJK.search(question) else NOT_FOUND_EN


def check_citations(answer: str, count: int) -> tuple[str, list[int]]:
    """Removes markers that point at no source; returns the cleaned answer and the source
    numbers it cites, in order of first use."""
    used: list[int] = []

    def keep(match: re.Match[str]) -> str:
        numbers = [int(x) for x in re.split(r"\s*,\s*", match.group(1))]
        valid = [n for n in numbers if 1 <= n <= count]
        for n in valid:
            if n not in used:
                used.append(n)
        return "".join(f"[{n}]" for n in valid)

    cleaned = _MARKER.sub(keep, answer)
    return re.sub(r"[ \t]+([.,;:!?。，])", r"\1", cleaned).strip(), used


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 1)


class AskService:
    def __init__(
        self,
        *,
        retriever: Retriever,
        reranker: Reranker,
        chat_model: ChatModel | None,
        extractive: ExtractiveAnswerer,
        count_tokens: Callable[[str], int],
        candidates: int,
        min_score: float,
        context_tokens: int,
        store: ChromaChunkStore | None = None,
        min_term_overlap: float = 1.0,
        mmr_lambda: float | None = None,
        expand_neighbors: int = 0,
    ) -> None:
        self._retriever = retriever
        self._reranker = reranker
        self._chat_model = chat_model
        self._extractive = extractive
        self._count_tokens = count_tokens
        self._candidates = candidates
        self._min_score = min_score
        self._context_tokens = context_tokens
        self._store = store
        self._min_term_overlap = min_term_overlap
        self._mmr_lambda = mmr_lambda
        self._expand_neighbors = expand_neighbors if store is not None else 0

    def is_relevant(self, hit: Hit) -> bool:
        """The relevance gate, on scales that do not drift with the corpus: cosine similarity,
        or the share of the question's terms the chunk contains (for hits that only BM25
        finds, such as Chinese text under an English embedding model)."""
        return hit.score >= self._min_score or hit.term_overlap >= self._min_term_overlap

    def select_sources(self, question: str, hits: Sequence[Hit], top_k: int) -> list[Hit]:
        """Relevance gate, then rerank, then (optionally) MMR diversity and neighbour
        expansion: the chunks that go into the prompt."""
        relevant = [h for h in hits if self.is_relevant(h)]
        if not relevant:
            return []
        diversify = self._mmr_lambda is not None
        kept = self._reranker.rerank(question, relevant, len(relevant) if diversify else top_k)
        if self._mmr_lambda is not None:
            kept = select_mmr(kept, top_k, self._mmr_lambda)
        if self._expand_neighbors and self._store is not None:
            kept = expand_neighbors(kept, self._store, self._expand_neighbors)
        return kept

    @property
    def mode(self) -> Literal["generative", "extractive"]:
        return "generative" if self._chat_model is not None else "extractive"

    def ask(self, question: Question) -> Answer:
        start = time.perf_counter()
        hits = self._retriever.retrieve(
            question.text, max(self._candidates, question.top_k), question.filters
        )
        retrieve_ms = _ms(start)

        start = time.perf_counter()
        kept = self.select_sources(question.text, hits, question.top_k)
        rerank_ms = _ms(start)

        model_name = self._chat_model.name if self._chat_model is not None else None
        if not kept:
            return Answer(
                answer=not_found_message(question.text),
                grounded=False,
                citations=[],
                mode=self.mode,
                model=model_name,
                usage=None,
                timings=Timings(retrieve_ms, rerank_ms, 0.0),
            )

        start = time.perf_counter()
        sources = fit_sources(kept, self._count_tokens, self._context_tokens)
        usage = None
        finish_reason = None
        if self._chat_model is not None:
            generation = self._chat_model.generate(
                build_messages(question.text, sources), question.generation
            )
            text, usage, finish_reason = generation.text, generation.usage, generation.finish_reason
            model_name = generation.model
        else:
            text = self._extractive.answer(question.text, [s.hit for s in sources])
        answer, used = check_citations(text, len(sources))
        generate_ms = _ms(start)

        return Answer(
            answer=answer or not_found_message(question.text),
            grounded=bool(used),
            citations=[_citation(s) for s in sources],
            mode=self.mode,
            model=model_name,
            usage=usage,
            timings=Timings(retrieve_ms, rerank_ms, generate_ms),
            finish_reason=finish_reason,
        )


def _citation(source: PromptSource) -> Citation:
    hit = source.hit
    return Citation(
        n=source.n,
        document_id=hit.document_id,
        filename=hit.filename,
        page=hit.page_start,
        page_end=hit.page_end,
        heading=hit.heading,
        text=hit.text,
        score=round(hit.score, 4),
        rerank_score=round(hit.rerank_score, 4) if hit.rerank_score is not None else None,
    )
