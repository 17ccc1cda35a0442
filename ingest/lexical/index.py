"""The lexical index of one chunk collection: written with each document, following the
writes of other processes through the change feed, persisted across restarts.

- This process's writes reach it through `IndexedChunkStore`, the store the ingest pipeline
  writes through: one document's add or delete costs that document. `publish` (the
  pipeline's change hook) makes them searchable and tells the other processes.
- Another process's writes reach it through the change feed: at most every
  `follow_interval_s` a question first reads the feed entries since the index's cursor and
  fetches only those documents' chunks from Chroma. A document made ready on any process is
  thus found here by every question that starts `follow_interval_s` after it was ready
  (given clocks within `SETTLE_S` of each other).
- Each chunk's embedding is stored beside its tokens and facets: the index is also the
  question path's `ChunkVectors` (`roles`), for exact filtered dense search.
- The index and its cursor live on disk; a restart reads neither Chroma's chunks nor more
  of the feed than what changed while it was down. Only a new index (or one away longer
  than the feed keeps entries) is built from every chunk in Chroma, once.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ingest.filters import Filters, facet_terms
from ingest.lexical.engine import IndexedChunk, MatchingChunks, ScoredTokens, TantivyBM25
from ingest.lexical.feed import RETENTION_S, ChangeFeed
from ingest.lexical.tokens import QuestionTerms, Tokenizer
from ingest.store import StoredChunk, Where
from parsers.chunking import with_context

logger = logging.getLogger(__name__)

# How far back each read of the feed looks again: entries that became visible late, or were
# stamped by a clock up to this far behind.
SETTLE_S = 10.0
_FORMAT = 2  # of what is on disk; another value builds the index again (2: vectors)
_BUILD_BATCH = 2000
_TOKEN_CACHE = 20_000


@dataclass(frozen=True, slots=True)
class LexicalHit:
    chunk_id: str
    score: float
    vector: list[float] | None = None  # the chunk's embedding, when the index holds it


class ChunkSource(Protocol):
    """Where the index reads chunks written by other processes: the chunk store."""

    def get(self, where: Where | None = None, limit: int | None = None) -> list[StoredChunk]: ...

    def chunk_refs(self, where: Where | None = None) -> list[tuple[str, str]]: ...

    def get_by_ids(
        self, ids: Sequence[str], *, with_vectors: bool = False
    ) -> Mapping[str, tuple[StoredChunk, Any]]: ...


def indexed_text(chunk: StoredChunk) -> str:
    """What a chunk is found by: its context header (document title, section), if the
    pipeline gave it one, and its text."""
    context = chunk.metadata.get("context")
    return with_context(str(context) if context else None, chunk.text)


class LexicalIndex:
    def __init__(
        self,
        *,
        collection: str,
        source: ChunkSource,
        feed: ChangeFeed,
        tokenizer: Tokenizer,
        directory: Path | None,
        k1: float = 0.9,
        b: float = 0.4,
        follow_interval_s: float = 1.0,
    ) -> None:
        self.collection = collection
        self.follow_interval_s = follow_interval_s
        self._source = source
        self._feed = feed
        self._tokenize = tokenizer
        self._signature = f"{_FORMAT}:{tokenizer.signature}:{collection}"
        self._engine = TantivyBM25(directory, k1=k1, b=b)
        self._origin = uuid.uuid4().hex  # marks this index's own feed entries
        self._lock = threading.RLock()
        self._pending: dict[str, None] = {}  # documents written here, not yet published
        self._cursor: float | None = None  # feed entries before it are in the index
        self._seen: set[str] = set()  # feed entries at or after cursor - SETTLE_S applied
        self._followed_at = -float("inf")
        self._found: OrderedDict[str, ScoredTokens] = OrderedDict()  # recent hits' tokens
        self._cache_lock = threading.Lock()
        self._last_query: tuple[str, QuestionTerms] | None = None
        self._load_state()

    @property
    def directory(self) -> Path | None:
        return self._engine.directory

    # -- state on disk -------------------------------------------------------------------

    def _state_path(self) -> Path | None:
        directory = self._engine.directory
        return directory / "docrag-lexical.json" if directory is not None else None

    def _load_state(self) -> None:
        path = self._state_path()
        if path is None or not path.exists():
            return
        try:
            state = json.loads(path.read_text())
            if state.get("signature") != self._signature:
                return
            cursor, origin, seen = float(state["cursor"]), str(state["origin"]), state["seen"]
        except (OSError, ValueError, KeyError, TypeError) as e:
            logger.warning("ignoring unreadable lexical index state %s: %s", path, e)
            return
        # The same origin after a restart: this index's own entries are not applied again.
        self._cursor, self._origin, self._seen = cursor, origin, set(seen)

    def _save_state(self) -> None:
        path = self._state_path()
        if path is None or self._cursor is None:
            return
        state = {
            "signature": self._signature,
            "cursor": self._cursor,
            "origin": self._origin,
            "seen": sorted(self._seen),
        }
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state))
        tmp.replace(path)

    # -- keeping up with the store -------------------------------------------------------

    def _ensure_built(self) -> None:
        if self._cursor is not None and self._cursor >= self._feed.now() - RETENTION_S:
            return
        with self._lock:
            if self._cursor is not None and self._cursor >= self._feed.now() - RETENTION_S:
                return
            self._build()

    def _build(self) -> None:
        """Every chunk of the collection, read from Chroma in batches: a new index only."""
        started = self._feed.now()
        self._engine.delete_all()
        refs = self._source.chunk_refs()
        for start in range(0, len(refs), _BUILD_BATCH):
            ids = [chunk_id for chunk_id, _ in refs[start : start + _BUILD_BATCH]]
            found = self._source.get_by_ids(ids, with_vectors=True)
            self._engine.add([self._indexed(chunk, vector) for chunk, vector in found.values()])
        self._engine.commit()
        self._cursor, self._seen = started, set()
        self._save_state()
        logger.info("lexical index of %s built over %d chunks", self.collection, len(refs))

    def follow(self, max_age_s: float = 0.0) -> int:
        """Applies the feed entries of other processes; returns how many documents changed.
        Does nothing when the feed was read less than `max_age_s` ago."""
        self._ensure_built()
        with self._lock:
            if time.monotonic() - self._followed_at < max_age_s:
                return 0  # another thread just did
            assert self._cursor is not None
            polled = self._feed.now()
            changes = self._feed.since(self.collection, self._cursor - SETTLE_S)
            wanted = {
                c.document_id: None
                for c in changes
                if c.id not in self._seen and c.origin != self._origin
            }
            for document_id in wanted:
                self._sync_document(document_id)
            if wanted:
                self._engine.commit()
            self._seen = {c.id for c in changes}
            self._cursor = max(self._cursor, polled)
            self._save_state()
            self._followed_at = time.monotonic()
            return len(wanted)

    def _follow_if_due(self) -> None:
        if time.monotonic() - self._followed_at >= self.follow_interval_s:
            self.follow(self.follow_interval_s)

    def _sync_document(self, document_id: str) -> None:
        refs = self._source.chunk_refs(where={"document_id": document_id})
        found = self._source.get_by_ids([chunk_id for chunk_id, _ in refs], with_vectors=True)
        self._engine.delete_document(document_id)
        self._engine.add([self._indexed(c, vector) for c, vector in found.values()])

    def _indexed(self, chunk: StoredChunk, vector: Sequence[float] | None = None) -> IndexedChunk:
        return IndexedChunk(
            chunk_id=chunk.id,
            document_id=chunk.document_id,
            tokens=self._tokenize(indexed_text(chunk)),
            facets=facet_terms(chunk.document_id, chunk.metadata),
            vector=vector,
        )

    # -- this process's writes (through IndexedChunkStore) -------------------------------

    def index_chunks(
        self,
        chunks: Sequence[StoredChunk],
        vectors: Sequence[Sequence[float]] | None = None,
    ) -> None:
        self._ensure_built()
        if vectors is not None and len(vectors) != len(chunks):
            raise ValueError("one vector per chunk")
        entries = [
            self._indexed(c, vectors[i] if vectors is not None else None)
            for i, c in enumerate(chunks)
        ]
        with self._lock:
            self._engine.add(entries)
            self._pending.update(dict.fromkeys(c.document_id for c in chunks))

    def remove_document(self, document_id: str) -> None:
        self._ensure_built()
        with self._lock:
            self._engine.delete_document(document_id)
            self._pending[document_id] = None

    def remove_chunks(self, chunk_ids: Sequence[str]) -> None:
        self._ensure_built()
        with self._lock:
            self._engine.delete_chunks(chunk_ids)
            self._pending.update(dict.fromkeys(c.split(":", 1)[0] for c in chunk_ids))

    def publish(self) -> None:
        """Makes this process's writes searchable and announces them to the others."""
        self._ensure_built()
        with self._lock:
            pending, self._pending = list(self._pending), {}
            self._engine.commit()
        if pending:
            self._feed.announce(self.collection, pending, self._origin)

    # -- questions -----------------------------------------------------------------------

    def search(self, query: str, k: int, filters: Filters | None = None) -> list[LexicalHit]:
        self._follow_if_due()
        tokens = self._tokenize(query)
        if not tokens or k <= 0:
            return []
        clauses = filters.facet_clauses() if filters is not None else []
        found = self._engine.search(tokens, k, clauses)
        for hit in found:
            self._remember(hit)
        return [LexicalHit(h.chunk_id, h.score, _floats(h.vector)) for h in found]

    def vectors(self, chunk_ids: Sequence[str]) -> dict[str, list[float]]:
        """The embeddings of these chunks that the index holds. Their tokens are kept for
        `term_overlap`, so that a question's dense hits are not tokenised again."""
        known: dict[str, list[float]] = {}
        wanted = []
        for chunk_id in dict.fromkeys(chunk_ids):
            found = self._found.get(chunk_id)
            vector = _floats(found.vector) if found is not None else None
            if vector is not None:
                known[chunk_id] = vector
            else:
                wanted.append(chunk_id)
        for hit in self._engine.stored(wanted):
            self._remember(hit)
            if (vector := _floats(hit.vector)) is not None:
                known[hit.chunk_id] = vector
        return known

    def matching_chunks(self, filters: Filters, limit: int) -> MatchingChunks | None:
        """Every chunk that `filters` keep, with its vector, found by the index's facets; None
        when more than `limit` chunks match. Follows other processes' writes as `search`
        does."""
        self._follow_if_due()
        return self._engine.matching(filters.facet_clauses(), limit)

    def _remember(self, hit: ScoredTokens) -> None:
        with self._cache_lock:
            self._found[hit.chunk_id] = hit
            self._found.move_to_end(hit.chunk_id)
            while len(self._found) > _TOKEN_CACHE:
                self._found.popitem(last=False)

    def term_overlap(
        self, query: str | QuestionTerms, text: str, chunk_id: str | None = None
    ) -> float:
        """The share of the question's terms that the chunk holds (its indexed tokens when
        a search just found it, else its text): `QuestionTerms.share`."""
        wanted = self._question_terms(query) if isinstance(query, str) else query
        if not wanted:
            return 0.0
        found = self._found.get(chunk_id) if chunk_id is not None else None
        if found is not None:
            return wanted.share(found.has)
        return wanted.share(set(self._tokenize(text)).__contains__)

    def _question_terms(self, query: str) -> QuestionTerms:
        # Asked once per hit of the same question: the last question's terms are kept.
        last = self._last_query
        if last is not None and last[0] == query:
            return last[1]
        terms = self._tokenize.question_terms(query)
        self._last_query = (query, terms)
        return terms

    def size(self) -> int:
        self._follow_if_due()
        return self._engine.count()

    def token_frequencies(self, tokens: Sequence[str]) -> dict[str, int]:
        """How many chunks hold each of these index tokens (as `tokenize` writes them)."""
        self._follow_if_due()
        return self._engine.frequencies(tokens) if tokens else {}


class IndexedChunkStore:
    """The chunk store the ingest pipeline writes through: each write goes to Chroma, then
    to the lexical index of the same collection."""

    def __init__(self, store: Any, lexical: LexicalIndex) -> None:
        self._store = store
        self._lexical = lexical

    def add(self, chunks: Sequence[StoredChunk], vectors: Sequence[Sequence[float]]) -> None:
        self._store.add(chunks, vectors)
        self._lexical.index_chunks(chunks, vectors)

    def delete_document(self, document_id: str) -> None:
        self._store.delete_document(document_id)
        self._lexical.remove_document(document_id)

    def delete_ids(self, ids: Sequence[str]) -> None:
        self._store.delete_ids(ids)
        self._lexical.remove_chunks(ids)

    def chunk_refs(self, where: Where | None = None) -> list[tuple[str, str]]:
        return list(self._store.chunk_refs(where))


def _floats(stored: bytes | None) -> list[float] | None:
    if not stored:
        return None
    import numpy as np

    return np.frombuffer(stored, dtype="<f4").tolist()  # type: ignore[no-any-return]
