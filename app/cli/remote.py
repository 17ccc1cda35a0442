"""Commands that read the library go through the running server that owns it when there is
one: `--url`, or the address `docrag serve` recorded in the data directory. No model loads
then, and no second process opens embedded Chroma beside the server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from app.cli.server_record import live_server, record_path


def choose_server(data_dir: Path, url: str | None, local: bool) -> str | None:
    """The server a command talks to: `url`, else the live server recorded in `data_dir`
    (unless `local`); None means the command opens the library itself."""
    if url is not None:
        return url.rstrip("/")
    if local:
        return None
    record = live_server(data_dir)
    if record is None:
        return None
    typer.secho(f"docrag: using the server at {record.url} (pid {record.pid})", err=True)
    return record.url


def warn_if_served(data_dir: Path) -> None:
    """Says so when a live server uses the library a command is about to open itself."""
    if not record_path(data_dir).exists():
        return
    record = live_server(data_dir)
    if record is not None:
        typer.secho(
            f"warning: a docrag server (pid {record.pid}, {record.url}) is using {data_dir}. "
            "Reading beside it may show a library that is behind it, and writing beside it can "
            f"corrupt embedded Chroma: pass --url {record.url} (or leave out --local), or stop "
            "the server first.",
            fg=typer.colors.YELLOW,
            err=True,
        )


def call(
    server: str,
    method: str,
    path: str,
    *,
    api_key: str | None,
    timeout_s: float = 300.0,
    **kwargs: Any,
) -> Any:
    """One request to the server; its error message (or why it cannot be reached) ends the
    command with exit status 1 (the server refused) or 2 (no server)."""
    import httpx

    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    try:
        response = httpx.request(
            method, f"{server}{path}", headers=headers, timeout=timeout_s, **kwargs
        )
    except httpx.HTTPError as e:
        typer.secho(f"error: cannot reach {server}: {e}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from e
    if response.status_code >= 400:
        try:
            message = response.json()["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = response.text[:300]
        if response.status_code == 401:
            message += " (pass --api-key or set DOCRAG_API_KEY)"
        typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1)
    return response.json()


def print_answer(body: dict[str, Any]) -> None:
    """An /ask response as a person reads it: the answer, then the numbered sources."""
    typer.echo(body["answer"])
    if body.get("citations"):
        typer.echo("")
        for c in body["citations"]:
            where = f", page {c['page']}" if c.get("page") is not None else ""
            typer.echo(f"[{c['n']}] {c['filename']}{where} (score {c['score']:.2f})")
    if not body.get("grounded"):
        typer.secho("(not grounded in the documents)", fg=typer.colors.YELLOW, err=True)


def print_documents(records: list[dict[str, Any]], total: int) -> None:
    for r in records:
        typer.echo(
            f"{r['id']}  {r['status']:7}  {r['pages']:4} pages  {r['chunks']:5} chunks  "
            f"{r['filename']}"
        )
    typer.echo(f"{total} document(s)")
