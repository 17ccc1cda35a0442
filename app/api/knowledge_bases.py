"""Knowledge bases (`/knowledge-bases`) and the API keys that open them (`/keys`)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Response
from fastapi.concurrency import run_in_threadpool

from app.access import ALL_BASES, ApiKey, Caller
from app.api.base_schemas import (
    KeyCreate,
    KeyCreated,
    KeyPublic,
    KeysPublic,
    KnowledgeBaseCreate,
    KnowledgeBasePublic,
    KnowledgeBasesPublic,
    KnowledgeBaseUpdate,
    SyncStatusPublic,
)
from app.api.deps import CallerDep, PartsDep, SettingsDep, require_admin_of_all
from app.api.schemas import ErrorResponse
from app.config import Settings
from app.errors import DocragError, Forbidden, InvalidRequest, KeyNotFound
from app.library import Library
from app.parts import Parts
from ingest.knowledge_bases import KnowledgeBase

router = APIRouter(tags=["knowledge bases"])


class NoFolderBound(DocragError, status=409, code="no_sync_folder"):
    """A pass was asked of a base that follows no folder."""


_ERRORS: dict[int | str, dict[str, object]] = {
    403: {"model": ErrorResponse, "description": "the key lacks the role this needs"},
    404: {"model": ErrorResponse, "description": "no such base for this key"},
}


def to_public(parts: Parts, library: Library, caller: Caller) -> KnowledgeBasePublic:
    settings = library.settings
    status = parts.sync_status(library.name)
    return KnowledgeBasePublic(
        name=library.name,
        created_at=library.base.created_at,
        documents=library.catalog.count(),
        role=caller.role_on(library.name) or "read",
        profile=settings.questions.profile,
        chunk_size=settings.embedding.chunk_size,
        chunk_overlap=settings.embedding.chunk_overlap,
        model=f"docrag/{library.name}",
        sync=SyncStatusPublic.model_validate(status) if status is not None else None,
    )


def _checked_folder(settings: Settings, folder: str | None) -> str | None:
    """A folder bound through the API must lie inside one of DOCRAG_SYNC__ROOTS, so a key
    cannot make the server read any folder it can reach."""
    if folder is None:
        return None
    path = Path(folder).expanduser().resolve()
    roots = [root.expanduser().resolve() for root in settings.sync.roots]
    if not any(path == root or root in path.parents for root in roots):
        allowed = ", ".join(str(r) for r in roots) or "none are set"
        raise InvalidRequest(
            f"sync_folder: {folder!r} is not inside a folder the server allows "
            f"(DOCRAG_SYNC__ROOTS: {allowed}); add its parent there, or sync with "
            "`docrag sync DIR --knowledge-base NAME`"
        )
    if not path.is_dir():
        raise InvalidRequest(f"sync_folder: {folder!r} is not a folder on the server")
    return str(path)


def _check_chunking(settings: Settings, size: int | None, overlap: int | None) -> None:
    size = size if size is not None else settings.embedding.chunk_size
    overlap = overlap if overlap is not None else settings.embedding.chunk_overlap
    if overlap >= size:
        raise InvalidRequest(f"chunk_overlap ({overlap}) must be smaller than chunk_size ({size})")


@router.get("/knowledge-bases", response_model=KnowledgeBasesPublic)
def list_knowledge_bases(parts: PartsDep, caller: CallerDep) -> KnowledgeBasesPublic:
    """The knowledge bases this API key can read, with its role in each."""
    data = [to_public(parts, library, caller) for library in parts.readable_by(caller)]
    return KnowledgeBasesPublic(data=data, count=len(data))


@router.post(
    "/knowledge-bases",
    response_model=KnowledgeBasePublic,
    status_code=201,
    responses={**_ERRORS, 409: {"model": ErrorResponse, "description": "the name is taken"}},
)
async def create_knowledge_base(
    body: KnowledgeBaseCreate, parts: PartsDep, caller: CallerDep, settings: SettingsDep
) -> KnowledgeBasePublic:
    """A new, empty knowledge base (needs an admin key for every base)."""
    require_admin_of_all(caller)
    _check_chunking(settings, body.chunk_size, body.chunk_overlap)
    base = KnowledgeBase(
        name=body.name,
        profile=body.profile,
        chunk_size=body.chunk_size,
        chunk_overlap=body.chunk_overlap,
        sync_folder=_checked_folder(settings, body.sync_folder),
        watch=body.watch,
    )
    library = await run_in_threadpool(parts.create_base, base)
    return to_public(parts, library, caller)


@router.get("/knowledge-bases/{name}", response_model=KnowledgeBasePublic, responses=_ERRORS)
def get_knowledge_base(name: str, parts: PartsDep, caller: CallerDep) -> KnowledgeBasePublic:
    return to_public(parts, parts.library_for(caller, name, "read"), caller)


@router.patch("/knowledge-bases/{name}", response_model=KnowledgeBasePublic, responses=_ERRORS)
async def update_knowledge_base(
    name: str,
    body: KnowledgeBaseUpdate,
    parts: PartsDep,
    caller: CallerDep,
    settings: SettingsDep,
) -> KnowledgeBasePublic:
    """Changes what a base sets for itself. A new chunk size applies to documents added
    from now on; `POST /index/reindex?knowledge_base=NAME` applies it to the others."""
    library = parts.library_for(caller, name, "admin")
    changes = body.model_dump(exclude_unset=True)
    if "sync_folder" in changes:
        changes["sync_folder"] = _checked_folder(settings, changes["sync_folder"])
    base = library.base.updated(**changes)
    _check_chunking(settings, base.chunk_size, base.chunk_overlap)
    library = await run_in_threadpool(parts.update_base, base)
    return to_public(parts, library, caller)


@router.delete("/knowledge-bases/{name}", status_code=204, responses=_ERRORS)
async def delete_knowledge_base(name: str, parts: PartsDep, caller: CallerDep) -> Response:
    """Deletes a base with its documents, chunks, stored files, jobs and keys."""
    parts.library_for(caller, name, "admin")
    await run_in_threadpool(parts.delete_base, name)
    return Response(status_code=204)


@router.post(
    "/knowledge-bases/{name}/sync",
    response_model=SyncStatusPublic,
    status_code=202,
    responses={**_ERRORS, 409: {"model": ErrorResponse, "description": "no folder is bound"}},
)
def sync_knowledge_base(name: str, parts: PartsDep, caller: CallerDep) -> SyncStatusPublic:
    """Runs one pass over the base's folder now, in the background (a write key may): new
    files are added, changed ones replaced, deleted ones removed. The status (and each file's
    job in GET /jobs) shows its progress."""
    parts.library_for(caller, name, "write")
    if not parts.syncs.run_pass(name):
        raise NoFolderBound(
            f"knowledge base {name!r} is not bound to a folder; set sync_folder with PATCH "
            f"/knowledge-bases/{name}, or sync a folder with `docrag sync DIR --knowledge-base "
            f"{name}`"
        )
    status = parts.sync_status(name)
    return SyncStatusPublic.model_validate(status)


def _key_public(key: ApiKey) -> KeyPublic:
    return KeyPublic.model_validate(key, from_attributes=True)


def _may_manage(caller: Caller, knowledge_base: str) -> bool:
    if knowledge_base == ALL_BASES:
        return caller.manages_all
    return caller.can(knowledge_base, "admin")


@router.get("/keys", response_model=KeysPublic, responses=_ERRORS)
def list_keys(parts: PartsDep, caller: CallerDep) -> KeysPublic:
    """The keys this admin key manages (never their secrets)."""
    if caller.role != "admin":
        raise Forbidden("listing keys needs an admin key")
    keys = [_key_public(k) for k in parts.keys.all() if _may_manage(caller, k.knowledge_base)]
    return KeysPublic(data=keys, count=len(keys))


@router.post("/keys", response_model=KeyCreated, status_code=201, responses=_ERRORS)
def create_key(body: KeyCreate, parts: PartsDep, caller: CallerDep) -> KeyCreated:
    """A new key for one base (or '*', every base); its secret is in this answer only."""
    if body.knowledge_base != ALL_BASES:
        parts.library_for(caller, body.knowledge_base, "admin")  # exists, and is the caller's
    elif not caller.manages_all:
        raise Forbidden("a key for every knowledge base needs an admin key for every base")
    key, secret = parts.keys.create(body.knowledge_base, body.role, body.label)
    return KeyCreated(**_key_public(key).model_dump(), key=secret)


@router.delete("/keys/{key_id}", status_code=204, responses=_ERRORS)
def revoke_key(key_id: str, parts: PartsDep, caller: CallerDep) -> Response:
    """Revokes a key by its id; every process stops accepting it within seconds."""
    if caller.role != "admin":
        raise Forbidden("revoking keys needs an admin key")
    match = [k for k in parts.keys.all() if k.id.startswith(key_id) and len(key_id) >= 6]
    if len(match) != 1 or not _may_manage(caller, match[0].knowledge_base):
        raise KeyNotFound(
            f"no single key with id {key_id!r} that this key manages; GET /keys lists them"
        )
    parts.keys.revoke(match[0].id)
    return Response(status_code=204)
