"""Fixtures shared by the app tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.app.chat_fakes import FakeChatServer


@pytest.fixture
def fake() -> Iterator[FakeChatServer]:
    """An OpenAI-compatible server that misbehaves on demand (fault injection only)."""
    server = FakeChatServer()
    yield server
    server.close()


@pytest.fixture
def env(tmp_path: Path, minilm_path: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The environment of a `docrag` command: its own data folder and the packaged model."""
    values = {"DOCRAG_DATA_DIR": str(tmp_path / "data"), "DOCRAG_EMBEDDING__MODEL": minilm_path}
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)  # no stray .env file
    return values
