"""The lexical (BM25) index beside Chroma.

Local Chroma has no BM25, so docrag keeps its own index (bm25s), derived from the chunk texts
stored in Chroma. Chroma stays the source of truth: the index is rebuilt from it when missing
or stale. Staleness is detected through a generation token that every writer changes after
each add or delete, so several API processes sharing one Chroma server stay consistent.
"""

from __future__ import annotations

import gzip
import json
import logging
import re
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np

from ingest.store import MetadataValue, RecordStore, StoredChunk

logger = logging.getLogger(__name__)

CjkMode = Literal["bigram", "jieba"]

_CJK_RANGES = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3040-\u30ff\uac00-\ud7af"
_CJK_RUN = rf"[{_CJK_RANGES}]+"
_WORD = rf"[^\W_{_CJK_RANGES}]+"
_TOKEN = re.compile(rf"({_CJK_RUN})|({_WORD}(?:['’]{_WORD})?)", re.UNICODE)
_CJK = re.compile(_CJK_RUN)


class Tokenizer:
    """Words for BM25 in English, Chinese and mixed text.

    Latin-script words are lower-cased, English stop words dropped and Snowball-stemmed (so
    "studies" matches "study"); runs of CJK characters, written without spaces, become
    character unigrams plus bigrams, or jieba words."""

    def __init__(self, cjk: CjkMode = "bigram", *, stem: bool = True) -> None:
        import Stemmer
        from bm25s.stopwords import STOPWORDS_EN

        self.cjk = cjk
        self._stemmer = Stemmer.Stemmer("english") if stem else None
        self._stop = frozenset(STOPWORDS_EN)
        self._jieba: Any = None
        if cjk == "jieba":
            import jieba

            jieba.setLogLevel(logging.WARNING)
            self._jieba = jieba

    @property
    def signature(self) -> str:
        return f"v1:{self.cjk}:{'stem' if self._stemmer else 'nostem'}"

    def __call__(self, text: str) -> list[str]:
        tokens: list[str] = []
        words: list[str] = []
        for cjk_run, word in _TOKEN.findall(text.lower()):
            if cjk_run:
                tokens.extend(self._cjk_tokens(cjk_run))
            elif word not in self._stop:
                words.append(word)
        if self._stemmer is not None and words:
            words = self._stemmer.stemWords(words)
        return tokens + words

    def _cjk_tokens(self, run: str) -> list[str]:
        if self._jieba is not None:
            return [w for w in self._jieba.lcut(run) if w.strip()]
        return list(run) + [run[i : i + 2] for i in range(len(run) - 1)]


def has_cjk(text: str) -> bool:
    return bool(_CJK.search(text))


def matches(metadata: Mapping[str, Any], where: Mapping[str, Any] | None) -> bool:
    """Evaluates the subset of Chroma's `where` language docrag uses: equality, $eq, $in,
    $ne, $nin, $and, $or."""
    if not where:
        return True
    for key, condition in where.items():
        if key == "$and":
            if not all(matches(metadata, c) for c in condition):
                return False
        elif key == "$or":
            if not any(matches(metadata, c) for c in condition):
                return False
        elif isinstance(condition, Mapping):
            value = metadata.get(key)
            for op, operand in condition.items():
                ok = {
                    "$eq": lambda v, o: v == o,
                    "$ne": lambda v, o: v != o,
                    "$in": lambda v, o: v in o,
                    "$nin": lambda v, o: v not in o,
                }[op](value, operand)
                if not ok:
                    return False
        elif metadata.get(key) != condition:
            return False
    return True


@dataclass(frozen=True, slots=True)
class LexicalHit:
    chunk_id: str
    score: float


class ChunkSource(Protocol):
    def get(
        self, where: Mapping[str, Any] | None = None, limit: int | None = None
    ) -> list[StoredChunk]: ...


class BM25Index:
    """BM25 over every chunk in the store, with filters applied inside the search."""

    def __init__(
        self,
        *,
        source: ChunkSource,
        generations: RecordStore,
        tokenizer: Tokenizer,
        path: Path | None,
        k1: float = 0.9,
        b: float = 0.4,
        token_id: str = "lexical_generation",
    ) -> None:
        self._source = source
        # One token per chunk collection: a reindex writing a new collection leaves the
        # index over the active one alone.
        self._TOKEN_ID = token_id
        self._generations = generations
        self._tokenize = tokenizer
        self._signature = f"{tokenizer.signature}:k1={k1}:b={b}"
        self._path = path
        self._k1, self._b = k1, b
        self._lock = threading.RLock()
        self._built_for: str | None = None  # generation token the index reflects
        self._ids: list[str] = []
        self._metadata: list[dict[str, MetadataValue]] = []
        self._tokens: dict[str, list[str]] = {}  # cache: chunk id -> tokens
        self._bm25: Any = None
        self._load()

    # -- keeping in step with the store -------------------------------------------------

    def current_generation(self) -> str:
        found = self._generations.get([self._TOKEN_ID]).get(self._TOKEN_ID)
        return str(found[0].get("token", "")) if found else ""

    def mark_changed(self) -> None:
        """Called by every writer after it adds or deletes chunks."""
        self._generations.put(self._TOKEN_ID, {"token": uuid.uuid4().hex})

    def _ensure_fresh(self) -> None:
        generation = self.current_generation()
        if generation == self._built_for and self._bm25 is not None:
            return
        with self._lock:
            if generation == self._built_for and self._bm25 is not None:
                return
            # Read the token before the chunks: a write that lands in between only causes
            # one more rebuild later, never a stale index labelled fresh.
            self._rebuild(generation)

    def _rebuild(self, generation: str) -> None:
        import bm25s

        chunks = self._source.get()
        ids, metadata, corpus = [], [], []
        cache: dict[str, list[str]] = {}
        for chunk in chunks:
            tokens = self._tokens.get(chunk.id)
            if tokens is None:
                tokens = self._tokenize(chunk.text)
            cache[chunk.id] = tokens
            ids.append(chunk.id)
            metadata.append({**chunk.metadata, "document_id": chunk.document_id})
            corpus.append(tokens or [""])
        bm25 = None
        if corpus:
            bm25 = bm25s.BM25(k1=self._k1, b=self._b)
            bm25.index(corpus, show_progress=False)
        self._ids, self._metadata, self._tokens, self._bm25 = ids, metadata, cache, bm25
        self._built_for = generation
        self._save()
        logger.info("BM25 index rebuilt over %d chunks", len(ids))

    # -- persistence ---------------------------------------------------------------------

    def _save(self) -> None:
        if self._path is None:
            return
        self._path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._path.with_suffix(".tmp")
        with gzip.open(tmp, "wt", encoding="utf-8") as f:
            json.dump(
                {
                    "signature": self._signature,
                    "generation": self._built_for,
                    "ids": self._ids,
                    "metadata": self._metadata,
                    "tokens": [self._tokens[i] for i in self._ids],
                },
                f,
                ensure_ascii=False,
            )
        tmp.replace(self._path)

    def _load(self) -> None:
        """Reuses the tokens saved by an earlier run; the index itself is rebuilt from them
        (about a second for 20k chunks) once the generation is checked against Chroma."""
        if self._path is None or not self._path.exists():
            return
        try:
            with gzip.open(self._path, "rt", encoding="utf-8") as f:
                saved = json.load(f)
        except (OSError, ValueError) as e:
            logger.warning("ignoring unreadable BM25 cache %s: %s", self._path, e)
            return
        if saved.get("signature") != self._signature:
            return
        self._tokens = dict(zip(saved["ids"], saved["tokens"], strict=True))

    # -- search --------------------------------------------------------------------------

    def search(
        self, query: str, k: int, where: Mapping[str, Any] | None = None
    ) -> list[LexicalHit]:
        self._ensure_fresh()
        with self._lock:
            bm25, ids, metadata = self._bm25, self._ids, self._metadata
        tokens = self._tokenize(query)
        if bm25 is None or not tokens or k <= 0:
            return []
        known = [t for t in tokens if t in bm25.vocab_dict]
        if not known:
            return []
        scores = np.asarray(bm25.get_scores(known), dtype=np.float32)
        if where:
            mask = np.fromiter((matches(m, where) for m in metadata), dtype=bool, count=len(ids))
            scores = np.where(mask, scores, 0.0)
        positive = int(np.count_nonzero(scores > 0))
        top = min(k, positive)
        if top == 0:
            return []
        best = np.argpartition(-scores, top - 1)[:top]
        best = best[np.argsort(-scores[best], kind="stable")]
        return [LexicalHit(ids[i], float(scores[i])) for i in best]

    def term_overlap(self, query: str, text: str, chunk_id: str | None = None) -> float:
        """The share of the question's distinctive terms that the text contains. Single CJK
        characters are left out: common ones (的, 是) would match almost any Chinese text."""
        wanted = {t for t in self._tokenize(query) if len(t) > 1 or not has_cjk(t)}
        if not wanted:
            return 0.0
        cached = self._tokens.get(chunk_id) if chunk_id is not None else None
        tokens = cached if cached is not None else self._tokenize(text)
        return len(wanted.intersection(tokens)) / len(wanted)

    def size(self) -> int:
        self._ensure_fresh()
        return len(self._ids)


def fuse_rankings(
    rankings: Sequence[tuple[Sequence[str], float]], k: int = 60
) -> list[tuple[str, float]]:
    """Reciprocal rank fusion: each ranking adds weight / (k + rank) to the items it holds."""
    scores: dict[str, float] = {}
    for ranking, weight in rankings:
        if weight <= 0:
            continue
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
    return sorted(scores.items(), key=lambda kv: kv[1], reverse=True)


def unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


TokenizerFactory = Callable[[], Tokenizer]
