from __future__ import annotations

import json
import logging
import re
from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Response, UploadFile, status
from fastapi.responses import JSONResponse

from app.api.deps import CatalogDep, IndexDep, JobsDep, PipelineDep, SettingsDep
from app.api.mappers import job_to_public, to_public
from app.api.schemas import (
    DocumentContent,
    DocumentPatch,
    DocumentPublic,
    DocumentsPublic,
    JobPublic,
    PagePublic,
    UploadError,
    UploadResponse,
)
from app.errors import DocragError, DocumentNotFound, FileTooLarge, InvalidRequest, as_docrag_error
from ingest import errors as ingest_errors
from ingest.catalog import DocumentCatalog, DocumentRecord
from ingest.ids import safe_filename
from ingest.renaming import rename_document
from ingest.store import MetadataValue
from parsers.errors import ParseError

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/documents", tags=["documents"])

_READ_BLOCK = 1024 * 1024
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
    return checked_metadata(value)


def checked_metadata(value: object) -> dict[str, MetadataValue]:
    """Metadata as docrag stores it, or `InvalidRequest` saying what is wrong."""
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


def read_limited(upload: UploadFile, limit: int, limit_mb: float) -> bytes:
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
    settings: SettingsDep,
    pipeline: PipelineDep,
    background: JobsDep,
    files: Annotated[list[UploadFile] | None, File(description="one or more files")] = None,
    metadata: Annotated[
        str | None,
        Form(
            description='JSON object stored on every file of this upload, e.g. {"team": "legal", '
            '"year": 2024}; filter on it in POST /ask'
        ),
    ] = None,
    wait: Annotated[
        bool,
        Query(
            description="true: answer when every file is ingested; false: answer 202 at once "
            "with one job per file (GET /jobs/{id})"
        ),
    ] = True,
) -> JSONResponse:
    """Uploads files (PDF, .txt, .md, .html, .docx, .csv). Each file succeeds or fails on its
    own: `201` when at least one new document was stored, `200` when every file was already
    stored, and the status of the first error when no file could be stored. With
    `wait=false`: `202` and one background job per file."""
    limits = settings.limits
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
    jobs: list[JobPublic] = []
    errors: list[UploadError] = []
    failures: list[DocragError] = []
    created = False
    for upload in files:
        filename = safe_filename(upload.filename)
        try:
            data = read_limited(upload, limits.max_upload_bytes, limits.max_upload_mb)
            if not wait:
                jobs.append(job_to_public(background.submit(data, filename, user_metadata)))
                continue
            try:
                result = pipeline.ingest(data, filename, metadata=user_metadata)
            except ParseError as e:
                raise _http_error(e) from e
        except DocragError as e:
            errors.append(UploadError(filename=filename, code=e.code, message=e.message))
            failures.append(e)
            continue
        created |= result.created
        documents.append(to_public(result.document))

    body = UploadResponse(documents=documents, errors=errors, jobs=jobs).model_dump(mode="json")
    if jobs:
        return JSONResponse(body, status_code=status.HTTP_202_ACCEPTED)
    if documents:
        code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return JSONResponse(body, status_code=code)
    first = failures[0]
    body["error"] = {"code": first.code, "message": first.message}
    return JSONResponse(body, status_code=first.status_code)


def _http_error(error: Exception) -> DocragError:
    mapped = as_docrag_error(error)
    assert mapped is not None, error  # only called with errors the table knows
    return mapped


@router.put(
    "/{document_id}",
    response_model=None,
    responses={
        200: {"model": DocumentPublic, "description": "replaced (wait=true)"},
        202: {"model": JobPublic, "description": "replace queued (wait=false)"},
        404: {"description": "no such document"},
        409: {"description": "the document is still being ingested, or failed"},
    },
)
def replace_document(
    document_id: str,
    settings: SettingsDep,
    pipeline: PipelineDep,
    background: JobsDep,
    file: Annotated[UploadFile, File(description="the new version of the document")],
    metadata: Annotated[
        str | None,
        Form(description="JSON object replacing the document's metadata; omit to keep it"),
    ] = None,
    wait: Annotated[
        bool,
        Query(description="false: answer 202 at once with a job (GET /jobs/{id})"),
    ] = True,
) -> JSONResponse:
    """Replaces a document's content; the id stays. Questions see the old version until the
    new one is completely stored, then only the new one: never a mix of the two."""
    limits = settings.limits
    filename = safe_filename(file.filename)
    data = read_limited(file, limits.max_upload_bytes, limits.max_upload_mb)
    new_metadata = parse_upload_metadata(metadata) if metadata is not None else None
    try:
        if not wait:
            job = background.submit_replace(document_id, data, filename, new_metadata)
            return JSONResponse(
                job_to_public(job).model_dump(mode="json"), status_code=status.HTTP_202_ACCEPTED
            )
        result = pipeline.replace(document_id, data, filename, metadata=new_metadata)
    except ingest_errors.DocumentMissing as e:
        raise DocumentNotFound(document_id) from e
    except (ingest_errors.DocumentNotReady, ParseError) as e:
        raise _http_error(e) from e
    return JSONResponse(to_public(result.document).model_dump(mode="json"))


@router.patch(
    "/{document_id}",
    response_model=DocumentPublic,
    responses={
        404: {"description": "no such document"},
        409: {"description": "the document is still being ingested, or failed"},
        422: {"description": "the file name or metadata is not valid"},
    },
)
def rename_document_route(
    document_id: str, change: DocumentPatch, pipeline: PipelineDep, index: IndexDep
) -> DocumentPublic:
    """Renames a document (and, with `metadata`, replaces its metadata) without reading or
    embedding it again: citations and filters use the new name from the next question on."""
    metadata = checked_metadata(change.metadata) if change.metadata is not None else None
    try:
        record = rename_document(
            pipeline, index.store, document_id, change.filename, metadata=metadata
        )
    except ingest_errors.DocumentMissing as e:
        raise DocumentNotFound(document_id) from e
    except ingest_errors.DocumentNotReady as e:
        raise _http_error(e) from e
    return to_public(record)


@router.get("", response_model=DocumentsPublic)
def list_documents(
    catalog: CatalogDep,
    limit: Annotated[int, Query(ge=1, le=1000, description="documents per page")] = 50,
    offset: Annotated[int, Query(ge=0, description="documents to skip")] = 0,
) -> DocumentsPublic:
    """The catalog, newest first."""
    records, total = catalog.page(limit, offset)
    return DocumentsPublic(data=[to_public(r) for r in records], total=total)


def _existing_record(catalog: DocumentCatalog, document_id: str) -> DocumentRecord:
    record = catalog.get(document_id)
    if record is None:
        raise DocumentNotFound(document_id)
    return record


@router.get("/{document_id}", response_model=DocumentPublic)
def get_document(document_id: str, catalog: CatalogDep) -> DocumentPublic:
    return to_public(_existing_record(catalog, document_id))


@router.get("/{document_id}/content", response_model=DocumentContent)
def get_document_content(document_id: str, catalog: CatalogDep) -> DocumentContent:
    """The extracted text, page by page."""
    record = _existing_record(catalog, document_id)
    pages = catalog.content(document_id, record.generation)
    if pages is None:
        raise DocumentNotFound(document_id)
    return DocumentContent(
        id=document_id,
        pages=[PagePublic(number=p.number, text=p.text, ocr=p.ocr) for p in pages],
    )


@router.delete("/{document_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_document(document_id: str, pipeline: PipelineDep) -> Response:
    """Removes the document, its chunks and its stored file."""
    if not pipeline.delete(document_id):
        raise DocumentNotFound(document_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
