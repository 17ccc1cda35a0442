"""The `docrag` command's Typer app and the start-up every command that needs the index shares."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from app.config import Settings

if TYPE_CHECKING:
    from app.parts import Parts
    from ingest.catalog import DocumentCatalog

cli = typer.Typer(
    help="docrag: answers questions from your own documents, citing file and page.",
    no_args_is_help=True,
    add_completion=False,
    # Plain Click help: the rich formatter of this Typer shows flags as if they took a <bool>.
    rich_markup_mode=None,
)


def open_parts(settings: Settings) -> Parts:
    """The index's parts, embedding model included: only for commands that embed."""
    from app.errors import DocragError
    from app.parts import build_parts
    from ingest.embedding import EmbeddingModelUnavailable
    from ingest.errors import EmbedderMismatch, StoreUnavailable
    from parsers.ocr.engine import OcrUnavailable

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
    from ingest.errors import StoreUnavailable

    try:
        return build_catalog(settings, connect(settings))
    except StoreUnavailable as e:
        typer.secho(f"error: {e}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from e
