"""The CLI finds the same library wherever it runs, and goes through the server that owns it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from app.cli import cli
from app.cli.server_record import record_path, write_record
from app.main import create_app
from tests.app.live_server import live_server

NOTE = "The aurora greenhouse opens in March and closes in October."


@pytest.fixture
def minilm_env(minilm_path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCRAG_EMBEDDING__MODEL", minilm_path)


def test_the_library_is_the_same_from_any_directory_and_no_data_folder_appears(
    minilm_env: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No DOCRAG_DATA_DIR: the per-user folder ($XDG_DATA_HOME/docrag, a temporary one here).
    here, there = tmp_path / "here", tmp_path / "there"
    here.mkdir()
    there.mkdir()
    (here / "notes.txt").write_text(NOTE, "utf-8")
    monkeypatch.chdir(here)
    ingested = CliRunner().invoke(cli, ["ingest", "notes.txt"])
    assert ingested.exit_code == 0, ingested.output
    expected = Path(os.environ["XDG_DATA_HOME"]) / "docrag"
    assert f"data directory {expected}" in ingested.output

    monkeypatch.chdir(there)
    listed = CliRunner().invoke(cli, ["documents"])
    assert "notes.txt" in listed.output and "1 document(s)" in listed.output
    assert not (here / "data").exists() and not (there / "data").exists()


def test_documents_on_a_fresh_machine_creates_nothing(
    minilm_env: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    listed = CliRunner().invoke(cli, ["documents"])
    assert listed.exit_code == 0, listed.output
    assert "0 document(s)" in listed.output
    assert not (Path(os.environ["XDG_DATA_HOME"]) / "docrag").exists()
    assert not (tmp_path / "data").exists()


def test_a_library_left_in_dot_data_is_pointed_out(
    minilm_env: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "notes.txt").write_text(NOTE, "utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DOCRAG_DATA_DIR", "data")  # where an older docrag kept it
    assert CliRunner().invoke(cli, ["ingest", "notes.txt"]).exit_code == 0
    monkeypatch.delenv("DOCRAG_DATA_DIR")
    listed = CliRunner().invoke(cli, ["documents"])
    assert f"DOCRAG_DATA_DIR={tmp_path / 'data'}" in listed.output


def test_ask_and_documents_go_through_the_running_server(
    make_settings: Any, embedder: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings()
    monkeypatch.setenv("DOCRAG_DATA_DIR", str(settings.data_dir))
    # A model that cannot be loaded: the commands must not load one.
    monkeypatch.setenv("DOCRAG_EMBEDDING__MODEL", str(tmp_path / "no-such-model"))
    with live_server(create_app(settings, embedder=embedder)) as base:
        uploaded = httpx.post(
            f"{base}/documents", files=[("files", ("notes.txt", NOTE.encode()))], timeout=60
        )
        assert uploaded.status_code == 201
        port = int(base.rsplit(":", 1)[1])
        write_record(settings.data_dir, "0.0.0.0", port)  # as `docrag serve` does

        listed = CliRunner().invoke(cli, ["documents"])
        assert listed.exit_code == 0, listed.output
        assert f"using the server at http://127.0.0.1:{port}" in listed.output
        assert "notes.txt" in listed.output and "1 document(s)" in listed.output

        asked = CliRunner().invoke(cli, ["ask", "When does the aurora greenhouse open?"])
        assert asked.exit_code == 0, asked.output
        assert "[1] notes.txt" in asked.output

        # Opening the library beside the server says so.
        local = CliRunner().invoke(cli, ["documents", "--local"])
        assert "warning: a docrag server" in local.output and f"--url {base}" in local.output

        explicit = CliRunner().invoke(cli, ["documents", "--url", base + "/"])
        assert "1 document(s)" in explicit.output


def test_a_record_left_by_a_stopped_server_is_ignored(
    make_settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings()
    monkeypatch.setenv("DOCRAG_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("DOCRAG_EMBEDDING__MODEL", str(settings.embedding.model))
    write_record(settings.data_dir, "127.0.0.1", 9)  # nothing listens on port 9
    listed = CliRunner().invoke(cli, ["documents"])
    assert listed.exit_code == 0, listed.output
    assert "using the server" not in listed.output and "warning" not in listed.output
    assert record_path(settings.data_dir).exists()


def test_an_unreachable_url_is_named(make_settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCRAG_DATA_DIR", str(make_settings().data_dir))
    result = CliRunner().invoke(cli, ["ask", "--url", "http://127.0.0.1:9", "anything?"])
    assert result.exit_code == 2
    assert "cannot reach http://127.0.0.1:9" in result.output


@pytest.mark.integration
def test_serve_records_its_address_while_it_runs(
    make_settings: Any, minilm_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.cli.server_record import read_record
    from tests.app.live_server import docrag_serve

    data_dir = make_settings().data_dir
    monkeypatch.setenv("DOCRAG_DATA_DIR", str(data_dir))
    monkeypatch.setenv("DOCRAG_EMBEDDING__MODEL", minilm_path)
    with docrag_serve() as (url, proc):
        record = read_record(data_dir)
        assert record is not None and record.url == url and record.pid == proc.pid
        listed = CliRunner().invoke(cli, ["documents"])
        assert f"using the server at {url}" in listed.output
    assert not record_path(data_dir).exists()  # a stopped server leaves no record
