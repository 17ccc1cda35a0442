"""`docrag serve`, `ask`, `documents` and `mcp`."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from app.cli.common import cli, open_catalog, open_parts
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
    from app.main import create_app
    from ingest.embedding import EmbeddingModelUnavailable, embedding_model_problem
    from parsers.ocr.engine import OcrUnavailable

    settings = load_settings()
    # The model loads before the server starts, so a model that cannot be had stops here in
    # one paragraph naming the setting, not in a start-up traceback.
    problem = embedding_model_problem(settings.embedding.model)
    if problem is not None:
        typer.secho(f"error: {problem}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2)
    if workers > 1:
        serve_processes(settings, workers, host or settings.host, port or settings.port)
        return
    try:
        build_ocr_options(settings)  # an OCR engine named but not installed stops here too
        embedder = build_embedder(settings)
    except (EmbeddingModelUnavailable, OcrUnavailable) as e:
        typer.secho(f"error: {e}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from e
    uvicorn.run(
        create_app(settings, embedder=embedder),
        host=host or settings.host,
        port=port or settings.port,
        log_level=settings.log_level.lower(),
    )


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
) -> None:
    """Answers a question from the stored documents and prints the citations."""
    from app.errors import DocragError
    from app.query.answers import Question
    from app.query.retrieval import Filters

    settings = Settings()
    parts = open_parts(settings)
    try:
        answer = parts.ask_service.ask(
            Question(
                text=question,
                top_k=top_k or settings.retrieval.top_k,
                filters=Filters(document_ids=tuple(document_id or ())),
            )
        )
    except DocragError as e:
        typer.secho(f"error: {e.message}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from e
    if as_json:
        from app.api.mappers import to_response

        typer.echo(
            json.dumps(to_response(answer).model_dump(mode="json"), ensure_ascii=False, indent=2)
        )
        return
    typer.echo(answer.answer)
    if answer.citations:
        typer.echo("")
        for c in answer.citations:
            where = f", page {c.page}" if c.page is not None else ""
            typer.echo(f"[{c.n}] {c.filename}{where} (score {c.score:.2f})")
    if not answer.grounded:
        typer.secho("(not grounded in the documents)", fg=typer.colors.YELLOW, err=True)


@cli.command()
def documents(
    limit: Annotated[int, typer.Option(help="documents to show")] = 50,
    offset: Annotated[int, typer.Option(help="documents to skip")] = 0,
) -> None:
    """Lists the stored documents, newest first."""
    records, total = open_catalog(Settings()).page(limit, offset)
    for r in records:
        typer.echo(f"{r.id}  {r.status:7}  {r.pages:4} pages  {r.chunks:5} chunks  {r.filename}")
    typer.echo(f"{total} document(s)")


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
    server = build_mcp_server(open_parts(settings))
    if http:
        import uvicorn

        from app.mcp_server import http_app

        address = host or settings.host
        uvicorn.run(
            http_app(server, settings, host=address),
            host=address,
            port=port or settings.port,
            log_level=settings.log_level.lower(),
        )
    else:
        server.run("stdio")
