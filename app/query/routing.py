"""Routing: a question that names documents (a company, a product, a person, a file name, a
year with a form type) is searched in those documents first.

Each ready document is known by its name terms: the words of its title, its file name and
its metadata values, minus the words every title has ("company", "form", "annual"). A
question's words (and runs of two or three of them written together: "Coca Cola" names
COCACOLA_2017_10K) are matched against them when they are written as names: capitalised
inside a sentence, upper case or mixed with digits, or possessive. A term is worth more the
fewer documents it names. A question naming a year, a form type or a quarter is narrowed to
the documents of that period among those it names, when there are any."""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from ingest.catalog import DocumentCatalog, DocumentRecord
from ingest.filters import Filters

# Words of titles and file names that name no particular document.
_GENERIC = frozenset(
    """a an and the of for in on to by at with from as is its inc incorporated corp
    corporation company companies co ltd llc plc group holdings holding sa ag nv se form
    annual report quarterly earnings release filing fiscal year ended ending period pursuant
    section act securities exchange commission united states washington dc december june
    march september document documents file pdf txt md docx html csv page table contents
    statement statements financial results consolidated dated new""".split()
)
_PERIOD_KINDS = frozenset({"10k", "10q", "8k", "q1", "q2", "q3", "q4", "h1", "h2"})
# Dates and fiscal periods, not names: "FY", "July", "1st".
_PERIOD_WORDS = frozenset(
    """fy q h ytd january february march april may june july august september october
    november december jan feb mar apr jun jul aug sep sept oct nov dec""".split()
)
_ORDINAL = re.compile(r"\d+(?:st|nd|rd|th)")
_YEAR = re.compile(r"(?<!\d)((?:19|20)\d\d)(?!\d)")
# Words as written: letters and digits, with & (S&P) and a possessive 's taken off.
_WORD = re.compile(r"[^\W_](?:[\w&]*[^\W_])?", re.UNICODE)
_FORM = re.compile(r"\b(10|8)[\s-]?([kq])\b", re.IGNORECASE)
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")
_SENTENCE_START = re.compile(r"(?:^|[.!?:;]\s+|\n)\s*[\"'(“]*$")


def _normalise(text: str) -> str:
    # "10-K", "10 K" and "10k" are one form type; "FY2018" and "2023Q2" hold a year.
    text = _FORM.sub(lambda m: f" {m.group(1)}{m.group(2).lower()} ", text)
    return re.sub(r"(?i)(?<=[a-z])(?=(?:19|20)\d\d)|(?<=\d{4})(?=[a-z])", " ", text)


def _terms(text: str) -> list[str]:
    spaced = _CAMEL.sub(" ", _normalise(text.replace("_", " ")))
    return [w.lower() for w in _WORD.findall(spaced)]


@dataclass(frozen=True, slots=True)
class DocumentNames:
    document_id: str
    names: frozenset[str]  # distinctive name terms, with their two/three-word runs joined
    periods: frozenset[str]  # years, form types and quarters

    @property
    def years(self) -> frozenset[int]:
        return frozenset(int(p) for p in self.periods if _YEAR.fullmatch(p))

    @classmethod
    def of(cls, record: DocumentRecord) -> DocumentNames:
        stem = record.filename.rsplit(".", 1)[0]
        sources = [stem, record.filename.lower(), record.title or ""]
        sources += [str(v) for v in record.metadata.values() if isinstance(v, str)]
        names: set[str] = set()
        periods: set[str] = set()
        for source in sources:
            words = _terms(source)
            periods.update(w for w in words if _YEAR.fullmatch(w) or w in _PERIOD_KINDS)
            kept = [w for w in words if _is_name_term(w)]
            names.update(kept)
            names.update("".join(kept[i : i + n]) for n in (2, 3) for i in range(len(kept)))
        names.add(record.filename.lower())
        return cls(record.id, frozenset(names), frozenset(periods))


def _is_name_term(word: str) -> bool:
    if word in _GENERIC or word in _PERIOD_KINDS or _YEAR.fullmatch(word):
        return False
    if word.isdigit():
        return False
    return len(word) >= 2


@dataclass(frozen=True, slots=True)
class NamedTerm:
    """A word of the question written as a name; `acronym` when in capitals ("AMCOR", "USD")."""

    text: str
    acronym: bool


def named_terms(question: str, joins: Callable[[str], bool] | None = None) -> list[NamedTerm]:
    """The question's words written as names: capitalised inside a sentence, in capitals,
    mixed with digits ("3M"), or possessive ("Costco's" even at a sentence's start). Years,
    fiscal-period markers and form types are periods, not names. Capitalised words written
    together are one name ("Best Buy"); with an acronym ("CVS Health") only when `joins`
    says the two words are one name."""
    text = _normalise(question)
    found: list[NamedTerm] = []
    end_of_previous = 0
    for match in _WORD.finditer(text):
        word = match.group(0)
        lower = word.lower()
        if _YEAR.fullmatch(word) or lower in _PERIOD_KINDS or lower in _PERIOD_WORDS:
            continue
        if _ORDINAL.fullmatch(lower):
            continue
        if word.isdigit() or len(word) < 2:
            continue
        possessive = text[match.end() : match.end() + 2] in ("'s", "’s")
        mixed = any(c.isdigit() for c in word) and any(c.isalpha() for c in word)
        acronym = word.isupper() and sum(c.isalpha() for c in word) >= 2
        capitalised = word[0].isupper() and not _SENTENCE_START.search(text[: match.start()])
        if mixed or acronym or capitalised or (possessive and word[0].isupper()):
            term = NamedTerm(lower, acronym and not mixed)
            previous = found[-1] if found else None
            joined = text[end_of_previous : match.start()].strip() == "" if previous else False
            together = f"{previous.text} {term.text}" if previous and joined else ""
            if together and (
                not (term.acronym or found[-1].acronym) or (joins is not None and joins(together))
            ):
                # "Best Buy", "Lockheed Martin": one name of several words.
                found[-1] = NamedTerm(together, False)
            else:
                found.append(term)
            end_of_previous = match.end()
    return found


@dataclass(frozen=True, slots=True)
class Route:
    document_ids: tuple[str, ...]  # empty: the question names no document
    matched: tuple[str, ...] = ()  # the question's name terms that named them


@dataclass(frozen=True, slots=True)
class _Naming:
    best: list[DocumentNames]  # the documents named best (within 3/4 of the top score)
    terms: tuple[str, ...]  # the question's terms that named them
    everything: bool  # they are every document there is to choose from (or the only one)
    all: list[DocumentNames]  # every document the question names at all


class TitleIndex:
    """The name terms of every ready document, in memory. It is read again from the catalog
    when the number of documents changes, and at least every `refresh_s` seconds (a replace
    keeps the count but may change a title)."""

    def __init__(
        self, catalog: DocumentCatalog, *, refresh_s: float = 30.0, reported_years: int = 3
    ) -> None:
        self._catalog = catalog
        self._refresh_s = refresh_s
        self._reported_years = reported_years  # a document dated Y reports Y and the years before
        self._lock = threading.Lock()
        self._documents: list[DocumentNames] = []
        self._frequency: dict[str, int] = {}
        self._by_id: dict[str, DocumentNames] = {}
        self._count = -1
        self._read_at = -math.inf

    def _current(self) -> tuple[list[DocumentNames], Mapping[str, int]]:
        count = self._catalog.count()
        if count != self._count or time.monotonic() - self._read_at >= self._refresh_s:
            with self._lock:
                records = [r for r in self._catalog.all() if r.status == "ready"]
                documents = [DocumentNames.of(r) for r in records]
                frequency: dict[str, int] = {}
                for document in documents:
                    for name in document.names:
                        frequency[name] = frequency.get(name, 0) + 1
                self._documents, self._frequency = documents, frequency
                self._by_id = {d.document_id: d for d in documents}
                self._count, self._read_at = count, time.monotonic()
        return self._documents, self._frequency

    def names_of(self, document_id: str) -> frozenset[str]:
        """The name terms of one document (empty when it is not ready or not known)."""
        self._current()
        found = self._by_id.get(document_id)
        return found.names if found is not None else frozenset()

    def names_a_document(self, term: str) -> bool:
        """The term (a name of one or more words) names a document of the library."""
        names = self._current()[1]
        return term in names or term.replace(" ", "") in names

    def route(self, question: str, filters: Filters | None = None) -> Route:
        naming = self._named(question, filters)
        if naming.everything:
            return Route(())  # naming every document (or the only one) narrows nothing
        named = naming.best
        asked = asked_years(question)
        if asked and not any(d.years & asked for d in named):
            # None of the best named is of the asked year: a document named less well but of
            # that year is the one meant (a company's older filing, under its old name or
            # without a title, against a newer one that names it twice).
            named = [d for d in naming.all if d.years & asked] or named
        chosen = _covering(question, _narrowed_to_period(question, named), self._reported_years)
        return Route(tuple(d.document_id for d in chosen), naming.terms)

    def uncovered_years(self, question: str, filters: Filters | None = None) -> tuple[int, ...]:
        """The years the question asks about that none of the documents it names reports: a
        document dated Y (in its title, file name or metadata) reports Y and the
        `reported_years - 1` years before it, as a 10-K's statements compare three years,
        and the year after it (an outlook). Empty when the question names no document, or
        one of the documents it names carries no year."""
        reported_years = self._reported_years
        if reported_years <= 0:
            return ()
        asked = asked_years(question)
        if not asked:
            return ()
        # Every document the question names at all, not only the best named: a year is
        # only missing when no document it might mean reports it.
        named = self._named(question, filters).all
        if not named or any(not d.years for d in named):
            return ()
        reported = {y - back for d in named for y in d.years for back in range(-1, reported_years)}
        # A quarter's figures are in that quarter's report or a later one, never in the year
        # before's outlook.
        quarterly = {y - back for d in named for y in d.years for back in range(reported_years)}
        return tuple(sorted((asked - reported) | (asked_quarter_years(question) - quarterly)))

    def _named(self, question: str, filters: Filters | None) -> _Naming:
        """Which documents the question names, among those `filters` allows."""
        documents, frequency = self._current()
        allowed = (
            set(filters.document_ids) if filters is not None and filters.document_ids else None
        )
        if allowed is not None:
            documents = [d for d in documents if d.document_id in allowed]
        keys = _question_keys(question)
        total = len(self._documents)
        scores: dict[str, float] = {}
        matched: dict[str, set[str]] = {}
        for document in documents:
            hits = {key for key in keys if _names(key, keys[key], document.names)}
            if hits:
                # Rarer names count more; a term naming every document says nothing.
                scores[document.document_id] = sum(
                    math.log(1 + total / _frequency_of(k, frequency)) for k in hits
                )
                matched[document.document_id] = hits
        if not scores:
            return _Naming([], (), len(documents) < 2, [])
        best = max(scores.values())
        chosen = [d for d in documents if scores.get(d.document_id, 0.0) >= best * 0.75]
        terms = sorted(set().union(*(matched[d.document_id] for d in chosen)))
        return _Naming(
            best=chosen,
            terms=tuple(terms),
            everything=len(documents) < 2 or len(scores) == len(documents),
            all=[d for d in documents if d.document_id in scores],
        )


def _frequency_of(key: str, frequency: Mapping[str, int]) -> int:
    if key in frequency:
        return frequency[key]
    return sum(n for name, n in frequency.items() if name.startswith(key)) or 1


def _question_keys(question: str) -> dict[str, bool]:
    """The question's name terms and their two- and three-word runs; value: may match as the
    start of a longer name (an acronym such as "JPM" for JPMORGAN)."""
    terms = [
        NamedTerm(word, t.acronym)
        for t in named_terms(question)
        for word in t.text.split()
        if word not in _GENERIC
    ]
    keys: dict[str, bool] = {t.text: t.acronym and len(t.text) >= 3 for t in terms}
    words = [t.text for t in terms]
    for n in (2, 3):
        for i in range(len(words) - n + 1):
            keys.setdefault("".join(words[i : i + n]), False)
    for filename in re.findall(r"[\w.-]+\.(?:pdf|txt|md|docx|html?|csv|png|jpe?g)", question):
        keys[filename.lower()] = False
    return keys


def _names(key: str, as_prefix: bool, names: frozenset[str]) -> bool:
    if as_prefix:
        return any(name.startswith(key) for name in names)
    return key in names


_QUARTER_YEAR = re.compile(
    r"\b(?:q[1-4]|(?:first|second|third|fourth) quarter)\s+(?:of\s+)?(?:(?:fiscal|fy)\s*)?"
    r"((?:19|20)\d\d)\b|\b((?:19|20)\d\d)\s*q[1-4]\b",
    re.IGNORECASE,
)


def asked_quarter_years(question: str) -> frozenset[int]:
    """The years of the quarters a question asks about ("Q2 of FY2024", "2023Q2", "the
    second quarter of fiscal 2022")."""
    return frozenset(int(a or b) for a, b in _QUARTER_YEAR.findall(re.sub(r"\s+", " ", question)))


def asked_years(question: str) -> frozenset[int]:
    """The years a question writes ("FY2018", "2022", "fiscal 2021")."""
    return frozenset(int(w) for w in _terms(question) if _YEAR.fullmatch(w))


def _covering(
    question: str, documents: list[DocumentNames], reported_years: int
) -> list[DocumentNames]:
    """For a question comparing years ("FY2018 - FY2020", "between FY2021 and FY2022"), the
    documents that report all of them (dated Y, they report the `reported_years` up to Y),
    when any does: the later 10-K holds the whole comparison, the earlier one half of it."""
    asked = asked_years(question)
    if len(asked) < 2 or reported_years <= 0:
        return documents
    first, last = min(asked), max(asked)
    whole = [d for d in documents if any(y - reported_years < first <= last <= y for y in d.years)]
    return whole or documents


def _narrowed_to_period(question: str, documents: Sequence[DocumentNames]) -> list[DocumentNames]:
    """Among the named documents, those of the asked year(s) and form type or quarter, when
    any match; a document of a later year also reports the year asked about, so it stays
    when none is of that very year."""
    asked = {w for w in _terms(question) if _YEAR.fullmatch(w) or w in _PERIOD_KINDS}
    if not asked:
        return list(documents)
    years = {w for w in asked if _YEAR.fullmatch(w)}
    kinds = asked - years
    narrowed = list(documents)
    for wanted in (years, kinds):
        if wanted:
            same = [d for d in narrowed if d.periods & wanted]
            if same:
                narrowed = same
    return narrowed
