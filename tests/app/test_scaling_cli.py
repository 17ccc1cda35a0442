"""Start-up refusals of the scaled-out setups: each names the setting that fixes it, and none
needs Redis or a model to say so."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from app.cli import cli
from app.config import Settings
from tests.conftest import free_port


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    monkeypatch.setenv("DOCRAG_DATA_DIR", str(tmp_path / "data"))
    return monkeypatch


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def test_a_broker_with_embedded_chroma_is_refused_with_the_fix(env: pytest.MonkeyPatch) -> None:
    env.setenv("DOCRAG_QUEUE__BROKER_URL", "redis://127.0.0.1:6379/0")
    for command in (["serve"], ["worker"]):
        code, output = run(*command)
        assert code == 2
        assert "DOCRAG_CHROMA__HOST" in output and "embedded" in output
        assert "Traceback" not in output
    with pytest.raises(ValidationError, match="DOCRAG_CHROMA__HOST"):
        Settings(_env_file=None)  # type: ignore[call-arg]


def test_several_api_processes_need_a_chroma_server(env: pytest.MonkeyPatch) -> None:
    code, output = run("serve", "--workers", "2")
    assert code == 2
    assert "--workers 2" in output and "DOCRAG_CHROMA__HOST" in output


def test_a_worker_needs_a_broker_it_can_reach(env: pytest.MonkeyPatch) -> None:
    code, output = run("worker")
    assert code == 2 and "DOCRAG_QUEUE__BROKER_URL" in output
    pytest.importorskip("redis", reason="pip install 'docrag[queue]'")
    env.setenv("DOCRAG_CHROMA__HOST", "127.0.0.1")
    env.setenv("DOCRAG_QUEUE__BROKER_URL", f"redis://127.0.0.1:{free_port()}/0")
    code, output = run("worker")
    assert code == 2 and "cannot reach the broker redis://127.0.0.1:" in output


def test_without_a_broker_the_api_runs_its_jobs_itself() -> None:
    from app.broker import build_job_queue

    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.queue.broker_url is None
    assert build_job_queue(settings) is None  # no Redis, no Celery needed
