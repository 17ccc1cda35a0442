"""docrag's errors: each carries its HTTP status and a stable code. The layers below raise
their own errors (parsers' `ParseError`, the ingest and store errors); `LOWER_LAYER_ERRORS` is
the one table that gives those an HTTP meaning. No web framework is imported here, so the CLI
and the MCP server share it."""

from __future__ import annotations

from ingest.errors import DocumentNotReady, StoreUnavailable
from parsers import errors as parse_errors
from parsers.ocr.engine import OcrUnavailable


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


class FileTooLarge(DocragError):
    status_code = 413
    code = "file_too_large"


class DocumentNotFound(DocragError):
    status_code = 404
    code = "document_not_found"

    def __init__(self, document_id: str) -> None:
        super().__init__(
            f"no document with id {document_id!r}; GET /documents lists the stored documents"
        )


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


class LowerLayerError(DocragError):
    """An error raised below app/, with the status and code the table gives it."""


# Most specific first: the first matching class decides.
LOWER_LAYER_ERRORS: tuple[tuple[type[Exception], int, str], ...] = (
    (parse_errors.UnsupportedFileType, 415, "unsupported_file_type"),
    (parse_errors.ParseError, 422, "unprocessable_document"),
    (DocumentNotReady, 409, "document_not_ready"),
    (StoreUnavailable, 503, "store_unavailable"),
    (OcrUnavailable, 503, "ocr_unavailable"),
)


def as_docrag_error(error: Exception) -> DocragError | None:
    """The HTTP meaning of an error from a lower layer, or None when it has none (a bug).
    A parser's own code (`encrypted_pdf`, `empty_document`, ...) is kept."""
    if isinstance(error, DocragError):
        return error
    for cls, status, code in LOWER_LAYER_ERRORS:
        if isinstance(error, cls):
            mapped = LowerLayerError(str(error))
            mapped.status_code = status
            mapped.code = getattr(error, "code", None) or code
            return mapped
    return None
