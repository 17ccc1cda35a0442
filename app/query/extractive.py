"""The extractive answerer, used when no chat model is configured: the sentences and table
rows of the sources that best answer the question, best first, one per source, each cited.
It is not a chat model.

Only the sources that pass the relevance gate are read (the best source when none does). A
sentence or row scores by how much of the question it holds (its
terms weighted by rarity among the candidates, and character bigrams for languages the
embedding model reads poorly) and by its embedding similarity to the question. For a
question asking for a figure, a table row or sentence with numbers that holds the asked line
item, in a chunk of the asked period, comes first.

A quoted row carries its table's column headings and unit (app/query/tables.py). After the
first unit, a row is quoted only when its line item or its table's caption names what was
asked: a row of another table never pads an answer."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from app.query.analysis import QuestionAnalysis, character_bigrams, content_words
from app.query.question_vectors import question_vector
from app.query.retrieval import Hit
from app.query.tables import PageTexts, TableFrame, is_headings, quoted_row, row_frame
from ingest.embedding import Embedder
from parsers.layout import is_table_row

_SENTENCE_END = re.compile(r"(?<=[.!?。！？；])\s+|(?<=[。！？；])|\n{2,}")
_AMOUNT = re.compile(r"[$€£]\s?\d|\d,\d{3}|\d\.\d|\d\s?%|\b\d{3,}\b")
_FORM_OR_YEAR = re.compile(r"(?<!\d)(?:19|20)\d\d(?!\d)|\b(?:10|8)-?[KQ]\b", re.IGNORECASE)
_YEAR = re.compile(r"(?<!\d)((?:19|20)\d\d)(?!\d)")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")

# Units an answer quotes: three places the answer may rest on, short enough to read. Kept
# from the first version; not tuned.
MAX_UNITS = 3
# Units the embedding model reads per answer, the best by terms: bounds the time spent on a
# long source list. Kept from the first version; not tuned.
MAX_CANDIDATES = 80
# A unit's score: dense similarity and the share of the question it holds, weighed alike.
# Kept from the first version; not tuned.
DENSE_WEIGHT = 1.0
LEXICAL_WEIGHT = 1.0
# For a question asking for a figure: a table row with numbers that holds some of the
# question, and more when it is of the asked period; a sentence with numbers half the row's.
# Kept from the first version; not tuned.
FIGURE_BONUS = 0.3
PERIOD_BONUS = 0.3
SENTENCE_FIGURE_SHARE = 0.5
# What the sentence over a row's table, and the question's adjacent word pairs, add to the
# share of the question a unit holds; both half a term's worth. Kept from the first version;
# not tuned.
CAPTION_SHARE = 0.5
PAIR_SHARE = 0.5
# Character bigrams count for less than words: two characters say less than a word. Kept
# from the first version; not tuned.
BIGRAM_SHARE = 0.8


def split_sentences(text: str) -> list[str]:
    """Sentences, and table rows on their own: a row never runs into the text around it."""
    pieces: list[str] = []
    for block in _SENTENCE_END.split(text):
        if not block:
            continue
        lines = block.split("\n")
        prose: list[str] = []
        for line in lines:
            if is_table_row(line):
                if prose:
                    pieces.append(" ".join(prose))
                    prose = []
                pieces.append(line)
            else:
                prose.append(line.strip())
        if prose:
            pieces.append(" ".join(p for p in prose if p))
    return [p.strip() for p in pieces if len(p.strip()) > 1]


def whole_units(text: str) -> list[str]:
    """The sentences and rows of a chunk that can be quoted: a fragment that starts in the
    middle of a sentence (a chunk's overlap with the one before, or prose broken by a page
    or a table) is left out."""
    return [
        u
        for u in split_sentences(text)
        if is_table_row(u) or not (_starts_mid_sentence(u) or _says_nothing(u))
    ]


def _says_nothing(text: str) -> bool:
    """A lead-in to what follows ("The following table presents ... (in millions):") or a
    line of links ("• Overview • Results of Operations • ..."): a quote of it answers nothing."""
    stripped = text.rstrip()
    return stripped.endswith(":") or stripped.count("•") >= 3


def _titles_a_table(units: Sequence[str], position: int) -> bool:
    """A line over a table that is no sentence ("Consolidated Statements of Income")."""
    text = units[position].rstrip()
    following = units[position + 1] if position + 1 < len(units) else ""
    ends = text.endswith((".", "!", "?", "。", "！", "？"))
    return (
        not ends and not is_table_row(text) and (is_headings(following) or is_table_row(following))
    )


def _starts_mid_sentence(text: str) -> bool:
    head = text.lstrip()
    return bool(head) and (head[0].islower() or head[0] in ",;:)]")


def _has_figure(text: str) -> bool:
    """Holds an amount: a number other than a year or a form's ("10-K")."""
    stripped = _FORM_OR_YEAR.sub(" ", text)
    return bool(_AMOUNT.search(stripped))


def _word_pairs(words: Sequence[str]) -> set[tuple[str, str]]:
    """Adjacent content words ("net income"), so a line item named as the question names it
    beats one that holds the same words apart."""
    return set(zip(words, words[1:], strict=False))


def _cjk_pairs(bigrams: Iterable[str]) -> set[str]:
    return {b for b in bigrams if _CJK.fullmatch(b[0]) and _CJK.fullmatch(b[-1])}


@dataclass(frozen=True, slots=True)
class _Unit:
    source: int  # the source's number, 1-based
    position: int
    text: str
    row: bool
    period: bool  # the unit or its chunk names an asked year
    routed: bool  # from a document the question names
    caption: str = ""  # for a row: the prose line before its table ("Net sales are as follows")


def _always(hit: Hit) -> bool:
    return True


class ExtractiveAnswerer:
    """Answers with the sentences and rows of the sources that best answer the question.

    `is_relevant` is the relevance gate (`SourceSelector.is_relevant`): a source that only
    rode along (kept beside a relevant one, or widened into) is listed but gives no answer
    line, unless no source passes. `pages` reads a document's stored page text, for the
    headings of a table a chunk starts inside."""

    def __init__(
        self,
        embedder: Embedder,
        is_relevant: Callable[[Hit], bool] = _always,
        pages: PageTexts | None = None,
    ) -> None:
        self.embedder = embedder
        self._is_relevant = is_relevant
        self._pages = pages

    def answer(self, analysis: QuestionAnalysis, hits: Sequence[Hit]) -> str:
        units = self._units(analysis, hits)
        if not units:
            return ""
        ranked = self._ranked(analysis, units)
        best: list[tuple[_Unit, str]] = []
        said: set[str] = set()
        # One unit per source first, each said once (a chunk's overlap, a page repeated in two
        # filings): three quotes show three places the answer may rest on, where three
        # sentences of one chunk show one. Fewer sources than places: their next units.
        for first_pass in (True, False):
            for unit in ranked:
                key = " ".join(unit.text.lower().split())
                if len(best) == MAX_UNITS or key in said:
                    continue
                if first_pass and any(b.source == unit.source for b, _ in best):
                    continue
                said.add(key)
                hit = hits[unit.source - 1]
                frame = row_frame(hit, unit.text, self._pages) if unit.row else None
                # The best unit leads whatever it is; a row after it only when its table is
                # about what was asked: fewer lines rather than padding.
                if best and frame is not None and not _on_topic(analysis, unit, frame):
                    continue
                best.append((unit, quoted_row(unit.text, frame) if frame else unit.text))
        # One unit per paragraph: a row has no full stop to end its claim for the citations.
        return "\n\n".join(f"{text} [{u.source}]" for u, text in best)

    def _units(self, analysis: QuestionAnalysis, hits: Sequence[Hit]) -> list[_Unit]:
        years = {str(y) for y in analysis.periods.years}
        # Only sources that pass the relevance gate answer; when none does, the best one.
        answering = [n for n, hit in enumerate(hits, start=1) if self._is_relevant(hit)]
        units: list[_Unit] = []
        for n in answering or ([1] if hits else []):
            hit = hits[n - 1]
            chunk_years = set(_YEAR.findall(f"{hit.context or ''}\n{hit.text}"))
            caption = hit.heading or ""
            quotable = whole_units(hit.text)
            for position, text in enumerate(quotable):
                if is_headings(text) or _titles_a_table(quotable, position):
                    # A table's headings and title: they are quoted with its rows.
                    caption = text if not is_headings(text) else caption
                    continue
                in_period = bool(years & (set(_YEAR.findall(text)) or chunk_years))
                row = is_table_row(text)
                units.append(
                    _Unit(
                        n,
                        position,
                        text,
                        row,
                        in_period,
                        hit.document_id in analysis.routed,
                        caption if row else "",
                    )
                )
                if not row:
                    caption = text
        # The documents the question names answer it; the rest of the library only when
        # none of theirs came through.
        named = [u for u in units if u.routed]
        return named or units

    def _ranked(self, analysis: QuestionAnalysis, units: list[_Unit]) -> list[_Unit]:
        wanted = set(analysis.content_words)
        unit_words = [content_words(u.text) for u in units]
        unit_terms = [set(words) for words in unit_words]
        # Rarer terms among the candidates say more about which unit answers.
        frequency = {t: sum(1 for terms in unit_terms if t in terms) for t in wanted}
        weight = {t: math.log(1 + len(units) / (1 + f)) for t, f in frequency.items()}
        total = sum(weight.values()) or 1.0
        grams = analysis.character_bigrams
        pairs = _word_pairs(analysis.content_words)
        lexical, holds = [], []
        for unit, words, terms in zip(units, unit_words, unit_terms, strict=True):
            held = sum(w for t, w in weight.items() if t in terms) / total
            if unit.caption:
                # A row's line item may be named only by the sentence over its table.
                around = set(content_words(unit.caption)) - terms
                held += CAPTION_SHARE * sum(w for t, w in weight.items() if t in around) / total
            shared = len(grams & character_bigrams(unit.text)) / max(1, len(grams))
            if pairs:
                held += PAIR_SHARE * len(pairs & _word_pairs(words)) / len(pairs)
            lexical.append(max(held, shared * BIGRAM_SHARE))
            holds.append(held)
        # Embedding every unit costs time: the best by terms are read by the model.
        order = sorted(range(len(units)), key=lambda i: lexical[i], reverse=True)
        order = order[:MAX_CANDIDATES]
        vectors = self.embedder.embed_documents([units[i].text for i in order])
        query_vector = question_vector(self.embedder, analysis.text)
        figure = analysis.answer_kind == "figure"
        scored = []
        for i, vector in zip(order, vectors, strict=True):
            unit = units[i]
            dense = sum(a * b for a, b in zip(query_vector, vector, strict=True))
            score = DENSE_WEIGHT * dense + LEXICAL_WEIGHT * lexical[i]
            if figure and _has_figure(unit.text) and holds[i] > 0:
                score += FIGURE_BONUS * (1.0 if unit.row else SENTENCE_FIGURE_SHARE)
                if unit.period:
                    score += PERIOD_BONUS
            scored.append((score, -unit.source, -unit.position, unit))
        scored.sort(key=lambda s: s[:3], reverse=True)
        return [s[3] for s in scored]


def _on_topic(analysis: QuestionAnalysis, unit: _Unit, frame: TableFrame) -> bool:
    """Whether a row's line item or its table's caption shares a word with what the question
    asks; for Chinese, one of its character bigrams. Names (which company) and numbers (which
    year) are left out: they say where, not what. Chosen on FinanceBench half A: asking for
    one of the question's adjacent word pairs ("net income") cut rows a filing names in its
    own words ("Cost of sales" for cost of goods sold, "investing activities" in "operations,
    investing, and financing activities") and cost 6 points of cited evidence there."""
    named = {w for name in analysis.names for w in name.text.split()}
    asked = [w for w in analysis.content_words if len(w) > 1 and not w.isdigit()]
    asked = [w for w in asked if w not in named and not _CJK.search(w)]
    asked_cjk = _cjk_pairs(analysis.character_bigrams) - {
        g for name in analysis.names for g in character_bigrams(name.text)
    }
    if not asked and not asked_cjk:
        return True
    caption = frame.caption or unit.caption
    places = [content_words(unit.text), content_words(caption)]
    if asked and set(asked) & set().union(*(set(p) for p in places)):
        return True
    held = character_bigrams(unit.text) | character_bigrams(caption)
    return bool(asked_cjk & held)
