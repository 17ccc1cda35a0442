"""A question asked of several knowledge bases at once (`/ask` with `knowledge_bases`).

Each base finds and selects its own sources with its own question path (its profile, its
abstention, its index), so a base answers as it would alone. The selections are then merged
by rank: the best source of each base first, then the second of each, and so on, ties by
score. Scores are not compared across bases, because each base fuses its own rankings and two
indexes' fused scores do not share a scale; ranks do. Generation (or the extractive answer)
then runs once, on the merged sources, with the first base's chat model and budgets."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import replace

from app.query.answering import AskService, FoundSources
from app.query.selection import Selection
from ingest.filters import Filters


class FederatedAskService(AskService):
    def __init__(self, services: Sequence[AskService]) -> None:
        if not services:
            raise ValueError("a federated question needs at least one knowledge base")
        # The first base's answering parts (chat model, extractive answerer, budgets).
        self.__dict__.update(copy.copy(services[0].__dict__))
        self._members = list(services)
        self.knowledge_base = None

    def find_sources(
        self,
        text: str,
        top_k: int,
        filters: Filters | None = None,
        expand: int | None = None,
    ) -> FoundSources:
        found = [member.find_sources(text, top_k, filters, expand) for member in self._members]
        ranked = sorted(
            (
                (rank, -hit.score, index, hit)
                for index, each in enumerate(found)
                for rank, hit in enumerate(each.selection.hits)
            ),
            key=lambda entry: entry[:3],
        )
        hits = [hit for *_, hit in ranked][:top_k]
        # Abstained only when no base kept a source and one of them abstained.
        assessment = next(
            (each.selection.assessment for each in found if each.selection.abstained), None
        )
        selection = Selection(hits, None if hits else assessment)
        return replace(
            found[0],
            candidates=[hit for each in found for hit in each.candidates],
            selection=selection,
            retrieve_ms=round(sum(each.retrieve_ms for each in found), 1),
            select_ms=round(sum(each.select_ms for each in found), 1),
        )
