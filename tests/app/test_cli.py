"""The `docrag` command does the work of the API without HTTP."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from app.cli import cli
from tests import samples as f


def test_ingest_folder_then_list_then_ask(env: dict[str, str], tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    (folder / "sub").mkdir(parents=True)
    (folder / "report.pdf").write_bytes(f.MULTIPAGE_PDF.read_bytes())
    (folder / "sub" / "notes.txt").write_text("The aurora greenhouse opens in March.", "utf-8")
    (folder / "ignored.bin").write_bytes(b"\x00\x01")
    runner = CliRunner()

    ingested = runner.invoke(cli, ["ingest", str(folder)])
    assert ingested.exit_code == 0, ingested.output
    assert "2 added" in ingested.output and "0 failed" in ingested.output

    again = runner.invoke(cli, ["ingest", str(folder / "report.pdf")])
    assert "1 already stored" in again.output

    listed = runner.invoke(cli, ["documents"])
    assert listed.exit_code == 0
    assert "report.pdf" in listed.output and "notes.txt" in listed.output
    assert "2 document(s)" in listed.output

    asked = runner.invoke(cli, ["ask", f.PAGE_TWO_QUESTION])
    assert asked.exit_code == 0, asked.output
    assert "[1] report.pdf, page" in asked.output


def test_ingest_reports_bad_files(env: dict[str, str], tmp_path: Path) -> None:
    bad = tmp_path / "scan.pdf"
    bad.write_bytes(f.SCANNED_PDF.read_bytes())
    result = CliRunner().invoke(cli, ["ingest", str(bad), str(tmp_path / "missing.txt")])
    assert result.exit_code == 1
    assert "OCR" in result.output and "missing.txt" in result.output


def test_ask_json_output(env: dict[str, str]) -> None:
    import json

    result = CliRunner().invoke(cli, ["ask", "--json", "anything at all?"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.output[result.output.index("{") :])
    assert body["grounded"] is False and body["mode"] == "extractive"


def test_console_script_is_installed() -> None:
    result = subprocess.run(
        [str(Path(sys.executable).parent / "docrag"), "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0
    for command in ("serve", "ingest", "ask", "documents"):
        assert command in result.stdout


@pytest.mark.integration
def test_serve_starts_a_working_http_server(env: dict[str, str]) -> None:
    import httpx

    from tests.app.live_server import docrag_serve

    with docrag_serve() as (url, _):
        health: Any = httpx.get(f"{url}/health").json()
        assert health["mode"] == "extractive" and health["chroma"].startswith("embedded")


def test_ingest_fails_when_any_file_fails(env: dict[str, str], tmp_path: Path) -> None:
    good = tmp_path / "notes.txt"
    good.write_text("The aurora greenhouse opens in March.", "utf-8")
    bad = tmp_path / "report.pdf"
    bad.write_bytes(b"this is not a PDF at all")
    result = CliRunner().invoke(cli, ["ingest", str(good), str(bad)])
    assert result.exit_code == 1, result.output  # a script sees the failure
    assert "1 added" in result.output and "1 failed" in result.output
    assert "report.pdf" in result.output


def test_documents_lists_without_loading_the_embedding_model(
    env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    note = tmp_path / "notes.txt"
    note.write_text("The aurora greenhouse opens in March.", "utf-8")
    assert CliRunner().invoke(cli, ["ingest", str(note)]).exit_code == 0
    # A model that cannot be loaded: listing must not need it.
    monkeypatch.setenv("DOCRAG_EMBEDDING__MODEL", str(tmp_path / "no-such-model"))
    listed = CliRunner().invoke(cli, ["documents"])
    assert listed.exit_code == 0, listed.output
    assert "notes.txt" in listed.output and "1 document(s)" in listed.output


def test_help_shows_flags_as_flags() -> None:
    text = CliRunner().invoke(cli, ["ask", "--help"], env={"COLUMNS": "120"}).output
    assert "--json " in text and "<bool>" not in text
    assert "--document-id ID" in text
