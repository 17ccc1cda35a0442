"""`docrag worker` and `docrag serve --workers N`: ingestion and answering past one process."""

from __future__ import annotations

from typing import Annotated

import typer
from pydantic import ValidationError

from app.cli.common import cli
from app.config import Settings

_EMBEDDED_ONE_PROCESS = (
    "embedded Chroma belongs to one process: several API processes (or workers) need a Chroma "
    "server that they all share. Start one (`chroma run --path ./chroma`, or the `chroma` "
    "service of docker-compose.yml) and set DOCRAG_CHROMA__HOST (and DOCRAG_CHROMA__PORT)"
)


def fail(message: str) -> typer.Exit:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(2)


def load_settings() -> Settings:
    """The settings from the environment; a refused one stops here with its reason."""
    try:
        return Settings()
    except ValidationError as e:
        reasons = "; ".join(str(error["msg"]).removeprefix("Value error, ") for error in e.errors())
        raise fail(reasons) from e


def serve_processes(settings: Settings, workers: int, host: str, port: int) -> None:
    """Several API processes on one port (uvicorn's workers), each building its own parts and
    following the others' writes through the Chroma server and its change feed."""
    import uvicorn

    from app.builders import build_ocr_options
    from parsers.ocr.engine import OcrUnavailable

    if not settings.chroma.host:
        raise fail(f"--workers {workers}: {_EMBEDDED_ONE_PROCESS}")
    try:
        build_ocr_options(settings)
    except OcrUnavailable as e:
        raise fail(str(e)) from e
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        workers=workers,
        host=host,
        port=port,
        log_level=settings.log_level.lower(),
    )


@cli.command()
def worker(
    concurrency: Annotated[
        int | None,
        typer.Option(min=1, help="documents ingested at once (DOCRAG_QUEUE__CONCURRENCY)"),
    ] = None,
) -> None:
    """Ingests queued uploads: a Celery worker on the broker DOCRAG_QUEUE__BROKER_URL, writing
    to the Chroma server DOCRAG_CHROMA__HOST. Start as many as you like, on any machine."""
    from app.broker import QueueUnavailable, connect_redis
    from ingest.embedding import embedding_model_problem

    settings = load_settings()
    if not settings.queue.broker_url:
        raise fail(
            "docrag worker needs a broker: set DOCRAG_QUEUE__BROKER_URL=redis://host:6379/0, "
            "the same for the API and every worker"
        )
    problem = embedding_model_problem(settings.embedding.model)
    if problem is not None:
        raise fail(problem)
    try:
        connect_redis(settings.queue).ping()
    except QueueUnavailable as e:
        raise fail(str(e)) from e
    except Exception as e:  # the Redis client's connection errors
        raise fail(f"cannot reach the broker {settings.queue.broker_url}: {e}") from e
    from app.worker import run_worker

    run_worker(settings, concurrency)
