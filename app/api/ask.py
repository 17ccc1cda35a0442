from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import aclosing

from fastapi import APIRouter, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from fastapi.sse import EventSourceResponse, format_sse_event

from app.api.deps import AskServiceDep, CatalogDep, ChatModelDep, SettingsDep
from app.api.errors import error_body
from app.api.mappers import to_citation, to_question, to_response
from app.api.schemas import (
    AskRequest,
    AskResponse,
    ErrorResponse,
)
from app.errors import DocragError, InvalidRequest
from app.query.agent import DocumentAgent
from app.query.answering import AskService
from app.query.answers import PreparedQuestion, SourcesFound, TextDelta
from app.query.chat import ReasoningDelta

logger = logging.getLogger(__name__)
router = APIRouter(tags=["ask"])


def sse(event: str, data: object) -> bytes:
    return format_sse_event(event=event, data_str=json.dumps(data, ensure_ascii=False))


async def ask_events(
    service: AskService, prepared: PreparedQuestion, include_reasoning: bool = False
) -> AsyncIterator[bytes]:
    """`citations`, `delta`..., `done`; an error after the stream started becomes an `error`
    event. With include_reasoning, the model's thinking streams as `reasoning` events (apart
    from the `delta`s, so a page can fold it away). When the client disconnects, the server
    cancels this generator, and closing it closes the chat model's stream upstream."""
    try:
        async with aclosing(service.astream(prepared)) as events:
            async for event in events:
                if isinstance(event, SourcesFound):
                    yield sse(
                        "citations",
                        {
                            "sources": [
                                to_citation(c).model_dump(mode="json") for c in event.sources
                            ],
                            "condensed_question": event.condensed_question,
                            "mode": event.mode,
                            "model": event.model,
                        },
                    )
                elif isinstance(event, TextDelta):
                    yield sse("delta", {"text": event.text})
                elif isinstance(event, ReasoningDelta):
                    if include_reasoning:
                        yield sse("reasoning", {"text": event.text})
                else:
                    answer = to_response(event.answer, include_reasoning=include_reasoning)
                    yield sse("done", answer.model_dump(mode="json"))
    except DocragError as exc:
        failure: dict[str, object] = {
            **error_body(exc.code, exc.message),
            "status": exc.status_code,
        }
        if "Retry-After" in exc.headers:
            failure["retry_after"] = exc.headers["Retry-After"]
        yield sse("error", failure)
    except Exception:
        logger.exception("unexpected error while streaming an answer")
        yield sse(
            "error",
            {**error_body("internal_error", "an unexpected error occurred"), "status": 500},
        )


def agent_tool_choice(request: AskRequest) -> str | None:
    """generation.tool_choice as the agent loop takes it: none, auto, required or a name."""
    generation = request.generation
    choice = generation.tool_choice if generation is not None else None
    if request.mode != "agent":
        if choice is not None:
            raise InvalidRequest(
                'generation.tool_choice: tools are used only with "mode": "agent"; add it, or '
                "remove tool_choice"
            )
        return None
    if generation is not None and generation.prefill:
        raise InvalidRequest(
            'generation.prefill: not available with "mode": "agent" (the model answers after '
            "its searches); remove it, or use the default mode"
        )
    if choice is None or isinstance(choice, str):
        return choice
    return choice.function.name


@router.post(
    "/ask",
    response_model=AskResponse,
    responses={
        400: {"model": ErrorResponse, "description": "agent mode without tool calling"},
        404: {"model": ErrorResponse, "description": "a document id in the filter is unknown"},
        429: {"model": ErrorResponse, "description": "the chat model is rate-limiting"},
        502: {"model": ErrorResponse, "description": "the chat model failed"},
        503: {"model": ErrorResponse, "description": "the chat model cannot be reached"},
        504: {"model": ErrorResponse, "description": "the chat model timed out"},
        200: {
            "content": {"text/event-stream": {}},
            "description": 'with "stream": true, Server-Sent Events: `citations` (the '
            "numbered sources), `delta` (text), `reasoning` (the model's thinking, with "
            "generation.include_reasoning), then `done` (the same object as the JSON "
            "answer) or `error` ({error: {code, message}, status})",
        },
    },
)
async def ask(
    request: AskRequest,
    settings: SettingsDep,
    catalog: CatalogDep,
    service: AskServiceDep,
    chat_model: ChatModelDep,
) -> Response:
    """Answers a question from the stored documents, citing them as [n]; streamed with
    `"stream": true`."""
    generation = request.generation
    include_reasoning = bool(generation and generation.include_reasoning)
    tool_choice = agent_tool_choice(request)
    question = await run_in_threadpool(to_question, request, settings, catalog)
    if request.mode == "agent":
        agent = DocumentAgent(service, chat_model, settings.llm.agent_max_steps)
        answer = await run_in_threadpool(agent.run, question, tool_choice)
        body = to_response(answer, include_reasoning=include_reasoning)
        return JSONResponse(body.model_dump(mode="json"))
    if not request.stream:
        answer = await run_in_threadpool(service.ask, question)
        body = to_response(answer, include_reasoning=include_reasoning)
        return JSONResponse(body.model_dump(mode="json"))
    # Condensing and retrieval happen before the first byte, so their errors keep their
    # HTTP status; what fails later arrives as an `error` event.
    prepared = await run_in_threadpool(service.prepare, question)
    return EventSourceResponse(
        ask_events(service, prepared, include_reasoning),
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
