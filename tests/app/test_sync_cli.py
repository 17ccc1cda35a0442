"""`docrag sync DIR`: one pass into the local library, or through a running server (`--url`),
and never into the embedded store of a server that holds the data directory."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from app.cli import cli
from app.main import create_app
from tests import samples as f
from tests.app.live_server import live_server

KEY = "sync-test-key"


def text(topic: str, n: int = 10) -> str:
    return " ".join(f"Entry {i} of the {topic} log: inspected and signed." for i in range(n))


def write(path: Path, content: str | bytes) -> None:
    """A finished file, last modified a while ago (so it is settled)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    past = time.time() - 10
    os.utime(path, (past, past))


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    folder = tmp_path / "shared-drive"
    write(folder / "boilers.txt", text("boilers"))
    write(folder / "pumps.txt", text("pumps"))
    write(folder / "plans" / "report.pdf", f.MULTIPAGE_PDF.read_bytes())
    write(folder / "photo.bmp", b"BM not read")
    return folder


def change(folder: Path) -> None:
    """An add, a change, a delete and a rename."""
    write(folder / "fans.txt", text("fans"))
    write(folder / "boilers.txt", text("boilers", 14))
    (folder / "pumps.txt").unlink()
    (folder / "plans").rename(folder / "plans-2024")


def sync(*args: str, **env: str) -> Any:
    result = CliRunner().invoke(cli, ["sync", *args], env=env or None)
    return result


def test_sync_into_the_local_library(env: dict[str, str], folder: Path) -> None:
    first = sync(str(folder))
    assert first.exit_code == 0, first.output
    assert "3 added, 0 replaced, 0 renamed, 0 deleted; 3 files in sync" in first.output
    assert "skipped photo.bmp" in first.output

    again = sync(str(folder))
    assert again.exit_code == 0, again.output
    assert "0 added, 0 replaced, 0 renamed, 0 deleted; 3 files in sync" in again.output

    change(folder)
    third = sync(str(folder))
    assert third.exit_code == 0, third.output
    assert "1 added, 1 replaced, 1 renamed, 1 deleted; 3 files in sync" in third.output
    listed = CliRunner().invoke(cli, ["documents"])
    assert "3 document(s)" in listed.output
    for name in ("fans.txt", "boilers.txt", "report.pdf"):
        assert name in listed.output
    assert "pumps.txt" not in listed.output


def test_a_file_that_fails_makes_the_sync_fail(env: dict[str, str], folder: Path) -> None:
    write(folder / "locked.pdf", f.ENCRYPTED_PDF.read_bytes())
    result = sync(str(folder))
    assert result.exit_code == 1, result.output  # a script sees it
    assert "failed locked.pdf:" in result.output and "password" in result.output
    assert "3 added" in result.output


def test_a_missing_folder_is_refused(env: dict[str, str], tmp_path: Path) -> None:
    result = sync(str(tmp_path / "nowhere"))
    assert result.exit_code == 2 and "is not a folder" in result.output


def test_sync_through_a_running_server(
    make_settings: Any, embedder: Any, folder: Path, tmp_path: Path
) -> None:
    settings = make_settings(auth={"api_keys": [KEY]})
    headers = {"Authorization": f"Bearer {KEY}"}
    with live_server(create_app(settings, embedder=embedder), log_level="warning") as base:
        refused = sync(str(folder), "--url", base, "--api-key", "wrong-key")
        assert refused.exit_code == 2 and "refused the API key" in refused.output

        first = sync(str(folder), "--url", base, "--api-key", KEY)
        assert first.exit_code == 0, first.output
        assert "3 added" in first.output
        documents = httpx.get(f"{base}/documents", headers=headers).json()["data"]
        by_path = {d["metadata"]["sync_path"]: d for d in documents}
        assert sorted(by_path) == ["boilers.txt", "plans/report.pdf", "pumps.txt"]
        assert all(d["status"] == "ready" for d in documents)

        again = sync(str(folder), "--url", base, DOCRAG_API_KEY=KEY)
        assert again.exit_code == 0, again.output
        assert "0 added, 0 replaced, 0 renamed, 0 deleted; 3 files in sync" in again.output

        change(folder)
        third = sync(str(folder), "--url", base, "--api-key", KEY)
        assert third.exit_code == 0, third.output
        assert "1 added, 1 replaced, 1 renamed, 1 deleted; 3 files in sync" in third.output
        after = httpx.get(f"{base}/documents", headers=headers).json()
        assert after["total"] == 3
        now = {d["metadata"]["sync_path"]: d for d in after["data"]}
        assert sorted(now) == ["boilers.txt", "fans.txt", "plans-2024/report.pdf"]
        moved = now["plans-2024/report.pdf"]
        assert moved["id"] == by_path["plans/report.pdf"]["id"]
        assert moved["chunks"] == by_path["plans/report.pdf"]["chunks"]
        assert now["boilers.txt"]["id"] == by_path["boilers.txt"]["id"]
        assert now["boilers.txt"]["size_bytes"] == len(text("boilers", 14))


def test_sync_will_not_open_a_library_a_server_holds(
    make_settings: Any, embedder: Any, folder: Path, minilm_path: str
) -> None:
    from app.cli.server_record import write_record

    settings = make_settings()
    with live_server(create_app(settings, embedder=embedder), log_level="warning") as base:
        port = int(base.rsplit(":", 1)[1])
        write_record(settings.data_dir, "127.0.0.1", port)  # what `docrag serve` records
        env = {"DOCRAG_DATA_DIR": str(settings.data_dir), "DOCRAG_EMBEDDING__MODEL": minilm_path}
        refused = sync(str(folder), **env)
        assert refused.exit_code == 2, refused.output
        assert f"--url {base}" in refused.output and "is using" in refused.output

        through = sync(str(folder), "--url", base, **env)
        assert through.exit_code == 0, through.output
        assert "3 added" in through.output


def test_a_file_the_server_cannot_read_is_reported_on_every_sync(
    make_settings: Any, embedder: Any, tmp_path: Path
) -> None:
    folder = tmp_path / "inbox"
    write(folder / "ok.txt", text("ferries"))
    write(folder / "locked.pdf", f.ENCRYPTED_PDF.read_bytes())
    with live_server(create_app(make_settings(), embedder=embedder), log_level="warning") as base:
        first = sync(str(folder), "--url", base)
        assert first.exit_code == 1, first.output
        assert "failed locked.pdf:" in first.output and "password" in first.output
        again = sync(str(folder), "--url", base)  # the server's catalog remembers the failure
        assert again.exit_code == 1 and "failed locked.pdf:" in again.output
        assert "0 added, 0 replaced" in again.output
        documents = httpx.get(f"{base}/documents").json()
        assert documents["total"] == 2
        statuses = {d["filename"]: d["status"] for d in documents["data"]}
        assert statuses == {"ok.txt": "ready", "locked.pdf": "failed"}

        write(folder / "locked.pdf", f.THREE_PAGES_PDF.read_bytes())  # fixed
        fixed = sync(str(folder), "--url", base)
        assert fixed.exit_code == 0, fixed.output
        now = httpx.get(f"{base}/documents").json()
        assert {d["filename"]: d["status"] for d in now["data"]} == {
            "ok.txt": "ready",
            "locked.pdf": "ready",
        }


def test_a_folder_syncs_into_the_named_base_only(
    env: dict[str, str], make_settings: Any, embedder: Any, folder: Path
) -> None:
    made = CliRunner().invoke(cli, ["knowledge-bases", "create", "plant", "--local"])
    assert made.exit_code == 0, made.output
    local = sync(str(folder), "--knowledge-base", "plant")
    assert local.exit_code == 0, local.output
    assert "-> knowledge base plant: 3 added" in local.output
    listed = CliRunner().invoke(cli, ["documents"])
    assert "0 document(s)" in listed.output  # the default base has none

    settings = make_settings(data_dir=Path(env["DOCRAG_DATA_DIR"]), auth={"api_keys": [KEY]})
    headers = {"Authorization": f"Bearer {KEY}"}
    with live_server(create_app(settings, embedder=embedder), log_level="warning") as base:
        change(folder)
        remote = sync(str(folder), "-k", "plant", "--url", base, "--api-key", KEY)
        assert remote.exit_code == 0, remote.output
        assert "1 added, 1 replaced, 1 renamed, 1 deleted; 3 files in sync" in remote.output
        plant = httpx.get(f"{base}/documents?knowledge_base=plant", headers=headers).json()
        assert sorted(d["filename"] for d in plant["data"]) == [
            "boilers.txt",
            "fans.txt",
            "report.pdf",
        ]
        default = httpx.get(f"{base}/documents", headers=headers).json()
        assert default["total"] == 0
        unknown = sync(str(folder), "-k", "nosuch", "--url", base, "--api-key", KEY)
        assert unknown.exit_code == 2 and "no knowledge base named 'nosuch'" in unknown.output
