"""Abstention: a question about something the library does not hold is answered `grounded:
false` before any chat model is called.

Cosine similarity cannot tell: two passages of the same domain score 0.3-0.4 whatever they
are about. What tells is the question's distinctive terms, the words it writes as names
("Tesla", "AMCOR", "3M"): when those that carry most of the question's weight occur in none
of the retrieved candidates (nor, then, anywhere in the library near the question), the
documents are about something else.

Each name term weighs its rarity in the library: 1 for a word in no chunk, 0 for one in
at least `common_share` of the chunks (a capitalised "Interest" or "Highest" is no name),
in between by idf; times `acronym_weight` when it is written in capitals (acronyms such as
USD or EBITDA are often the question's own jargon, absent from filings that write "$" and
"in millions"). A term that names a document of the library (its title or file name)
weighs 1: the context header puts it into every chunk of that document, which makes it
common without making it any less distinctive. The question is abstained on when
the missing terms' share of the total weight reaches `max_missing_share`.

The documents a question names can also be of the wrong period: "3M's FY2018 capital
expenditure" with only 3M's 2022 10-K in the library. A question is abstained on when one
of the years it asks about is reported by none of the documents it names (the router's
`uncovered_years`: a document dated Y reports Y-2 to Y+1, and the quarters of Y-2 to Y).
Both numbers are
calibrated once on the FinanceBench dev split (README, "Abstention"), never per question."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from app.query.retrieval import Hit
from app.query.routing import named_terms
from ingest.filters import Filters


class TermStatistics(Protocol):
    """How many chunks of the library hold a word (counted up to `at_most`), and how many
    chunks there are."""

    def chunk_frequency(self, word: str, at_most: int) -> int: ...

    def chunk_count(self) -> int: ...


class SearchableIndex(Protocol):
    def search(self, query: str, k: int) -> Sequence[object]: ...

    def size(self) -> int: ...


class LexicalTermStatistics:
    """Chunk frequencies read from the lexical index by searching for the single word: exact
    up to `at_most` (never more than `cap`), which is all the weight needs to know."""

    def __init__(self, lexical: SearchableIndex, *, cap: int = 1000) -> None:
        self._lexical = lexical
        self._cap = cap

    def chunk_frequency(self, word: str, at_most: int) -> int:
        return len(self._lexical.search(word, min(at_most, self._cap)))

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
    # Years the question asks about that none of the documents it names reports.
    uncovered_years: tuple[int, ...] = ()

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
        names_of: Callable[[str], frozenset[str]] = lambda document_id: frozenset(),
        uncovered_years: Callable[[str, Filters | None], tuple[int, ...]] = lambda q, f: (),
        max_missing_share: float = 0.75,
        acronym_weight: float = 0.5,
        common_share: float = 0.01,
    ) -> None:
        self._tokenize = tokenize
        self._statistics = statistics
        self._names_a_document = names_a_document
        self._names_of = names_of
        self._uncovered_years = uncovered_years
        self.max_missing_share = max_missing_share
        self.acronym_weight = acronym_weight
        self.common_share = common_share

    def assess(
        self, question: str, candidates: Sequence[Hit], filters: Filters | None = None
    ) -> Assessment:
        """Which of the question's name terms the candidates lack, and which of its years
        the documents it names do not report (among those `filters` allows); whether that
        is enough to abstain."""
        uncovered = self._uncovered_years(question, filters)
        assessment = self._missing_names(question, candidates)
        if uncovered:
            return replace(assessment, abstain=True, uncovered_years=uncovered)
        return assessment

    def _missing_names(self, question: str, candidates: Sequence[Hit]) -> Assessment:
        # "CVS Health" is one name when a document is named so, and then present only where
        # both words are: "health" alone occurs in many a filing.
        asked = named_terms(question, joins=self._names_a_document)
        if not asked:
            return Assessment((), 0.0, False)
        # Runs of one to three tokens: a name of several words ("Best Buy") is present
        # where its words stand together, not wherever "best" and "buy" occur.
        present: set[tuple[str, ...]] = set()
        # A candidate holds the names of its own document (title, file name), written on
        # its page or not.
        named: set[str] = set()
        for hit in candidates:
            tokens = self._tokenize(f"{hit.context}\n{hit.text}" if hit.context else hit.text)
            for n in (1, 2, 3):
                present.update(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
            named.update(self._names_of(hit.document_id))
        chunks = max(1, self._statistics.chunk_count())
        common = max(1, math.ceil(chunks * self.common_share))
        weighted: dict[str, WeightedTerm] = {}
        for term in asked:
            tokens = self._tokenize(term.text)
            if not tokens or term.text in weighted:
                continue  # a stop word written with a capital ("The")
            if self._names_a_document(term.text):
                weight = 1.0
            else:
                df = self._statistics.chunk_frequency(term.text, at_most=common)
                weight = rarity(df, chunks, common)
                weight *= self.acronym_weight if term.acronym else 1.0
            written = (
                tuple(tokens) in present
                if len(tokens) <= 3
                else set(tokens) <= {t[0] for t in present if len(t) == 1}
            )
            missing = not written and term.text.replace(" ", "") not in named
            weighted[term.text] = WeightedTerm(term.text, weight, missing)
        total = sum(t.weight for t in weighted.values())
        if total <= 0:
            return Assessment(tuple(weighted.values()), 0.0, False)
        share = sum(t.weight for t in weighted.values() if t.missing) / total
        # A share of 1 means the names rule is off (every name can be missing).
        abstain = self.max_missing_share < 1.0 and share >= self.max_missing_share
        return Assessment(tuple(weighted.values()), share, abstain)


def _idf(df: float, chunks: int) -> float:
    return math.log(1 + (chunks - df + 0.5) / (df + 0.5))


def rarity(df: int, chunks: int, common: int) -> float:
    """1 for a word in no chunk, 0 for one in `common` chunks or more, in between by idf."""
    if df >= common:
        return 0.0
    top, bottom = _idf(0, chunks), _idf(common, chunks)
    return max(0.0, min(1.0, (_idf(df, chunks) - bottom) / ((top - bottom) or 1.0)))
