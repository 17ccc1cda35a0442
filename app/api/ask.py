from __future__ import annotations

from fastapi import APIRouter

from app.answering import Answer, Question
from app.deps import ContainerDep
from app.errors import DocumentNotFound, InvalidRequest
from app.llm import GenerationParams
from app.retrieval import Filters
from app.schemas import (
    AskRequest,
    AskResponse,
    CitationPublic,
    ErrorResponse,
    TimingsPublic,
    UsagePublic,
)

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
        filters=Filters(document_ids=document_ids),
        generation=GenerationParams(
            temperature=gen.temperature,
            top_p=gen.top_p,
            max_tokens=gen.max_tokens,
            stop=tuple(gen.stop or ()),  # type: ignore[arg-type]
        )
        if gen
        else GenerationParams(),
    )


def to_response(answer: Answer) -> AskResponse:
    return AskResponse(
        answer=answer.answer,
        grounded=answer.grounded,
        citations=[
            CitationPublic(
                n=c.n,
                document_id=c.document_id,
                filename=c.filename,
                page=c.page,
                page_end=c.page_end,
                heading=c.heading,
                text=c.text,
                score=c.score,
                rerank_score=c.rerank_score,
            )
            for c in answer.citations
        ],
        mode=answer.mode,
        model=answer.model,
        usage=UsagePublic(
            prompt_tokens=answer.usage.prompt_tokens,
            completion_tokens=answer.usage.completion_tokens,
            total_tokens=answer.usage.total_tokens,
        )
        if answer.usage
        else None,
        timings=TimingsPublic(
            retrieve_ms=answer.timings.retrieve_ms,
            rerank_ms=answer.timings.rerank_ms,
            generate_ms=answer.timings.generate_ms,
        ),
        finish_reason=answer.finish_reason,
    )


@router.post(
    "/ask",
    response_model=AskResponse,
    responses={
        404: {"model": ErrorResponse, "description": "a document id in the filter is unknown"},
        429: {"model": ErrorResponse, "description": "the chat model is rate-limiting"},
        502: {"model": ErrorResponse, "description": "the chat model failed"},
        503: {"model": ErrorResponse, "description": "the chat model cannot be reached"},
        504: {"model": ErrorResponse, "description": "the chat model timed out"},
    },
)
def ask(request: AskRequest, container: ContainerDep) -> AskResponse:
    """Answers a question from the stored documents, citing them as [n]."""
    return to_response(container.ask_service.ask(to_question(request, container)))
