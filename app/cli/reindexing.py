"""`docrag reindex`: locally, or by asking a running server."""

from __future__ import annotations

import sys
import time
from typing import Annotated

import typer
from tqdm import tqdm

from app.cli.common import cli
from app.config import Settings


@cli.command()
def reindex(
    model: Annotated[
        str | None,
        typer.Option(help="embedding model for the new index (default: DOCRAG_EMBEDDING__MODEL)"),
    ] = None,
    skip_failed: Annotated[
        bool,
        typer.Option(
            "--skip-failed",
            help="switch even if some documents could not be embedded again (they will not "
            "answer questions until uploaded again)",
        ),
    ] = False,
    keep_previous: Annotated[
        bool,
        typer.Option("--keep-previous", help="keep the old collection after the switch"),
    ] = False,
    settle_timeout: Annotated[
        float,
        typer.Option(min=0, help="seconds to wait for uploads begun before the switch"),
    ] = 600.0,
    server: Annotated[
        str | None,
        typer.Option(
            help="ask this running docrag to reindex with its configured model (needed with "
            "embedded Chroma while the server runs)"
        ),
    ] = None,
    api_key: Annotated[
        str | None,
        typer.Option(envvar="DOCRAG_API_KEY", help="with --server: the server's API key"),
    ] = None,
    knowledge_base: Annotated[
        str, typer.Option("--knowledge-base", help="the knowledge base to reindex")
    ] = "default",
) -> None:
    """Embeds every stored document again, from its original file, into a new collection
    and switches to it when done: after changing the embedding model or the chunking.

    Running services keep answering from the old index until the switch, then move to the
    new one (and its model) by themselves.
    """
    from app.errors import DocragError
    from app.reindexing import reindex as run_reindex
    from ingest.catalog import DocumentRecord
    from ingest.errors import EmbedderMismatch, StoreUnavailable
    from ingest.reindex import ReindexRunning

    if server is not None:
        if model is not None:
            typer.secho(
                "--model cannot be used with --server: the server reindexes with its own "
                "DOCRAG_EMBEDDING__MODEL (set it and restart the server first)",
                err=True,
            )
            raise typer.Exit(2)
        _reindex_over_http(
            server.rstrip("/"),
            skip_failed=skip_failed,
            keep_previous=keep_previous,
            api_key=api_key,
            knowledge_base=knowledge_base,
        )
        return
    settings = _base_settings(Settings(), knowledge_base)
    bar: tqdm | None = None
    pages = chunks = 0
    started = time.monotonic()

    def on_start(records: list[DocumentRecord]) -> None:
        nonlocal bar
        bar = tqdm(total=len(records), unit="doc", desc="reindexing", file=sys.stderr)

    def on_document(record: DocumentRecord, written: int) -> None:
        nonlocal pages, chunks
        pages += record.pages
        chunks += written
        if bar is not None:
            elapsed = max(time.monotonic() - started, 1e-9)
            bar.set_postfix_str(f"{pages / elapsed:.1f} pages/s, {chunks / elapsed:.1f} chunks/s")
            if bar.n < (bar.total or 0):
                bar.update(1)

    try:
        report, removed = run_reindex(
            settings,
            model=model,
            skip_failed=skip_failed,
            keep_previous=keep_previous,
            settle_timeout_s=settle_timeout,
            on_start=on_start,
            on_document=on_document,
        )
    except (DocragError, EmbedderMismatch, StoreUnavailable, ReindexRunning, OSError) as e:
        typer.secho(f"error: {e}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from e
    finally:
        if bar is not None:
            bar.close()
    for why in report.failed.values():
        typer.secho(f"failed {why}", fg=typer.colors.YELLOW, err=True)
    if not report.switched:
        typer.secho(
            f"not switched: {len(report.failed)} document(s) could not be embedded again; the "
            f"index in use is unchanged. Upload them again or delete them, or pass "
            "--skip-failed to switch without them.",
            fg=typer.colors.RED,
            err=True,
        )
        raise typer.Exit(1)
    typer.echo(
        f"switched to {report.collection} (model {report.model}): {report.documents} "
        f"document(s), {report.chunks} chunks in {report.seconds:.1f} s"
        + (f"; removed {', '.join(removed)}" if removed else "")
    )


def _base_settings(settings: Settings, name: str) -> Settings:
    """The settings of a knowledge base of this library (refused when there is none)."""
    from app.part_builders import build_base_store, connect

    base = build_base_store(settings, connect(settings)).get(name)
    if base is None:
        typer.secho(
            f"error: no knowledge base named {name!r}; `docrag knowledge-bases list` shows them",
            fg=typer.colors.RED,
            err=True,
        )
        raise typer.Exit(2)
    return settings.for_knowledge_base(base)


def _reindex_over_http(
    server: str,
    *,
    skip_failed: bool,
    keep_previous: bool,
    api_key: str | None,
    knowledge_base: str,
) -> None:
    import httpx

    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    base = {"knowledge_base": knowledge_base}
    try:
        with httpx.Client(base_url=server, headers=headers, timeout=60) as http:
            started = http.post(
                "/index/reindex",
                params={"skip_failed": skip_failed, "keep_previous": keep_previous, **base},
            )
            if started.status_code != 202:
                message = started.json().get("error", {}).get("message", started.text)
                typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
                raise typer.Exit(2)
            with tqdm(unit="doc", desc="reindexing", file=sys.stderr) as bar:
                while True:
                    status = http.get("/index", params=base).json()["reindex"]
                    bar.total = status["documents_total"] or None
                    bar.update(status["documents_done"] - bar.n)
                    if status["status"] != "running":
                        break
                    time.sleep(1.0)
    except httpx.HTTPError as e:
        typer.secho(f"error: cannot reach {server}: {e}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from e
    for why in status["failed"].values():
        typer.secho(f"failed {why}", fg=typer.colors.YELLOW, err=True)
    if status["status"] != "switched":
        typer.secho(
            f"not switched: {status['error'] or 'some documents could not be embedded again'}",
            fg=typer.colors.RED,
            err=True,
        )
        raise typer.Exit(1)
    typer.echo(
        f"switched to {status['collection']} (model {status['model']}): "
        f"{status['documents_done']} document(s), {status['chunks']} chunks"
    )
