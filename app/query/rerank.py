"""Reranking: reorder retrieved chunks by a closer reading of each against the question."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Protocol

from app.query.retrieval import Hit


class Reranker(Protocol):
    @property
    def name(self) -> str | None: ...

    def rerank(self, query: str, hits: Sequence[Hit], top_n: int) -> list[Hit]: ...


class NoReranker:
    """Keeps the retrieval order."""

    name: str | None = None

    def rerank(self, query: str, hits: Sequence[Hit], top_n: int) -> list[Hit]:
        return list(hits[:top_n])


class CrossEncoderReranker:
    """A sentence-transformers CrossEncoder scoring (question, chunk) pairs, loaded once.

    Costs one forward pass per candidate: about 2-3 s for 20 candidates of 150 words on two
    CPU cores, so the candidate count (DOCRAG_RETRIEVAL__CANDIDATES) sets its price."""

    def __init__(self, model: str, *, max_length: int = 512, device: str = "cpu") -> None:
        from sentence_transformers import CrossEncoder

        self.name = model
        self._model = CrossEncoder(model, max_length=max_length, device=device)
        self._lock = threading.Lock()

    def rerank(self, query: str, hits: Sequence[Hit], top_n: int) -> list[Hit]:
        if not hits:
            return []
        with self._lock:
            scores = self._model.predict(
                [(query, h.text) for h in hits], show_progress_bar=False, convert_to_numpy=True
            )
        ranked = sorted(
            (h.reranked(float(s)) for h, s in zip(hits, scores, strict=True)),
            key=lambda h: h.rerank_score or 0.0,
            reverse=True,
        )
        return ranked[:top_n]
