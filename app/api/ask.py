from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import aclosing

from fastapi import APIRouter, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from fastapi.sse import EventSourceResponse, format_sse_event

from app.api.deps import BaseNameDep, CallerDep, PartsDep, SettingsDep
from app.api.errors import error_body
from app.api.mappers import documents_still_reading, to_citation, to_question, to_response
from app.api.schemas import (
    AskRequest,
    AskResponse,
    ErrorResponse,
    StillReadingPublic,
)
from app.errors import DocragError, InvalidRequest
from app.query.answers import Finished, SourcesFound, TextDelta
from app.query.chat import ReasoningDelta
from app.query.dispatch import AnswerRequest, AnswerStream, StreamFailed

router = APIRouter(tags=["ask"])


def sse(event: str, data: object) -> bytes:
    return format_sse_event(event=event, data_str=json.dumps(data, ensure_ascii=False))


def failure_event(error: DocragError) -> bytes:
    failure: dict[str, object] = {
        **error_body(error.code, error.message),
        "status": error.status_code,
    }
    if "Retry-After" in error.headers:
        failure["retry_after"] = error.headers["Retry-After"]
    return sse("error", failure)


async def ask_events(
    stream: AnswerStream,
    include_reasoning: bool = False,
    reading: list[StillReadingPublic] | None = None,
) -> AsyncIterator[bytes]:
    """`citations`, `delta`..., `done`; a failure after the stream started is one `error`
    event, the last. With include_reasoning, the model's thinking streams as `reasoning` events
    (apart from the `delta`s, so a page can fold it away). When the client disconnects, the
    server cancels this generator, and closing the stream closes the chat model's upstream."""
    async with aclosing(stream):
        async for event in stream:
            match event:
                case SourcesFound():
                    yield sse(
                        "citations",
                        {
                            "sources": [
                                to_citation(c).model_dump(mode="json") for c in event.sources
                            ],
                            "condensed_question": event.condensed_question,
                            "mode": event.mode,
                            "model": event.model,
                            "still_reading": [r.model_dump() for r in reading or []],
                        },
                    )
                case TextDelta():
                    yield sse("delta", {"text": event.text})
                case ReasoningDelta():
                    if include_reasoning:
                        yield sse("reasoning", {"text": event.text})
                case Finished():
                    answer = to_response(
                        event.answer, include_reasoning=include_reasoning, reading=reading
                    )
                    yield sse("done", answer.model_dump(mode="json"))
                case StreamFailed():
                    yield failure_event(event.error)


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
            "answer) or `error` ({error: {code, message}, status}) when the chat model fails "
            "after its first words; a failure before them has its own status, as unstreamed",
        },
    },
)
async def ask(
    request: AskRequest,
    settings: SettingsDep,
    parts: PartsDep,
    caller: CallerDep,
    knowledge_base: BaseNameDep,
) -> Response:
    """Answers a question from the stored documents of one knowledge base (or several, with
    `knowledge_bases`), citing them as [n]; streamed with `"stream": true`."""
    generation = request.generation
    include_reasoning = bool(generation and generation.include_reasoning)
    tool_choice = agent_tool_choice(request)
    names = request.knowledge_bases or [request.knowledge_base or knowledge_base]
    libraries, catalogs, answers = await run_in_threadpool(parts.answering, caller, names)
    question = await run_in_threadpool(to_question, request, settings, catalogs)
    reading = await run_in_threadpool(
        documents_still_reading, libraries[0].catalog, question.filters
    )
    result = await answers.respond(
        AnswerRequest(question, request.mode, request.stream, tool_choice)
    )
    if isinstance(result, AnswerStream):
        return EventSourceResponse(
            ask_events(result, include_reasoning, reading),
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
    body = to_response(result, include_reasoning=include_reasoning, reading=reading)
    return JSONResponse(body.model_dump(mode="json"))
