"""Chunk vectors computed on another machine (a GPU, `bench/gpu_embed.py`) and looked up by
text, so that building the FinanceBench library does not embed 80,000 chunks on the CPU.

Three steps, each through the real code paths:

1. `python bench/vector_cache.py record --side docrag|langchain --pdfs P --questions Q --out DIR`
   then `pack DIR`: runs docrag's ingest
   (`IngestPipeline`, the same settings as `evaluate_docqa`) into a throwaway folder with an
   embedder that records the exact strings it is asked to embed, and the LangChain loader and
   splitter of `bench/financebench.py`; writes the distinct texts to `DIR/texts.json.xz`.
   Parses and LangChain splits are kept in `DIR/parsed/` and `DIR/splits/`, so the build does
   not parse the filings a second time.
2. On the GPU machine: `python3 bench/gpu_embed.py DIR/texts.json.xz MODEL_DIR OUT` writes
   `vectors-*.npy` (float16, normalised, one row per text, in order).
3. `python bench/financebench.py ... --vectors DIR` ingests with `LookupEmbedder` (docrag)
   and `LookupEmbeddings` (LangChain): each chunk's vector is the one computed for its text;
   a text not found is embedded here by the real model (and counted). Questions are always
   embedded here, by the real model.

`python bench/vector_cache.py half-model OUT` writes a float16 copy of the packaged model
(half the size, to travel to the GPU machine); `check DIR` compares some vectors of DIR with
this machine's float32 ones.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import lzma
import os
import pickle
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402

TEXTS = "texts.json.xz"
SIDES = ("docrag", "langchain")


# --- the texts ------------------------------------------------------------------------------


class WrappedEmbedder:
    """Another embedder's tokenizer, fingerprint and query vectors (`_inner`)."""

    _inner: Any

    def __getattr__(self, name: str) -> Any:  # count_tokens, known_token_share, ...
        return getattr(self._inner, name)

    @property
    def dimension(self) -> int:
        return int(self._inner.dimension)

    @property
    def fingerprint(self) -> str:
        return str(self._inner.fingerprint)

    @property
    def max_tokens(self) -> int:
        return int(self._inner.max_tokens)

    def embed_query(self, text: str) -> list[float]:
        result: list[float] = self._inner.embed_query(text)
        return result


class RecordingEmbedder(WrappedEmbedder):
    """The real embedder for everything but `embed_documents`, which records its texts and
    returns one placeholder vector for all of them (the store they go to is thrown away)."""

    def __init__(self, inner: Any, texts: dict[str, None]) -> None:
        self._inner = inner
        self.texts = texts  # a dict as an ordered set
        self._placeholder = [1.0] + [0.0] * (inner.dimension - 1)

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        self.texts.update(dict.fromkeys(texts))
        return [list(self._placeholder) for _ in texts]


class CachingParser:
    """A parser whose results are kept on disk by the file's bytes: a second ingest of the
    same file replays the pages (`on_page`) and returns the same parsed document without
    parsing. Only for building a benchmark library twice (record, then build)."""

    def __init__(self, inner: Any, folder: Path) -> None:
        self._inner = inner
        self._folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.hits = 0

    def __getattr__(self, name: str) -> Any:  # close(), limits, ...
        return getattr(self._inner, name)

    def parse(self, data: bytes, filename: str, *, on_page: Any = None) -> Any:
        path = self._folder / f"{hashlib.sha256(data).hexdigest()}-{filename}.pickle"
        from parsers.types import PageRead

        if path.is_file():
            pages, parsed = pickle.loads(path.read_bytes())
            self.hits += 1
            for read in pages:
                if on_page is not None:
                    on_page(read)
            return parsed
        seen: list[PageRead] = []

        def recorded(read: PageRead) -> None:
            seen.append(read)
            if on_page is not None:
                on_page(read)

        parsed = self._inner.parse(data, filename, on_page=recorded)
        partial = path.with_suffix(".partial")
        partial.write_bytes(pickle.dumps((seen, parsed), protocol=pickle.HIGHEST_PROTOCOL))
        partial.replace(path)
        return parsed


def caching_parsers(folder: Path) -> None:
    """Makes `build_parts` (app/builders.py) wrap its parser in a `CachingParser` in `folder`."""
    import app.builders

    if getattr(app.builders.build_parser, "_caching", False):
        return
    real = app.builders.build_parser

    def build(settings: Any) -> Any:
        return CachingParser(real(settings), folder)

    build._caching = True  # type: ignore[attr-defined]
    app.builders.build_parser = build  # type: ignore[assignment]


def langchain_splits(path: Path, cache: Path | None) -> tuple[int, list[Any]]:
    """`bench/financebench.py`'s LangChain loader and splitter on one filing: its page count
    and its chunks (kept in `cache`, when given, by the file's name and size)."""
    from langchain_community.document_loaders import PyPDFLoader
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    kept = None
    if cache is not None:
        cache.mkdir(parents=True, exist_ok=True)
        kept = cache / f"{path.name}-{path.stat().st_size}.pickle"
        if kept.is_file():
            pages, splits = pickle.loads(kept.read_bytes())
            return int(pages), list(splits)
    loaded = PyPDFLoader(str(path)).load()
    splits = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200).split_documents(
        loaded
    )
    if kept is not None:
        partial = kept.with_suffix(".partial")
        partial.write_bytes(pickle.dumps((len(loaded), splits), protocol=pickle.HIGHEST_PROTOCOL))
        partial.replace(kept)
    return len(loaded), splits


def record(pdfs: Path, questions: Path, out: Path, companies: int | None, side: str) -> None:
    """Step 1 (see the module docstring) for one side, "docrag" or "langchain" (two
    processes can record both at once): writes `out/texts-SIDE.json`."""
    from app.evaluation.docqa_metrics import choose_subset, load_questions

    out.mkdir(parents=True, exist_ok=True)
    files, _ = choose_subset(load_questions(questions), pdfs, companies)
    print(f"{side}: {len(files)} filings", flush=True)
    started = time.perf_counter()
    texts: dict[str, None] = {}
    if side == "langchain":
        for number, path in enumerate(files, 1):
            _, splits = langchain_splits(path, out / "splits")
            texts.update(dict.fromkeys(d.page_content for d in splits))
            print(
                f"  langchain {number}/{len(files)} {path.name}: {len(splits)} chunks", flush=True
            )
        summary = f"{len(texts)} texts"
    else:
        from app.builders import build_embedder, build_parts
        from app.config import Settings
        from app.evaluation.docqa import _ingest
        from app.evaluation.retrieval import eval_settings

        caching_parsers(out / "parsed")
        with tempfile.TemporaryDirectory(prefix="docrag-record-") as tmp:
            settings = Settings(data_dir=Path(tmp))
            embedder = RecordingEmbedder(build_embedder(settings), texts)
            run = eval_settings(settings, collection="record", data_dir=Path(tmp) / "eval")
            parts = build_parts(run, embedder=embedder)
            try:
                library, _ = _ingest(
                    parts,
                    files,
                    lambda stage, done, total: print(
                        f"  docrag {stage} {done}/{total}", flush=True
                    ),
                )
            finally:
                parts.close()
        summary = f"{library.pages} pages, {library.chunks} chunks, {len(texts)} texts"
    (out / f"texts-{side}.json").write_text(json.dumps(list(texts), ensure_ascii=False))
    print(f"{side}: {summary}, {time.perf_counter() - started:.0f} s", flush=True)


def pack(out: Path) -> None:
    """Both sides' texts, each once, in one xz file (they share most of their text)."""
    sides = {side: json.loads((out / f"texts-{side}.json").read_text()) for side in SIDES}
    texts = list(dict.fromkeys(t for side in SIDES for t in sides[side]))
    payload = json.dumps(texts, ensure_ascii=False).encode()
    filters = [{"id": lzma.FILTER_LZMA2, "preset": 9 | lzma.PRESET_EXTREME, "dict_size": 192 << 20}]
    (out / TEXTS).write_bytes(lzma.compress(payload, format=lzma.FORMAT_XZ, filters=filters))
    counts = {side: len(sides[side]) for side in SIDES} | {"distinct": len(texts)}
    size = (out / TEXTS).stat().st_size
    print(f"{counts}: {len(payload) >> 20} MiB -> {out / TEXTS} ({size} bytes)")


def load_texts(folder: Path) -> list[str]:
    texts: list[str] = json.loads(lzma.decompress((folder / TEXTS).read_bytes()))
    return texts


# --- the vectors ----------------------------------------------------------------------------


class VectorTable:
    """The vectors of `folder` (texts.json.xz and vectors-*.npy in order), by text."""

    def __init__(self, folder: Path) -> None:
        texts = load_texts(folder)
        parts = sorted(folder.glob("vectors-*.npy"))
        if not parts:
            raise FileNotFoundError(f"no vectors-*.npy in {folder}")
        matrix = np.concatenate([np.load(p) for p in parts]).astype(np.float32)
        if len(matrix) != len(texts):
            raise ValueError(f"{folder}: {len(texts)} texts but {len(matrix)} vectors")
        self.matrix = matrix
        self.row = {text: i for i, text in enumerate(texts)}

    def find(self, texts: Sequence[str]) -> tuple[list[list[float] | None], list[int]]:
        """Each text's vector (None when not found), and the positions not found."""
        found: list[list[float] | None] = []
        missing: list[int] = []
        for i, text in enumerate(texts):
            row = self.row.get(text)
            if row is None:
                missing.append(i)
                found.append(None)
            else:
                found.append(self.matrix[row].tolist())
        return found, missing


def _fill(table: VectorTable, texts: Sequence[str], fallback: Any) -> tuple[list[list[float]], int]:
    found, missing = table.find(texts)
    if missing:
        computed = fallback([texts[i] for i in missing])
        for i, vector in zip(missing, computed, strict=True):
            found[i] = list(vector)
    return [v for v in found if v is not None], len(missing)


class LookupEmbedder(WrappedEmbedder):
    """docrag's embedder (the real `SentenceTransformerEmbedder`: the same fingerprint,
    tokenizer and query vectors) whose `embed_documents` takes each text's vector from the
    table, and embeds only texts not found."""

    def __init__(self, inner: Any, table: VectorTable) -> None:
        self._inner = inner
        self._table = table
        self.looked_up = 0
        self.misses = 0

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        vectors, missed = _fill(self._table, texts, self._inner.embed_documents)
        self.looked_up += len(texts) - missed
        self.misses += missed
        return vectors


def lookup_embeddings(inner: Any, table: VectorTable) -> Any:
    """The same for LangChain: an `Embeddings` whose documents are looked up."""
    from langchain_core.embeddings import Embeddings

    class LookupEmbeddings(Embeddings):
        def __init__(self) -> None:
            self.looked_up = 0
            self.misses = 0

        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            vectors, missed = _fill(table, texts, inner.embed_documents)
            self.looked_up += len(texts) - missed
            self.misses += missed
            return vectors

        def embed_query(self, text: str) -> list[float]:
            result: list[float] = inner.embed_query(text)
            return result

    return LookupEmbeddings()


def docrag_lookup(folder: Path, table: VectorTable | None = None) -> LookupEmbedder:
    """Makes `evaluate_docqa` (which calls `app.builders.build_embedder`) ingest with a
    `LookupEmbedder` over `folder`'s vectors, and use `folder/parsed` if `record` left it.
    Returns the embedder, whose counts tell how many texts were found."""
    import app.builders

    table = table or VectorTable(folder)
    inner = app.builders.build_embedder(_default_settings())
    embedder = LookupEmbedder(inner, table)
    app.builders.build_embedder = lambda settings, model=None: embedder  # type: ignore[assignment]
    if (folder / "parsed").is_dir():
        caching_parsers(folder / "parsed")
    return embedder


def _default_settings() -> Any:
    from app.config import Settings

    return Settings()


# --- the model ------------------------------------------------------------------------------


def half_model(out: Path) -> None:
    """The packaged model's directory with its weights in float16."""
    from safetensors.torch import load_file, save_file

    from ingest.embedding import default_model

    source = Path(default_model())
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(source, out, ignore=shutil.ignore_patterns("model.safetensors", "*.onnx"))
    weights = load_file(str(source / "model.safetensors"))
    save_file(
        {k: v.half().contiguous() if v.is_floating_point() else v for k, v in weights.items()},
        str(out / "model.safetensors"),
        metadata={"format": "pt"},
    )
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"{out}: {size} bytes")


def check(folder: Path, count: int) -> None:
    """Cosine of `folder`'s vectors with this machine's float32 ones, for `count` texts."""
    from app.builders import build_embedder

    table = VectorTable(folder)
    texts = list(table.row)
    rng = np.random.default_rng(0)
    chosen = [texts[i] for i in rng.choice(len(texts), size=min(count, len(texts)), replace=False)]
    here = np.asarray(build_embedder(_default_settings()).embed_documents(chosen), np.float32)
    there = np.stack([table.matrix[table.row[t]] for t in chosen])
    cosine = (here * there).sum(1) / np.linalg.norm(here, axis=1) / np.linalg.norm(there, axis=1)
    print(
        f"{len(chosen)} texts: cosine min {cosine.min():.6f} mean {cosine.mean():.6f}; "
        f"max abs difference {np.abs(here - there).max():.2e}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    rec = sub.add_parser("record", help="the texts docrag and LangChain embed")
    rec.add_argument("--pdfs", type=Path, required=True)
    rec.add_argument("--questions", type=Path, required=True)
    rec.add_argument("--out", type=Path, required=True)
    rec.add_argument("--companies", type=int, default=None)
    rec.add_argument("--side", choices=SIDES, required=True)
    pck = sub.add_parser("pack", help="both sides' texts in one xz file")
    pck.add_argument("out", type=Path)
    half = sub.add_parser("half-model", help="a float16 copy of the packaged model")
    half.add_argument("out", type=Path)
    chk = sub.add_parser("check", help="compare stored vectors with this machine's")
    chk.add_argument("folder", type=Path)
    chk.add_argument("--count", type=int, default=50)
    args = parser.parse_args()
    if args.command == "record":
        record(args.pdfs, args.questions, args.out, args.companies, args.side)
    elif args.command == "pack":
        pack(args.out)
    elif args.command == "half-model":
        half_model(args.out)
    else:
        check(args.folder, args.count)


if __name__ == "__main__":
    main()
