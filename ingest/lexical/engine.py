"""BM25 on tantivy: segments on disk, deletes as masks, merges in the background.

tantivy keeps docrag's own tokens (one whitespace-separated string per chunk) and finds the
candidates with its block-max WAND search and the filter's facet terms. Its BM25 constants
are fixed (k1 1.2, b 0.75), so the candidates are scored again with docrag's k1 and b, from
the chunk's stored tokens and the index's live statistics: the ranking is the one bm25s
gives over the same chunks, as long as the true top k are among tantivy's candidates.

Each chunk's embedding is stored beside its tokens, so that the chunks a filter keeps can be
listed with their vectors by the filter's facet terms alone (`matching`), at a cost that
follows their number and not the library's.
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

# Candidates tantivy finds per result asked for, and at least this many.
CANDIDATES_PER_RESULT = 5
MIN_CANDIDATES = 100
# Writers of other processes sharing a data directory hold their own copy.
MAX_COPIES = 16
_WRITER_HEAP_BYTES = 50_000_000
# `frequencies` counts the live chunks of a term held by at most this many (a cost bounded
# by it); above, the term dictionary's count (deleted chunks not yet merged away included).
EXACT_FREQUENCY_MAX = 2000
_FREQUENCY_CACHE = 100_000


@dataclass(frozen=True, slots=True)
class IndexedChunk:
    chunk_id: str
    document_id: str
    tokens: Sequence[str]
    facets: Sequence[str]
    vector: Sequence[float] | None = None  # the chunk's embedding, as stored in Chroma


@dataclass(frozen=True, slots=True)
class ScoredTokens:
    chunk_id: str
    score: float
    terms: str  # the chunk's tokens, each between two spaces of its own: " a  b  c "
    vector: bytes | None = None  # the chunk's embedding, float32 little-endian

    def has(self, token: str) -> bool:
        return f" {token} " in self.terms


@dataclass(frozen=True, slots=True)
class MatchingChunks:
    """Every chunk a filter keeps: its id and its embedding (a row of zeros, and False in
    `known`, for a chunk indexed without one)."""

    ids: list[str]
    vectors: np.ndarray  # float32, one row per id
    known: np.ndarray  # bool, one per id


def _schema() -> Any:
    import tantivy

    builder = tantivy.SchemaBuilder()
    builder.add_text_field("chunk_id", stored=True, tokenizer_name="raw")
    builder.add_text_field("document_id", tokenizer_name="raw")
    # docrag's tokens, joined by spaces: no token contains whitespace.
    builder.add_text_field("terms", stored=True, tokenizer_name="whitespace", index_option="freq")
    builder.add_text_field("facets", tokenizer_name="raw")
    builder.add_unsigned_field("length", fast=True)
    builder.add_bytes_field("vector", stored=True)  # float32, little-endian
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
        # Live document frequencies of terms asked since the last commit, which resets them.
        self._frequencies: dict[str, int] = {}

    def _open(self, directory: Path | None) -> tuple[Path | None, Any, Any]:
        tantivy = self._tantivy
        if directory is None:
            index = tantivy.Index(self._schema)
            return None, index, index.writer(_WRITER_HEAP_BYTES, 1)
        # Another live process holding the writer of a copy keeps it; take the next copy.
        for copy in range(MAX_COPIES):
            path = directory if copy == 0 else directory.with_name(f"{directory.name}.{copy}")
            path.mkdir(parents=True, exist_ok=True)
            try:
                index = tantivy.Index(self._schema, path=str(path), reuse=True)
            except ValueError as e:
                if "schema does not match" not in str(e):
                    raise
                # Written by an older docrag: replaced by a new index, which the lexical
                # index builds from Chroma (its state on disk names the older format too).
                index = tantivy.Index(self._schema, path=str(path), reuse=False)
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
                if chunk.vector is not None:
                    vector = np.asarray(chunk.vector, dtype="<f4")
                    document.add_bytes("vector", vector.tobytes())
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
            self._frequencies = {}

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
            query = query_api.boolean_query([(occur.Must, query), *self._filters(clauses)])
        # Taken before the searcher: a commit in between leaves this generation's cache alone.
        frequencies = self._frequencies
        searcher = self._index.searcher()
        limit = max(k * CANDIDATES_PER_RESULT, MIN_CANDIDATES)
        hits = searcher.search(query, limit, count=False).hits
        if not hits:
            return []
        live, average = self._statistics(searcher)
        # Each term between two spaces of its own, with its weight: repeats count again.
        needles = [
            (f" {t} ", repeats * self._idf(live, self._live_frequency(searcher, t, frequencies)))
            for t, repeats in Counter(tokens).items()
        ]
        addresses = [address for _, address in hits]
        lengths = searcher.fast_field_values("length", addresses)
        k1, b, average = self.k1, self.b, average or 1.0
        scored = []
        for address, length in zip(addresses, lengths, strict=True):
            document = searcher.doc(address)
            # Each token between its own two spaces, so that a count finds repeats side by side.
            padded = " " + str(document.get_first("terms") or "").replace(" ", "  ") + " "
            # Counting " term " in the padded tokens is the term's frequency: tokens hold no
            # spaces, and no two tokens share one.
            norm = k1 * (1 - b + b * int(length or 0) / average)
            score = 0.0
            for needle, weight in needles:
                tf = padded.count(needle)
                if tf:
                    score += weight * tf / (tf + norm)
            if score > 0:
                chunk_id, vector = document.get_first("chunk_id"), document.get_first("vector")
                scored.append(ScoredTokens(str(chunk_id), score, padded, vector))
        scored.sort(key=lambda s: (-s.score, s.chunk_id))
        return scored[:k]

    def stored(self, chunk_ids: Sequence[str]) -> list[ScoredTokens]:
        """The tokens and vectors of these chunks (score 0); ids not in the index are left
        out."""
        if not chunk_ids:
            return []
        query = self._tantivy.Query.term_set_query(self._schema, "chunk_id", list(chunk_ids))
        searcher = self._index.searcher()
        found = []
        for _, address in searcher.search(query, len(chunk_ids), count=False).hits:
            document = searcher.doc(address)
            padded = " " + str(document.get_first("terms") or "").replace(" ", "  ") + " "
            chunk_id, vector = document.get_first("chunk_id"), document.get_first("vector")
            found.append(ScoredTokens(str(chunk_id), 0.0, padded, vector))
        return found

    def matching(self, clauses: Sequence[frozenset[str]], limit: int) -> MatchingChunks | None:
        """The chunks carrying a facet term of every clause (every chunk when there is no
        clause), with their vectors; None when more than `limit` do."""
        query_api = self._tantivy.Query
        query = (
            query_api.boolean_query(self._filters(clauses)) if clauses else query_api.all_query()
        )
        searcher = self._index.searcher()
        hits = searcher.search(query, limit + 1, count=False).hits
        if len(hits) > limit:
            return None
        ids, vectors = [], []
        for _, address in hits:
            document = searcher.doc(address)
            ids.append(str(document.get_first("chunk_id")))
            vectors.append(document.get_first("vector"))
        return _matching(ids, vectors)

    def _filters(self, clauses: Sequence[frozenset[str]]) -> list[tuple[Any, Any]]:
        query_api, occur = self._tantivy.Query, self._tantivy.Occur
        return [
            (
                occur.Must,
                query_api.const_score_query(
                    query_api.term_set_query(self._schema, "facets", sorted(clause)), 0.0
                ),
            )
            for clause in clauses
        ]

    def frequencies(self, terms: Sequence[str]) -> dict[str, int]:
        """How many chunks hold each term, at a cost that does not grow with the library:
        the term dictionary's count, which also counts chunks deleted since tantivy last
        merged their segment; below `EXACT_FREQUENCY_MAX` (where a term is rare enough for
        its count to matter) the live chunks are counted, which costs that many at most."""
        frequencies = self._frequencies
        searcher = self._index.searcher()
        found: dict[str, int] = {}
        for term in dict.fromkeys(terms):
            upper = int(searcher.doc_freq("terms", term))
            exact = upper <= EXACT_FREQUENCY_MAX
            found[term] = self._live_frequency(searcher, term, frequencies) if exact else upper
        return found

    def _live_frequency(self, searcher: Any, term: str, cache: dict[str, int]) -> int:
        # tantivy's own document frequency counts deleted chunks until their segment is
        # merged; counting the live ones keeps scores equal to those of a fresh build.
        frequency = cache.get(term)
        if frequency is None:
            query = self._tantivy.Query.term_query(self._schema, "terms", term)
            frequency = int(searcher.search(query, 1, count=True).count)
            if len(cache) < _FREQUENCY_CACHE:
                cache[term] = frequency
        return frequency

    @staticmethod
    def _idf(live: int, frequency: int) -> float:
        # Lucene's idf, as bm25s computes it.
        return math.log(1 + (live - frequency + 0.5) / (frequency + 0.5))


def _matching(ids: list[str], vectors: list[bytes | None]) -> MatchingChunks:
    dimension = max((len(v) // 4 for v in vectors if v), default=0)
    known = np.array([v is not None and len(v) == dimension * 4 > 0 for v in vectors], dtype=bool)
    matrix = np.zeros((len(ids), dimension), dtype=np.float32)
    if known.any():
        stored = b"".join(v for v, k in zip(vectors, known, strict=True) if k and v)
        matrix[known] = np.frombuffer(stored, dtype="<f4").reshape(-1, dimension)
    return MatchingChunks(ids, matrix, known)
