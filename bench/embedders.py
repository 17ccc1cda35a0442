"""The embedder's runtimes on the same chunks: PyTorch fp32 (docrag's `SentenceTransformerEmbedder`,
the baseline), ONNX Runtime fp32, ONNX Runtime with int8 weights (dynamic quantisation) and
OpenVINO (`OnnxEmbedder`), each run in turn in alternating rounds, with each one's speed given
as a ratio to PyTorch in the same round; then one short query's latency and how far each
runtime's vectors are from PyTorch's (cosine).

The chunks are docrag's own: the filings are parsed and chunked as the service does, and the
texts embedded are `indexed_text(chunk)` (context header and text), sorted by length as the
ingest pipeline embeds them. With --context-experiment it also counts the chunks the same
files give when the context header does not take room in each chunk's window.

    .venv/bin/python bench/embedders.py [--files A.pdf ...] [--pdf-dir DIR] [--chunks N]
        [--rounds N] [--runtimes torch,onnx,onnx-int8,openvino] [--context-experiment]
        [--out FILE]

Model loading and the one-off ONNX export are outside every timing. Results are printed and
written as JSON (bench/results/embedders.json by default).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

# The five filings of bench/throughput.py, and its setup (offline hub, repository on the path).
from throughput import DEFAULT_FILES, DEFAULT_PDF_DIR, REPO  # noqa: E402

DEFAULT_OUT = REPO / "bench" / "results" / "embedders.json"
QUERIES = [
    "What was the company's total revenue in fiscal 2023?",
    "How much cash was used in investing activities?",
    "Who is the chief executive officer?",
    "What are the main risk factors related to supply chain?",
    "Capital expenditures guidance for next year",
]


def read_chunks(paths: list[Path], count_tokens: Any, size: int, overlap: int) -> list[Any]:
    from ingest.reading import DocumentReader, InProcessParser

    reader = DocumentReader(InProcessParser(), count_tokens, size, overlap)
    chunks: list[Any] = []
    for path in paths:
        chunks += reader.chunk(reader.parse(path.read_bytes(), path.name))
    return chunks


def context_experiment(paths: list[Path], count_tokens: Any, size: int, overlap: int) -> dict:
    """Chunks with the header inside each chunk's window (today) against chunks whose text
    alone fills the window (the header indexed apart, not embedded with every chunk)."""
    import parsers.chunking as chunking
    from parsers.chunking import indexed_text

    today = read_chunks(paths, count_tokens, size, overlap)
    saved = chunking.CONTEXT_TOKENS
    chunking.CONTEXT_TOKENS = 0  # the text gets the whole window
    try:
        apart = read_chunks(paths, count_tokens, size, overlap)
    finally:
        chunking.CONTEXT_TOKENS = saved
    header_tokens = [count_tokens(c.context) for c in today if c.context]
    return {
        "chunks_header_in_window": len(today),
        "chunks_header_apart": len(apart),
        "ratio": round(len(apart) / len(today), 3),
        "header_tokens_median": statistics.median(header_tokens) if header_tokens else 0,
        "header_tokens_max": max(header_tokens, default=0),
        "text_tokens_today_median": statistics.median(count_tokens(c.text) for c in today),
        "indexed_tokens_today_median": statistics.median(
            count_tokens(indexed_text(c)) for c in today
        ),
    }


def build(runtime: str, model: str, cache: Path) -> Any:
    from ingest.embedding import SentenceTransformerEmbedder
    from ingest.embedding_onnx import OnnxEmbedder

    if runtime == "torch":
        return SentenceTransformerEmbedder(model)
    return OnnxEmbedder(model, cache_dir=cache, runtime=runtime)  # type: ignore[arg-type]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", nargs="*", default=DEFAULT_FILES)
    parser.add_argument("--pdf-dir", type=Path, default=DEFAULT_PDF_DIR)
    parser.add_argument("--chunks", type=int, default=480, help="chunks embedded per run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--runtimes", default="torch,onnx,onnx-int8,openvino")
    parser.add_argument("--context-experiment", action="store_true")
    parser.add_argument("--cache-dir", type=Path, help="export cache (default: a temporary one)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()

    import numpy as np

    from ingest.embedding import default_model
    from parsers.chunking import indexed_text

    model = default_model()
    runtimes = [r.strip() for r in args.runtimes.split(",") if r.strip()]
    if runtimes[0] != "torch":
        runtimes.insert(0, "torch")
    cache = args.cache_dir or Path(tempfile.mkdtemp(prefix="docrag-embedders-"))
    embedders = {}
    load_s = {}
    for runtime in runtimes:
        started = time.perf_counter()
        embedders[runtime] = build(runtime, model, cache)
        load_s[runtime] = round(time.perf_counter() - started, 1)
        embedders[runtime].embed_query("warm up")
    count_tokens = embedders["torch"].count_tokens
    paths = [args.pdf_dir / name for name in args.files]
    chunks = read_chunks(paths, count_tokens, 200, 32)
    # An even sample across the files, embedded longest first as the pipeline sorts them.
    step = max(1, len(chunks) // max(1, args.chunks))
    texts = sorted((indexed_text(c) for c in chunks[::step][: args.chunks]), key=len)
    print(f"{len(chunks)} chunks from {len(paths)} files; {len(texts)} embedded per run")

    speeds: dict[str, list[float]] = {r: [] for r in runtimes}
    ratios: dict[str, list[float]] = {r: [] for r in runtimes}
    vectors: dict[str, Any] = {}
    for round_no in range(args.rounds):
        order = runtimes[round_no % len(runtimes) :] + runtimes[: round_no % len(runtimes)]
        this_round = {}
        for runtime in order:
            started = time.perf_counter()
            out = embedders[runtime].embed_documents(texts)
            this_round[runtime] = len(texts) / (time.perf_counter() - started)
            vectors[runtime] = np.asarray(out)
        for runtime in runtimes:
            speeds[runtime].append(this_round[runtime])
            ratios[runtime].append(this_round[runtime] / this_round["torch"])
        print(
            f"round {round_no + 1}: "
            + ", ".join(f"{r} {this_round[r]:.1f}/s ({ratios[r][-1]:.2f}x)" for r in runtimes)
        )

    rows = []
    for runtime in runtimes:
        latencies = []
        for _ in range(4):
            for q in QUERIES:
                started = time.perf_counter()
                embedders[runtime].embed_query(q)
                latencies.append((time.perf_counter() - started) * 1000)
        cosine = (vectors[runtime] * vectors["torch"]).sum(axis=1)
        rows.append(
            {
                "runtime": runtime,
                "passages_per_s": round(statistics.median(speeds[runtime]), 2),
                "ratio_vs_torch": round(statistics.median(ratios[runtime]), 2),
                "query_ms_median": round(statistics.median(latencies), 1),
                "cosine_to_torch_min": round(float(cosine.min()), 5),
                "cosine_to_torch_mean": round(float(cosine.mean()), 5),
                "load_s": load_s[runtime],
                "fingerprint": embedders[runtime].fingerprint,
            }
        )
    print("\n| runtime | passages/s | vs torch | query ms | min cosine | mean cosine |")
    print("| --- | --- | --- | --- | --- | --- |")
    for row in rows:
        print(
            f"| {row['runtime']} | {row['passages_per_s']} | {row['ratio_vs_torch']}x | "
            f"{row['query_ms_median']} | {row['cosine_to_torch_min']} | "
            f"{row['cosine_to_torch_mean']} |"
        )
    result: dict[str, Any] = {
        "files": args.files,
        "chunks_total": len(chunks),
        "chunks_embedded": len(texts),
        "rounds": args.rounds,
        "runtimes": rows,
    }
    if args.context_experiment:
        result["context_header"] = context_experiment(paths, count_tokens, 200, 32)
        print("\ncontext header:", json.dumps(result["context_header"]))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
