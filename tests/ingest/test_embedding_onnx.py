"""The embedding model run by ONNX Runtime (fp32, int8) and OpenVINO: the same model's
vectors, exported once from the packaged weights, offline, into the data directory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ingest.embedding import EmbeddingModelUnavailable
from ingest.embedding_onnx import OnnxEmbedder, export_dir

TEXTS = [
    "The aurora greenhouse opens in March and closes in October.",
    "Net revenue grew 12% to $4.2 billion, driven by subscriptions.",
    "The board approved a dividend of $0.25 per share.",
    "温室在三月开放，十月关闭。",
    "word " * 400,  # longer than the window: cut as the PyTorch model cuts it
]


@pytest.fixture(scope="session")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def torch_vectors(embedder: Any) -> np.ndarray:
    return np.asarray(embedder.embed_documents(TEXTS))


@pytest.fixture(scope="session")
def onnx_embedder(minilm_path: str, cache: Path) -> OnnxEmbedder:
    return OnnxEmbedder(minilm_path, cache_dir=cache, runtime="onnx")


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.asarray((a * b).sum(axis=1))


def test_onnx_gives_the_pytorch_models_vectors(
    onnx_embedder: OnnxEmbedder, embedder: Any, torch_vectors: np.ndarray
) -> None:
    vectors = np.asarray(onnx_embedder.embed_documents(TEXTS))
    assert cosines(vectors, torch_vectors).min() > 0.9999
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    # Same vectors, same index: no reindex when switching between the two.
    assert onnx_embedder.fingerprint == embedder.fingerprint
    assert onnx_embedder.dimension == embedder.dimension == 384
    assert onnx_embedder.max_tokens == embedder.max_tokens
    assert onnx_embedder.count_tokens(TEXTS[1]) == embedder.count_tokens(TEXTS[1])


@pytest.mark.parametrize(("runtime", "floor"), [("onnx-int8", 0.95), ("openvino", 0.999)])
def test_faster_runtimes_stay_close_and_int8_is_its_own_index(
    minilm_path: str,
    cache: Path,
    embedder: Any,
    torch_vectors: np.ndarray,
    runtime: Any,
    floor: float,
) -> None:
    fast = OnnxEmbedder(minilm_path, cache_dir=cache, runtime=runtime)
    vectors = np.asarray(fast.embed_documents(TEXTS))
    assert cosines(vectors, torch_vectors).min() > floor
    # A question finds its passage.
    scores = vectors @ np.asarray(fast.embed_query("When does the greenhouse open?"))
    assert int(np.argmax(scores)) == 0
    # int8 vectors are not interchangeable with fp32 ones: a library moves by reindexing.
    assert (fast.fingerprint == embedder.fingerprint) == (runtime != "onnx-int8")


def test_the_export_is_built_once_and_reused(
    onnx_embedder: OnnxEmbedder, minilm_path: str, cache: Path
) -> None:
    exported = export_dir(minilm_path, cache) / "model.onnx"
    built_at = exported.stat().st_mtime_ns
    again = OnnxEmbedder(minilm_path, cache_dir=cache, runtime="onnx")
    assert exported.stat().st_mtime_ns == built_at
    assert not list(exported.parent.glob("*.partial"))
    assert again.embed_query("hello") == pytest.approx(onnx_embedder.embed_query("hello"))


def test_backend_setting_builds_the_onnx_embedder_in_the_data_dir(make_settings: Any) -> None:
    from app.builders import build_embedder

    settings = make_settings(embedding={"backend": "onnx"})
    built = build_embedder(settings)
    assert isinstance(built, OnnxEmbedder)
    assert list((settings.data_dir / "models").glob("*/model.onnx"))


def test_a_missing_runtime_names_the_extra(
    minilm_path: str, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "openvino" else real(name)
    )
    with pytest.raises(EmbeddingModelUnavailable, match=r"docrag\[openvino\]"):
        OnnxEmbedder(minilm_path, cache_dir=cache, runtime="openvino")
