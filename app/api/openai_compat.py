"""The OpenAI-compatible API: `openai.OpenAI(base_url="http://host:8000/v1")` works unchanged.

The model `docrag-rag` answers from the documents. The last user message is the question,
earlier user and assistant messages are the history; system messages are ignored, docrag's own
rules apply. An assistant message after the question is a prefill the answer starts with
(DeepSeek's `prefix` and Kimi's `partial` flags are accepted, not needed). The cited answer
is the message content; the checked citations and the sources are under the extra field
`docrag` (documented in the README's "Clients" section)."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from dataclasses import replace
from typing import Any

from fastapi import APIRouter, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from fastapi.sse import EventSourceResponse, format_sse_event
from pydantic import ValidationError

from app.api.deps import AskServiceDep, CatalogDep, ChatModelDep, SettingsDep
from app.api.mappers import to_citation, to_generation_params, to_question
from app.api.openai_errors import OpenAIErrorRoute, openai_error
from app.api.openai_schemas import (
    ChatCompletionRequest,
    ChatCompletionResponse,
    ChoiceCitations,
    CompletionChoice,
    CompletionExtras,
    CompletionMessage,
    CompletionTokensDetails,
    CompletionUsage,
    ModelPublic,
    ModelsPublic,
)
from app.api.schemas import AskRequest, ErrorResponse, TimingsPublic
from app.errors import DocragError, InvalidRequest, ModelNotFound
from app.query.agent import DocumentAgent
from app.query.answers import Answer, Finished, SourcesFound, StreamEvent, TextDelta
from app.query.chat import ReasoningDelta, Usage

RAG_MODEL = "docrag-rag"
_STARTED = int(time.time())

logger = logging.getLogger(__name__)
router = APIRouter(prefix="/v1", tags=["openai-compatible"], route_class=OpenAIErrorRoute)


@router.get("/models", response_model=ModelsPublic)
def list_models() -> ModelsPublic:
    """The models this endpoint serves: `docrag-rag` answers from the documents."""
    return ModelsPublic(data=[ModelPublic(id=RAG_MODEL, created=_STARTED, owned_by="docrag")])


def to_ask_request(request: ChatCompletionRequest) -> tuple[AskRequest, str | None]:
    """The question with its history, and the prefill (an assistant message after it)."""
    if request.model != RAG_MODEL:
        raise ModelNotFound(
            f"model: {request.model!r} is not served here; use {RAG_MODEL!r} (GET /v1/models)"
        )
    turns = [m for m in request.messages if m.role in ("user", "assistant")]
    prefill = None
    if len(turns) >= 2 and turns[-1].role == "assistant" and turns[-2].role == "user":
        prefill = turns.pop().text or None
    if not turns or turns[-1].role != "user" or not turns[-1].text.strip():
        raise InvalidRequest("messages: the last message must be the user's question")
    options = request.docrag
    try:
        return AskRequest.model_validate(
            {
                "question": turns[-1].text,
                "top_k": options.top_k if options else None,
                "document_ids": options.document_ids if options else None,
                "history": [{"role": m.role, "content": m.text} for m in turns[:-1]],
                "mode": options.mode if options else "rag",
            }
        ), prefill
    except ValidationError as exc:
        problems = "; ".join(
            f"messages ({'.'.join(str(p) for p in e['loc'])}): {e['msg']}" for e in exc.errors()
        )
        raise InvalidRequest(problems) from exc


def _extras(answer: Answer) -> CompletionExtras:
    return CompletionExtras(
        grounded=answer.grounded,
        citations=[to_citation(c) for c in answer.citations],
        dropped_citations=answer.dropped_citations,
        sources=[to_citation(c) for c in answer.sources],
        condensed_question=answer.condensed_question,
        mode=answer.mode,
        model=answer.model,
        timings=TimingsPublic(
            retrieve_ms=answer.timings.retrieve_ms,
            rerank_ms=answer.timings.rerank_ms,
            generate_ms=answer.timings.generate_ms,
            condense_ms=answer.timings.condense_ms,
        ),
    )


def to_completion_usage(usage: Usage | None) -> CompletionUsage | None:
    if usage is None:
        return None
    return CompletionUsage(
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        total_tokens=usage.total_tokens,
        completion_tokens_details=CompletionTokensDetails(reasoning_tokens=usage.reasoning_tokens)
        if usage.reasoning_tokens is not None
        else None,
    )


def to_completion(
    answer: Answer, completion_id: str, include_reasoning: bool = False
) -> ChatCompletionResponse:
    return ChatCompletionResponse(
        id=completion_id,
        created=int(time.time()),
        model=RAG_MODEL,
        choices=[
            CompletionChoice(
                index=c.index,
                message=CompletionMessage(
                    content=c.answer, reasoning_content=c.reasoning if include_reasoning else None
                ),
                finish_reason=c.finish_reason or "stop",
                docrag=ChoiceCitations(
                    grounded=c.grounded,
                    citations=[to_citation(x) for x in c.citations],
                    dropped_citations=c.dropped_citations,
                ),
            )
            for c in answer.choices
        ],
        usage=to_completion_usage(answer.usage),
        docrag=_extras(answer),
    )


def _chunk(completion_id: str, created: int, choices: list[Any], **extra: Any) -> bytes:
    body = {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": RAG_MODEL,
        "choices": choices,
        **extra,
    }
    return format_sse_event(data_str=json.dumps(body, ensure_ascii=False))


async def completion_chunks(
    first: list[StreamEvent],
    events: AsyncGenerator[StreamEvent, None],
    completion_id: str,
    include_usage: bool,
    include_reasoning: bool = False,
) -> AsyncIterator[bytes]:
    """OpenAI's chunk stream: the role (with the sources under `docrag`), content deltas
    (and `reasoning_content` deltas when asked for), a last chunk with finish_reason and the
    checked citations, the usage chunk when asked for, then `[DONE]`. An error after the
    start is a `data: {"error": ...}` line, which the openai SDK raises as an APIError."""
    created = int(time.time())

    async def remaining() -> AsyncIterator[StreamEvent]:
        for event in first:
            yield event
        async for event in events:
            yield event

    try:
        async with aclosing(events):
            async for event in remaining():
                if isinstance(event, SourcesFound):
                    sources = [to_citation(c).model_dump(mode="json") for c in event.sources]
                    yield _chunk(
                        completion_id,
                        created,
                        [{"index": 0, "delta": {"role": "assistant", "content": ""}}],
                        docrag={
                            "sources": sources,
                            "condensed_question": event.condensed_question,
                            "mode": event.mode,
                            "model": event.model,
                        },
                    )
                elif isinstance(event, TextDelta):
                    yield _chunk(
                        completion_id,
                        created,
                        [{"index": 0, "delta": {"content": event.text}, "finish_reason": None}],
                    )
                elif isinstance(event, ReasoningDelta):
                    if include_reasoning:
                        delta = {"reasoning_content": event.text}
                        yield _chunk(
                            completion_id,
                            created,
                            [{"index": 0, "delta": delta, "finish_reason": None}],
                        )
                elif isinstance(event, Finished):
                    answer = event.answer
                    extras = _extras(answer).model_dump(mode="json")
                    extras["answer"] = answer.answer  # the checked text, bad markers removed
                    yield _chunk(
                        completion_id,
                        created,
                        [
                            {
                                "index": 0,
                                "delta": {},
                                "finish_reason": answer.finish_reason or "stop",
                            }
                        ],
                        docrag=extras,
                    )
                    if include_usage:
                        usage = to_completion_usage(answer.usage)
                        yield _chunk(
                            completion_id,
                            created,
                            [],
                            usage=usage.model_dump(exclude_none=True) if usage else None,
                        )
        yield format_sse_event(data_str="[DONE]")
    except DocragError as exc:
        body = {**openai_error(exc.status_code, exc.code, exc.message), "status": exc.status_code}
        yield format_sse_event(data_str=json.dumps(body))
    except Exception:
        logger.exception("unexpected error while streaming a chat completion")
        error = {"message": "an unexpected error occurred", "type": "internal_error"}
        yield format_sse_event(data_str=json.dumps({"error": error, "status": 500}))


@router.post(
    "/chat/completions",
    response_model=ChatCompletionResponse,
    responses={
        404: {"model": ErrorResponse, "description": "the model is not docrag-rag"},
        429: {"model": ErrorResponse, "description": "the chat model is rate-limiting"},
        502: {"model": ErrorResponse, "description": "the chat model failed"},
        503: {"model": ErrorResponse, "description": "the chat model cannot be reached"},
        504: {"model": ErrorResponse, "description": "the chat model timed out"},
        200: {"content": {"text/event-stream": {}}, "description": "with stream: chunks"},
    },
)
async def chat_completions(
    request: ChatCompletionRequest,
    settings: SettingsDep,
    catalog: CatalogDep,
    service: AskServiceDep,
    chat_model: ChatModelDep,
) -> Response:
    """An OpenAI chat completion answered from the documents (model `docrag-rag`)."""
    ask_request, prefill = to_ask_request(request)
    question = await run_in_threadpool(to_question, ask_request, settings, catalog)
    question = replace(
        question,
        generation=to_generation_params(
            request,
            settings,
            max_tokens=request.max_completion_tokens,
            prefix="",
            thinking=request.thinking,
            prefill=prefill,
        ),
    )
    completion_id = f"chatcmpl-{uuid.uuid4().hex}"
    reasoning = request.include_reasoning
    if ask_request.mode == "agent":
        if prefill:
            raise InvalidRequest("messages: a prefill is not available with docrag.mode agent")
        choice = request.tool_choice
        tool_choice = choice if choice is None or isinstance(choice, str) else choice.function.name
        agent = DocumentAgent(service, chat_model, settings.llm.agent_max_steps)
        answer = await run_in_threadpool(agent.run, question, tool_choice)
        return JSONResponse(to_completion(answer, completion_id, reasoning).model_dump(mode="json"))
    if not request.stream:
        answer = await run_in_threadpool(service.ask, question)
        return JSONResponse(to_completion(answer, completion_id, reasoning).model_dump(mode="json"))

    prepared = await run_in_threadpool(service.prepare, question)
    events = service.astream(prepared)
    # Read up to the first text before answering, so that a chat model that cannot be
    # reached, refuses or rate-limits still gets its HTTP status (and the SDK's retries).
    first: list[StreamEvent] = []
    try:
        async for event in events:
            first.append(event)
            if not isinstance(event, SourcesFound):
                break
    except BaseException:
        await events.aclose()
        raise
    include_usage = bool(request.stream_options and request.stream_options.include_usage)
    return EventSourceResponse(
        completion_chunks(first, events, completion_id, include_usage, reasoning),
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
