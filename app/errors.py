"""docrag's errors: each carries its HTTP status and a stable code; one handler renders them."""

from __future__ import annotations

import logging
import uuid

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from parsers import errors as parse_errors

logger = logging.getLogger(__name__)


class DocragError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.headers = headers or {}


class InvalidRequest(DocragError):
    status_code = 422
    code = "invalid_request"


class UnsupportedFileType(DocragError):
    status_code = 415
    code = "unsupported_file_type"


class FileTooLarge(DocragError):
    status_code = 413
    code = "file_too_large"


class UnprocessableDocument(DocragError):
    status_code = 422
    code = "unprocessable_document"


class DocumentNotFound(DocragError):
    status_code = 404
    code = "document_not_found"

    def __init__(self, document_id: str) -> None:
        super().__init__(
            f"no document with id {document_id!r}; GET /documents lists the stored documents"
        )


class DocumentNotReady(DocragError):
    status_code = 409
    code = "document_not_ready"


class JobNotFound(DocragError):
    status_code = 404
    code = "job_not_found"

    def __init__(self, job_id: str) -> None:
        super().__init__(f"no job with id {job_id!r}; finished jobs are kept for 7 days")


class ReindexConflict(DocragError):
    status_code = 409
    code = "reindex_running"


class Unauthorized(DocragError):
    status_code = 401
    code = "unauthorized"


class ChatModelUnavailable(DocragError):
    status_code = 503
    code = "chat_model_unavailable"


class ChatModelTimeout(DocragError):
    status_code = 504
    code = "chat_model_timeout"


class ChatModelRateLimited(DocragError):
    status_code = 429
    code = "chat_model_rate_limited"


class ChatModelError(DocragError):
    status_code = 502
    code = "chat_model_error"


class ModelNotFound(DocragError):
    status_code = 404
    code = "model_not_found"


class ChatModelInvalidJSON(ChatModelError):
    code = "chat_model_invalid_json"


class ToolsNotSupported(DocragError):
    status_code = 400
    code = "tools_not_supported"


class StoreUnavailable(DocragError):
    status_code = 503
    code = "store_unavailable"


def from_parse_error(error: parse_errors.ParseError) -> DocragError:
    """The HTTP meaning of a parser's refusal; the parser's own code and message are kept."""
    cls = (
        UnsupportedFileType
        if isinstance(error, parse_errors.UnsupportedFileType)
        else (UnprocessableDocument)
    )
    mapped = cls(str(error))
    mapped.code = error.code
    return mapped


def error_body(code: str, message: str) -> dict[str, dict[str, str]]:
    return {"error": {"code": code, "message": message}}


def _request_id(request: Request) -> str:
    return getattr(request.state, "request_id", None) or uuid.uuid4().hex


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DocragError)
    async def _docrag_error(request: Request, exc: DocragError) -> JSONResponse:
        return JSONResponse(
            error_body(exc.code, exc.message), status_code=exc.status_code, headers=exc.headers
        )

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for err in exc.errors():
            location = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query"))
            problems.append(f"{location or 'request'}: {err.get('msg', 'invalid')}")
        return JSONResponse(
            error_body("invalid_request", "; ".join(problems) or "invalid request"),
            status_code=422,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized"}
        return JSONResponse(
            error_body(codes.get(exc.status_code, "http_error"), str(exc.detail)),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        request_id = _request_id(request)
        logger.error("unexpected error (request %s)", request_id, exc_info=exc)
        return JSONResponse(
            error_body(
                "internal_error",
                f"an unexpected error occurred; quote request id {request_id} when reporting it",
            ),
            status_code=500,
            headers={"X-Request-ID": request_id},
        )
