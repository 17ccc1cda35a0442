"""The `docrag` command: the same work as the HTTP API, without HTTP."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated, Literal

import typer
from tqdm import tqdm

from app.config import Settings

cli = typer.Typer(
    help="docrag: answers questions from your own documents, citing file and page.",
    no_args_is_help=True,
    add_completion=False,
)


def _container(settings: Settings):  # type: ignore[no-untyped-def]
    from app.errors import DocragError
    from app.parts import build_container
    from ingest.store import EmbedderMismatch

    try:
        return build_container(settings)
    except (DocragError, EmbedderMismatch) as e:
        typer.secho(f"error: {e}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from e


@cli.command()
def serve(
    host: Annotated[str | None, typer.Option(help="address to bind (DOCRAG_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="port to bind (DOCRAG_PORT)")] = None,
) -> None:
    """Runs the HTTP API."""
    import uvicorn

    settings = Settings()
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        log_level=settings.log_level.lower(),
    )


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
    paths: Annotated[list[Path], typer.Argument(help="files and folders (searched recursively)")],
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
    from app.errors import from_parse_error
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
    container = _container(settings)
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
                result = container.pipeline.ingest(path.read_bytes(), path.name)
            except ParseError as e:
                failed += 1
                tqdm.write(f"failed {path}: {from_parse_error(e).message}", file=sys.stderr)
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
    if failed and not (added or existing):
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
    if failed and not (added or existing or queued):
        raise typer.Exit(1)


@cli.command()
def ask(
    question: Annotated[str, typer.Argument(help="the question")],
    top_k: Annotated[int | None, typer.Option(help="sources kept for the answer")] = None,
    document_id: Annotated[
        list[str] | None, typer.Option("--document-id", help="answer only from this document")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the full answer as JSON")] = False,
) -> None:
    """Answers a question from the stored documents and prints the citations."""
    from app.errors import DocragError
    from app.query.answering import Question
    from app.query.retrieval import Filters

    settings = Settings()
    container = _container(settings)
    try:
        answer = container.ask_service.ask(
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
        from app.api.ask import to_response

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
    container = _container(Settings())
    records, total = container.catalog.page(limit, offset)
    for r in records:
        typer.echo(f"{r.id}  {r.status:7}  {r.pages:4} pages  {r.chunks:5} chunks  {r.filename}")
    typer.echo(f"{total} document(s)")


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
) -> None:
    """Embeds every stored document again, from its original file, into a new collection
    and switches to it when done: after changing the embedding model or the chunking.

    Running services keep answering from the old index until the switch, then move to the
    new one (and its model) by themselves.
    """
    from app.errors import DocragError
    from app.reindexing import ReindexRunning
    from app.reindexing import reindex as run_reindex
    from ingest.catalog import DocumentRecord
    from ingest.store import EmbedderMismatch

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
        )
        return
    settings = Settings()
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
    except (DocragError, EmbedderMismatch, ReindexRunning, OSError) as e:
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


def _reindex_over_http(
    server: str, *, skip_failed: bool, keep_previous: bool, api_key: str | None
) -> None:
    import httpx

    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    try:
        with httpx.Client(base_url=server, headers=headers, timeout=60) as http:
            started = http.post(
                "/index/reindex",
                params={"skip_failed": skip_failed, "keep_previous": keep_previous},
            )
            if started.status_code != 202:
                message = started.json().get("error", {}).get("message", started.text)
                typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
                raise typer.Exit(2)
            with tqdm(unit="doc", desc="reindexing", file=sys.stderr) as bar:
                while True:
                    status = http.get("/index").json()["reindex"]
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


@cli.command("eval")
def evaluate(
    dataset_dir: Annotated[
        Path, typer.Argument(help="a dataset in BEIR layout: corpus, queries, qrels/<split>.tsv")
    ],
    split: Annotated[str, typer.Option(help="qrels split: qrels/<split>.tsv")] = "test",
    limit: Annotated[
        int | None, typer.Option(min=1, help="only the first N queries that have qrels")
    ] = None,
    output: Annotated[
        Path | None, typer.Option(help="also write the configuration and results as JSON")
    ] = None,
    mode: Annotated[
        Literal["hybrid", "dense", "lexical"] | None,
        typer.Option(help="retrieval mode (default: DOCRAG_RETRIEVAL__MODE)"),
    ] = None,
    mmr: Annotated[
        bool | None,
        typer.Option("--mmr/--no-mmr", help="MMR diversity (default: DOCRAG_RETRIEVAL__MMR)"),
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(help="where the evaluation collections live (default: DOCRAG_DATA_DIR/eval)"),
    ] = None,
    k: Annotated[int, typer.Option(min=10, help="chunks retrieved per query")] = 100,
) -> None:
    """Measures retrieval (nDCG@10, recall@10/100, MRR@10) on a BEIR-layout dataset.

    The corpus is embedded once and kept for later runs with the same model and chunking.
    """
    from app.errors import DocragError
    from app.evaluation import DatasetError, format_report
    from app.evaluation import evaluate as run_evaluation
    from ingest.store import EmbedderMismatch

    bars: dict[str, tqdm] = {}

    def progress(stage: str, done: int, total: int) -> None:
        bar = bars.get(stage)
        if bar is None:
            for other in bars.values():
                other.close()
            bar = bars[stage] = tqdm(
                total=total,
                desc=stage,
                unit="doc" if stage == "ingest" else "query",
                file=sys.stderr,
            )
        bar.update(done - bar.n)

    try:
        report = run_evaluation(
            Settings(),
            dataset_dir,
            split=split,
            limit=limit,
            k=k,
            data_dir=data_dir,
            mode=mode,
            mmr=mmr,
            progress=progress,
        )
    except (DatasetError, DocragError, EmbedderMismatch) as e:
        typer.secho(f"error: {e}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from e
    finally:
        for bar in bars.values():
            bar.close()
    typer.echo(format_report(report))
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(
            json.dumps(report.to_dict(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )
        typer.echo(f"results written to {output}")


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
    server = build_mcp_server(_container(settings))
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


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
