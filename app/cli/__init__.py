"""The `docrag` command: the same work as the HTTP API, without HTTP. Each module adds its
commands to one Typer app; `docrag documents` and the commands that only talk to a server
start without loading the embedding model."""

from __future__ import annotations

from app.cli import commands, evaluating, ingesting, keys, reindexing, scaling, syncing
from app.cli.common import cli

__all__ = [
    "cli",
    "commands",
    "evaluating",
    "ingesting",
    "keys",
    "main",
    "reindexing",
    "scaling",
    "syncing",
]


def main() -> None:
    cli()
