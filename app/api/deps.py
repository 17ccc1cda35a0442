"""What routes declare in their signatures: one `Annotated` alias per part. The parts bound
to the active index come from one snapshot per request (FastAPI caches a dependency within a
request), so a request never mixes two indexes."""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import SecretStr

from app.config import Settings
from app.errors import Unauthorized
from app.parts import IndexParts, Parts
from app.query.dispatch import AnswerDispatch
from app.reindexing import ReindexRunner
from ingest.catalog import DocumentCatalog
from ingest.errors import StoreUnavailable
from ingest.jobs import IngestJobs
from ingest.pipeline import IngestPipeline


def _parts(request: Request) -> Parts:
    parts: Parts = request.app.state.parts
    return parts


def follow_index(request: Request) -> None:
    """The one step that follows a reindex: a running service switches to the index
    `docrag reindex` made active. Mounted before every router's own dependencies."""
    _parts(request).follow_index()


def _index_parts(request: Request) -> IndexParts:
    return _parts(request).current


def _settings(request: Request) -> Settings:
    return _parts(request).settings


def _catalog(request: Request) -> DocumentCatalog:
    return _parts(request).catalog


def _jobs(request: Request) -> IngestJobs:
    jobs = _parts(request).jobs
    if jobs is None:
        raise StoreUnavailable("background ingestion is not running in this process")
    return jobs


def _pipeline(index: Annotated[IndexParts, Depends(_index_parts)]) -> IngestPipeline:
    return index.pipeline


def _answers(index: Annotated[IndexParts, Depends(_index_parts)]) -> AnswerDispatch:
    return index.answers


def _reindexer(request: Request) -> ReindexRunner:
    runner: ReindexRunner = request.app.state.reindexer
    return runner


PartsDep = Annotated[Parts, Depends(_parts)]  # for /health and /index, which describe them all
IndexDep = Annotated[IndexParts, Depends(_index_parts)]
SettingsDep = Annotated[Settings, Depends(_settings)]
CatalogDep = Annotated[DocumentCatalog, Depends(_catalog)]
JobsDep = Annotated[IngestJobs, Depends(_jobs)]
PipelineDep = Annotated[IngestPipeline, Depends(_pipeline)]
AnswersDep = Annotated[AnswerDispatch, Depends(_answers)]
ReindexerDep = Annotated[ReindexRunner, Depends(_reindexer)]

# Declared so that the OpenAPI document (and /docs) shows the bearer scheme.
_bearer = HTTPBearer(auto_error=False)


def api_key_problem(keys: Sequence[SecretStr], authorization: str | None) -> str | None:
    """Why a request's Authorization header does not pass (None when it does, or when no
    keys are configured). Every key is compared in constant time, so the time taken does not
    tell which prefix matched."""
    if not keys:
        return None
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return "this docrag requires an API key: send the header 'Authorization: Bearer <key>'"
    given = token.strip().encode()
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(given, key.get_secret_value().encode())
    return None if matched else "the API key is not valid"


def require_api_key(
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    problem = api_key_problem(
        settings.auth.api_keys,
        f"Bearer {credentials.credentials}" if credentials is not None else None,
    )
    if problem is not None:
        raise Unauthorized(problem, headers={"WWW-Authenticate": "Bearer"})
