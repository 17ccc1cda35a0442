"""Errors of the OpenAI-compatible routes (/v1) in OpenAI's shape,
`{"error": {"message", "type", "code", "param"}}`, so that the `openai` SDKs raise the
exception class of the status and show the message. Anything unexpected still goes to the
app's own handler (a generic 500 with a request id)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from app.api.errors import describe_validation_error
from app.errors import DocragError, as_docrag_error

_TYPES = {
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    409: "conflict_error",
    413: "invalid_request_error",
    429: "rate_limit_error",
}


def openai_error(
    status: int, code: str, message: str, param: str | None = None
) -> dict[str, dict[str, Any]]:
    kind = _TYPES.get(status) or ("invalid_request_error" if status < 500 else "server_error")
    return {"error": {"message": message, "type": kind, "code": code, "param": param}}


class OpenAIErrorRoute(APIRoute):
    """A route whose errors (its own, its dependencies' and validation's) are OpenAI's."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                problem = await describe_validation_error(request, exc)
                return JSONResponse(
                    openai_error(problem.status, problem.code, problem.message, problem.param),
                    status_code=problem.status,
                )
            except Exception as exc:
                mapped = as_docrag_error(exc)
                if mapped is None:
                    raise
                return _rendered(mapped)

        return handle


def _rendered(error: DocragError) -> JSONResponse:
    return JSONResponse(
        openai_error(error.status_code, error.code, error.message),
        status_code=error.status_code,
        headers=error.headers,
    )
