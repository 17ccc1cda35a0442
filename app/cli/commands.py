"""`docrag serve`, `ask`, `documents` and `mcp`."""

from __future__ import annotations

import json
import signal
import sys
from typing import Annotated, Any

import typer

from app.cli.common import (
    announce_data_dir,
    cli,
    open_catalog,
    open_parts,
    refuse_when_open,
    warn_when_open,
)
from app.cli.remote import call, choose_server, print_answer, print_documents
from app.config import Settings


@cli.command()
def serve(
    host: Annotated[str | None, typer.Option(help="address to bind (DOCRAG_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="port to bind (DOCRAG_PORT)")] = None,
    workers: Annotated[
        int, typer.Option(min=1, help="API processes; more than 1 needs a Chroma server")
    ] = 1,
) -> None:
    """Runs the HTTP API and the web page."""
    import uvicorn

    from app.builders import build_embedder, build_ocr_options
    from app.cli.scaling import load_settings, serve_processes
    from app.cli.server_record import remove_record, write_record
    from app.main import create_app
    from ingest.embedding import EmbeddingModelUnavailable, embedding_model_problem
    from parsers.ocr.engine import OcrUnavailable

    settings = load_settings()
    address, bound_port = host or settings.host, port or settings.port
    announce_data_dir(settings)
    # The model loads before the server starts, so a model that cannot be had stops here in
    # one paragraph naming the setting, not in a start-up traceback.
    problem = embedding_model_problem(settings.embedding.model)
    if problem is not None:
        typer.secho(f"error: {problem}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2)
    refuse_when_open(settings, address)
    if workers > 1:
        serve_processes(settings, workers, address, bound_port)
        return
    try:
        build_ocr_options(settings)  # an OCR engine named but not installed stops here too
        embedder = build_embedder(settings)
    except (EmbeddingModelUnavailable, OcrUnavailable) as e:
        typer.secho(f"error: {e}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from e
    app = create_app(settings, embedder=embedder)
    warn_when_open(app, address, bound_port)
    # Other commands (ask, documents) find this server by this record and go through it.
    write_record(settings.data_dir, address, bound_port)
    # uvicorn stops gracefully on SIGTERM, then raises the signal again; ending by an
    # exception instead lets the record be removed.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        uvicorn.run(app, host=address, port=bound_port, log_level=settings.log_level.lower())
    finally:
        remove_record(settings.data_dir)


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


URL_OPTION = typer.Option(
    "--url",
    metavar="URL",
    help="the running docrag to ask (default: the server `docrag serve` recorded in the data "
    "directory, if it answers)",
)
LOCAL_OPTION = typer.Option("--local", help="open the library here even if a server runs")
API_KEY_OPTION = typer.Option(envvar="DOCRAG_API_KEY", help="the server's API key")


@cli.command()
def ask(
    question: Annotated[str, typer.Argument(metavar="QUESTION", help="the question")],
    top_k: Annotated[
        int | None, typer.Option(metavar="N", help="sources kept for the answer")
    ] = None,
    document_id: Annotated[
        list[str] | None,
        typer.Option(
            "--document-id", metavar="ID", help="answer only from this document (repeatable)"
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the full answer as JSON")] = False,
    url: Annotated[str | None, URL_OPTION] = None,
    local: Annotated[bool, LOCAL_OPTION] = False,
    api_key: Annotated[str | None, API_KEY_OPTION] = None,
) -> None:
    """Answers a question from the stored documents and prints the citations: through the
    running server when there is one (no model to load), else from the library itself."""
    settings = Settings()
    server = choose_server(settings.data_dir, url, local)
    if server is not None:
        request: dict[str, Any] = {"question": question}
        if top_k is not None:
            request["top_k"] = top_k
        if document_id:
            request["document_ids"] = document_id
        body = call(server, "POST", "/ask", api_key=api_key, json=request)
    else:
        body = _ask_locally(settings, question, top_k, document_id)
    if as_json:
        typer.echo(json.dumps(body, ensure_ascii=False, indent=2))
    else:
        print_answer(body)


def _ask_locally(
    settings: Settings, question: str, top_k: int | None, document_ids: list[str] | None
) -> dict[str, Any]:
    from app.api.mappers import to_response
    from app.errors import DocragError
    from app.query.answers import Question
    from app.query.retrieval import Filters

    parts = open_parts(settings)
    try:
        answer = parts.ask_service.ask(
            Question(
                text=question,
                top_k=top_k or settings.retrieval.top_k,
                filters=Filters(document_ids=tuple(document_ids or ())),
            )
        )
    except DocragError as e:
        typer.secho(f"error: {e.message}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from e
    return dict(to_response(answer).model_dump(mode="json"))


@cli.command()
def documents(
    limit: Annotated[int, typer.Option(help="documents to show")] = 50,
    offset: Annotated[int, typer.Option(help="documents to skip")] = 0,
    url: Annotated[str | None, URL_OPTION] = None,
    local: Annotated[bool, LOCAL_OPTION] = False,
    api_key: Annotated[str | None, API_KEY_OPTION] = None,
) -> None:
    """Lists the stored documents, newest first: through the running server when there is
    one, else from the library itself."""
    settings = Settings()
    server = choose_server(settings.data_dir, url, local)
    if server is not None:
        body = call(
            server, "GET", "/documents", api_key=api_key, params={"limit": limit, "offset": offset}
        )
        print_documents(body["data"], body["total"])
        return
    if settings.chroma.host is None and not settings.chroma_dir.is_dir():
        announce_data_dir(settings)
        typer.echo("0 document(s): no library here yet (docrag ingest or docrag serve makes one)")
        return
    records, total = open_catalog(settings).page(limit, offset)
    print_documents(
        [
            {
                "id": r.id,
                "status": r.status,
                "pages": r.pages,
                "chunks": r.chunks,
                "filename": r.filename,
            }
            for r in records
        ],
        total,
    )


@cli.command()
def mcp(
    http: Annotated[
        bool, typer.Option("--http", help="serve streamable HTTP instead of stdio")
    ] = False,
    host: Annotated[str | None, typer.Option(help="address for --http (DOCRAG_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="port for --http (DOCRAG_PORT)")] = None,
) -> None:
    """Serves the tools search_documents, ask and list_documents over MCP (stdio by default)."""
    import logging

    from app.mcp_server import build_mcp_server

    settings = Settings()
    # stdout carries the protocol on stdio: every log line goes to stderr.
    logging.basicConfig(level=settings.log_level, stream=sys.stderr)
    parts = open_parts(settings)
    server = build_mcp_server(parts)
    if http:
        import uvicorn

        from app.mcp_server import http_app

        address = host or settings.host
        uvicorn.run(
            http_app(server, parts, host=address),
            host=address,
            port=port or settings.port,
            log_level=settings.log_level.lower(),
        )
    else:
        server.run("stdio")
