"""BM25 on tantivy: segments on disk, deletes as masks, merges in the background.

tantivy keeps docrag's own tokens (one whitespace-separated string per chunk) and finds the
candidates with its block-max WAND search and the filter's facet terms. Its BM25 constants
are fixed (k1 1.2, b 0.75), so the candidates are scored again with docrag's k1 and b, from
the chunk's stored tokens and the index's live statistics: the ranking is the one bm25s
gives over the same chunks, as long as the true top k are among tantivy's candidates.
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Candidates tantivy finds per result asked for, and at least this many.
CANDIDATES_PER_RESULT = 5
MIN_CANDIDATES = 100
# Writers of other processes sharing a data directory hold their own copy.
MAX_COPIES = 16
_WRITER_HEAP_BYTES = 50_000_000


@dataclass(frozen=True, slots=True)
class IndexedChunk:
    chunk_id: str
    document_id: str
    tokens: Sequence[str]
    facets: Sequence[str]


@dataclass(frozen=True, slots=True)
class ScoredTokens:
    chunk_id: str
    score: float
    terms: str  # the chunk's tokens, each between two spaces of its own: " a  b  c "

    def has(self, token: str) -> bool:
        return f" {token} " in self.terms


def _schema() -> Any:
    import tantivy

    builder = tantivy.SchemaBuilder()
    builder.add_text_field("chunk_id", stored=True, tokenizer_name="raw")
    builder.add_text_field("document_id", tokenizer_name="raw")
    # docrag's tokens, joined by spaces: no token contains whitespace.
    builder.add_text_field("terms", stored=True, tokenizer_name="whitespace", index_option="freq")
    builder.add_text_field("facets", tokenizer_name="raw")
    builder.add_unsigned_field("length", fast=True)
    return builder.build()


class TantivyBM25:
    """One tantivy index with a single writer. `directory=None` keeps it in memory."""

    def __init__(self, directory: Path | None, *, k1: float, b: float) -> None:
        import tantivy

        self._tantivy = tantivy
        self._schema = _schema()
        self.k1, self.b = k1, b
        self.directory, self._index, self._writer = self._open(directory)
        self._lock = threading.Lock()  # the writer is used by one thread at a time
        self._stats: tuple[int, float] | None = None  # live chunks, average length

    def _open(self, directory: Path | None) -> tuple[Path | None, Any, Any]:
        tantivy = self._tantivy
        if directory is None:
            index = tantivy.Index(self._schema)
            return None, index, index.writer(_WRITER_HEAP_BYTES, 1)
        # Another live process holding the writer of a copy keeps it; take the next copy.
        for copy in range(MAX_COPIES):
            path = directory if copy == 0 else directory.with_name(f"{directory.name}.{copy}")
            path.mkdir(parents=True, exist_ok=True)
            index = tantivy.Index(self._schema, path=str(path), reuse=True)
            try:
                return path, index, index.writer(_WRITER_HEAP_BYTES, 1)
            except ValueError as e:
                if "lock" not in str(e).lower():
                    raise
        raise RuntimeError(f"every copy of the lexical index under {directory} is in use")

    # -- writes: visible to searches after `commit` ---------------------------------------

    def add(self, chunks: Sequence[IndexedChunk]) -> None:
        tantivy = self._tantivy
        with self._lock:
            for chunk in chunks:
                self._writer.delete_documents_by_term("chunk_id", chunk.chunk_id)
                document = tantivy.Document(
                    chunk_id=chunk.chunk_id,
                    document_id=chunk.document_id,
                    terms=" ".join(chunk.tokens),
                )
                document.add_unsigned("length", len(chunk.tokens))
                for facet in chunk.facets:
                    document.add_text("facets", facet)
                self._writer.add_document(document)

    def delete_document(self, document_id: str) -> None:
        with self._lock:
            self._writer.delete_documents_by_term("document_id", document_id)

    def delete_chunks(self, chunk_ids: Sequence[str]) -> None:
        with self._lock:
            for chunk_id in chunk_ids:
                self._writer.delete_documents_by_term("chunk_id", chunk_id)

    def delete_all(self) -> None:
        with self._lock:
            self._writer.delete_all_documents()

    def commit(self) -> None:
        with self._lock:
            self._writer.commit()
            self._index.reload()
            self._stats = None

    # -- reads ------------------------------------------------------------------------------

    def count(self) -> int:
        return int(self._index.searcher().num_docs)

    def _statistics(self, searcher: Any) -> tuple[int, float]:
        stats = self._stats
        if stats is None:
            live = int(searcher.num_docs)
            total = 0.0
            if live:
                found = searcher.aggregate(
                    self._tantivy.Query.all_query(), {"total": {"sum": {"field": "length"}}}
                )
                total = float(found["total"]["value"] or 0.0)
            stats = self._stats = (live, total / live if live else 0.0)
        return stats

    def search(
        self, tokens: Sequence[str], k: int, clauses: Sequence[frozenset[str]]
    ) -> list[ScoredTokens]:
        """The `k` best chunks for these query tokens (repeats count again, as in bm25s)
        among those carrying a facet term of every clause; only positive scores."""
        terms = list(dict.fromkeys(tokens))
        if not terms or k <= 0:
            return []
        query_api, occur = self._tantivy.Query, self._tantivy.Occur
        query = query_api.boolean_query(
            [(occur.Should, query_api.term_query(self._schema, "terms", t)) for t in terms]
        )
        if clauses:
            filters = [
                (
                    occur.Must,
                    query_api.const_score_query(
                        query_api.term_set_query(self._schema, "facets", sorted(clause)), 0.0
                    ),
                )
                for clause in clauses
            ]
            query = query_api.boolean_query([(occur.Must, query), *filters])
        searcher = self._index.searcher()
        limit = max(k * CANDIDATES_PER_RESULT, MIN_CANDIDATES)
        hits = searcher.search(query, limit, count=False).hits
        if not hits:
            return []
        live, average = self._statistics(searcher)
        idf = {t: self._idf(live, self._live_frequency(searcher, t)) for t in terms}
        weights = Counter(tokens)
        addresses = [address for _, address in hits]
        lengths = searcher.fast_field_values("length", addresses)
        scored = []
        for address, length in zip(addresses, lengths, strict=True):
            document = searcher.doc(address)
            # Each token between its own two spaces, so that a count finds repeats side by side.
            padded = " " + str(document.get_first("terms") or "").replace(" ", "  ") + " "
            score = self._score(padded, int(length or 0), weights, idf, average)
            if score > 0:
                scored.append(ScoredTokens(str(document.get_first("chunk_id")), score, padded))
        scored.sort(key=lambda s: (-s.score, s.chunk_id))
        return scored[:k]

    def _live_frequency(self, searcher: Any, term: str) -> int:
        # tantivy's own document frequency counts deleted chunks until their segment is
        # merged; counting the live ones keeps scores equal to those of a fresh build.
        query = self._tantivy.Query.term_query(self._schema, "terms", term)
        return int(searcher.search(query, 1, count=True).count)

    @staticmethod
    def _idf(live: int, frequency: int) -> float:
        # Lucene's idf, as bm25s computes it.
        return math.log(1 + (live - frequency + 0.5) / (frequency + 0.5))

    def _score(
        self,
        padded: str,
        length: int,
        weights: Counter[str],
        idf: dict[str, float],
        average: float,
    ) -> float:
        # Counting " term " in the padded tokens is the term's frequency: tokens hold no
        # spaces, and no two tokens share one.
        norm = self.k1 * (1 - self.b + self.b * length / (average or 1.0))
        score = 0.0
        for term, repeats in weights.items():
            tf = padded.count(f" {term} ")
            if tf:
                score += repeats * idf[term] * tf / (tf + norm)
        return score
