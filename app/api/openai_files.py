"""`/v1/files`, OpenAI-shaped, on the same catalog and pipeline as `/documents`: what the
`openai` SDK's `client.files.create/list/retrieve/content/delete` call (and Kimi's
`purpose="file-extract"` flow). A file uploaded here is a document like any other: its id is
the document id, and it answers through `/ask` and `/v1/chat/completions`."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Query, UploadFile
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field

from app.api.deps import CatalogDep, PipelineDep, SettingsDep
from app.api.documents import read_limited
from app.api.openai_errors import OpenAIErrorRoute
from app.errors import DocumentNotFound, InvalidRequest, as_docrag_error
from ingest.catalog import UNFINISHED, DocumentCatalog, DocumentRecord
from ingest.errors import DocumentNotReady
from ingest.ids import safe_filename
from parsers.errors import ParseError

router = APIRouter(prefix="/v1/files", tags=["openai-compatible"], route_class=OpenAIErrorRoute)

PURPOSES = ("file-extract", "assistants", "user_data")
Purpose = Literal["file-extract", "assistants", "user_data"]
# The purpose is kept in the document's metadata under this key (filterable in /ask).
PURPOSE_KEY = "openai_purpose"
# How far `after` looks for its file in the newest-first catalog, page by page.
_SCAN_PAGE = 1000


class FileObject(BaseModel):
    id: str = Field(description="the document id (the same in /documents and /ask)")
    object: Literal["file"] = "file"
    bytes: int = Field(description="size of the uploaded file")
    created_at: int = Field(description="upload time, Unix seconds")
    filename: str
    purpose: str = Field(description="as uploaded; user_data for files sent to /documents")
    status: Literal["uploaded", "processed", "error"] = Field(
        description="processed: ingested and answerable; uploaded: still being ingested; "
        "error: see status_details"
    )
    status_details: str | None = Field(None, description="why the ingest failed")


class FileList(BaseModel):
    object: Literal["list"] = "list"
    data: list[FileObject]
    has_more: bool
    first_id: str | None = None
    last_id: str | None = None


class FileDeleted(BaseModel):
    id: str
    object: Literal["file"] = "file"
    deleted: bool


def to_file_object(record: DocumentRecord) -> FileObject:
    if record.status == "ready":
        status: Literal["uploaded", "processed", "error"] = "processed"
    elif record.status in UNFINISHED:
        status = "uploaded"
    else:
        status = "error"
    return FileObject(
        id=record.id,
        bytes=record.size_bytes,
        created_at=int(record.created_at.timestamp()),
        filename=record.filename,
        purpose=str(record.metadata.get(PURPOSE_KEY, "user_data")),
        status=status,
        status_details=record.error if status == "error" else None,
    )


def _record(catalog: DocumentCatalog, file_id: str) -> DocumentRecord:
    record = catalog.get(file_id)
    if record is None:
        raise DocumentNotFound(file_id)
    return record


@router.post("", response_model=FileObject)
def create_file(
    settings: SettingsDep,
    pipeline: PipelineDep,
    file: Annotated[UploadFile | None, File(description="the file (PDF, text, HTML, ...)")] = None,
    purpose: Annotated[str | None, Form(description=", ".join(PURPOSES))] = None,
) -> FileObject:
    """Uploads and ingests one file; answers when it is processed (answerable)."""
    if file is None:
        raise InvalidRequest(
            "file: no file was sent; upload it as the multipart field 'file', e.g. "
            "client.files.create(file=Path('report.pdf'), purpose='file-extract')"
        )
    if purpose not in PURPOSES:
        raise InvalidRequest(
            f"purpose: {purpose!r} is not accepted here; use one of {', '.join(PURPOSES)}"
        )
    limits = settings.limits
    data = read_limited(file, limits.max_upload_bytes, limits.max_upload_mb)
    filename = safe_filename(file.filename)
    try:
        result = pipeline.ingest(data, filename, metadata={PURPOSE_KEY: purpose})
    except ParseError as exc:
        mapped = as_docrag_error(exc)
        raise (mapped or exc) from exc
    return to_file_object(result.document)


@router.get("", response_model=FileList)
def list_files(
    catalog: CatalogDep,
    limit: Annotated[int, Query(ge=1, le=10000, description="files per page")] = 10000,
    after: Annotated[
        str | None, Query(description="the last id of the previous page (cursor)")
    ] = None,
    purpose: Annotated[str | None, Query(description="only files with this purpose")] = None,
) -> FileList:
    """The files, newest first, paged with the `after` cursor the SDK follows."""
    offset = 0
    if after is not None:
        offset = _position_after(catalog, after)
    records, total = catalog.page(limit, offset)
    files = [to_file_object(r) for r in records]
    if purpose is not None:
        files = [f for f in files if f.purpose == purpose]
    return FileList(
        data=files,
        has_more=offset + len(records) < total,
        first_id=files[0].id if files else None,
        last_id=records[-1].id if records else None,
    )


def _position_after(catalog: DocumentCatalog, file_id: str) -> int:
    """The catalog offset just after `file_id`, read page by page up to it."""
    offset = 0
    while True:
        records, total = catalog.page(_SCAN_PAGE, offset)
        for i, record in enumerate(records):
            if record.id == file_id:
                return offset + i + 1
        offset += len(records)
        if not records or offset >= total:
            raise InvalidRequest(
                f"after: no file with id {file_id!r}; pass the last id of the previous page"
            )


@router.get("/{file_id}", response_model=FileObject)
def retrieve_file(file_id: str, catalog: CatalogDep) -> FileObject:
    return to_file_object(_record(catalog, file_id))


@router.get(
    "/{file_id}/content",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {}}, "description": "the extracted text"}},
)
def retrieve_file_content(file_id: str, catalog: CatalogDep) -> PlainTextResponse:
    """The extracted text (what `client.files.content(id).text` reads), pages separated by
    blank lines; OCR'd pages included. GET /documents/{id}/content has it page by page."""
    record = _record(catalog, file_id)
    if record.status != "ready":
        raise DocumentNotReady(
            f"the file {file_id!r} is {record.status}, so it has no extracted text; "
            "GET /v1/files/{id} shows its status"
        )
    pages = catalog.content(file_id, record.generation)
    if pages is None:
        raise DocumentNotFound(file_id)
    text = "\n\n".join(p.text.strip() for p in pages if p.text.strip())
    return PlainTextResponse(text, media_type="text/plain; charset=utf-8")


@router.delete("/{file_id}", response_model=FileDeleted)
def delete_file(file_id: str, pipeline: PipelineDep) -> FileDeleted:
    """Removes the file: the document, its chunks and its stored original."""
    if not pipeline.delete(file_id):
        raise DocumentNotFound(file_id)
    return FileDeleted(id=file_id, deleted=True)
