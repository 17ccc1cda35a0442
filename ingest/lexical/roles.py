"""The two roles the lexical index plays for the question path, named apart.

It is a BM25 index (`LexicalSearch`), and it is also where each chunk's embedding is kept
beside its facets (`ChunkVectors`): Chroma's `where` is an approximate search over the
filtered chunks, so a filtered dense search lists every chunk the filter keeps here and
scores their vectors exactly; a chunk only BM25 found gets its cosine from here without a
trip to Chroma. `LexicalIndex` plays both; the retriever asks for them by these names.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from ingest.filters import Filters
from ingest.lexical.engine import MatchingChunks
from ingest.lexical.tokens import QuestionTerms

if TYPE_CHECKING:
    from ingest.lexical.index import LexicalHit


class ChunkVectors(Protocol):
    """The stored embeddings of chunks, by id or by the filter that keeps them."""

    def vectors(self, chunk_ids: Sequence[str]) -> dict[str, list[float]]: ...

    def matching_chunks(self, filters: Filters, limit: int) -> MatchingChunks | None: ...


class LexicalSearch(ChunkVectors, Protocol):
    """BM25 search within filters, and the share of a question's terms a chunk holds; with
    the chunks' vectors beside them (`ChunkVectors`)."""

    def search(self, query: str, k: int, filters: Filters | None = None) -> list[LexicalHit]: ...

    def term_overlap(
        self, query: str | QuestionTerms, text: str, chunk_id: str | None = None
    ) -> float: ...
