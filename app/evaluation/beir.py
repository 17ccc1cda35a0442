"""BEIR-layout datasets and the ranking metrics: reading the corpus, queries and qrels, and
nDCG, recall and MRR at a cutoff."""

from __future__ import annotations

import gzip
import json
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from app.query.retrieval import Hit

# Called with (stage, done, total); stages are "ingest" and "queries".
EvalProgress = Callable[[str, int, int], None]

CUTOFFS = (10, 100)
_GENERIC_FOLDER_NAMES = {"beir", "beir_format", "data", "dataset"}


class DatasetError(ValueError):
    """The folder is not a usable BEIR-layout dataset; the message says what is missing."""


# --- the dataset ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CorpusRecord:
    id: str
    title: str
    text: str

    def document_bytes(self) -> bytes:
        """What docrag ingests for this record: the title, a blank line, the text."""
        body = f"{self.title}\n\n{self.text}" if self.title.strip() else self.text
        return body.encode("utf-8")


@dataclass(frozen=True, slots=True)
class BeirDataset:
    name: str
    path: Path
    split: str
    corpus: list[CorpusRecord]
    queries: dict[str, str]  # query id -> text, in file order
    qrels: dict[str, dict[str, int]]  # query id -> corpus id -> graded relevance

    def judged_queries(self, limit: int | None = None) -> list[str]:
        """Query ids, in file order, that have at least one relevant passage in the split."""
        ids = [
            qid
            for qid in self.queries
            if any(score > 0 for score in self.qrels.get(qid, {}).values())
        ]
        return ids[:limit] if limit is not None else ids


def _open_text(path: Path) -> IO[str]:
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return path.open(encoding="utf-8")


def _find(folder: Path, stem: str) -> Path:
    for name in (f"{stem}.jsonl", f"{stem}.jsonl.gz"):
        if (folder / name).is_file():
            return folder / name
    raise DatasetError(f"{folder} has no {stem}.jsonl or {stem}.jsonl.gz (BEIR layout expected)")


def _read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with _open_text(path) as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise DatasetError(f"{path}, line {number}: not JSON ({e.msg})") from e
            if not isinstance(row, dict) or "_id" not in row:
                raise DatasetError(f"{path}, line {number}: a record needs an `_id`")
            yield row


def read_qrels(path: Path) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            fields = line.rstrip("\r\n").split("\t")
            if not line.strip() or (number == 1 and fields[0] == "query-id"):
                continue
            if len(fields) < 3:
                raise DatasetError(f"{path}, line {number}: expected query-id, corpus-id, score")
            try:
                score = int(float(fields[2]))
            except ValueError as e:
                raise DatasetError(f"{path}, line {number}: score {fields[2]!r}") from e
            qrels.setdefault(fields[0], {})[fields[1]] = score
    return qrels


def dataset_name(folder: Path) -> str:
    """A readable name: the folder's, or its parent's for generic names like `beir_format`."""
    folder = folder.resolve()
    if folder.name.lower() in _GENERIC_FOLDER_NAMES and folder.parent.name:
        return folder.parent.name
    return folder.name


def load_beir(folder: Path, split: str) -> BeirDataset:
    if not folder.is_dir():
        raise DatasetError(f"{folder} is not a folder")
    qrels_path = folder / "qrels" / f"{split}.tsv"
    if not qrels_path.is_file():
        available = sorted(p.stem for p in (folder / "qrels").glob("*.tsv"))
        raise DatasetError(
            f"{folder} has no qrels for split {split!r}"
            + (f"; available: {', '.join(available)}" if available else " (no qrels/*.tsv)")
        )
    corpus = [
        CorpusRecord(str(row["_id"]), str(row.get("title") or ""), str(row.get("text") or ""))
        for row in _read_jsonl(_find(folder, "corpus"))
    ]
    queries = {
        str(row["_id"]): str(row.get("text") or "") for row in _read_jsonl(_find(folder, "queries"))
    }
    return BeirDataset(
        name=dataset_name(folder),
        path=folder.resolve(),
        split=split,
        corpus=corpus,
        queries=queries,
        qrels=read_qrels(qrels_path),
    )


# --- metrics -------------------------------------------------------------------------------
# Definitions as in BEIR (pytrec_eval / trec_eval): linear gain, log2 discount, the ideal
# ranking built from every judged relevant passage; a passage is relevant when its score > 0.


def ndcg_at_k(ranking: Sequence[str], relevance: Mapping[str, int], k: int) -> float:
    gains = sorted((g for g in relevance.values() if g > 0), reverse=True)[:k]
    ideal = sum(g / math.log2(i + 2) for i, g in enumerate(gains))
    if ideal == 0:
        return 0.0
    dcg = sum(max(relevance.get(doc, 0), 0) / math.log2(i + 2) for i, doc in enumerate(ranking[:k]))
    return dcg / ideal


def recall_at_k(ranking: Sequence[str], relevance: Mapping[str, int], k: int) -> float:
    relevant = {doc for doc, g in relevance.items() if g > 0}
    if not relevant:
        return 0.0
    return len(relevant.intersection(ranking[:k])) / len(relevant)


def mrr_at_k(ranking: Sequence[str], relevance: Mapping[str, int], k: int) -> float:
    for i, doc in enumerate(ranking[:k]):
        if relevance.get(doc, 0) > 0:
            return 1.0 / (i + 1)
    return 0.0


def mean_metrics(
    rankings: Mapping[str, Sequence[str]], qrels: Mapping[str, Mapping[str, int]]
) -> dict[str, float]:
    """nDCG@10, recall@10, recall@100 and MRR@10 averaged over the ranked queries."""
    if not rankings:
        return {"ndcg@10": 0.0, "recall@10": 0.0, "recall@100": 0.0, "mrr@10": 0.0}
    sums = {"ndcg@10": 0.0, "recall@10": 0.0, "recall@100": 0.0, "mrr@10": 0.0}
    for qid, ranking in rankings.items():
        relevance = qrels.get(qid, {})
        sums["ndcg@10"] += ndcg_at_k(ranking, relevance, 10)
        sums["recall@10"] += recall_at_k(ranking, relevance, 10)
        sums["recall@100"] += recall_at_k(ranking, relevance, 100)
        sums["mrr@10"] += mrr_at_k(ranking, relevance, 10)
    return {name: round(total / len(rankings), 4) for name, total in sums.items()}


def rank_passages(hits: Sequence[Hit], passages: Mapping[str, Sequence[str]]) -> list[str]:
    """Chunk hits to a ranking of corpus ids: a document ranks where its best chunk ranks, and
    passages with identical text (one docrag document) share that place, in id order."""
    ranking: list[str] = []
    seen: set[str] = set()
    for hit in hits:
        if hit.document_id in seen:
            continue
        seen.add(hit.document_id)
        ranking.extend(passages.get(hit.document_id, ()))
    return ranking


def percentile(values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


# --- the collection ------------------------------------------------------------------------
