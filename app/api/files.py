"""`GET /documents/{id}/file`: a document's stored original, for the web page's viewer."""

from __future__ import annotations

import re
from urllib.parse import quote

from fastapi import APIRouter
from fastapi.responses import FileResponse

from app.api.deps import CatalogDep, FilesDep
from app.errors import DocumentNotFound

router = APIRouter(prefix="/documents", tags=["documents"])

_UNSAFE_IN_QUOTES = re.compile(r"[^A-Za-z0-9 ._()+-]")


def inline_disposition(filename: str) -> str:
    """`inline` with the name twice: plain ASCII for old clients (anything that could end the
    quoted string or split the header replaced), and RFC 6266's UTF-8 form for the rest."""
    plain = _UNSAFE_IN_QUOTES.sub("_", filename).strip() or "document"
    return f"inline; filename=\"{plain}\"; filename*=UTF-8''{quote(filename, safe='')}"


@router.get(
    "/{document_id}/file",
    response_class=FileResponse,
    responses={
        200: {"description": "the file as uploaded", "content": {"application/octet-stream": {}}},
        404: {"description": "no such document"},
    },
)
def get_document_file(document_id: str, catalog: CatalogDep, files: FilesDep) -> FileResponse:
    """The original file as it was uploaded (the current version after a replace), with its
    content type, shown inline by a browser."""
    record = catalog.get(document_id)
    if record is None:
        raise DocumentNotFound(document_id)
    path = files.path_of(record.id, record.generation)
    if not path.is_file():
        raise DocumentNotFound(document_id)
    headers = {
        "Content-Disposition": inline_disposition(record.filename),
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, no-cache",
    }
    if record.media_type != "application/pdf":
        # An uploaded HTML page must not run scripts on docrag's origin (where the page keeps
        # its API key): the browser gives it an opaque origin with scripts off.
        headers["Content-Security-Policy"] = "sandbox"
    return FileResponse(path, media_type=record.media_type, headers=headers)
