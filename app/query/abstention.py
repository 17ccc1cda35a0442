"""Abstention, the last step of selection: a question about something the library does not
hold is answered `grounded: false` before any chat model is called.

Cosine similarity cannot tell: two passages of the same domain score 0.3-0.4 whatever they
are about. What tells is the question's name terms (`QuestionAnalysis.names`: "Tesla",
"ACME", "3M", 张世昌): when those that carry most of the question's weight occur in none
of the candidates, the documents are about something else.

Each name weighs its rarity in the library: 1 for a word in no chunk, 0 for one in at least
`common_share` of the chunks (a capitalised "Interest" is no name), in between by idf; times
`acronym_weight` when written in capitals (USD, EBITDA are often the question's own jargon).
A name of a document of the library weighs 1: the context header puts it into every chunk
of that document, which makes it common without making it any less distinctive. The
question is abstained on when the missing names' share of the weight reaches
`missing_share`.

With `periods`, a question is also abstained on when a year it asks about is reported by
none of the documents it names (`QuestionAnalysis.uncovered_years`, which only a profile
that knows what a document reports can fill: `filings`)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from app.query.analysis import QuestionAnalysis, idf
from app.query.retrieval import Hit
from ingest.lexical.tokens import has_cjk
from parsers.chunking import with_context


@dataclass(frozen=True, slots=True)
class WeightedTerm:
    text: str
    weight: float
    missing: bool  # in none of the candidates


@dataclass(frozen=True, slots=True)
class Assessment:
    terms: tuple[WeightedTerm, ...] = ()
    missing_share: float = 0.0  # of the names' weight; 0 when the question names nothing
    abstain: bool = False
    uncovered_years: tuple[int, ...] = ()

    @property
    def missing(self) -> list[str]:
        return [t.text for t in self.terms if t.missing]


class MissingNamesAbstention:
    def __init__(
        self,
        *,
        tokenize: Callable[[str], list[str]],
        names_of: Callable[[str], frozenset[str]] = lambda document_id: frozenset(),
        missing_share: float = 0.75,
        acronym_weight: float = 0.5,
        common_share: float = 0.01,
        periods: bool = True,
    ) -> None:
        self._tokenize = tokenize
        self._names_of = names_of
        self.missing_share = missing_share
        self.acronym_weight = acronym_weight
        self.common_share = common_share
        self.periods = periods

    def assess(self, analysis: QuestionAnalysis, candidates: Sequence[Hit]) -> Assessment:
        """Which of the question's names the candidates lack, and whether that (or a year
        the named documents do not report) is enough to abstain."""
        assessment = self._missing_names(analysis, candidates)
        if self.periods and analysis.uncovered_years:
            return Assessment(
                assessment.terms, assessment.missing_share, True, analysis.uncovered_years
            )
        return assessment

    def _missing_names(self, analysis: QuestionAnalysis, candidates: Sequence[Hit]) -> Assessment:
        if not analysis.names or self.missing_share >= 1.0:
            return Assessment()
        # Runs of one to three tokens: a name of several words ("Acme Tools") is present
        # where its words stand together, not wherever "best" and "buy" occur.
        present: set[tuple[str, ...]] = set()
        # A candidate holds the names of its own document (title, file name), written on
        # its page or not.
        named: set[str] = set()
        for hit in candidates:
            tokens = self._tokenize(with_context(hit.context, hit.text))
            for n in (1, 2, 3):
                present.update(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
            named.update(self._names_of(hit.document_id))
        single = {t[0] for t in present if len(t) == 1}
        chunks = max(1, analysis.chunk_count)
        common = max(1, math.ceil(chunks * self.common_share))
        weighted: list[WeightedTerm] = []
        for term in analysis.names:
            if term.names_document:
                weight = 1.0
            else:
                weight = rarity(term.chunk_frequency, chunks, common)
                weight *= self.acronym_weight if term.acronym else 1.0
            # A name of more than three words is present when all its words are. A CJK
            # name's tokens (characters and bigrams) are a bag, not a run, and a name found
            # by rare bigrams may carry a character of its neighbours at either end (a
            # bigram across two words is rare too: 斯瓦 in 俄罗斯瓦格纳).
            name = term.tokens
            if has_cjk(term.text):
                written = any(set(self._tokenize(v)) <= single for v in _trimmed(term.text))
            else:
                written = set(name) <= single if len(name) > 3 else name in present
            missing = not written and term.text.replace(" ", "") not in named
            weighted.append(WeightedTerm(term.text, weight, missing))
        total = sum(t.weight for t in weighted)
        if total <= 0:
            return Assessment(tuple(weighted))
        share = sum(t.weight for t in weighted if t.missing) / total
        return Assessment(tuple(weighted), share, share >= self.missing_share)


def _trimmed(name: str) -> list[str]:
    """A CJK name and the name without its first, last or both end characters (two or more
    characters each)."""
    cuts = [name, name[1:], name[:-1], name[1:-1]]
    return [c for c in dict.fromkeys(cuts) if len(c) >= 2]


def rarity(df: int, chunks: int, common: int) -> float:
    """1 for a word in no chunk, 0 for one in `common` chunks or more, in between by idf."""
    if df >= common:
        return 0.0
    top, bottom = idf(0, chunks), idf(common, chunks)
    return max(0.0, min(1.0, (idf(df, chunks) - bottom) / ((top - bottom) or 1.0)))
