"""The index in use, and rebuilding it (`POST /index/reindex`) after a change of embedding
model or chunking, while the service keeps answering from the old one."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from app.api.deps import LibraryDep, ReindexerDep
from app.api.schemas import IndexPublic, ReindexPublic
from app.errors import ReindexConflict
from app.reindexing import ReindexStatus
from ingest.reindex import ReindexRunning

router = APIRouter(prefix="/index", tags=["index"])


def _public(status: ReindexStatus) -> ReindexPublic:
    return ReindexPublic.model_validate(status, from_attributes=True)


@router.get("", response_model=IndexPublic)
def get_index(library: LibraryDep) -> IndexPublic:
    """Which collection and model answer a knowledge base's questions, and the progress of
    its reindex."""
    return IndexPublic(
        collection=library.store.name,
        embedding_model=library.index.model,
        configured_model=library.settings.embedding.model,
        reindex_needed=library.reindex_needed,
        chunks=library.store.count(),
        reindex=_public(library.reindexer.status()),
    )


@router.post("/reindex", response_model=ReindexPublic, status_code=202)
def start_reindex(
    runner: ReindexerDep,
    response: Response,
    skip_failed: Annotated[
        bool,
        Query(description="switch even if some documents cannot be embedded again"),
    ] = False,
    keep_previous: Annotated[
        bool, Query(description="keep the old collection after the switch")
    ] = False,
) -> ReindexPublic:
    """Embeds every stored document of a knowledge base again, from its original file, with
    the configured model and chunking into a new collection, then switches to it. Questions
    are answered from the old index until then. Follow it with GET /index."""
    try:
        status = runner.start(skip_failed=skip_failed, keep_previous=keep_previous)
    except ReindexRunning as e:
        raise ReindexConflict(str(e)) from e
    response.headers["Location"] = "/index"
    return _public(status)
