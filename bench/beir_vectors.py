"""BEIR corpora (SciFact, rgb_zh) for `docrag eval` with chunk vectors computed on a GPU
machine, as `bench/vector_cache.py` does for FinanceBench: the same chunks, the same model,
the vectors looked up by text instead of embedded on this CPU.

    python bench/beir_vectors.py record DATASET_DIR [DATASET_DIR ...] --out DIR
    python3 bench/gpu_embed.py DIR/texts.json.xz MODEL_DIR OUT     # on the GPU machine
    python bench/beir_vectors.py eval DATASET_DIR --vectors DIR -- [docrag eval options]

`record` runs docrag's ingest of each corpus (`ingest_corpus`, the settings `docrag eval`
uses) into a throwaway folder with an embedder that records what it is asked to embed, and
writes the distinct texts. `eval` runs `docrag eval` with a `LookupEmbedder` over DIR: every
chunk's vector is the one computed for its text (a text not found is embedded here and
counted); questions are embedded here by the real model."""

from __future__ import annotations

import argparse
import json
import lzma
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bench.vector_cache import TEXTS, RecordingEmbedder, docrag_lookup  # noqa: E402


def record(datasets: list[Path], out: Path) -> None:
    from app.builders import build_embedder, build_parts
    from app.config import Settings
    from app.evaluation.beir import load_beir
    from app.evaluation.retrieval import eval_settings, ingest_corpus

    settings = Settings()
    texts: dict[str, None] = {}
    embedder = RecordingEmbedder(build_embedder(settings), texts)
    for path in datasets:
        dataset = load_beir(path, "dev" if (path / "qrels" / "dev.tsv").is_file() else "train")
        with tempfile.TemporaryDirectory() as scratch:
            run = eval_settings(settings, collection="record", data_dir=Path(scratch))
            parts = build_parts(run, embedder=embedder)
            try:
                ingest_corpus(parts, dataset.corpus, None)
            finally:
                parts.close()
        print(f"{path.name}: {len(texts)} texts so far", flush=True)
    out.mkdir(parents=True, exist_ok=True)
    (out / TEXTS).write_bytes(lzma.compress(json.dumps(list(texts)).encode()))
    print(f"{len(texts)} texts written to {out / TEXTS}")


def evaluate(argv: list[str], vectors: Path) -> None:
    from app.cli import main as cli_main

    embedder = docrag_lookup(vectors)
    sys.argv = ["docrag", "eval", *argv]
    try:
        cli_main()
    except SystemExit as done:
        if done.code not in (0, None):
            raise
    print(f"chunk vectors looked up {embedder.looked_up}, embedded here {embedder.misses}")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "eval":
        parser = argparse.ArgumentParser()
        parser.add_argument("--vectors", type=Path, required=True)
        known, rest = parser.parse_known_args(sys.argv[2:])
        evaluate([a for a in rest if a != "--"], known.vectors)
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["record"])
    parser.add_argument("datasets", type=Path, nargs="+")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    record(args.datasets, args.out)


if __name__ == "__main__":
    main()
