"""What routes declare in their signatures: one `Annotated` alias per part. A request's
knowledge base is chosen here, once, and its key's scope checked here, so no route can
forget it: every part a route receives belongs to a base the key may use. The parts bound to
a base's active index come from one snapshot per request (FastAPI caches a dependency within
a request), so a request never mixes two indexes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.access import Caller
from app.config import Settings
from app.errors import Forbidden
from app.library import IndexParts, Library
from app.parts import Parts
from app.query.dispatch import AnswerDispatch
from app.reindexing import ReindexRunner
from ingest.catalog import DocumentCatalog
from ingest.errors import StoreUnavailable
from ingest.files import StoredFiles
from ingest.ids import DEFAULT_KNOWLEDGE_BASE
from ingest.jobs import IngestJobs
from ingest.pipeline import IngestPipeline

# Declared so that the OpenAPI document (and /docs) shows the bearer scheme.
_bearer = HTTPBearer(auto_error=False)


def _parts(request: Request) -> Parts:
    parts: Parts = request.app.state.parts
    return parts


PartsDep = Annotated[Parts, Depends(_parts)]


def _caller(
    parts: PartsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    """Who is asking: raises `Unauthorized` when keys are required and this one is not one."""
    return parts.keys.caller(
        f"Bearer {credentials.credentials}" if credentials is not None else None
    )


CallerDep = Annotated[Caller, Depends(_caller)]


def require_api_key(caller: CallerDep) -> None:
    """Mounted on every router but /health: a request without a valid key goes no further."""


def require_admin_of_all(caller: CallerDep) -> Caller:
    if not caller.manages_all:
        raise Forbidden(
            "this needs an admin key for every knowledge base (one from DOCRAG_AUTH__API_KEYS, "
            "or made with docrag keys create --knowledge-base '*' --role admin)"
        )
    return caller


async def _base_name(
    request: Request,
    knowledge_base: Annotated[
        str | None,
        Query(
            description="the knowledge base (default: `default`); uploads may send it as a "
            "form field instead",
            max_length=48,
        ),
    ] = None,
) -> str:
    if knowledge_base is None:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
            value = (await request.form()).get("knowledge_base")  # read once, cached
            knowledge_base = value if isinstance(value, str) and value else None
    return knowledge_base or DEFAULT_KNOWLEDGE_BASE


BaseNameDep = Annotated[str, Depends(_base_name)]


def _reading(parts: PartsDep, caller: CallerDep, name: BaseNameDep) -> Library:
    return parts.library_for(caller, name, "read")


def _writing(parts: PartsDep, caller: CallerDep, name: BaseNameDep) -> Library:
    return parts.library_for(caller, name, "write")


def _administering(parts: PartsDep, caller: CallerDep, name: BaseNameDep) -> Library:
    return parts.library_for(caller, name, "admin")


LibraryDep = Annotated[Library, Depends(_reading)]
WritableLibraryDep = Annotated[Library, Depends(_writing)]
AdminLibraryDep = Annotated[Library, Depends(_administering)]


def _index_parts(library: LibraryDep) -> IndexParts:
    return library.current


def _settings(parts: PartsDep) -> Settings:
    return parts.settings


def _catalog(library: LibraryDep) -> DocumentCatalog:
    return library.catalog


def _files(library: LibraryDep) -> StoredFiles:
    return library.files


def _jobs(library: LibraryDep) -> IngestJobs:
    if library.jobs is None:
        raise StoreUnavailable("background ingestion is not running in this process")
    return library.jobs


def _pipeline(library: WritableLibraryDep) -> IngestPipeline:
    return library.current.pipeline


def _answers(index: Annotated[IndexParts, Depends(_index_parts)]) -> AnswerDispatch:
    return index.answers


def _reindexer(library: AdminLibraryDep) -> ReindexRunner:
    return library.reindexer


IndexDep = Annotated[IndexParts, Depends(_index_parts)]
SettingsDep = Annotated[Settings, Depends(_settings)]
CatalogDep = Annotated[DocumentCatalog, Depends(_catalog)]
FilesDep = Annotated[StoredFiles, Depends(_files)]
JobsDep = Annotated[IngestJobs, Depends(_jobs)]
PipelineDep = Annotated[IngestPipeline, Depends(_pipeline)]
AnswersDep = Annotated[AnswerDispatch, Depends(_answers)]
ReindexerDep = Annotated[ReindexRunner, Depends(_reindexer)]
