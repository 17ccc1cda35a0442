"""`docrag eval`: quality measured through the real ingest pipeline and the answer path's own
retrieval and selection code. `beir` reads BEIR-layout datasets and scores rankings;
`retrieval` runs them."""

from app.evaluation.beir import (
    DatasetError,
    dataset_name,
    load_beir,
    mean_metrics,
    mrr_at_k,
    ndcg_at_k,
    percentile,
    rank_passages,
    recall_at_k,
)
from app.evaluation.retrieval import collection_name, evaluate, format_report

__all__ = [
    "DatasetError",
    "collection_name",
    "dataset_name",
    "evaluate",
    "format_report",
    "load_beir",
    "mean_metrics",
    "mrr_at_k",
    "ndcg_at_k",
    "percentile",
    "rank_passages",
    "recall_at_k",
]
