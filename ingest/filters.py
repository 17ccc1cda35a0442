"""The filter language of questions, translated for each engine in this one place.

A question may be limited to some documents, some file names and metadata values. Each
condition is an exact value or a list of values (any of them); all conditions hold together.
Chroma gets them as a `where` clause; the lexical engine gets them as sets of facet terms
(one term per field and value) that it matches inside its own index.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

MetadataScalar = str | int | float | bool
MetadataCondition = MetadataScalar | Sequence[MetadataScalar]

# Chunk metadata keys a filter can name: the document, its file name and the user's metadata
# (stored under this prefix beside docrag's own keys).
DOCUMENT_KEY = "document_id"
FILENAME_KEY = "filename"
USER_PREFIX = "meta."

_SEPARATOR = "\x1f"  # never in a metadata key or a file name a user types


@dataclass(frozen=True, slots=True)
class Filters:
    """Conditions every returned chunk meets; applied inside each search, so top-k is filled
    with matching chunks. `metadata` values are an exact value or a list (any of them)."""

    document_ids: tuple[str, ...] = ()
    filenames: tuple[str, ...] = ()
    metadata: Mapping[str, MetadataCondition] = field(default_factory=dict)

    def _conditions(self) -> list[tuple[str, list[MetadataScalar]]]:
        conditions: list[tuple[str, list[MetadataScalar]]] = []
        if self.document_ids:
            conditions.append((DOCUMENT_KEY, list(self.document_ids)))
        if self.filenames:
            conditions.append((FILENAME_KEY, list(self.filenames)))
        for key, value in self.metadata.items():
            values = list(value) if isinstance(value, list | tuple) else [value]
            conditions.append((USER_PREFIX + key, values))  # type: ignore[arg-type]
        return conditions

    def __bool__(self) -> bool:
        return bool(self._conditions())

    def where(self) -> dict[str, Any] | None:
        """The conditions as a Chroma `where` clause; None when there are none."""
        clauses: list[dict[str, Any]] = [
            {key: values[0]} if len(values) == 1 else {key: {"$in": values}}
            for key, values in self._conditions()
        ]
        if not clauses:
            return None
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}

    def facet_clauses(self) -> list[frozenset[str]]:
        """The conditions as facet terms: a chunk matches when, for every clause, it carries
        at least one of the clause's terms. An empty list matches every chunk."""
        return [
            frozenset(facet_term(key, value) for value in values)
            for key, values in self._conditions()
        ]


def facet_term(key: str, value: MetadataScalar) -> str:
    """One field and value as a single term. Numbers compare by value (2024 matches 2024.0),
    as they do in Chroma; a string never matches a number."""
    if isinstance(value, bool):
        encoded = f"b:{int(value)}"
    elif isinstance(value, int | float):
        number = float(value)
        encoded = f"n:{number!r}" if math.isfinite(number) else f"n:{value}"
    else:
        encoded = f"s:{value}"
    return f"{key}{_SEPARATOR}{encoded}"


def facet_terms(document_id: str, metadata: Mapping[str, Any]) -> list[str]:
    """The facet terms of one chunk: the ones its filters can name."""
    terms = [facet_term(DOCUMENT_KEY, document_id)]
    for key, value in metadata.items():
        if value is None or key == DOCUMENT_KEY:
            continue
        if key == FILENAME_KEY or key.startswith(USER_PREFIX):
            terms.append(facet_term(key, value))
    return terms
