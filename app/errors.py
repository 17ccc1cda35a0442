"""docrag's errors: each carries its HTTP status and a stable code. The layers below raise
their own errors (parsers' `ParseError`, the ingest and store errors); `LOWER_LAYER_ERRORS` is
the one table that gives those an HTTP meaning. No web framework is imported here, so the CLI
and the MCP server share it."""

from __future__ import annotations

from ingest.errors import DocumentNotReady, StoreUnavailable
from ingest.knowledge_bases import KnowledgeBaseNameInvalid
from parsers import errors as parse_errors
from parsers.ocr.engine import OcrUnavailable


class DocragError(Exception):
    """An error a user can act on. A subclass names its HTTP status and stable code in its
    class line: `class FileTooLarge(DocragError, status=413, code="file_too_large")`."""

    status_code = 400
    code = "bad_request"

    def __init_subclass__(cls, *, status: int | None = None, code: str | None = None) -> None:
        super().__init_subclass__()
        if status is not None:
            cls.status_code = status
        if code is not None:
            cls.code = code

    def __init__(self, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.headers = headers or {}


class InvalidRequest(DocragError, status=422, code="invalid_request"):
    """A request field is wrong; the message names the field and what it accepts."""


class FileTooLarge(DocragError, status=413, code="file_too_large"):
    """An upload over DOCRAG_LIMITS__MAX_UPLOAD_MB, refused before it is read whole."""


class DocumentNotFound(DocragError, status=404, code="document_not_found"):
    def __init__(self, document_id: str) -> None:
        super().__init__(
            f"no document with id {document_id!r}; GET /documents lists the stored documents"
        )


class JobNotFound(DocragError, status=404, code="job_not_found"):
    def __init__(self, job_id: str) -> None:
        super().__init__(f"no job with id {job_id!r}; finished jobs are kept for 7 days")


class KnowledgeBaseNotFound(DocragError, status=404, code="knowledge_base_not_found"):
    """No such base, or one the API key may not see (so its existence does not leak)."""

    def __init__(self, name: str) -> None:
        super().__init__(
            f"no knowledge base named {name!r} for this API key; GET /knowledge-bases lists "
            "the ones it can read"
        )


class KnowledgeBaseExists(DocragError, status=409, code="knowledge_base_exists"):
    def __init__(self, name: str) -> None:
        super().__init__(f"a knowledge base named {name!r} exists already; choose another name")


class KeyNotFound(DocragError, status=404, code="key_not_found"):
    """No key with this id that the caller manages."""


class Forbidden(DocragError, status=403, code="forbidden"):
    """The API key may see the knowledge base but lacks the role the request needs."""


class ReindexConflict(DocragError, status=409, code="reindex_running"):
    """Another reindex of the same collections holds the lease."""


class Unauthorized(DocragError, status=401, code="unauthorized"):
    """API keys are configured and the request has none, or a wrong one."""


# The chat model's failures, as its server reported them (app/query/chat_errors.py).
class ChatModelUnavailable(DocragError, status=503, code="chat_model_unavailable"):
    """The chat server cannot be reached: not running, or a wrong DOCRAG_LLM__BASE_URL."""


class ChatModelTimeout(DocragError, status=504, code="chat_model_timeout"):
    """No answer within DOCRAG_LLM__TIMEOUT_S, or a stream that stopped in the middle."""


class ChatModelRateLimited(DocragError, status=429, code="chat_model_rate_limited"):
    """The chat server is rate-limiting; its Retry-After is passed on."""


class ChatModelError(DocragError, status=502, code="chat_model_error"):
    """The chat server refused the request or sent a reply docrag could not read."""


class ChatModelInvalidJSON(ChatModelError, code="chat_model_invalid_json"):
    """JSON mode was asked for and the reply is not the JSON object the prompt describes."""


class ModelNotFound(DocragError, status=404, code="model_not_found"):
    """/v1 was asked for a model other than docrag/<knowledge base>."""


class ToolsNotSupported(DocragError, status=400, code="tools_not_supported"):
    """Agent mode needs a chat model that can call tools."""


class InternalError(DocragError, status=500, code="internal_error"):
    """A bug, told to a client that can no longer get a status (a stream under way, an MCP
    tool): a generic message, its traceback in the log."""


class LowerLayerError(DocragError):
    """An error raised below app/, with the status and code the table gives it."""


# Most specific first: the first matching class decides.
LOWER_LAYER_ERRORS: tuple[tuple[type[Exception], int, str], ...] = (
    (parse_errors.UnsupportedFileType, 415, "unsupported_file_type"),
    (parse_errors.ParseError, 422, "unprocessable_document"),
    (DocumentNotReady, 409, "document_not_ready"),
    (KnowledgeBaseNameInvalid, 422, "invalid_knowledge_base_name"),
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
