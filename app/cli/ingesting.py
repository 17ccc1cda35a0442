"""`docrag ingest`: files and folders into the local index, or uploaded to a running server."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from tqdm import tqdm

from app.cli.common import cli, open_parts
from app.config import Settings

_SUPPORTED_SUFFIXES = {".pdf", ".txt", ".md", ".markdown", ".html", ".htm", ".docx", ".csv"}


def _collect(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(
                p
                for p in sorted(path.rglob("*"))
                if p.is_file() and p.suffix.lower() in _SUPPORTED_SUFFIXES
            )
        elif path.is_file():
            files.append(path)
        else:
            typer.secho(f"skipped {path}: no such file or folder", fg=typer.colors.YELLOW, err=True)
    return files


@cli.command()
def ingest(
    paths: Annotated[
        list[Path],
        typer.Argument(metavar="PATH...", help="files and folders (searched recursively)"),
    ],
    server: Annotated[
        str | None,
        typer.Option(
            help="upload to this running docrag (e.g. http://localhost:8000) instead of "
            "writing to the local index"
        ),
    ] = None,
    wait: Annotated[
        bool,
        typer.Option(
            "--wait/--no-wait",
            help="with --server: --no-wait queues a background job per file and prints its id",
        ),
    ] = True,
    api_key: Annotated[
        str | None,
        typer.Option(envvar="DOCRAG_API_KEY", help="with --server: the server's API key"),
    ] = None,
) -> None:
    """Adds files to the index, with a progress bar (pages and chunks per second) and a
    summary."""
    from parsers.errors import ParseError

    settings = Settings()
    files = _collect(paths)
    if not files:
        typer.secho(
            "nothing to ingest: no supported files found ("
            + ", ".join(sorted(_SUPPORTED_SUFFIXES))
            + ")",
            fg=typer.colors.RED,
            err=True,
        )
        raise typer.Exit(1)
    if server is not None:
        _ingest_over_http(files, server.rstrip("/"), wait=wait, api_key=api_key)
        return
    if not wait:
        typer.secho("--no-wait needs --server: only a running server has job workers", err=True)
        raise typer.Exit(2)
    parts = open_parts(settings)
    added = existing = failed = chunks = pages = 0
    limit = settings.limits.max_upload_bytes
    started = time.monotonic()
    with tqdm(files, unit="file", desc="ingesting", file=sys.stderr) as bar:
        for path in bar:
            elapsed = max(time.monotonic() - started, 1e-9)
            bar.set_postfix_str(
                f"{pages / elapsed:.1f} pages/s, {chunks / elapsed:.1f} chunks/s, {path.name[:30]}"
            )
            try:
                if path.stat().st_size > limit:
                    raise ValueError(f"larger than the {settings.limits.max_upload_mb:g} MiB limit")
                result = parts.pipeline.ingest(path.read_bytes(), path.name)
            except ParseError as e:
                failed += 1
                tqdm.write(f"failed {path}: {e}", file=sys.stderr)
                continue
            except (OSError, ValueError) as e:
                failed += 1
                tqdm.write(f"failed {path}: {e}", file=sys.stderr)
                continue
            if result.created:
                added += 1
                chunks += result.document.chunks
                pages += result.document.pages
            else:
                existing += 1
    typer.echo(
        f"{added} added ({pages} pages, {chunks} chunks), "
        f"{existing} already stored, {failed} failed"
    )
    if failed:  # any file that could not be stored makes the command fail
        raise typer.Exit(1)


def _ingest_over_http(files: list[Path], server: str, *, wait: bool, api_key: str | None) -> None:
    import httpx

    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    added = existing = queued = failed = chunks = pages = 0
    started = time.monotonic()
    try:
        with (
            httpx.Client(base_url=server, headers=headers, timeout=None) as http,
            tqdm(files, unit="file", desc="uploading", file=sys.stderr) as bar,
        ):
            for path in bar:
                elapsed = max(time.monotonic() - started, 1e-9)
                bar.set_postfix_str(
                    f"{pages / elapsed:.1f} pages/s, {chunks / elapsed:.1f} chunks/s, "
                    f"{path.name[:30]}"
                )
                response = http.post(
                    "/documents",
                    files=[("files", (path.name, path.read_bytes()))],
                    params={"wait": "true" if wait else "false"},
                )
                if response.status_code == 401:
                    typer.secho(
                        "error: the server wants an API key (--api-key or DOCRAG_API_KEY)", err=True
                    )
                    raise typer.Exit(2)
                body = response.json()
                errors = body.get("errors") or ([body["error"]] if "error" in body else [])
                for error in errors:
                    failed += 1
                    tqdm.write(f"failed {path}: {error['message']}", file=sys.stderr)
                for job in body.get("jobs", []):
                    queued += 1
                    tqdm.write(f"queued {path}: job {job['id']} ({job['status']})")
                for document in body.get("documents", []):
                    if response.status_code == 201:
                        added += 1
                        chunks += document["chunks"]
                        pages += document["pages"]
                    else:
                        existing += 1
    except httpx.HTTPError as e:
        typer.secho(f"error: cannot reach {server}: {e}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from e
    if queued:
        typer.echo(f"{queued} queued (follow them with GET {server}/jobs/<id>), {failed} failed")
    else:
        typer.echo(
            f"{added} added ({pages} pages, {chunks} chunks), "
            f"{existing} already stored, {failed} failed"
        )
    if failed:  # any file that could not be stored makes the command fail
        raise typer.Exit(1)
