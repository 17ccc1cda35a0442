"""The `docrag` command's Typer app and the start-up every command that needs the index shares."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from app.config import Settings

if TYPE_CHECKING:
    from fastapi import FastAPI

    from app.parts import Parts
    from ingest.catalog import DocumentCatalog

cli = typer.Typer(
    help="docrag: answers questions from your own documents, citing file and page.",
    no_args_is_help=True,
    add_completion=False,
    # Plain Click help: the rich formatter of this Typer shows flags as if they took a <bool>.
    rich_markup_mode=None,
)


def announce_data_dir(settings: Settings) -> None:
    """Says which library a command opens (on stderr: stdout stays the command's output),
    and where an older docrag's library is when one lies in ./data, the former default."""
    from app.config import default_data_dir

    typer.secho(f"docrag: data directory {settings.data_dir}", err=True)
    legacy = Path("data")
    if (
        settings.data_dir == default_data_dir()
        and (legacy / "chroma").is_dir()
        and legacy.resolve() != settings.data_dir.resolve()
    ):
        typer.secho(
            f"note: {legacy.resolve()} holds a docrag library (./data was the default before "
            f"{settings.data_dir}); set DOCRAG_DATA_DIR={legacy.resolve()} to use it, or move "
            "it there",
            fg=typer.colors.YELLOW,
            err=True,
        )


def is_loopback(host: str) -> bool:
    import ipaddress

    try:
        return host == "localhost" or ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def refuse_when_open(settings: Settings, host: str) -> None:
    """`docrag serve` on an address other machines can reach, with no API key configured or
    stored, stops here unless DOCRAG_AUTH__ALLOW_OPEN=true: anyone on the network could read
    and delete every document."""
    if is_loopback(host) or settings.auth.api_keys or settings.auth.allow_open:
        return
    from app.part_builders import build_key_store, connect

    if build_key_store(settings, connect(settings)).required:
        return
    typer.secho(
        f"error: docrag would listen on {host} with no API key, so anyone who can reach it "
        "could read, upload and delete your documents. Set DOCRAG_AUTH__API_KEYS (or create a "
        "key: docrag keys create --knowledge-base '*' --role admin), bind 127.0.0.1 "
        "(DOCRAG_HOST), or, if the network is yours alone, set DOCRAG_AUTH__ALLOW_OPEN=true.",
        fg=typer.colors.RED,
        err=True,
    )
    raise typer.Exit(2)


def warn_when_open(app: FastAPI, host: str, port: int) -> None:
    """Marks a server that listens beyond this machine, so that it logs a warning at start
    and /health lists one while no API key is configured or stored: anyone on the network
    could read and delete documents."""
    import logging

    from app.api.health import open_to_network_warning

    if is_loopback(host):
        return
    app.state.open_address = f"{host}:{port}"
    starting = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[Any]:
        async with starting(app) as state:
            warning = open_to_network_warning(app.state, app.state.parts.keys.required)
            if warning is not None:
                logging.getLogger("docrag").warning(warning)
            yield state

    app.router.lifespan_context = lifespan


def open_parts(settings: Settings) -> Parts:
    """The index's parts, embedding model included: only for commands that embed."""
    from app.builders import build_parts
    from app.cli.remote import warn_if_served
    from app.errors import DocragError
    from ingest.embedding import EmbeddingModelUnavailable
    from ingest.errors import EmbedderMismatch, StoreUnavailable
    from parsers.ocr.engine import OcrUnavailable

    announce_data_dir(settings)
    warn_if_served(settings.data_dir)
    try:
        return build_parts(settings)
    except (
        DocragError,
        EmbedderMismatch,
        StoreUnavailable,
        EmbeddingModelUnavailable,
        OcrUnavailable,
    ) as e:
        typer.secho(f"error: {e}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from e


def open_catalog(settings: Settings) -> DocumentCatalog:
    """The catalog alone, for commands that list or describe: no embedding model is loaded."""
    from app.builders import build_catalog, connect
    from app.cli.remote import warn_if_served

    announce_data_dir(settings)
    warn_if_served(settings.data_dir)
    from ingest.errors import StoreUnavailable

    try:
        return build_catalog(settings, connect(settings))
    except StoreUnavailable as e:
        typer.secho(f"error: {e}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from e
