"""Routing: a question that names documents (a company, a product, a person, a file name, a
year) is searched in those documents first.

Each ready document is known by its name terms, as its profile reads them from its title,
file name and metadata values (`app/query/profiles.py`). The question's name keys (the words
it writes as names, their runs, the file names it writes, and the substrings of its CJK runs
that are document names) are matched against them; a term is worth more the fewer documents
it names. A question naming a period is narrowed to the documents of that period among those
it names, when there are any."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from app.query.profiles import AskedPeriods, DocumentNames, DocumentProfile
from ingest.catalog import DocumentCatalog
from ingest.filters import Filters

# The documents named within this share of the best score are named as well as it is: a
# question naming a company names all its filings about equally. Kept from the first
# routing rule; not tuned since.
BEST_NAMED_SHARE = 0.75
# The longest CJK substring of a question looked up among document names.
MAX_CJK_NAME = 12


@dataclass(frozen=True, slots=True)
class Naming:
    """Which documents a question names, among those its filters allow."""

    best: tuple[DocumentNames, ...] = ()  # named within BEST_NAMED_SHARE of the best score
    all: tuple[DocumentNames, ...] = ()  # every document the question names at all
    terms: tuple[str, ...] = ()  # the question's keys that named the best ones
    everything: bool = True  # every document there is to choose from (or the only one)


class TitleIndex:
    """The name terms of every ready document, in memory. The catalog is counted at most
    every `check_s` seconds (not on every question), and read again when the number of
    documents changed, and at least every `refresh_s` seconds (a replace keeps the count but
    may change a title). A read derives the names of new or changed records only."""

    def __init__(
        self,
        catalog: DocumentCatalog,
        profile: DocumentProfile,
        *,
        refresh_s: float = 30.0,
        check_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._catalog = catalog
        self.profile = profile
        self._refresh_s = refresh_s
        self._check_s = check_s
        self._clock = clock
        self._lock = threading.Lock()
        self._documents: list[DocumentNames] = []
        self._frequency: dict[str, int] = {}
        self._by_id: dict[str, DocumentNames] = {}
        self._derived: dict[tuple[str, object], DocumentNames] = {}  # by (id, updated_at)
        self._count = -1
        self._read_at = self._checked_at = -math.inf

    def _current(self) -> tuple[list[DocumentNames], Mapping[str, int]]:
        now = self._clock()
        if now - self._checked_at < self._check_s and now - self._read_at < self._refresh_s:
            return self._documents, self._frequency
        with self._lock:
            self._checked_at = now
            count = self._catalog.count()
            if count != self._count or now - self._read_at >= self._refresh_s:
                self._read(count, now)
        return self._documents, self._frequency

    def _read(self, count: int, now: float) -> None:
        derived: dict[tuple[str, object], DocumentNames] = {}
        for record in self._catalog.all():
            if record.status == "ready":
                key = (record.id, record.updated_at)
                found = self._derived.get(key)
                derived[key] = found if found is not None else self.profile.names_of(record)
        documents = list(derived.values())
        frequency: dict[str, int] = {}
        for document in documents:
            for name in document.names:
                frequency[name] = frequency.get(name, 0) + 1
        self._documents, self._frequency, self._derived = documents, frequency, derived
        self._by_id = {d.document_id: d for d in documents}
        self._count, self._read_at = count, now

    def names_of(self, document_id: str) -> frozenset[str]:
        """The name terms of one document (empty when it is not ready or not known)."""
        self._current()
        found = self._by_id.get(document_id)
        return found.names if found is not None else frozenset()

    def names_a_document(self, term: str) -> bool:
        """The term (a name of one or more words) names a document of the library."""
        names = self._current()[1]
        return term in names or term.replace(" ", "") in names

    def cjk_names_in(self, run: str) -> list[str]:
        """The substrings of a CJK run that are document names (张世昌 in 张世昌的职业是什么),
        longest first, none inside another found."""
        names = self._current()[1]
        found: list[str] = []
        for size in range(min(len(run), MAX_CJK_NAME), 1, -1):
            for start in range(len(run) - size + 1):
                piece = run[start : start + size]
                if piece in names and not any(piece in longer for longer in found):
                    found.append(piece)
        return found

    def named(self, keys: Mapping[str, bool], filters: Filters | None) -> Naming:
        """Which documents the keys name (key -> may match as the start of a longer name: an
        acronym such as "JPM" for JPMORGAN), among those `filters` allows."""
        documents, frequency = self._current()
        allowed = (
            set(filters.document_ids) if filters is not None and filters.document_ids else None
        )
        if allowed is not None:
            documents = [d for d in documents if d.document_id in allowed]
        total = len(self._documents)
        scores: dict[str, float] = {}
        matched: dict[str, set[str]] = {}
        for document in documents:
            hits = {key for key, prefix in keys.items() if _names(key, prefix, document.names)}
            if hits:
                # Rarer names count more; a term naming every document says nothing.
                scores[document.document_id] = sum(
                    math.log(1 + total / _frequency_of(k, frequency)) for k in hits
                )
                matched[document.document_id] = hits
        if not scores:
            return Naming(everything=len(documents) < 2)
        best = max(scores.values())
        chosen = [d for d in documents if scores.get(d.document_id, 0.0) >= best * BEST_NAMED_SHARE]
        return Naming(
            best=tuple(chosen),
            all=tuple(d for d in documents if d.document_id in scores),
            terms=tuple(sorted(set().union(*(matched[d.document_id] for d in chosen)))),
            everything=len(documents) < 2 or len(scores) == len(documents),
        )


def route(naming: Naming, periods: AskedPeriods, profile: DocumentProfile) -> tuple[str, ...]:
    """The documents to search first: the best named, of the asked period when any is.
    Empty when the question names no document, or every one (that narrows nothing)."""
    if naming.everything:
        return ()
    chosen = profile.covering(periods, _narrowed_to_period(periods, list(naming.best)))
    return tuple(d.document_id for d in chosen)


def uncovered_years(
    naming: Naming, periods: AskedPeriods, profile: DocumentProfile
) -> tuple[int, ...]:
    """The years the question asks about that none of the documents it names reports, as the
    profile tells what a document reports. Empty when the question names no document, or the
    profile cannot tell for one of them: a year is only missing when no document the
    question might mean reports it."""
    if not periods.years or not naming.all:
        return ()
    reported: set[int] = set()
    for document in naming.all:
        years = profile.reported_years(document)
        if years is None:
            return ()
        reported |= years
    return tuple(sorted(periods.years - reported))


def _frequency_of(key: str, frequency: Mapping[str, int]) -> int:
    if key in frequency:
        return frequency[key]
    return sum(n for name, n in frequency.items() if name.startswith(key)) or 1


def _names(key: str, as_prefix: bool, names: frozenset[str]) -> bool:
    if as_prefix:
        return any(name.startswith(key) for name in names)
    return key in names


def _narrowed_to_period(
    periods: AskedPeriods, documents: Sequence[DocumentNames]
) -> list[DocumentNames]:
    """Among the named documents, those of the asked year(s) and kind, when any match."""
    narrowed = list(documents)
    for wanted in ({str(y) for y in periods.years}, set(periods.kinds)):
        if wanted:
            same = [d for d in narrowed if d.periods & wanted]
            if same:
                narrowed = same
    return narrowed
