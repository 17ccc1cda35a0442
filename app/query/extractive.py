"""The extractive answerer, used when no chat model is configured: the sentences of the
sources that best match the question, each cited. It is not a chat model."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from app.query.retrieval import Hit
from ingest.embedding import Embedder

_SENTENCE_END = re.compile(r"(?<=[.!?。！？；])\s+|(?<=[。！？；])|\n{2,}")


def split_sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text) if s and len(s.strip()) > 1]


def _bigrams(text: str) -> set[str]:
    compact = re.sub(r"\s+", " ", text.lower())
    return {compact[i : i + 2] for i in range(len(compact) - 1)} - {"  "}


@dataclass
class ExtractiveAnswerer:
    """Answers with the sentences of the best sources that best match the question, each cited.

    Sentences are scored by embedding similarity plus character-bigram overlap, so that
    languages the embedding model reads poorly (Chinese with an English model) still match."""

    embedder: Embedder
    max_sentences: int = 3
    max_candidates: int = 60
    sources_considered: int = 3
    _weights: Mapping[str, float] = field(default_factory=lambda: {"dense": 1.0, "lexical": 1.0})

    def answer(self, question: str, hits: Sequence[Hit]) -> str:
        candidates: list[tuple[int, int, str]] = []  # (source n, position, sentence)
        for n, hit in enumerate(hits[: self.sources_considered], start=1):
            for position, sentence in enumerate(split_sentences(hit.text)):
                candidates.append((n, position, sentence))
        candidates = candidates[: self.max_candidates]
        if not candidates:
            return ""
        vectors = self.embedder.embed_documents([c[2] for c in candidates])
        query_vector = self.embedder.embed_query(question)
        query_grams = _bigrams(question)
        scored = []
        for (n, position, sentence), vector in zip(candidates, vectors, strict=True):
            dense = sum(a * b for a, b in zip(query_vector, vector, strict=True))
            grams = _bigrams(sentence)
            lexical = len(query_grams & grams) / max(1, len(query_grams))
            score = self._weights["dense"] * dense + self._weights["lexical"] * lexical
            scored.append((score, n, position, sentence))
        best = sorted(scored, reverse=True)[: self.max_sentences]
        best.sort(key=lambda item: (item[1], item[2]))  # read in source order
        return " ".join(f"{sentence} [{n}]" for _, n, _, sentence in best)
