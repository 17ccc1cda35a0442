"""Question analysis: a question read once, into a `QuestionAnalysis` that retrieval,
selection, abstention and the extractive answerer receive. No other module parses the
question's text.

What it holds:
- the languages the question is written in;
- the gate's terms (the tokenizer's words and CJK runs), each CJK character weighted by its
  rarity in the library: an English question's function words are dropped by the stop list,
  a Chinese question's (的, 是, 什么) stand in its only run and would otherwise weigh as
  much as the name it asks about;
- the name terms: words written as names (capitalised inside a sentence, in capitals, mixed
  with digits, possessive), and for a question without capital letters (Chinese) the
  substrings that are document names and the words rare in the library; each with how many
  chunks hold it and whether it names a document;
- the periods it asks about and the documents it names, as the profile reads them;
- the kind of answer it wants."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from app.query.profiles import (
    PERIOD_WORDS,
    AskedPeriods,
    DocumentProfile,
    GenericProfile,
    normalise,
)
from app.query.routing import Naming, TitleIndex, route, uncovered_years
from ingest.filters import Filters
from ingest.lexical.tokens import QuestionTerms, has_cjk

AnswerKind = Literal["figure", "list", "yes_no", "definition", "other"]

_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_LATIN = re.compile(r"[A-Za-z]{2}")
_WORD = re.compile(r"[^\W_](?:[\w&]*[^\W_])?", re.UNICODE)
_YEAR = re.compile(r"(?<!\d)((?:19|20)\d\d)(?!\d)")
_ORDINAL = re.compile(r"\d+(?:st|nd|rd|th)")
# Form types and quarters ("10-K" as normalised, "Q2", "H1") are periods, not names.
_PERIOD_KIND = re.compile(r"(?:10|8)[kq]|[qh][1-4]")
# A number followed by a lower-case unit ("40mg", "2.5kg"); "3M" or "B12" are names.
_QUANTITY = re.compile(r"\d+(?:[.,]\d+)?[a-zµ]{1,3}")
_SENTENCE_START = re.compile(r"(?:^|[.!?:;]\s+|\n)\s*[\"'(“]*$")
_FILE_NAME = re.compile(r"[\w.-]+\.(?:pdf|txt|md|docx|html?|csv|png|jpe?g)", re.IGNORECASE)
_FIGURE = re.compile(
    r"\b(how much|how many|amount|total|usd|in millions|in billions|revenues?|income|sales|"
    r"expenditures?|capex|costs?|expenses?|assets|liabilities|inventor(?:y|ies)|payables?|"
    r"receivables?|dividends?|cash|earnings|eps|margin|ratio|debt|equity|profit|rate|"
    r"percentage|price|number of)\b|多少|几|金额|比例|收入|利润",
    re.IGNORECASE,
)
_YES_NO = re.compile(
    r"^\s*(is|are|was|were|do|does|did|can|could|has|have|had|will|would|should)\b|吗[?？]?\s*$"
    r"|是否|有没有",
    re.IGNORECASE,
)
_LIST = re.compile(r"^\s*(list|name|which|what are)\b|哪些|有哪", re.IGNORECASE)
_DEFINITION = re.compile(
    r"^\s*(what is|what's|define|what does .+ mean)\b|什么是|是什么意思|的定义", re.IGNORECASE
)
# A CJK word in fewer than this share of the chunks is rare enough to name what a question
# is about (person, place, product). The share at which abstention calls a word common.
RARE_CJK_SHARE = 0.01
# Words that do not say what a question or a passage is about: function words, and the words
# every question about a period holds ("year", "fiscal"). Kept from the extractive answerer's
# first version; not tuned.
CONTENT_STOP_WORDS = frozenset(
    """a an and are as at be by did do does for from had has have how in is it its of on or
    our so than that the their this to was were what when which who why will with year
    fiscal fy""".split()
)
_CONTENT_WORD = re.compile(r"[^\W_]+", re.UNICODE)


@dataclass(frozen=True, slots=True)
class NameTerm:
    text: str  # lower-cased; words of a several-word name joined by a space ("acme tools")
    acronym: bool  # written in capitals ("ACME", "USD")
    names_document: bool  # a title, file name or metadata value of the library says it
    chunk_frequency: int  # chunks that hold it (an upper bound for several tokens)
    tokens: tuple[str, ...]  # as the lexical index writes it


@dataclass(frozen=True, slots=True)
class QuestionAnalysis:
    text: str
    languages: frozenset[str]  # "en" (Latin script), "zh" (CJK)
    terms: QuestionTerms  # what the relevance gate looks for
    names: tuple[NameTerm, ...]
    chunk_count: int  # chunks in the library when the question was read
    periods: AskedPeriods
    routed: tuple[str, ...]  # the documents searched first (empty: the whole library)
    uncovered_years: tuple[int, ...]  # asked years none of the named documents reports
    answer_kind: AnswerKind
    # The question's words lower-cased, in order, stop words left out (`content_words`), and
    # its character bigrams (`character_bigrams`): what the extractive answerer compares.
    content_words: tuple[str, ...]
    character_bigrams: frozenset[str]

    @property
    def cjk(self) -> bool:
        return "zh" in self.languages


class TermStatistics(Protocol):
    def token_frequencies(self, tokens: Sequence[str]) -> dict[str, int]: ...

    def size(self) -> int: ...


class QuestionAnalyzer:
    def __init__(
        self,
        *,
        tokenize: Callable[[str], list[str]],
        question_terms: Callable[[str], QuestionTerms],
        statistics: TermStatistics,
        profile: DocumentProfile,
        titles: TitleIndex | None,
        routing: bool = True,
    ) -> None:
        self._tokenize = tokenize
        self._question_terms = question_terms
        self._statistics = statistics
        self.profile = profile
        self._titles = titles
        self._routing = routing  # the documents a question names are searched first

    def analyze(self, question: str, filters: Filters | None = None) -> QuestionAnalysis:
        chunks = self._statistics.size()
        latin = named_terms(question)
        cjk_runs = [run for run in _CJK_RUN.findall(question) if len(run) >= 2]
        cjk_names = [n for run in cjk_runs for n in self._cjk_names(run)]
        terms = self._question_terms(question)
        rare = self._rare_cjk_names(terms.cjk_runs, chunks, exclude=cjk_names)
        texts = [t.text for t in latin] + cjk_names + rare
        tokens = {text: self._tokenize(text) for text in texts}
        frequencies = self._statistics.token_frequencies(
            sorted({t for ts in tokens.values() for t in ts})
        )
        names: list[NameTerm] = []
        acronyms = {t.text for t in latin if t.acronym}
        for text in dict.fromkeys(texts):
            if not tokens[text]:
                continue  # a stop word written with a capital ("The")
            names.append(
                NameTerm(
                    text=text,
                    acronym=text in acronyms,
                    names_document=self._names_a_document(text),
                    chunk_frequency=_frequency(tokens[text], frequencies),
                    tokens=tuple(tokens[text]),
                )
            )
        periods = self.profile.asked_periods(question)
        naming = self._naming(question, latin, cjk_names, filters)
        return QuestionAnalysis(
            text=question,
            languages=languages_of(question),
            terms=self._weighted_terms(terms, chunks),
            names=tuple(names),
            chunk_count=chunks,
            periods=periods,
            routed=route(naming, periods, self.profile) if self._routing else (),
            uncovered_years=uncovered_years(naming, periods, self.profile),
            answer_kind=answer_kind(question),
            content_words=content_words(question),
            character_bigrams=character_bigrams(question),
        )

    def _names_a_document(self, text: str) -> bool:
        return self._titles is not None and self._titles.names_a_document(text)

    def _cjk_names(self, run: str) -> list[str]:
        return self._titles.cjk_names_in(run) if self._titles is not None else []

    def _rare_cjk_names(
        self, pieces: Sequence[str], chunks: int, exclude: Sequence[str]
    ) -> list[str]:
        """Runs of the question's CJK characters (stop words cut out) whose every bigram
        some but few chunks hold: a person, a place, a product, written as the library
        writes it. Read by bigrams, not by a segmenter's words: jieba does not know most
        names (尚恩有 is one word to it). A bigram no chunk holds ends a run: in a library
        of English documents no Chinese bigram is a name, and that is left to the gate."""
        if not pieces or chunks <= 0:
            return []
        grams = sorted({p[i : i + 2] for p in pieces for i in range(len(p) - 1)})
        frequencies = self._statistics.token_frequencies(grams)
        common = max(1, math.ceil(chunks * RARE_CJK_SHARE))
        names: list[str] = []
        for piece in pieces:
            start = None
            for i in range(len(piece)):
                rare = i < len(piece) - 1 and 0 < frequencies.get(piece[i : i + 2], 0) < common
                if rare and start is None:
                    start = i
                elif not rare and start is not None:
                    names.append(piece[start : i + 1])
                    start = None
        return [n for n in dict.fromkeys(names) if not any(n in name for name in exclude)]

    def _weighted_terms(self, terms: QuestionTerms, chunks: int) -> QuestionTerms:
        characters = sorted({c for run in terms.cjk_runs for c in run})
        if not characters or chunks <= 0:
            return terms
        frequencies = self._statistics.token_frequencies(characters)
        top = idf(0, chunks)
        return terms.with_weights({c: idf(frequencies.get(c, 0), chunks) / top for c in characters})

    def _naming(
        self,
        question: str,
        latin: Sequence[LatinName],
        cjk_names: Sequence[str],
        filters: Filters | None,
    ) -> Naming:
        if self._titles is None:
            return Naming()
        generic = self.profile.generic_words
        words = [w for t in latin for w in t.text.split() if w not in generic]
        # A key may match as the start of a longer name when it is an acronym ("JPM").
        keys: dict[str, bool] = {}
        for term in latin:
            for word in term.text.split():
                if word not in generic:
                    keys[word] = term.acronym and len(word) >= 3
        for n in (2, 3):
            for i in range(len(words) - n + 1):
                keys.setdefault("".join(words[i : i + n]), False)
        for name in _FILE_NAME.findall(question):
            keys[name.lower()] = False
        for name in cjk_names:
            keys[name] = False
        return self._titles.named(keys, filters)


class _NoLibrary:
    def token_frequencies(self, tokens: Sequence[str]) -> dict[str, int]:
        return {}

    def size(self) -> int:
        return 0


def plain_analysis(question: str, filters: Filters | None = None) -> QuestionAnalysis:
    """A question read without a library: its terms, names, periods and kind, but no
    frequencies and no named documents. For parts used without an index (and their tests)."""
    from ingest.lexical.tokens import Tokenizer

    tokenizer = Tokenizer()
    return QuestionAnalyzer(
        tokenize=tokenizer,
        question_terms=tokenizer.question_terms,
        statistics=_NoLibrary(),
        profile=GenericProfile(),
        titles=None,
    ).analyze(question, filters)


def _frequency(tokens: Sequence[str], frequencies: dict[str, int]) -> int:
    """Chunks holding a term of several tokens: for a CJK word, at most its rarest bigram's
    count; for words, at least its commonest word's (as a search for any of them finds)."""
    counts = [frequencies.get(t, 0) for t in tokens]
    if not counts:
        return 0
    return min(counts) if all(has_cjk(t) for t in tokens) else max(counts)


def idf(df: float, chunks: int) -> float:
    """Lucene's idf, as BM25 weighs a token held by `df` of `chunks` chunks."""
    return math.log(1 + (chunks - df + 0.5) / (df + 0.5))


def languages_of(text: str) -> frozenset[str]:
    found = set()
    if _CJK_RUN.search(text):
        found.add("zh")
    if _LATIN.search(text):
        found.add("en")
    return frozenset(found)


def content_words(text: str) -> tuple[str, ...]:
    """The words of a text that say what it is about, lower-cased, in order. A question's are
    read once into its analysis; the extractive answerer reads its passages the same way."""
    return tuple(
        w for w in (m.lower() for m in _CONTENT_WORD.findall(text)) if w not in CONTENT_STOP_WORDS
    )


def character_bigrams(text: str) -> frozenset[str]:
    """Pairs of adjacent characters (spaces collapsed): what a text shares with another where
    words have no spaces between them (Chinese)."""
    compact = re.sub(r"\s+", " ", text.lower())
    return frozenset(compact[i : i + 2] for i in range(len(compact) - 1)) - {"  "}


def answer_kind(question: str) -> AnswerKind:
    if _YES_NO.search(question):
        return "yes_no"
    if _FIGURE.search(question):
        return "figure"
    if _LIST.search(question):
        return "list"
    if _DEFINITION.search(question):
        return "definition"
    return "other"


@dataclass(frozen=True, slots=True)
class LatinName:
    """A word of the question written as a name; `acronym` when in capitals."""

    text: str
    acronym: bool


def named_terms(question: str) -> list[LatinName]:
    """The question's words written as names: capitalised inside a sentence, in capitals,
    mixed with digits ("3M"), or possessive ("Globex's" even at a sentence's start). Years,
    date words and form types are periods, not names. Capitalised words written together are
    one name ("Acme Tools"); an acronym stays a name of its own ("XYZ" and "Partners")."""
    text = normalise(question)
    found: list[LatinName] = []
    end_of_previous = 0
    for match in _WORD.finditer(text):
        word = match.group(0)
        lower = word.lower()
        if _YEAR.fullmatch(word) or lower in PERIOD_WORDS or _ORDINAL.fullmatch(lower):
            continue
        if word.isdigit() or len(word) < 2 or has_cjk(word) or _PERIOD_KIND.fullmatch(lower):
            continue
        if _QUANTITY.fullmatch(word):
            continue  # "40mg", "100g", "5km": a number with its unit measures, it names nothing
        possessive = text[match.end() : match.end() + 2] in ("'s", "’s")
        mixed = any(c.isdigit() for c in word) and any(c.isalpha() for c in word)
        acronym = word.isupper() and sum(c.isalpha() for c in word) >= 2
        capitalised = word[0].isupper() and not _SENTENCE_START.search(text[: match.start()])
        if mixed or acronym or capitalised or (possessive and word[0].isupper()):
            term = LatinName(lower, acronym and not mixed)
            previous = found[-1] if found else None
            joined = previous is not None and text[end_of_previous : match.start()].strip() == ""
            together = f"{previous.text} {term.text}" if previous is not None and joined else ""
            if together and (not (term.acronym or found[-1].acronym)):
                found[-1] = LatinName(together, False)  # "Acme Tools": one name of two words
            else:
                found.append(term)
            end_of_previous = match.end()
    return found
