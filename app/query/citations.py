"""Citation checking: which [n] markers of an answer point at real sources, and which span of
each cited source best supports the sentences that cite it. Pure text work, no models."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from app.query.extractive import split_sentences, whole_units

_MARKER = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
_LEADING_MARKERS = re.compile(r"^(?:\s*\[\d+(?:\s*,\s*\d+)*\])+")
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_CJK = re.compile(r"[\u3400-\u9fff]")
# Too common to say anything about support.
_STOPWORDS = frozenset(
    "a an and are as at be by for from has have in is it its of on or that the this to was "
    "were which with".split()
)


@dataclass(frozen=True, slots=True)
class CheckedText:
    text: str  # markers pointing at no source removed
    used: list[int]  # source numbers cited, in order of first use
    dropped: list[int]  # numbers that point at no source, in order of first appearance


def check_markers(answer: str, count: int) -> CheckedText:
    """Keeps the [n] markers with 1 <= n <= count (also inside [1, 2] groups), removes the
    others and reports them; a repeated marker is kept where it stands and counted once."""
    used: list[int] = []
    dropped: list[int] = []

    def keep(match: re.Match[str]) -> str:
        numbers = [int(x) for x in re.split(r"\s*,\s*", match.group(1))]
        valid = [n for n in numbers if 1 <= n <= count]
        for n in numbers:
            seen = used if n in valid else dropped
            if n not in seen:
                seen.append(n)
        return "".join(f"[{n}]" for n in dict.fromkeys(valid))

    cleaned = _MARKER.sub(keep, answer)
    # "March [9]." became "March ."; close the gap left before punctuation.
    cleaned = re.sub(r"[ \t]+([.,;:!?。，])", r"\1", cleaned)
    cleaned = re.sub(r"[ \t]{2,}", " ", cleaned).strip()
    return CheckedText(cleaned, used, dropped)


def claims_by_source(answer: str) -> dict[int, list[str]]:
    """For each cited number, the sentences of the answer that cite it (markers removed).
    A marker written after the full stop ("March. [1]") belongs to the sentence before it."""
    sentences = split_sentences(answer)
    for i in range(1, len(sentences)):
        leading = _LEADING_MARKERS.match(sentences[i])
        if leading:
            sentences[i - 1] += " " + leading.group(0).strip()
            sentences[i] = sentences[i][leading.end() :].strip()
    claims: dict[int, list[str]] = {}
    for sentence in sentences:
        numbers = [int(x) for m in _MARKER.finditer(sentence) for x in re.split(r"\s*,\s*", m[1])]
        plain = re.sub(r"\s+([.,;:!?。，])", r"\1", _MARKER.sub("", sentence)).strip()
        for n in dict.fromkeys(numbers):
            claims.setdefault(n, []).append(plain)
    return claims


def _terms(text: str) -> set[str]:
    terms: set[str] = set()
    for word in _WORD.findall(text.lower()):
        if _CJK.search(word):
            # Chinese has no spaces: character bigrams stand in for words.
            chars = [c for c in word if _CJK.match(c)]
            terms.update(a + b for a, b in zip(chars, chars[1:], strict=False))
            terms.update(chars if len(chars) == 1 else ())
        elif len(word) > 1 and word not in _STOPWORDS:
            terms.add(word)
    return terms


def best_quote(chunk_text: str, claims: Sequence[str]) -> str | None:
    """The sentence of the chunk sharing the most terms with the claims that cite it (ties go
    to the earlier sentence); the chunk's first sentence when no term is shared. A fragment
    that starts mid-sentence (a chunk's overlap) is quoted only when nothing else is left."""
    sentences = whole_units(chunk_text) or split_sentences(chunk_text)
    if not sentences:
        return chunk_text.strip() or None
    wanted = _terms(" ".join(claims))
    best, best_score = sentences[0], 0.0
    for sentence in sentences:
        terms = _terms(sentence)
        if not terms or not wanted:
            continue
        shared = len(wanted & terms)
        # Share of the claim covered, with a light preference for focused sentences.
        score = shared / len(wanted) + shared / (len(terms) + 5) * 0.1
        if score > best_score:
            best, best_score = sentence, score
    return best


@dataclass(frozen=True, slots=True)
class CheckedJSON:
    text: str  # the cleaned object, serialised again
    used: list[int]
    dropped: list[int]
    claims: dict[int, list[str]]


class InvalidJSONAnswer(ValueError):
    pass


def _citation_number(item: object) -> int | None:
    if isinstance(item, int) and not isinstance(item, bool):
        return item
    if isinstance(item, str) and (match := re.fullmatch(r"\s*\[?(\d+)\]?\s*", item)):
        return int(match.group(1))
    return None


def check_json_answer(raw: str, count: int) -> CheckedJSON:
    """JSON mode: the reply must parse. When it has the requested shape
    ({"answer": "... [n] ...", "citations": [n, ...]}) its markers and its citation list are
    checked like a plain answer's; any other valid JSON passes through unchanged."""
    try:
        value: Any = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InvalidJSONAnswer(str(exc)) from exc
    used: list[int] = []
    dropped: list[int] = []
    claims: dict[int, list[str]] = {}
    if isinstance(value, dict):
        if isinstance(value.get("answer"), str):
            checked = check_markers(value["answer"], count)
            value["answer"] = checked.text
            used, dropped = list(checked.used), list(checked.dropped)
            claims = claims_by_source(checked.text)
        if isinstance(value.get("citations"), list):
            kept: list[int] = []
            for item in value["citations"]:
                n = _citation_number(item)
                if n is not None and 1 <= n <= count:
                    kept.append(n)
                    if n not in used:
                        used.append(n)
                elif n is not None and n not in dropped:
                    dropped.append(n)
            value["citations"] = list(dict.fromkeys(kept))
            answer = value.get("answer")
            whole = answer if isinstance(answer, str) else ""
            for n in kept:
                claims.setdefault(n, [_MARKER.sub("", whole)])
    return CheckedJSON(json.dumps(value, ensure_ascii=False), used, dropped, claims)
