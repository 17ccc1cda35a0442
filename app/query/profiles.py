"""Document profiles: what the question path knows about a kind of document, kept apart from
the generic core.

A profile says how a document is named and dated (from its title, file name and metadata),
which words name nothing, which periods a question asks about, and which periods a document
reports. `generic` knows only what holds for any document: papers, manuals, articles,
contracts. `filings` adds what holds for SEC filings and nothing else: form types, fiscal
quarters, and the three fiscal years a 10-K's statements compare. The profile is the setting
`DOCRAG_QUESTIONS__PROFILE`."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from ingest.catalog import DocumentRecord

ProfileName = Literal["generic", "filings"]

# Words of titles and file names that name no particular document, in any kind of library.
GENERIC_WORDS = frozenset(
    """a an and the of for in on to by at with from as is its inc incorporated corp
    corporation company companies co ltd llc plc group holdings holding sa ag nv se
    report document documents file pdf txt md docx html csv page table contents new
    draft final version copy scan""".split()
)
# Words that name no particular filing: a cover page's boilerplate.
FILING_WORDS = frozenset(
    """form annual quarterly earnings release filing fiscal year ended ending period pursuant
    section act securities exchange commission united states washington dc december june
    march september statement statements financial results consolidated dated""".split()
)
# Dates and fiscal periods, not names: "FY", "July", "1st".
PERIOD_WORDS = frozenset(
    """fy q h ytd january february march april may june july august september october
    november december jan feb mar apr jun jul aug sep sept oct nov dec""".split()
)
FILING_KINDS = frozenset({"10k", "10q", "8k", "q1", "q2", "q3", "q4", "h1", "h2"})
# A 10-K's statements compare this many fiscal years, up to the year it is dated.
FILING_REPORTED_YEARS = 3

YEAR = re.compile(r"(?<!\d)((?:19|20)\d\d)(?!\d)")
_FORM = re.compile(r"\b(10|8)[\s-]?([kq])\b", re.IGNORECASE)
_WORD = re.compile(r"[^\W_](?:[\w&]*[^\W_])?", re.UNICODE)
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")


def normalise(text: str) -> str:
    """ "10-K", "10 K" and "10k" are one form type; "FY2018" and "2023Q2" hold a year."""
    text = _FORM.sub(lambda m: f" {m.group(1)}{m.group(2).lower()} ", text)
    return re.sub(r"(?i)(?<=[a-z])(?=(?:19|20)\d\d)|(?<=\d{4})(?=[a-z])", " ", text)


def words_of(text: str) -> list[str]:
    """Lower-cased words, with file-name separators and camel case split ("BestBuy_2023")."""
    spaced = _CAMEL.sub(" ", normalise(text.replace("_", " ")))
    return [w.lower() for w in _WORD.findall(spaced)]


@dataclass(frozen=True, slots=True)
class DocumentNames:
    """How the question path knows one document: its distinctive name terms (with runs of
    two or three joined: "cocacola"; a run of CJK characters is one term) and its periods
    (years, kinds)."""

    document_id: str
    names: frozenset[str]
    periods: frozenset[str]

    @property
    def years(self) -> frozenset[int]:
        return frozenset(int(p) for p in self.periods if YEAR.fullmatch(p))


@dataclass(frozen=True, slots=True)
class AskedPeriods:
    years: frozenset[int] = frozenset()
    kinds: frozenset[str] = frozenset()  # form types and quarters ("10k", "q2")

    def __bool__(self) -> bool:
        return bool(self.years or self.kinds)


class DocumentProfile(Protocol):
    name: ProfileName
    generic_words: frozenset[str]  # words of titles that name no document

    def names_of(self, record: DocumentRecord) -> DocumentNames: ...

    def asked_periods(self, question: str) -> AskedPeriods: ...

    def reported_years(self, document: DocumentNames) -> frozenset[int] | None:
        """The years a document holds figures for; None when the profile cannot tell."""
        ...

    def covering(
        self, periods: AskedPeriods, documents: Sequence[DocumentNames]
    ) -> list[DocumentNames]:
        """Among documents of the asked periods, those that hold a comparison of them all."""
        ...


class GenericProfile:
    """Any document: named by its title (from metadata, the first heading or the file name:
    the parser chose it), its file name and metadata values; dated by the years those hold.
    It cannot tell which years a document reports, so no period decides an abstention."""

    name: ProfileName = "generic"
    generic_words = GENERIC_WORDS
    kinds: frozenset[str] = frozenset()

    def names_of(self, record: DocumentRecord) -> DocumentNames:
        stem = record.filename.rsplit(".", 1)[0]
        sources = [stem, record.filename.lower(), record.title or ""]
        sources += [str(v) for v in record.metadata.values() if isinstance(v, str)]
        names: set[str] = set()
        periods: set[str] = set()
        for source in sources:
            words = words_of(source)
            periods.update(w for w in words if YEAR.fullmatch(w) or w in self.kinds)
            kept = [w for w in words if self._is_name(w)]
            names.update(kept)
            names.update("".join(kept[i : i + n]) for n in (2, 3) for i in range(len(kept)))
        names.add(record.filename.lower())
        return DocumentNames(record.id, frozenset(names), frozenset(periods))

    def _is_name(self, word: str) -> bool:
        if word in self.generic_words or word in self.kinds or YEAR.fullmatch(word):
            return False
        return not word.isdigit() and len(word) >= 2

    def asked_periods(self, question: str) -> AskedPeriods:
        words = words_of(question)
        return AskedPeriods(
            years=frozenset(int(w) for w in words if YEAR.fullmatch(w)),
            kinds=frozenset(w for w in words if w in self.kinds),
        )

    def reported_years(self, document: DocumentNames) -> frozenset[int] | None:
        return None

    def covering(
        self, periods: AskedPeriods, documents: Sequence[DocumentNames]
    ) -> list[DocumentNames]:
        return list(documents)


class FilingsProfile(GenericProfile):
    """SEC filings: cover-page words name nothing; form types and quarters are periods; a
    filing dated Y reports the fiscal years Y-2..Y (the statements' comparison) and Y+1 (its
    outlook); a comparison of years is held whole by the filing
    dated the last of them."""

    name: ProfileName = "filings"
    generic_words = GENERIC_WORDS | FILING_WORDS
    kinds = FILING_KINDS

    def reported_years(self, document: DocumentNames) -> frozenset[int] | None:
        if not document.years:
            return None
        return frozenset(
            y - back for y in document.years for back in range(-1, FILING_REPORTED_YEARS)
        )

    def covering(
        self, periods: AskedPeriods, documents: Sequence[DocumentNames]
    ) -> list[DocumentNames]:
        if len(periods.years) < 2:
            return list(documents)
        first, last = min(periods.years), max(periods.years)
        whole = [
            d
            for d in documents
            if any(y - FILING_REPORTED_YEARS < first <= last <= y for y in d.years)
        ]
        return whole or list(documents)


def build_profile(name: ProfileName) -> DocumentProfile:
    match name:
        case "generic":
            return GenericProfile()
        case "filings":
            return FilingsProfile()
