"""`OnnxEmbedder`: a sentence-transformers model exported once to ONNX and run by ONNX Runtime
(fp32, or int8 weights by dynamic quantisation) or by OpenVINO. The export is built from the
model's own weights, offline, into a cache directory (the data directory's `models/`), and
reused by every later start; the model's own pooling and normalisation are part of the graph,
so the vectors are the same model's."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ingest.embedding import (
    MULTILINGUAL_VOCABULARY,
    EmbeddingModelUnavailable,
    TokenCounter,
    embedding_model_problem,
    model_identity,
    stay_offline_for,
)
from ingest.model_lock import QuestionFirstLock

Runtime = Literal["onnx", "onnx-int8", "openvino"]
RUNTIMES: tuple[Runtime, ...] = ("onnx", "onnx-int8", "openvino")

_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
# Bump when the export changes, so that caches built by an older docrag are built again.
_EXPORT_VERSION = 1


def export_dir(model: str, cache_dir: Path) -> Path:
    """Where the exports of `model` live: one folder per model, named by what it is."""
    identity = model_identity(model)
    digest = hashlib.sha256(f"{identity}\n{_EXPORT_VERSION}".encode()).hexdigest()[:12]
    slug = "".join(c if c.isalnum() or c in "-_." else "-" for c in identity.rsplit("/", 1)[-1])
    return cache_dir / f"{slug}-{digest}"


def _write_atomically(target: Path, build: Any) -> None:
    """`build(path)` writes a file; it appears at `target` whole or not at all, so that two
    processes starting at once, or one killed mid-export, never leave half a model."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=target.parent, suffix=".partial")
    os.close(fd)
    try:
        build(Path(temporary))
        os.chmod(temporary, 0o644)  # mkstemp's 0600 would hide it from a service user
        os.replace(temporary, target)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def _export_fp32(model: str, folder: Path) -> None:
    """Traces the whole sentence-transformers pipeline (transformer, pooling, normalisation)
    into one ONNX graph, and saves the tokenizer and window beside it."""
    import torch
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(model, device="cpu")
    names = [n for n in _INPUTS if n in st.tokenizer.model_input_names] or list(_INPUTS[:2])

    class Pipeline(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.st = st

        def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
            return self.st(dict(zip(names, tensors, strict=True)))["sentence_embedding"]

    sample = st.tokenizer(["a sample passage", "two"], padding=True, return_tensors="pt")
    axes = {n: {0: "batch", 1: "tokens"} for n in names}

    def export(path: Path) -> None:
        # The tracer warns about branches it fixes (padding checks); they hold for any input.
        with torch.inference_mode(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                Pipeline().eval(),
                tuple(sample[n] for n in names),
                str(path),
                input_names=names,
                output_names=["sentence_embedding"],
                dynamic_axes={**axes, "sentence_embedding": {0: "batch"}},
                opset_version=17,
                dynamo=False,
            )

    folder.mkdir(parents=True, exist_ok=True)
    st.tokenizer.save_pretrained(str(folder))
    (folder / "docrag_export.json").write_text(
        json.dumps({"model": model_identity(model), "max_seq_length": st.max_seq_length})
    )
    _write_atomically(folder / "model.onnx", export)


def _quantize_int8(folder: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # Per-channel int8 weights, as sentence-transformers' own dynamic export does.
    _write_atomically(
        folder / "model_int8.onnx",
        lambda path: quantize_dynamic(
            folder / "model.onnx", path, weight_type=QuantType.QInt8, per_channel=True
        ),
    )


def ensure_export(model: str, cache_dir: Path, runtime: Runtime) -> Path:
    """The ONNX file `runtime` runs, built from the model's weights on first use (seconds to
    a minute), then read from the cache."""
    folder = export_dir(model, cache_dir)
    if not (folder / "model.onnx").is_file():
        _export_fp32(model, folder)
    if runtime == "onnx-int8":
        if not (folder / "model_int8.onnx").is_file():
            _quantize_int8(folder)
        return folder / "model_int8.onnx"
    return folder / "model.onnx"


def _check_installed(runtime: Runtime) -> None:
    import importlib.util

    needed = ["onnx", "openvino" if runtime == "openvino" else "onnxruntime"]
    missing = [name for name in needed if importlib.util.find_spec(name) is None]
    if missing:
        extra = "openvino" if runtime == "openvino" else "onnx"
        raise EmbeddingModelUnavailable(
            f"DOCRAG_EMBEDDING__BACKEND={runtime} needs {' and '.join(missing)}: pip install "
            f"'docrag[{extra}]', or set DOCRAG_EMBEDDING__BACKEND=torch"
        )


class _OnnxRuntimeSession:
    def __init__(self, path: Path, threads: int | None) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        # Idle threads sleep instead of spinning: on a host shared with the parse workers (or
        # other services), spinning threads took the cores the others needed.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.inputs = [i.name for i in self._session.get_inputs()]

    def run(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        return np.asarray(self._session.run(None, feeds)[0])


class _OpenVinoSession:
    def __init__(self, path: Path, threads: int | None) -> None:
        import openvino as ov

        config = {"INFERENCE_NUM_THREADS": threads} if threads else {}
        self._model = ov.Core().compile_model(str(path), "CPU", config)
        self.inputs = [i.get_any_name() for i in self._model.inputs]

    def run(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        return np.asarray(self._model(feeds)[0])


class OnnxEmbedder(TokenCounter):
    """The same model as `SentenceTransformerEmbedder`, run without PyTorch at query time."""

    def __init__(
        self,
        model: str,
        *,
        cache_dir: Path,
        runtime: Runtime = "onnx-int8",
        batch_size: int = 32,
        multilingual: bool | None = None,
        threads: int | None = None,
    ) -> None:
        problem = embedding_model_problem(model)
        if problem is not None:
            raise EmbeddingModelUnavailable(problem)
        _check_installed(runtime)
        stay_offline_for(model)
        try:
            path = ensure_export(model, cache_dir, runtime)
        except EmbeddingModelUnavailable:
            raise
        except Exception as e:
            raise EmbeddingModelUnavailable(
                f"docrag cannot export the embedding model {model!r} to ONNX in {cache_dir}: "
                f"{(str(e).strip().splitlines() or [type(e).__name__])[0][:300]}. Set "
                "DOCRAG_EMBEDDING__BACKEND=torch to run it in PyTorch instead"
            ) from e
        from transformers import AutoTokenizer

        self._name = model
        self._runtime = runtime
        self._batch_size = batch_size
        meta = json.loads((path.parent / "docrag_export.json").read_text())
        self._window = int(meta["max_seq_length"] or 512)
        super().__init__(AutoTokenizer.from_pretrained(str(path.parent)))
        self._tokenizer = AutoTokenizer.from_pretrained(str(path.parent))  # for encoding
        session_type = _OpenVinoSession if runtime == "openvino" else _OnnxRuntimeSession
        self._session = session_type(path, threads)
        self._multilingual = (
            multilingual
            if multilingual is not None
            else len(self._tokenizer) >= MULTILINGUAL_VOCABULARY
        )
        self._dimension = len(self._embed(["dimension"])[0])
        self._lock = QuestionFirstLock()  # a question waits for one batch at most

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def fingerprint(self) -> str:
        # fp32 ONNX and OpenVINO give the PyTorch model's vectors (cosine above 0.9999), so an
        # index built with either needs no reindex; int8 weights move them further.
        tail = "normalized-int8" if self._runtime == "onnx-int8" else "normalized"
        return f"sentence-transformers:{model_identity(self._name)}:{self._dimension}:{tail}"

    @property
    def max_tokens(self) -> int:
        return self._window - 2

    @property
    def multilingual(self) -> bool:
        return self._multilingual

    def _embed(self, texts: list[str]) -> np.ndarray:
        encoded = self._tokenizer(
            texts, padding=True, truncation=True, max_length=self._window, return_tensors="np"
        )
        feeds = {n: np.asarray(encoded[n], dtype=np.int64) for n in self._session.inputs}
        vectors = self._session.run(feeds).astype(np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-12)

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        vectors: list[list[float]] = []
        for start in range(0, len(texts), self._batch_size):
            batch = list(texts[start : start + self._batch_size])
            with self._lock:
                vectors.extend(self._embed(batch).tolist())
        return vectors

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]
