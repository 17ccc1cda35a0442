"""Renders every error as `{"error": {"code", "message"}}`; anything unexpected becomes a
generic 500 with a request id, never its `repr`."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from app.errors import DocragError, as_docrag_error

logger = logging.getLogger(__name__)


def error_body(code: str, message: str) -> dict[str, dict[str, str]]:
    return {"error": {"code": code, "message": message}}


@dataclass(frozen=True, slots=True)
class RequestProblem:
    """What is wrong with a request a route could not read, and how to send it instead."""

    status: int
    code: str
    message: str
    param: str | None = None


def _example(request: Request) -> str:
    if request.url.path.rstrip("/") != "/ask":
        return ""
    return """, for example curl -H 'content-type: application/json' -d '{"question": "..."}'"""


def _is_json(content_type: str) -> bool:
    media = content_type.split(";")[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


async def describe_validation_error(
    request: Request, exc: RequestValidationError
) -> RequestProblem:
    """A request body or parameter the route could not take, in words that name the fix:
    malformed JSON with its line and column, a form or other body where JSON is expected,
    or each field that is wrong."""
    errors = exc.errors()
    content_type = request.headers.get("content-type", "")
    for err in errors:
        if err.get("type") == "json_invalid":
            body = (await request.body()).decode("utf-8", "replace")
            position = next((p for p in err.get("loc", ()) if isinstance(p, int)), len(body))
            line = body.count("\n", 0, position) + 1
            column = position - (body.rfind("\n", 0, position) + 1) + 1
            reason = (err.get("ctx") or {}).get("error") or "it cannot be parsed"
            return RequestProblem(
                422,
                "invalid_json",
                f"the request body is not valid JSON: {reason} at line {line}, column "
                f"{column} (character {position}). Send one JSON object with the header "
                f"Content-Type: application/json{_example(request)}",
            )
    whole_body = [e for e in errors if tuple(e.get("loc", ())) == ("body",)]
    if whole_body and not _is_json(content_type):
        sent = content_type.split(";")[0].strip() or "no Content-Type"
        return RequestProblem(
            415,
            "unsupported_media_type",
            f"{request.url.path} takes a JSON body, but this request sent {sent}. Send one "
            f"JSON object with the header Content-Type: application/json{_example(request)}",
        )
    if whole_body:
        return RequestProblem(
            422,
            "invalid_request",
            f"the request body must be one JSON object of fields "
            f"({whole_body[0].get('msg', 'invalid')}); see /docs for {request.url.path}",
        )
    problems, first = [], None
    for err in errors:
        location = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query"))
        first = first or location or None
        problems.append(f"{location or 'request'}: {err.get('msg', 'invalid')}")
    return RequestProblem(422, "invalid_request", "; ".join(problems) or "invalid request", first)


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route takes at this path (Starlette's Allow header names only the
    first route that matched the path)."""
    allowed = []
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] == Match.FULL for route in request.app.router.routes):
            allowed.append(method)
    return allowed


def _http_problem(
    request: Request, status: int, detail: str, headers: dict[str, str] | None
) -> tuple[str, str]:
    """The code and message of a routing error: a method the path does not take names the
    ones it does; an unknown path points at the API's documentation."""
    if status == 405:
        methods = " or ".join(_allowed_methods(request))
        return (
            "method_not_allowed",
            f"{request.method} is not allowed on {request.url.path}"
            + (f"; use {methods}" if methods else "")
            + " (see /docs)",
        )
    if status == 404 and detail == "Not Found":
        return (
            "not_found",
            f"no such route: {request.method} {request.url.path}; /docs lists the API",
        )
    codes = {404: "not_found", 401: "unauthorized"}
    return codes.get(status, "http_error"), detail


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
        problem = await describe_validation_error(request, exc)
        return JSONResponse(error_body(problem.code, problem.message), status_code=problem.status)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = getattr(exc, "headers", None)
        if exc.status_code == 405:
            headers = {**(headers or {}), "Allow": ", ".join(_allowed_methods(request))}
        return JSONResponse(
            error_body(*_http_problem(request, exc.status_code, str(exc.detail), headers)),
            status_code=exc.status_code,
            headers=headers,
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        mapped = as_docrag_error(exc)
        if mapped is not None:
            return await _docrag_error(request, mapped)
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
