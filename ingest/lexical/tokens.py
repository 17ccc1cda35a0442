"""Words for BM25: docrag's own tokenisation, shared by indexing and questions."""

from __future__ import annotations

import logging
import re
from typing import Any, Literal

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
