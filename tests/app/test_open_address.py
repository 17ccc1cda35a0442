"""`docrag serve` on an address other machines can reach, with no API key, refuses to start
unless DOCRAG_AUTH__ALLOW_OPEN=true says the network is the user's alone."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port, wait_until


def serve(env: dict[str, str], port: int) -> subprocess.Popen[str]:
    docrag = str(Path(sys.executable).parent / "docrag")
    return subprocess.Popen(
        [docrag, "serve", "--host", "0.0.0.0", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture
def env(tmp_path: Path, minilm_path: str) -> dict[str, str]:
    return {
        "DOCRAG_DATA_DIR": str(tmp_path / "data"),
        "DOCRAG_EMBEDDING__MODEL": minilm_path,
        "HF_HUB_OFFLINE": "1",
        "PATH": str(Path(sys.executable).parent),
    }


@pytest.mark.integration
def test_an_open_address_without_a_key_is_refused(env: dict[str, str]) -> None:
    proc = serve(env, free_port())
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 2
    assert "0.0.0.0 with no API key" in stderr
    assert "DOCRAG_AUTH__ALLOW_OPEN=true" in stderr and "Traceback" not in stderr


@pytest.mark.integration
@pytest.mark.parametrize(
    "extra", [{"DOCRAG_AUTH__ALLOW_OPEN": "true"}, {"DOCRAG_AUTH__API_KEYS": json.dumps(["k"])}]
)
def test_an_open_address_starts_with_a_key_or_when_allowed(
    env: dict[str, str], extra: dict[str, str]
) -> None:
    port = free_port()
    proc = serve({**env, **extra}, port)
    try:
        url = f"http://127.0.0.1:{port}/health"
        wait_until(lambda: httpx.get(url, timeout=2).status_code == 200, 120, "serve", proc)
        warnings = httpx.get(url).json()["warnings"]
        # Allowed open, it still says so on /health; with a key, there is nothing to say.
        assert bool(warnings) == ("DOCRAG_AUTH__ALLOW_OPEN" in extra)
    finally:
        proc.terminate()
        proc.communicate(timeout=30)
