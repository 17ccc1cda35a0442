"""Reciprocal rank fusion of several rankings of the same items."""

from __future__ import annotations

from collections.abc import Sequence


def fuse_rankings(
    rankings: Sequence[tuple[Sequence[str], float]], k: int = 60
) -> list[tuple[str, float]]:
    """Reciprocal rank fusion: each ranking adds weight / (k + rank) to the items it holds."""
    scores: dict[str, float] = {}
    for ranking, weight in rankings:
        if weight <= 0:
            continue
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
    return sorted(scores.items(), key=lambda kv: kv[1], reverse=True)
