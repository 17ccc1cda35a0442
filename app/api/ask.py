from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import aclosing

from fastapi import APIRouter, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from fastapi.sse import EventSourceResponse, format_sse_event

from app.api.deps import ContainerDep
from app.api.schemas import (
    AgentStepPublic,
    AskRequest,
    AskResponse,
    ChoicePublic,
    CitationPublic,
    ErrorResponse,
    GenerationRequest,
    InCondition,
    SamplingRequest,
    TimingsPublic,
    UsagePublic,
)
from app.errors import DocragError, DocumentNotFound, InvalidRequest, error_body
from app.query.agent import DocumentAgent
from app.query.answering import (
    Answer,
    AskService,
    Citation,
    PreparedQuestion,
    Question,
    SourcesFound,
    TextDelta,
)
from app.query.llm import GenerationParams, Message, Usage
from app.query.retrieval import Filters

logger = logging.getLogger(__name__)
router = APIRouter(tags=["ask"])


def to_question(request: AskRequest, container: ContainerDep) -> Question:
    settings = container.settings
    if len(request.question) > settings.limits.max_question_chars:
        raise InvalidRequest(
            f"question: {len(request.question)} characters, the limit is "
            f"{settings.limits.max_question_chars}; shorten it or raise "
            "DOCRAG_LIMITS__MAX_QUESTION_CHARS"
        )
    document_ids = tuple(dict.fromkeys(request.document_ids or ()))
    if document_ids:
        known = container.catalog.get_many(list(document_ids))
        missing = [d for d in document_ids if d not in known]
        if missing:
            raise DocumentNotFound(", ".join(missing))
    gen = request.generation
    return Question(
        text=request.question.strip(),
        top_k=request.top_k or settings.retrieval.top_k,
        filters=Filters(
            document_ids=document_ids,
            filenames=tuple(request.filenames or ()),
            metadata={
                key: value.any_of if isinstance(value, InCondition) else value
                for key, value in (request.metadata or {}).items()
            },
        ),
        expand_neighbors=request.expand_neighbors,
        generation=to_generation_params(gen, container),
        history=tuple(Message(m.role, m.content) for m in request.history or ()),
    )


def to_generation_params(
    gen: SamplingRequest | None,
    container: ContainerDep,
    *,
    max_tokens: int | None = None,
) -> GenerationParams:
    if gen is None:
        return GenerationParams()
    model = gen.model if isinstance(gen, GenerationRequest) else None
    allowed = container.settings.llm.allowed_models
    if model is not None and allowed and model not in allowed:
        raise InvalidRequest(
            f"generation.model: {model!r} is not allowed here; choose one of "
            f"{', '.join(allowed)} (DOCRAG_LLM__ALLOWED_MODELS)"
        )
    return GenerationParams(
        temperature=gen.temperature,
        top_p=gen.top_p,
        max_tokens=gen.max_tokens or max_tokens,
        stop=tuple(gen.stop or ()),  # type: ignore[arg-type]
        model=model,
        presence_penalty=gen.presence_penalty,
        frequency_penalty=gen.frequency_penalty,
        seed=gen.seed,
        n=gen.n,
        json_mode=gen.response_format is not None and gen.response_format.type == "json_object",
    )


def to_citation(c: Citation) -> CitationPublic:
    return CitationPublic(
        n=c.n,
        document_id=c.document_id,
        filename=c.filename,
        page=c.page,
        page_end=c.page_end,
        heading=c.heading,
        text=c.text,
        score=c.score,
        rerank_score=c.rerank_score,
        quote=c.quote,
    )


def to_usage(usage: Usage | None) -> UsagePublic | None:
    if usage is None:
        return None
    return UsagePublic(
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        total_tokens=usage.total_tokens,
    )


def to_response(answer: Answer) -> AskResponse:
    return AskResponse(
        answer=answer.answer,
        grounded=answer.grounded,
        citations=[to_citation(c) for c in answer.citations],
        sources=[to_citation(c) for c in answer.sources],
        dropped_citations=answer.dropped_citations,
        condensed_question=answer.condensed_question,
        mode=answer.mode,
        model=answer.model,
        usage=to_usage(answer.usage),
        timings=TimingsPublic(
            retrieve_ms=answer.timings.retrieve_ms,
            rerank_ms=answer.timings.rerank_ms,
            generate_ms=answer.timings.generate_ms,
            condense_ms=answer.timings.condense_ms,
        ),
        finish_reason=answer.finish_reason,
        choices=[
            ChoicePublic(
                index=c.index,
                answer=c.answer,
                grounded=c.grounded,
                citations=[to_citation(x) for x in c.citations],
                dropped_citations=c.dropped_citations,
                finish_reason=c.finish_reason,
            )
            for c in answer.choices
        ]
        if len(answer.choices) > 1
        else None,
        steps=[
            AgentStepPublic(tool=s.tool, arguments=s.arguments, results=s.results, error=s.error)
            for s in answer.steps
        ]
        if answer.steps
        else None,
    )


def sse(event: str, data: object) -> bytes:
    return format_sse_event(event=event, data_str=json.dumps(data, ensure_ascii=False))


async def ask_events(service: AskService, prepared: PreparedQuestion) -> AsyncIterator[bytes]:
    """`citations`, `delta`..., `done`; an error after the stream started becomes an `error`
    event. When the client disconnects, the server cancels this generator, and closing it
    closes the chat model's stream upstream."""
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
                else:
                    yield sse("done", to_response(event.answer).model_dump(mode="json"))
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
            "numbered sources), `delta` (text), then `done` (the same object as the JSON "
            "answer) or `error` ({error: {code, message}, status})",
        },
    },
)
async def ask(request: AskRequest, container: ContainerDep) -> Response:
    """Answers a question from the stored documents, citing them as [n]; streamed with
    `"stream": true`."""
    question = await run_in_threadpool(to_question, request, container)
    service = container.ask_service
    if request.mode == "agent":
        agent = DocumentAgent(service, container.chat_model, container.settings.llm.agent_max_steps)
        answer = await run_in_threadpool(agent.run, question)
        return JSONResponse(to_response(answer).model_dump(mode="json"))
    if not request.stream:
        answer = await run_in_threadpool(service.ask, question)
        return JSONResponse(to_response(answer).model_dump(mode="json"))
    # Condensing and retrieval happen before the first byte, so their errors keep their
    # HTTP status; what fails later arrives as an `error` event.
    prepared = await run_in_threadpool(service.prepare, question)
    return EventSourceResponse(
        ask_events(service, prepared),
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
