"""docrag as an MCP server (official `mcp` SDK): the tools search_documents, ask and
list_documents, over stdio (desktop clients) or streamable HTTP. `docrag mcp` runs it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mcp.server.mcpserver import Context  # tools' signatures are read at run time

from app.access import OPEN
from app.errors import DocumentNotFound
from app.library import Library
from app.parts import Parts
from app.query.answers import Question
from app.query.dispatch import AnswerRequest, as_answer_error
from app.query.retrieval import Filters

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer
    from starlette.types import ASGIApp, Receive, Scope, Send

INSTRUCTIONS = (
    "docrag answers questions from the user's own documents (PDF, text, Markdown). Use "
    "search_documents to find passages (each with file name and page), ask for a cited answer, "
    "list_documents to see what is stored and get document ids for filters."
)


def _filters(library: Library, document_ids: list[str] | None) -> Filters:
    ids = tuple(dict.fromkeys(document_ids or ()))
    if ids:
        known = library.catalog.get_many(list(ids))
        missing = [d for d in ids if d not in known]
        if missing:
            raise DocumentNotFound(", ".join(missing))
    return Filters(document_ids=ids)


def build_mcp_server(parts: Parts) -> MCPServer:
    try:
        from mcp.server.mcpserver import MCPServer
        from mcp.server.mcpserver.exceptions import ToolError
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise ImportError("docrag mcp needs the MCP SDK: pip install mcp") from exc

    from app.api.mappers import to_response

    server: MCPServer = MCPServer("docrag", instructions=INSTRUCTIONS)
    settings = parts.settings

    def library(ctx: Context, name: str) -> Library:
        """The base a tool call may read: over HTTP, as the request's key allows (the same
        check as every HTTP route); over stdio, the local user's own."""
        request = ctx.request_context.request
        headers = getattr(request, "headers", None)
        caller = parts.keys.caller(headers.get("authorization")) if headers is not None else OPEN
        return parts.library_for(caller, name or "default", "read")

    def tool_error(exc: Exception) -> ToolError:
        """The error an HTTP face would answer, as MCP's tool error: its code and message."""
        error = as_answer_error(exc)
        return ToolError(f"{error.code} ({error.status_code}): {error.message}")

    @server.tool(
        description="Searches the stored documents for passages relevant to a query. Returns "
        "the best passages, numbered, with file name, page and similarity score; an empty "
        "list when nothing relevant is stored."
    )
    def search_documents(
        ctx: Context,
        query: str,
        top_k: int = 5,
        document_ids: list[str] | None = None,
        knowledge_base: str = "default",
    ) -> dict[str, Any]:
        try:
            base = library(ctx, knowledge_base)
            prepared = base.ask_service.prepare(
                Question(
                    text=query,
                    top_k=max(1, min(top_k, 50)),
                    filters=_filters(base, document_ids),
                )
            )
        except Exception as exc:
            raise tool_error(exc) from exc
        return {
            "results": [
                {
                    "n": s.n,
                    "document_id": s.hit.document_id,
                    "filename": s.hit.filename,
                    "page": s.hit.page_start,
                    "text": s.text,
                    "score": round(s.hit.score, 4),
                }
                for s in prepared.sources
            ]
        }

    @server.tool(
        description="Answers a question from the stored documents, citing them as [n]. Returns "
        "the answer, whether it is grounded, and the cited sources with quotes."
    )
    def ask(
        ctx: Context,
        question: str,
        top_k: int | None = None,
        document_ids: list[str] | None = None,
        history: list[dict[str, str]] | None = None,
        knowledge_base: str = "default",
    ) -> dict[str, Any]:
        from app.query.chat import Message

        if len(question) > settings.limits.max_question_chars or not question.strip():
            raise ToolError(f"question: give 1 to {settings.limits.max_question_chars} characters")
        turns = tuple(
            Message(t.get("role", "user"), t.get("content", ""))
            for t in history or ()
            if t.get("role") in ("user", "assistant")
        )
        try:
            base = library(ctx, knowledge_base)
            answer = base.answers.answer(
                AnswerRequest(
                    Question(
                        text=question.strip(),
                        top_k=max(1, min(top_k or settings.retrieval.top_k, 50)),
                        filters=_filters(base, document_ids),
                        history=turns,
                    )
                )
            )
        except Exception as exc:
            raise tool_error(exc) from exc
        body = to_response(answer).model_dump(mode="json", exclude={"sources", "choices"})
        return body

    @server.tool(description="Lists the stored documents (newest first) with their ids.")
    def list_documents(
        ctx: Context, limit: int = 50, offset: int = 0, knowledge_base: str = "default"
    ) -> dict[str, Any]:
        try:
            base = library(ctx, knowledge_base)
        except Exception as exc:
            raise tool_error(exc) from exc
        records, total = base.catalog.page(max(1, min(limit, 500)), max(0, offset))
        return {
            "total": total,
            "documents": [
                {
                    "id": r.id,
                    "filename": r.filename,
                    "pages": r.pages,
                    "chunks": r.chunks,
                    "status": r.status,
                }
                for r in records
            ],
        }

    return server


def http_app(server: MCPServer, parts: Parts, *, host: str) -> ASGIApp:
    """The streamable-HTTP app, behind docrag's API keys when any are configured or stored:
    the same keys, the same header, the same 401 as the HTTP API. Each tool call is then held
    to its key's knowledge bases."""
    from starlette.datastructures import Headers
    from starlette.responses import JSONResponse

    from app.api.errors import error_body
    from app.errors import Unauthorized

    app = server.streamable_http_app(host=host)

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            try:
                parts.keys.caller(Headers(scope=scope).get("authorization"))
            except Unauthorized as e:
                response = JSONResponse(
                    error_body(e.code, e.message), status_code=401, headers=e.headers
                )
                await response(scope, receive, send)
                return
        await app(scope, receive, send)

    return guarded
