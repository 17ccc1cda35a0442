"""Fixtures shared by the app tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.app.chat_fakes import FakeChatServer


@pytest.fixture
def fake() -> Iterator[FakeChatServer]:
    """An OpenAI-compatible server that misbehaves on demand (fault injection only)."""
    server = FakeChatServer()
    yield server
    server.close()
