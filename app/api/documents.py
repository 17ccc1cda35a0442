from __future__ import annotations

import json
import logging
import re
from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Response, UploadFile, status
from fastapi.responses import JSONResponse

from app.deps import ContainerDep
from app.errors import DocragError, DocumentNotFound, FileTooLarge, InvalidRequest, from_parse_error
from app.schemas import (
    DocumentContent,
    DocumentPublic,
    DocumentsPublic,
    PagePublic,
    UploadError,
    UploadResponse,
)
from ingest.catalog import DocumentRecord
from ingest.pipeline import safe_filename
from ingest.store import MetadataValue
from parsers.errors import ParseError

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/documents", tags=["documents"])

_READ_BLOCK = 1024 * 1024


def to_public(record: DocumentRecord) -> DocumentPublic:
    return DocumentPublic(
        id=record.id,
        filename=record.filename,
        media_type=record.media_type,
        size_bytes=record.size_bytes,
        sha256=record.sha256,
        pages=record.pages,
        chunks=record.chunks,
        status=record.status,
        title=record.title,
        metadata=dict(record.metadata),
        created_at=record.created_at,
    )


_METADATA_KEY = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_METADATA_HINT = (
    'send metadata as a JSON object of at most 32 keys (letters, digits, "_", "-", ".") with '
    'string, number or boolean values, e.g. {"team": "legal", "year": 2024}'
)


def parse_upload_metadata(raw: str | None) -> dict[str, MetadataValue]:
    if raw is None or not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except ValueError as e:
        raise InvalidRequest(f"metadata is not valid JSON; {_METADATA_HINT}") from e
    if not isinstance(value, dict) or len(value) > 32:
        raise InvalidRequest(f"metadata: {_METADATA_HINT}")
    for key, item in value.items():
        if not _METADATA_KEY.match(key):
            raise InvalidRequest(f"metadata key {key[:70]!r} is not allowed; {_METADATA_HINT}")
        if not isinstance(item, str | int | float | bool) or (
            isinstance(item, str) and len(item) > 1000
        ):
            raise InvalidRequest(f"metadata value of {key!r} is not allowed; {_METADATA_HINT}")
    return value


def _read_limited(upload: UploadFile, limit: int, limit_mb: float) -> bytes:
    """Reads at most `limit` bytes; a larger file is refused without reading it all."""
    parts, size = [], 0
    while block := upload.file.read(_READ_BLOCK):
        size += len(block)
        if size > limit:
            raise FileTooLarge(
                f"the file is larger than the {limit_mb:g} MiB limit; split it, or raise "
                "DOCRAG_LIMITS__MAX_UPLOAD_MB"
            )
        parts.append(block)
    return b"".join(parts)


@router.post(
    "",
    response_model=UploadResponse,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"description": "every file was already stored"}},
)
def upload_documents(
    container: ContainerDep,
    files: Annotated[list[UploadFile] | None, File(description="one or more files")] = None,
    metadata: Annotated[
        str | None,
        Form(
            description='JSON object stored on every file of this upload, e.g. {"team": "legal", '
            '"year": 2024}; filter on it in POST /ask'
        ),
    ] = None,
) -> JSONResponse:
    """Uploads files (PDF, .txt, .md, .html, .docx, .csv). Each file succeeds or fails on its
    own: `201` when at least one new document was stored, `200` when every file was already
    stored, and the status of the first error when no file could be stored."""
    limits = container.settings.limits
    if not files:
        raise InvalidRequest(
            "no files were sent: upload them as multipart form fields named 'files', "
            "e.g. curl -F files=@report.pdf http://localhost:8000/documents"
        )
    if len(files) > limits.max_files_per_request:
        raise InvalidRequest(
            f"{len(files)} files in one request; the limit is {limits.max_files_per_request}. "
            "Send them in several requests, or raise DOCRAG_LIMITS__MAX_FILES_PER_REQUEST"
        )
    user_metadata = parse_upload_metadata(metadata)
    documents: list[DocumentPublic] = []
    errors: list[UploadError] = []
    failures: list[DocragError] = []
    created = False
    for upload in files:
        filename = safe_filename(upload.filename)
        try:
            data = _read_limited(upload, limits.max_upload_bytes, limits.max_upload_mb)
            try:
                result = container.pipeline.ingest(data, filename, metadata=user_metadata)
            except ParseError as e:
                raise from_parse_error(e) from e
        except DocragError as e:
            errors.append(UploadError(filename=filename, code=e.code, message=e.message))
            failures.append(e)
            continue
        created |= result.created
        documents.append(to_public(result.document))

    body = UploadResponse(documents=documents, errors=errors).model_dump(mode="json")
    if documents:
        code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return JSONResponse(body, status_code=code)
    first = failures[0]
    body["error"] = {"code": first.code, "message": first.message}
    return JSONResponse(body, status_code=first.status_code)


@router.get("", response_model=DocumentsPublic)
def list_documents(
    container: ContainerDep,
    limit: Annotated[int, Query(ge=1, le=1000, description="documents per page")] = 50,
    offset: Annotated[int, Query(ge=0, description="documents to skip")] = 0,
) -> DocumentsPublic:
    """The catalog, newest first."""
    records, total = container.catalog.page(limit, offset)
    return DocumentsPublic(data=[to_public(r) for r in records], total=total)


def _existing_record(container: ContainerDep, document_id: str) -> DocumentRecord:
    record = container.catalog.get(document_id)
    if record is None:
        raise DocumentNotFound(document_id)
    return record


@router.get("/{document_id}", response_model=DocumentPublic)
def get_document(document_id: str, container: ContainerDep) -> DocumentPublic:
    return to_public(_existing_record(container, document_id))


@router.get("/{document_id}/content", response_model=DocumentContent)
def get_document_content(document_id: str, container: ContainerDep) -> DocumentContent:
    """The extracted text, page by page."""
    _existing_record(container, document_id)
    pages = container.catalog.content(document_id)
    if pages is None:
        raise DocumentNotFound(document_id)
    return DocumentContent(
        id=document_id, pages=[PagePublic(number=p.number, text=p.text) for p in pages]
    )


@router.delete("/{document_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_document(document_id: str, container: ContainerDep) -> Response:
    """Removes the document, its chunks and its stored file."""
    if not container.pipeline.delete(document_id):
        raise DocumentNotFound(document_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
