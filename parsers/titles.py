"""A document's title: who it is from and what it is, read from its cover page or metadata."""

from __future__ import annotations

import re
from collections.abc import Sequence

# SEC forms name themselves on the cover: "FORM 10-K", "Form 8-K".
_FORM = re.compile(r"\bFORM\s+(10-KT?|10-Q|8-K|20-F|40-F|6-K|S-1|S-4|DEF\s?14A|11-K)\b", re.I)
_REGISTRANT_NOTE = re.compile(r"exact name of registrant", re.I)
_ANNUAL = re.compile(
    r"fiscal year ended\s*:?\s*([A-Z][a-z]+\s+\d{1,2}\s*,\s*((?:19|20)\d\d))", re.I
)
_QUARTER = re.compile(
    r"quarterly period ended\s*:?\s*([A-Z][a-z]+\s+\d{1,2}\s*,\s*(?:19|20)\d\d)", re.I
)
_REPORT_DATE = re.compile(
    r"date of report[^:]*:\s*([A-Z][a-z]+\s+\d{1,2}\s*,\s*(?:19|20)\d\d)", re.I
)
_COMMISSION_FILE = re.compile(r"commission file", re.I)
# Cover-page lines that sit where a name might, but are not one.
_NOT_A_NAME = re.compile(r"commission file|transition period|pursuant|exchange act|mark one", re.I)
_GENERIC_TITLES = frozenset({"document", "untitled document", "report", "title", "pdf"})
# Short all-caps words that are acronyms ("CVS", "MGM"), not words to title-case.
_PLAIN_SHORT_WORDS = frozenset({"THE", "AND", "OF", "CO", "CO.", "INC", "INC.", "&"})
_COMPANY_WORD = re.compile(
    r"\b(inc|incorporated|corp|corporation|company|co|plc|ltd|limited|llc|n\.?v|s\.?a|"
    r"holdings|group|trust|& co)\b\.?",
    re.I,
)
# Machine-made titles that name nothing: accession numbers, file names, producer defaults.
_ACCESSION = re.compile(r"^\d{10}-\d{2}-\d{6}$")
_FILE_NAME = re.compile(r"\.(pdf|docx?|xlsx?|pptx?|indd|rtf|txt|html?)$", re.I)
_PRODUCER_PREFIX = re.compile(r"^(microsoft (word|powerpoint|excel) - )", re.I)
_LETTERS = re.compile(r"[^\W\d_]")


def document_title(cover_pages: Sequence[str], metadata_title: str | None) -> str | None:
    """The best title found: an SEC filing's registrant and form from its cover page, else
    the metadata title unless it is machine-made; None when neither names the document."""
    return cover_title(cover_pages) or meaningful_title(metadata_title)


def meaningful_title(title: str | None) -> str | None:
    """The metadata title, or None when it is an accession number, a file name or too
    short to name anything."""
    if title is None:
        return None
    title = _PRODUCER_PREFIX.sub("", " ".join(title.split()))
    if _ACCESSION.match(title) or _FILE_NAME.search(title) or len(_LETTERS.findall(title)) < 3:
        return None
    if title.lower() in _GENERIC_TITLES:
        return None
    return title


def cover_title(pages: Sequence[str]) -> str | None:
    """ "3M Company — Form 10-K 2018" from a filing's cover page (the first page that names
    its form), None for anything that is not an SEC filing."""
    for text in pages:
        form = _FORM.search(text)
        if form is None:
            continue
        lines = [line.strip() for line in text.split("\n") if line.strip()]
        registrant = _registrant(lines)
        if registrant is None:
            return None
        return f"{_readable(registrant)} — Form {form.group(1).upper()}{_period(text)}"
    return None


def _registrant(lines: list[str]) -> str | None:
    for index, line in enumerate(lines):
        if _REGISTRANT_NOTE.search(line):
            # The name is just above the note; a file number may sit between them.
            for candidate in reversed(lines[max(0, index - 3) : index]):
                if not _NOT_A_NAME.search(candidate):
                    return _company_part(candidate)
            return None
    # No "(Exact name of registrant...)" note: the company line after the file number.
    for index, line in enumerate(lines):
        if _COMMISSION_FILE.search(line):
            for candidate in lines[index + 1 : index + 4]:
                if _COMPANY_WORD.search(candidate) and len(candidate) < 80:
                    return _company_part(candidate)
    return None


def _company_part(line: str) -> str | None:
    line = " ".join(line.strip(" ()").split()).replace(" .", ".")
    if not line or len(line) > 100 or len(_LETTERS.findall(line)) < 2:
        return None
    if " " not in line and not _COMPANY_WORD.search(line):
        return None  # one word of a name pypdf wrote a word per line: not the name
    return line


def _readable(name: str) -> str:
    """ALL-CAPS registrant names in title case ("3M COMPANY" -> "3M Company")."""
    if name.upper() != name:
        return name
    return " ".join(_readable_word(word) for word in name.split())


def _readable_word(word: str) -> str:
    if any(c.isdigit() for c in word):
        return word  # "3M"
    if len(word.strip(".,")) <= 3 and word.rstrip(",") not in _PLAIN_SHORT_WORDS:
        return word  # an acronym
    return word.capitalize()


def _period(text: str) -> str:
    flat = " ".join(text.split())
    if annual := _ANNUAL.search(flat):
        return f" {annual.group(2)}"
    if quarter := _QUARTER.search(flat):
        return f", quarter ended {quarter.group(1)}"
    if report := _REPORT_DATE.search(flat):
        return f", {report.group(1)}"
    return ""
