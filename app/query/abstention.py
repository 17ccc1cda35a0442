"""Abstention: a question about something the library does not hold is answered `grounded:
false` before any chat model is called.

Cosine similarity cannot tell: two passages of the same domain score 0.3-0.4 whatever they
are about. What tells is the question's distinctive terms, the words it writes as names
("Tesla", "AMCOR", "3M"): when those that carry most of the question's weight occur in none
of the retrieved candidates (nor, then, anywhere in the library near the question), the
documents are about something else.

Each name term weighs its rarity in the library (its idf over the chunks, scaled to 0..1;
a term found in no chunk weighs 1), times `acronym_weight` when it is written in capitals
(acronyms such as USD or EBITDA are often the question's own jargon, absent from filings
that write "$" and "in millions"). A term that names a document of the library (its title
or file name) weighs 1: the context header puts it into every chunk of that document, which
makes it common without making it any less distinctive. The question is abstained on when
the missing terms' share of the total weight reaches `max_missing_share`. Both numbers are
calibrated once on the FinanceBench dev split (README, "Abstention"), never per question."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from app.query.retrieval import Hit
from app.query.routing import named_terms


class TermStatistics(Protocol):
    """How many chunks of the library hold a term (capped), and how many chunks there are."""

    def chunk_frequency(self, word: str) -> int: ...

    def chunk_count(self) -> int: ...


class SearchableIndex(Protocol):
    def search(self, query: str, k: int) -> Sequence[object]: ...

    def size(self) -> int: ...


class LexicalTermStatistics:
    """Chunk frequencies read from the lexical index by searching for the single term: exact
    up to `cap`; a term in more chunks than that counts as common, which is all the weight
    needs to know."""

    def __init__(self, lexical: SearchableIndex, *, cap: int = 100) -> None:
        self._lexical = lexical
        self._cap = cap

    def chunk_frequency(self, word: str) -> int:
        return len(self._lexical.search(word, self._cap))

    def chunk_count(self) -> int:
        return self._lexical.size()


@dataclass(frozen=True, slots=True)
class WeightedTerm:
    text: str  # the word as the question writes it, lower-cased
    weight: float
    missing: bool  # in none of the candidates


@dataclass(frozen=True, slots=True)
class Assessment:
    terms: tuple[WeightedTerm, ...]
    missing_share: float  # of the name terms' weight; 0 when the question names nothing
    abstain: bool

    @property
    def missing(self) -> list[str]:
        return [t.text for t in self.terms if t.missing]


class MissingTermsAbstention:
    def __init__(
        self,
        *,
        tokenize: Callable[[str], list[str]],
        statistics: TermStatistics,
        names_a_document: Callable[[str], bool] = lambda term: False,
        max_missing_share: float = 0.75,
        acronym_weight: float = 0.5,
    ) -> None:
        self._tokenize = tokenize
        self._statistics = statistics
        self._names_a_document = names_a_document
        self.max_missing_share = max_missing_share
        self.acronym_weight = acronym_weight

    def assess(self, question: str, candidates: Sequence[Hit]) -> Assessment:
        """Which of the question's name terms the candidates lack, and whether that is
        enough to abstain."""
        named = named_terms(question)
        if not named:
            return Assessment((), 0.0, False)
        present: set[str] = set()
        for hit in candidates:
            present.update(self._tokenize(f"{hit.context}\n{hit.text}" if hit.context else hit.text))
        chunks = max(1, self._statistics.chunk_count())
        ceiling = math.log(1 + (chunks + 0.5) / 0.5)
        weighted: dict[str, WeightedTerm] = {}
        for term in named:
            tokens = self._tokenize(term.text)
            if not tokens or term.text in weighted:
                continue  # a stop word written with a capital ("The")
            if self._names_a_document(term.text):
                rarity = 1.0
            else:
                df = min(self._statistics.chunk_frequency(term.text), chunks)
                rarity = math.log(1 + (chunks - df + 0.5) / (df + 0.5)) / ceiling
            weight = rarity * (self.acronym_weight if term.acronym else 1.0)
            missing = not present.issuperset(tokens)
            weighted[term.text] = WeightedTerm(term.text, weight, missing)
        total = sum(t.weight for t in weighted.values())
        if total <= 0:
            return Assessment(tuple(weighted.values()), 0.0, False)
        share = sum(t.weight for t in weighted.values() if t.missing) / total
        return Assessment(tuple(weighted.values()), share, share >= self.max_missing_share)
