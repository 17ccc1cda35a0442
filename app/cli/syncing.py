"""`docrag sync DIR`: one pass that makes a knowledge base mirror a folder, in the local
library or through a running server (`--url`)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from app.cli.common import cli, open_parts
from app.config import Settings

if TYPE_CHECKING:
    from ingest.sync import FolderSync, PassReport, SyncTarget


def _print_change(what: str, path: str) -> None:
    typer.echo(f"{what:8} {path}", err=True)


def _refuse_beside_a_server(settings: Settings, folder: Path, base: str) -> None:
    """A second process must not write into the embedded Chroma a server holds."""
    if settings.chroma.host:
        return  # a Chroma server takes writers from several processes
    from app.cli.server_record import live_server

    record = live_server(settings.data_dir)
    if record is None:
        return
    typer.secho(
        f"error: a docrag server (pid {record.pid}, {record.url}) is using {settings.data_dir}; "
        "sync through it instead of opening its library beside it:\n"
        f"  docrag sync {folder} --knowledge-base {base} --url {record.url} --api-key KEY",
        fg=typer.colors.RED,
        err=True,
    )
    raise typer.Exit(2)


def _local_target(settings: Settings, base: str) -> SyncTarget:
    from app.errors import DocragError
    from ingest.sync_local import LocalSyncTarget

    parts = open_parts(settings)
    try:
        library = parts.library(base)
    except DocragError as e:
        typer.secho(f"error: {e.message}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from e
    return LocalSyncTarget(library)


def _summary(folder: Path, base: str, reports: list[PassReport]) -> str:
    added, replaced, renamed, deleted = (
        sum(getattr(r, what) for r in reports)
        for what in ("added", "replaced", "renamed", "deleted")
    )
    last = reports[-1]
    return (
        f"{folder} -> knowledge base {base}: {added} added, {replaced} replaced, {renamed} "
        f"renamed, {deleted} deleted; {last.in_sync} files in sync, {len(last.failed)} failed, "
        f"{len(last.skipped)} skipped"
    )


@cli.command()
def sync(
    folder: Annotated[
        Path, typer.Argument(metavar="DIR", help="the folder (searched recursively)")
    ],
    knowledge_base: Annotated[
        str, typer.Option("--knowledge-base", "-k", metavar="NAME", help="the knowledge base")
    ] = "default",
    url: Annotated[
        str | None,
        typer.Option(
            metavar="URL",
            help="sync through this running docrag (e.g. http://localhost:8000) instead of "
            "opening the local library",
        ),
    ] = None,
    api_key: Annotated[
        str | None,
        typer.Option(
            envvar="DOCRAG_API_KEY", metavar="KEY", help="with --url: a key that may write the base"
        ),
    ] = None,
    settle: Annotated[
        float,
        typer.Option(
            metavar="SECONDS",
            min=0.0,
            help="a file must keep its size and time this long before it is read",
        ),
    ] = 2.0,
    wait_for_writes: Annotated[
        float,
        typer.Option(
            metavar="SECONDS",
            min=0.0,
            help="how long to wait for files still being written before leaving them for "
            "the next sync",
        ),
    ] = 60.0,
) -> None:
    """Makes a knowledge base mirror a folder, once: new files are added, changed ones
    replaced, deleted ones removed, moved ones renamed (not embedded again). Documents
    uploaded by hand are left alone. Exits 1 when a file could not be stored."""
    from ingest.sync import FolderSync

    settings = Settings()
    folder = folder.expanduser().resolve()
    if not folder.is_dir():
        typer.secho(f"error: {folder} is not a folder", fg=typer.colors.RED, err=True)
        raise typer.Exit(2)
    if url is None:
        _refuse_beside_a_server(settings, folder, knowledge_base)
        target = _local_target(settings, knowledge_base)
    else:
        from app.sync_remote import RemoteSyncTarget

        target = RemoteSyncTarget(url, knowledge_base=knowledge_base, api_key=api_key)
    runner = FolderSync(
        target,
        folder,
        settle_s=settle,
        max_bytes=settings.limits.max_upload_bytes,
        on_change=_print_change,
    )
    try:
        reports = _run_passes(runner, wait_for_writes)
    finally:
        target.close()
    last = reports[-1]
    for problem in last.failed:
        typer.secho(f"failed {problem.path}: {problem.error}", fg=typer.colors.RED, err=True)
    for problem in last.skipped:
        typer.secho(f"skipped {problem.path}: {problem.error}", fg=typer.colors.YELLOW, err=True)
    for path in last.waiting:
        typer.secho(
            f"waiting {path}: still being written; the next sync takes it",
            fg=typer.colors.YELLOW,
            err=True,
        )
    typer.echo(_summary(folder, knowledge_base, reports))
    if last.failed:
        raise typer.Exit(1)


def _run_passes(runner: FolderSync, wait_for_writes: float) -> list[PassReport]:
    """A pass, then more while files are still being written (for up to `wait_for_writes`
    seconds; each pass waits for them to settle)."""
    from app.sync_remote import RemoteUnusable
    from ingest.sync_files import SyncFolderMissing

    deadline = time.monotonic() + wait_for_writes
    reports: list[PassReport] = []
    try:
        while True:
            reports.append(runner.run_pass())
            if not reports[-1].waiting or time.monotonic() >= deadline:
                return reports
    except (SyncFolderMissing, RemoteUnusable) as e:
        typer.secho(f"error: {e}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from e
