"""`docrag keys` and `docrag knowledge-bases`: API keys and knowledge bases, on the library
itself or, with `--url` (or a running `docrag serve` on the same data), through the server's
admin API, so no second process opens a server's embedded store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from app.cli.common import cli
from app.cli.remote import call, choose_server
from app.config import Settings

keys_cli = typer.Typer(
    help="API keys scoped to a knowledge base, with a role.", no_args_is_help=True
)
bases_cli = typer.Typer(help="Knowledge bases: separate libraries.")
cli.add_typer(keys_cli, name="keys")
cli.add_typer(bases_cli, name="knowledge-bases")

URL = typer.Option("--url", metavar="URL", help="a running docrag's address (its admin API)")
API_KEY = typer.Option(envvar="DOCRAG_API_KEY", help="an admin key of the server")
LOCAL = typer.Option("--local", help="open the library here even if a server runs")


def _local_stores(settings: Settings) -> tuple[Any, Any]:
    from app.part_builders import build_base_store, build_key_store, connect

    client = connect(settings)
    return build_key_store(settings, client), build_base_store(settings, client)


def _where(url: str | None, local: bool) -> tuple[Settings, str | None]:
    """The settings, and the server to go through (None: the library itself)."""
    settings = Settings()
    return settings, choose_server(settings.data_dir, url, local)


def _fail(message: str) -> typer.Exit:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(1)


def _print_key(key: dict[str, Any]) -> None:
    label = f"  {key['label']}" if key.get("label") else ""
    typer.echo(f"{key['id']}  {key['knowledge_base']}  {key['role']}  {key['created_at']}{label}")


@keys_cli.command("create")
def create_key(
    knowledge_base: Annotated[
        str, typer.Option("--knowledge-base", help="the base it opens, or '*' for every base")
    ],
    role: Annotated[str, typer.Option(help="read, write or admin")],
    label: Annotated[str, typer.Option(help="a note to recognise it by")] = "",
    url: Annotated[str | None, URL] = None,
    api_key: Annotated[str | None, API_KEY] = None,
    local: Annotated[bool, LOCAL] = False,
) -> None:
    """Makes a key and prints it alone on the last line (it is shown only this once)."""
    from app.access import ALL_BASES, check_role
    from app.errors import DocragError
    from ingest.knowledge_bases import KnowledgeBaseNameInvalid

    settings, server = _where(url, local)
    if server is not None:
        body = {"knowledge_base": knowledge_base, "role": role, "label": label}
        made = call(server, "POST", "/keys", api_key=api_key, json=body)
        secret = made["key"]
    else:
        keys, bases = _local_stores(settings)
        try:
            check_role(role)
            if knowledge_base != ALL_BASES and bases.get(knowledge_base) is None:
                raise _fail(
                    f"no knowledge base named {knowledge_base!r}; "
                    "`docrag knowledge-bases list` shows them"
                )
            _, secret = keys.create(knowledge_base, role, label)
        except (DocragError, KnowledgeBaseNameInvalid) as e:
            raise _fail(getattr(e, "message", str(e))) from e
    typer.echo(
        f"a {role} key for {knowledge_base!r}; keep it now, it is not shown again:", err=True
    )
    typer.echo(secret)


@keys_cli.command("list")
def list_keys(
    url: Annotated[str | None, URL] = None,
    api_key: Annotated[str | None, API_KEY] = None,
    local: Annotated[bool, LOCAL] = False,
) -> None:
    """The keys (id, knowledge base, role, created), never their secrets."""
    settings, server = _where(url, local)
    if server is not None:
        listed = call(server, "GET", "/keys", api_key=api_key)["data"]
    else:
        keys, _ = _local_stores(settings)
        listed = [
            {
                "id": k.id,
                "knowledge_base": k.knowledge_base,
                "role": k.role,
                "label": k.label,
                "created_at": k.created_at,
            }
            for k in keys.all()
        ]
    for key in listed:
        _print_key(key)
    if not listed:
        typer.echo("no stored keys", err=True)


@keys_cli.command("revoke")
def revoke_key(
    key_id: Annotated[str, typer.Argument(help="the key's id (from `docrag keys list`)")],
    url: Annotated[str | None, URL] = None,
    api_key: Annotated[str | None, API_KEY] = None,
    local: Annotated[bool, LOCAL] = False,
) -> None:
    """Revokes a key: every server stops accepting it within seconds."""
    settings, server = _where(url, local)
    if server is not None:
        import httpx

        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        response = httpx.delete(f"{server}/keys/{key_id}", headers=headers, timeout=60)
        if response.status_code != 204:
            raise _fail(response.json().get("error", {}).get("message", response.text[:300]))
    else:
        keys, _ = _local_stores(settings)
        if keys.revoke(key_id) is None:
            raise _fail(f"no single key with id {key_id!r}; `docrag keys list` shows them")
    typer.echo(f"revoked {key_id}")


@bases_cli.command("list")
def list_bases(
    url: Annotated[str | None, URL] = None,
    api_key: Annotated[str | None, API_KEY] = None,
    local: Annotated[bool, LOCAL] = False,
) -> None:
    """The knowledge bases."""
    settings, server = _where(url, local)
    if server is not None:
        for base in call(server, "GET", "/knowledge-bases", api_key=api_key)["data"]:
            typer.echo(f"{base['name']}  {base['documents']} documents  {base['profile']}")
        return
    _, bases = _local_stores(settings)
    for base in bases.all():
        typer.echo(f"{base.name}  {base.profile or settings.questions.profile}")


@bases_cli.command("create")
def create_base(
    name: Annotated[str, typer.Argument(help="lower-case letters, digits or '-'")],
    profile: Annotated[str | None, typer.Option(help="generic or filings")] = None,
    sync_folder: Annotated[
        str | None, typer.Option(help="a folder the base follows (docrag sync, or --watch)")
    ] = None,
    watch: Annotated[
        bool, typer.Option("--watch", help="follow the folder while `docrag serve` runs")
    ] = False,
    url: Annotated[str | None, URL] = None,
    api_key: Annotated[str | None, API_KEY] = None,
    local: Annotated[bool, LOCAL] = False,
) -> None:
    """Makes an empty knowledge base."""
    from ingest.knowledge_bases import KnowledgeBase, KnowledgeBaseNameInvalid

    settings, server = _where(url, local)
    if server is not None:
        body: dict[str, Any] = {"name": name, "watch": watch}
        if profile:
            body["profile"] = profile
        if sync_folder:
            body["sync_folder"] = sync_folder
        call(server, "POST", "/knowledge-bases", api_key=api_key, json=body)
    else:
        _, bases = _local_stores(settings)
        if bases.get(name) is not None:
            raise _fail(f"a knowledge base named {name!r} exists already")
        if profile not in (None, "generic", "filings"):
            raise _fail("--profile must be generic or filings")
        try:
            folder = str(Path(sync_folder).expanduser().resolve()) if sync_folder else None
            if folder is not None and not Path(folder).is_dir():
                raise _fail(f"{sync_folder} is not a folder")
            bases.put(
                KnowledgeBase(name, profile=profile, sync_folder=folder, watch=watch)  # type: ignore[arg-type]
            )
        except KnowledgeBaseNameInvalid as e:
            raise _fail(str(e)) from e
    typer.echo(f"created knowledge base {name}")
