"""`docrag ingest --server URL [--no-wait]`: the CLI uploading to a running server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from typer.testing import CliRunner

from app.cli import cli
from app.main import create_app
from tests import samples as f
from tests.app.live_server import live_server
from tests.app.test_jobs import poll

KEY = "cli-test-key"


def test_ingest_through_a_server_waiting_and_not(
    make_settings: Any, embedder: Any, tmp_path: Path
) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "report.pdf").write_bytes(f.MULTIPAGE_PDF.read_bytes())
    (folder / "notes.txt").write_text("The aurora greenhouse opens in March.")
    (folder / "locked.pdf").write_bytes(f.ENCRYPTED_PDF.read_bytes())
    settings = make_settings(auth={"api_keys": [KEY]})
    runner = CliRunner()
    with live_server(create_app(settings, embedder=embedder)) as base:
        refused = runner.invoke(cli, ["ingest", "--server", base, str(folder)])
        assert refused.exit_code == 2 and "API key" in refused.output

        queued = runner.invoke(
            cli, ["ingest", "--server", base, "--no-wait", "--api-key", KEY, str(folder)]
        )
        assert queued.exit_code == 0, queued.output
        assert "3 queued" in queued.output
        jobs = [
            line.split("job ")[1].split()[0]
            for line in queued.output.splitlines()
            if "job " in line
        ]
        assert len(jobs) == 3
        headers = {"Authorization": f"Bearer {KEY}"}

        def finished() -> Any:
            states = [httpx.get(f"{base}/jobs/{j}", headers=headers).json() for j in jobs]
            return states if all(s["status"] in ("ready", "failed") for s in states) else None

        states = poll(finished, "the CLI's jobs")
        assert sorted(s["status"] for s in states) == ["failed", "ready", "ready"]

        again = runner.invoke(
            cli, ["ingest", "--server", base, str(folder)], env={"DOCRAG_API_KEY": KEY}
        )
        assert again.exit_code == 1, again.output  # one file failed: a script must see it
        assert "2 already stored, 1 failed" in again.output and "password" in again.output


def test_no_wait_needs_a_server(tmp_path: Path) -> None:
    (tmp_path / "n.txt").write_text("text")
    result = CliRunner().invoke(cli, ["ingest", "--no-wait", str(tmp_path)])
    assert result.exit_code == 2 and "--server" in result.output
