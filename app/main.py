"""The FastAPI application: `create_app(settings)` builds the parts once per process."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, Request, Response
from fastapi.responses import JSONResponse

from app.api import (
    ask,
    documents,
    files,
    health,
    index,
    jobs,
    knowledge_bases,
    openai_compat,
    openai_files,
)
from app.api.deps import require_api_key
from app.api.errors import error_body, install_error_handlers
from app.api.web_page import mount_web_page
from app.builders import build_parts
from app.config import Settings
from ingest.embedding import Embedder


def create_app(settings: Settings | None = None, *, embedder: Embedder | None = None) -> FastAPI:
    """The service. Tests pass their own settings (and a shared embedder, loaded once)."""
    settings = settings or Settings()
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        parts = build_parts(settings, embedder=embedder, recover_now=False)
        app.state.parts = parts
        parts.start_background_work()
        yield
        parts.close()

    app = FastAPI(
        title="docrag",
        summary="Answers questions from your own documents, citing file and page.",
        lifespan=lifespan,
        # Served from files in the package by mount_web_page: FastAPI's own use a CDN.
        docs_url=None,
        redoc_url=None,
    )
    install_error_handlers(app)

    # Refuse an oversized body before it is read: the per-file limit applies again while reading.
    max_body = settings.limits.max_upload_bytes * settings.limits.max_files_per_request + 1_048_576

    @app.middleware("http")
    async def request_context(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        request_id = request.headers.get("x-request-id") or uuid.uuid4().hex
        request.state.request_id = request_id[:64]
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > max_body:
            return JSONResponse(
                error_body(
                    "file_too_large",
                    f"the request is larger than docrag accepts "
                    f"({settings.limits.max_upload_mb:g} MiB per file); raise "
                    "DOCRAG_LIMITS__MAX_UPLOAD_MB if you need more",
                ),
                status_code=413,
                headers={"X-Request-ID": request.state.request_id},
            )
        response = await call_next(request)
        response.headers["X-Request-ID"] = request.state.request_id
        return response

    # Every route but /health needs a valid key when keys are configured or stored; which
    # knowledge bases it may touch is checked where its parts are chosen (app/api/deps.py).
    protected = [Depends(require_api_key)]
    app.include_router(health.router)
    app.include_router(knowledge_bases.router, dependencies=protected)
    app.include_router(documents.router, dependencies=protected)
    app.include_router(files.router, dependencies=protected)
    app.include_router(jobs.router, dependencies=protected)
    app.include_router(index.router, dependencies=protected)
    app.include_router(ask.router, dependencies=protected)
    app.include_router(openai_compat.router, dependencies=protected)
    app.include_router(openai_files.router, dependencies=protected)
    mount_web_page(app)
    return app
