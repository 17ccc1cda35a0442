"""The OpenAI-compatible API: `openai.OpenAI(base_url="http://host:8000/v1")` works unchanged.

The model `docrag/<name>` answers from knowledge base <name> (`docrag-rag`, from the
default). The last user message is the question, earlier user and assistant messages are the
history; system messages are ignored, docrag's own rules apply. An assistant message after the
question is a prefill the answer starts with (DeepSeek's `prefix` and Kimi's `partial` flags
are accepted, not needed). The cited answer
is the message content; the checked citations and the sources are under the extra field
`docrag` (documented in the README's "Clients" section)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import replace
from typing import Any

from fastapi import APIRouter, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from fastapi.sse import EventSourceResponse, format_sse_event
from pydantic import ValidationError

from app.api.deps import CallerDep, PartsDep, SettingsDep
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
from app.errors import InvalidRequest, ModelNotFound
from app.query.answers import Answer, Finished, SourcesFound, TextDelta
from app.query.chat import ReasoningDelta, Usage
from app.query.dispatch import AnswerRequest, AnswerStream, StreamFailed
from ingest.ids import DEFAULT_KNOWLEDGE_BASE

RAG_MODEL = "docrag-rag"  # the default knowledge base, as before knowledge bases
BASE_MODEL_PREFIX = "docrag/"  # docrag/<name>: one model per knowledge base
_STARTED = int(time.time())

router = APIRouter(prefix="/v1", tags=["openai-compatible"], route_class=OpenAIErrorRoute)


@router.get("/models", response_model=ModelsPublic)
def list_models(parts: PartsDep, caller: CallerDep) -> ModelsPublic:
    """The models this endpoint serves: `docrag/<name>` answers from knowledge base <name>,
    for every base this key can read (`docrag-rag`, not listed, still names the default)."""
    ids = [BASE_MODEL_PREFIX + library.name for library in parts.readable_by(caller)]
    return ModelsPublic(
        data=[ModelPublic(id=model, created=_STARTED, owned_by="docrag") for model in ids]
    )


def knowledge_base_of(model: str) -> str:
    """The knowledge base a model name answers from."""
    if model == RAG_MODEL:
        return DEFAULT_KNOWLEDGE_BASE
    if model.startswith(BASE_MODEL_PREFIX) and len(model) > len(BASE_MODEL_PREFIX):
        return model[len(BASE_MODEL_PREFIX) :]
    raise ModelNotFound(
        f"model: {model!r} is not served here; use 'docrag/<knowledge base>' or "
        f"{RAG_MODEL!r} (GET /v1/models lists them)"
    )


def to_ask_request(request: ChatCompletionRequest) -> tuple[AskRequest, str | None]:
    """The question with its history, and the prefill (an assistant message after it)."""
    knowledge_base_of(request.model)
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
    stream: AnswerStream, completion_id: str, include_usage: bool, include_reasoning: bool = False
) -> AsyncIterator[bytes]:
    """OpenAI's chunk stream: the role (with the sources under `docrag`), content deltas
    (and `reasoning_content` deltas when asked for), a last chunk with finish_reason and the
    checked citations, the usage chunk when asked for, then `[DONE]`. A failure after the
    start is one `data: {"error": ...}` line that ends the stream (no `[DONE]`), which the
    openai SDK raises as an APIError."""
    created = int(time.time())
    async with aclosing(stream):
        async for event in stream:
            match event:
                case SourcesFound():
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
                case TextDelta():
                    yield _chunk(
                        completion_id,
                        created,
                        [{"index": 0, "delta": {"content": event.text}, "finish_reason": None}],
                    )
                case ReasoningDelta():
                    if include_reasoning:
                        delta = {"reasoning_content": event.text}
                        yield _chunk(
                            completion_id,
                            created,
                            [{"index": 0, "delta": delta, "finish_reason": None}],
                        )
                case Finished():
                    for chunk in _closing_chunks(
                        event.answer, completion_id, created, include_usage
                    ):
                        yield chunk
                case StreamFailed():
                    error = event.error
                    body = {
                        **openai_error(error.status_code, error.code, error.message),
                        "status": error.status_code,
                    }
                    yield format_sse_event(data_str=json.dumps(body))
                    return
    yield format_sse_event(data_str="[DONE]")


def _closing_chunks(
    answer: Answer, completion_id: str, created: int, include_usage: bool
) -> list[bytes]:
    """The chunk with finish_reason and the checked answer, and the usage chunk if asked."""
    extras = _extras(answer).model_dump(mode="json")
    extras["answer"] = answer.answer  # the checked text, bad markers removed
    chunks = [
        _chunk(
            completion_id,
            created,
            [{"index": 0, "delta": {}, "finish_reason": answer.finish_reason or "stop"}],
            docrag=extras,
        )
    ]
    if include_usage:
        usage = to_completion_usage(answer.usage)
        chunks.append(
            _chunk(
                completion_id,
                created,
                [],
                usage=usage.model_dump(exclude_none=True) if usage else None,
            )
        )
    return chunks


@router.post(
    "/chat/completions",
    response_model=ChatCompletionResponse,
    responses={
        404: {"model": ErrorResponse, "description": "no such model for this key"},
        429: {"model": ErrorResponse, "description": "the chat model is rate-limiting"},
        502: {"model": ErrorResponse, "description": "the chat model failed"},
        503: {"model": ErrorResponse, "description": "the chat model cannot be reached"},
        504: {"model": ErrorResponse, "description": "the chat model timed out"},
        200: {"content": {"text/event-stream": {}}, "description": "with stream: chunks"},
    },
)
async def chat_completions(
    request: ChatCompletionRequest, settings: SettingsDep, parts: PartsDep, caller: CallerDep
) -> Response:
    """An OpenAI chat completion answered from a knowledge base's documents (model
    `docrag/<name>`; `docrag-rag` is the default base)."""
    ask_request, prefill = to_ask_request(request)
    names = [knowledge_base_of(request.model)]
    _, catalogs, answers = await run_in_threadpool(parts.answering, caller, names)
    question = await run_in_threadpool(to_question, ask_request, settings, catalogs)
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
    tool_choice = None
    if ask_request.mode == "agent":
        if prefill:
            raise InvalidRequest("messages: a prefill is not available with docrag.mode agent")
        choice = request.tool_choice
        tool_choice = choice if choice is None or isinstance(choice, str) else choice.function.name
    result = await answers.respond(
        AnswerRequest(question, ask_request.mode, request.stream, tool_choice)
    )
    completion_id = f"chatcmpl-{uuid.uuid4().hex}"
    reasoning = request.include_reasoning
    if isinstance(result, AnswerStream):
        include_usage = bool(request.stream_options and request.stream_options.include_usage)
        return EventSourceResponse(
            completion_chunks(result, completion_id, include_usage, reasoning),
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
    return JSONResponse(to_completion(result, completion_id, reasoning).model_dump(mode="json"))
