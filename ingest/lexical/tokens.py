"""Words for BM25: docrag's own tokenisation, shared by indexing and questions."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from ingest.lexical import stopwords

CjkMode = Literal["bigram", "jieba"]

_CJK_RANGES = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3040-\u30ff\uac00-\ud7af"
_CJK_RUN = rf"[{_CJK_RANGES}]+"
_WORD = rf"[^\W_{_CJK_RANGES}]+"
_TOKEN = re.compile(rf"({_CJK_RUN})|({_WORD}(?:['’]{_WORD})?)", re.UNICODE)
_CJK = re.compile(_CJK_RUN)


_CJK_STOP = stopwords.CHINESE


class Tokenizer:
    """Words for BM25 in English, Chinese and mixed text.

    Latin-script words are lower-cased, English stop words dropped and Snowball-stemmed (so
    "studies" matches "study"); runs of CJK characters, written without spaces, become
    character unigrams plus bigrams, or jieba words."""

    def __init__(self, cjk: CjkMode = "bigram", *, stem: bool = True) -> None:
        import Stemmer

        self.cjk = cjk
        self._stemmer = Stemmer.Stemmer("english") if stem else None
        self._stop = stopwords.ENGLISH
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

    def question_terms(self, text: str) -> QuestionTerms:
        """What the relevance gate looks for of a question in a chunk: its words, and its CJK
        runs of two or more characters (jieba's words of two or more in jieba mode), both
        without stop words. A Chinese question writes its function and question words (的,
        是, 什么, 哪里) into its only run, where an English question's are separate words;
        an answer seldom holds them, so they are cut out of the runs as English stop words
        are dropped. Single CJK characters left over are left out: common ones would match
        almost any Chinese text."""
        words: list[str] = []
        runs: list[str] = []
        for cjk_run, word in _TOKEN.findall(text.lower()):
            if not cjk_run:
                if word not in self._stop:
                    words.append(word)
            elif self._jieba is not None:
                words.extend(
                    w
                    for w in self._jieba.lcut(cjk_run)
                    if len(w.strip()) > 1 and w not in _CJK_STOP
                )
            else:
                runs.extend(piece for piece in without_stop_words(cjk_run) if len(piece) > 1)
        if self._stemmer is not None:
            words = [w if has_cjk(w) else self._stemmer.stemWord(w) for w in words]
        return QuestionTerms(frozenset(words), tuple(runs))

    def _cjk_tokens(self, run: str) -> list[str]:
        if self._jieba is not None:
            return [w for w in self._jieba.lcut(run) if w.strip()]
        return list(run) + [run[i : i + 2] for i in range(len(run) - 1)]


def without_stop_words(run: str) -> list[str]:
    """The pieces of a CJK run left when its stop words (`stopwords.CHINESE`) are cut out of
    it, the run read as jieba's words: 林墨秋的职业是什么 -> 林墨秋, 职业."""
    import jieba

    jieba.setLogLevel(logging.WARNING)
    pieces: list[str] = []
    current = ""
    for word in jieba.lcut(run):
        if word in _CJK_STOP:
            if current:
                pieces.append(current)
            current = ""
        else:
            current += word
    if current:
        pieces.append(current)
    return pieces


def has_cjk(text: str) -> bool:
    return bool(_CJK.search(text))


@dataclass(frozen=True, slots=True)
class QuestionTerms:
    """A question's terms for the relevance gate (`Tokenizer.question_terms`)."""

    words: frozenset[str]
    cjk_runs: tuple[str, ...]  # read as the bigrams the index holds
    # Weight of a word or of a CJK character (1 when absent): `with_weights`.
    weights: Mapping[str, float] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.words or self.cjk_runs)

    def with_weights(self, weights: Mapping[str, float]) -> QuestionTerms:
        return replace(self, weights=dict(weights))

    def share(self, has: Callable[[str], bool]) -> float:
        """The share of the question a chunk holds, `has` telling which tokens it has. A
        word counts its weight; a CJK character half its weight (about one per Chinese
        word), present when a bigram that holds it is. Counting bigrams themselves would ask
        for the ones that span two words (坠毁地点 gives 毁地) and for the question's own
        words (在哪里), which an answer seldom holds: the share of the question a passage
        holds would fall below half even for the passage that answers it."""
        weight = self.weights.get
        found = sum(weight(w, 1.0) for w in self.words if has(w))
        total = sum(weight(w, 1.0) for w in self.words)
        for run in self.cjk_runs:
            covered = [False] * len(run)
            for i in range(len(run) - 1):
                if has(run[i : i + 2]):
                    covered[i] = covered[i + 1] = True
            found += sum(weight(c, 1.0) / 2 for c, hit in zip(run, covered, strict=True) if hit)
            total += sum(weight(c, 1.0) / 2 for c in run)
        return found / total if total else 0.0
