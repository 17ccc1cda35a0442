"""The README's retrieval quality table from `docrag eval --output` JSON files.

python bench/quality_table.py                      # every bench/results/*.json
python bench/quality_table.py bench/results/scifact-*.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

DATASET_ORDER = ["scifact", "rgb_zh", "cmrc2018"]
MODE_ORDER = ["dense", "lexical", "hybrid", "hybrid+mmr"]
SHARED_CONFIG = [
    ("embedding_model", "embedding model"),
    ("chunk_size", "chunk tokens"),
    ("chunk_overlap", "overlap"),
    ("rrf_k", "rrf_k"),
    ("dense_weight", "dense weight"),
    ("lexical_weight", "lexical weight"),
    ("mmr_lambda", "MMR lambda"),
    ("candidates", "candidates"),
    ("reranker", "reranker"),
    ("retriever", "retriever class"),
]


def mode_label(config: dict[str, Any]) -> str:
    label = str(config["retrieval_mode"])
    if config.get("mmr"):
        label += "+mmr"
    if config.get("cjk_tokenizer", "bigram") != "bigram" and config["retrieval_mode"] != "dense":
        label += f" ({config['cjk_tokenizer']})"
    if config.get("reranker"):
        label += " + rerank"
    return label


def _order(value: str, order: list[str]) -> tuple[int, str]:
    return (order.index(value) if value in order else len(order), value)


def ingest_cell(ingest: dict[str, Any]) -> str:
    if ingest["new_documents"] == 0:
        return "reused"
    return (
        f"{ingest['wall_s']:.0f} s ({ingest['new_documents']:,} docs, "
        f"{ingest['new_chunks']:,} chunks)"
    )


def model_label(model: str) -> str:
    """A hub id as it is; a local directory by its last two parts, not the whole path."""
    path = Path(model)
    return "/".join(path.parts[-2:]) if path.is_absolute() else model


def render(reports: list[dict[str, Any]]) -> str:
    reports = sorted(
        reports,
        key=lambda r: (
            _order(r["dataset"], DATASET_ORDER),
            _order(mode_label(r["config"]), MODE_ORDER),
        ),
    )
    lines = [
        "| dataset (split, queries) | mode | nDCG@10 | R@10 | R@100 | MRR@10 "
        "| retrieval p50 / p95 ms | query phase | ingest |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in reports:
        m, q = r["metrics"], r["query"]
        lines.append(
            f"| {r['dataset']} ({r['split']}, {q['queries']:,}) | {mode_label(r['config'])} "
            f"| {m['ndcg@10']:.3f} | {m['recall@10']:.3f} | {m['recall@100']:.3f} "
            f"| {m['mrr@10']:.3f} | {q['retrieve_ms_p50']:.0f} / {q['retrieve_ms_p95']:.0f} "
            f"| {q['wall_s']:.0f} s | {ingest_cell(r['ingest'])} |"
        )
    notes = []
    for key, label in SHARED_CONFIG:
        values = sorted({str(r["config"].get(key)) for r in reports})
        if key == "embedding_model":
            values = [model_label(v) for v in values]
        notes.append(f"{label} {' / '.join(values)}")
    lines += ["", "Configuration: " + "; ".join(notes) + "."]
    lines.append(
        "`ingest` is the wall time of the run that embedded the corpus; later runs reuse "
        "its collection. `query phase` is the wall time of all queries of the split."
    )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    paths = [Path(a) for a in argv] or sorted(Path("bench/results").glob("*.json"))
    if not paths:
        print("no results: run bench/quality.sh first", file=sys.stderr)
        return 1
    reports = [json.loads(p.read_text(encoding="utf-8")) for p in paths]
    print(render(reports))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
