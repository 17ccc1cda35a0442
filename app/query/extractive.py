"""The extractive answerer, used when no chat model is configured: the sentences and table
rows of the sources that best answer the question, best first, one per source, each cited.
It is not a chat model.

Every source is read. A sentence or row scores by how much of the question it holds (its
terms weighted by rarity among the candidates, and character bigrams for languages the
embedding model reads poorly) and by its embedding similarity to the question. For a
question asking for a figure, a table row or sentence with numbers that holds the asked line
item, in a chunk of the asked period, comes first."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from app.query.analysis import QuestionAnalysis
from app.query.retrieval import Hit
from ingest.embedding import Embedder
from parsers.layout import is_table_row

_SENTENCE_END = re.compile(r"(?<=[.!?。！？；])\s+|(?<=[。！？；])|\n{2,}")
_AMOUNT = re.compile(r"[$€£]\s?\d|\d,\d{3}|\d\.\d|\d\s?%|\b\d{3,}\b")
_FORM_OR_YEAR = re.compile(r"(?<!\d)(?:19|20)\d\d(?!\d)|\b(?:10|8)-?[KQ]\b", re.IGNORECASE)
_YEAR = re.compile(r"(?<!\d)((?:19|20)\d\d)(?!\d)")
_WORDS = re.compile(r"[^\W_]+", re.UNICODE)
_STOP = frozenset(
    """a an and are as at be by did do does for from had has have how in is it its of on or
    our so than that the their this to was were what when which who why will with year
    fiscal fy""".split()
)


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


def _starts_mid_sentence(text: str) -> bool:
    head = text.lstrip()
    return bool(head) and (head[0].islower() or head[0] in ",;:)]")


def _has_figure(text: str) -> bool:
    """Holds an amount: a number other than a year or a form's ("10-K")."""
    stripped = _FORM_OR_YEAR.sub(" ", text)
    return bool(_AMOUNT.search(stripped))


def _word_pairs(text: str) -> set[tuple[str, str]]:
    """Adjacent content words ("net income"), so a line item named as the question names it
    beats one that holds the same words apart."""
    words = [w for w in (m.lower() for m in _WORDS.findall(text)) if w not in _STOP]
    return set(zip(words, words[1:], strict=False))


def _bigrams(text: str) -> set[str]:
    compact = re.sub(r"\s+", " ", text.lower())
    return {compact[i : i + 2] for i in range(len(compact) - 1)} - {"  "}


def _terms(text: str) -> set[str]:
    return {w for w in (m.lower() for m in _WORDS.findall(text)) if w not in _STOP}


@dataclass(frozen=True, slots=True)
class _Unit:
    source: int  # the source's number, 1-based
    position: int
    text: str
    row: bool
    period: bool  # the unit or its chunk names an asked year
    routed: bool  # from a document the question names
    caption: str = ""  # for a row: the prose line before its table ("Net sales are as follows")


@dataclass
class ExtractiveAnswerer:
    """Answers with the sentences and rows of the sources that best answer the question."""

    embedder: Embedder
    max_sentences: int = 3
    max_candidates: int = 80
    dense_weight: float = 1.0
    lexical_weight: float = 1.0
    figure_bonus: float = 0.3
    period_bonus: float = 0.3

    def answer(self, analysis: QuestionAnalysis, hits: Sequence[Hit]) -> str:
        units = self._units(analysis, hits)
        if not units:
            return ""
        ranked = self._ranked(analysis, units)
        best: list[_Unit] = []
        said: set[str] = set()
        # One unit per source first, each said once (a chunk's overlap, a page repeated in two
        # filings): three quotes show three places the answer may rest on, where three
        # sentences of one chunk show one. Fewer sources than places: their next units.
        for first_pass in (True, False):
            for unit in ranked:
                key = " ".join(unit.text.lower().split())
                if len(best) == self.max_sentences or key in said:
                    continue
                if first_pass and any(b.source == unit.source for b in best):
                    continue
                said.add(key)
                best.append(unit)
        # One unit per paragraph: a row has no full stop to end its claim for the citations.
        return "\n\n".join(f"{u.text} [{u.source}]" for u in best)

    def _units(self, analysis: QuestionAnalysis, hits: Sequence[Hit]) -> list[_Unit]:
        years = {str(y) for y in analysis.periods.years}
        units: list[_Unit] = []
        for n, hit in enumerate(hits, start=1):
            chunk_years = set(_YEAR.findall(f"{hit.context or ''}\n{hit.text}"))
            caption = hit.heading or ""
            for position, text in enumerate(whole_units(hit.text)):
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
        question = analysis.text
        wanted = _terms(question)
        # Rarer terms among the candidates say more about which unit answers.
        frequency = {t: sum(1 for u in units if t in _terms(u.text)) for t in wanted}
        weight = {t: math.log(1 + len(units) / (1 + f)) for t, f in frequency.items()}
        total = sum(weight.values()) or 1.0
        grams = _bigrams(question)
        pairs = _word_pairs(question)
        lexical, holds = [], []
        for unit in units:
            terms = _terms(unit.text)
            held = sum(w for t, w in weight.items() if t in terms) / total
            if unit.caption:
                # A row's line item may be named only by the sentence over its table.
                around = _terms(unit.caption) - terms
                held += 0.5 * sum(w for t, w in weight.items() if t in around) / total
            shared = len(grams & _bigrams(unit.text)) / max(1, len(grams))
            if pairs:
                held += 0.5 * len(pairs & _word_pairs(unit.text)) / len(pairs)
            lexical.append(max(held, shared * 0.8))
            holds.append(held)
        # Embedding every unit costs time: the best by terms are read by the model.
        order = sorted(range(len(units)), key=lambda i: lexical[i], reverse=True)
        order = order[: self.max_candidates]
        vectors = self.embedder.embed_documents([units[i].text for i in order])
        query_vector = self.embedder.embed_query(question)
        figure = analysis.answer_kind == "figure"
        scored = []
        for i, vector in zip(order, vectors, strict=True):
            unit = units[i]
            dense = sum(a * b for a, b in zip(query_vector, vector, strict=True))
            score = self.dense_weight * dense + self.lexical_weight * lexical[i]
            if figure and _has_figure(unit.text) and holds[i] > 0:
                score += self.figure_bonus * (1.0 if unit.row else 0.5)
                if unit.period:
                    score += self.period_bonus
            scored.append((score, -unit.source, -unit.position, unit))
        scored.sort(key=lambda s: s[:3], reverse=True)
        return [s[3] for s in scored]
