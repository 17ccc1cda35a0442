"""Domain <-> HTTP: requests to questions, answers, records and jobs to public schemas.
The routers, the CLI and the MCP server all use these."""

from __future__ import annotations

from app.api.schemas import (
    AgentStepPublic,
    AskRequest,
    AskResponse,
    ChoicePublic,
    CitationPublic,
    DocumentPublic,
    ErrorDetail,
    GenerationRequest,
    InCondition,
    JobPublic,
    SamplingRequest,
    TimingsPublic,
    UsagePublic,
)
from app.config import Settings
from app.errors import DocumentNotFound, InvalidRequest
from app.query.answers import Answer, Citation, Question
from app.query.chat import GenerationParams, Message, Usage
from app.query.retrieval import Filters
from ingest.catalog import DocumentCatalog, DocumentRecord
from ingest.jobs import JobRecord


def to_question(request: AskRequest, settings: Settings, catalog: DocumentCatalog) -> Question:
    if len(request.question) > settings.limits.max_question_chars:
        raise InvalidRequest(
            f"question: {len(request.question)} characters, the limit is "
            f"{settings.limits.max_question_chars}; shorten it or raise "
            "DOCRAG_LIMITS__MAX_QUESTION_CHARS"
        )
    document_ids = tuple(dict.fromkeys(request.document_ids or ()))
    if document_ids:
        known = catalog.get_many(list(document_ids))
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
        generation=to_generation_params(gen, settings),
        history=tuple(Message(m.role, m.content) for m in request.history or ()),
    )


# Parameters the official OpenAI API refuses, which other OpenAI-compatible servers take.
SERVER_SPECIFIC = ("top_k", "min_p", "repetition_penalty", "thinking", "prefill")


def refuse_for_openai(values: dict[str, object], settings: Settings, prefix: str) -> None:
    """A clear 422 for server-specific parameters sent to the official OpenAI API."""
    llm = settings.llm
    if not (llm.enabled and llm.is_official_openai):
        return
    given = [name for name in SERVER_SPECIFIC if values.get(name) is not None]
    if given:
        names = ", ".join(f"{prefix}{name}" for name in given)
        raise InvalidRequest(
            f"{names}: the OpenAI API ({llm.host}) does not take "
            f"{'this parameter' if len(given) == 1 else 'these parameters'}; remove "
            f"{'it' if len(given) == 1 else 'them'}, or point DOCRAG_LLM__BASE_URL at a server "
            "that does (vLLM, SGLang, LMDeploy, llama.cpp, Ollama, DeepSeek, Kimi, DashScope)"
        )


def to_generation_params(
    gen: SamplingRequest | None,
    settings: Settings,
    *,
    max_tokens: int | None = None,
    prefix: str = "generation.",
    thinking: bool | None = None,
    prefill: str | None = None,
) -> GenerationParams:
    """The request's sampling parameters; `thinking` and `prefill` are given where the
    request carries them outside `gen` (the OpenAI-compatible API)."""
    llm = settings.llm
    if isinstance(gen, GenerationRequest):
        thinking = gen.thinking if gen.thinking is not None else thinking
        prefill = gen.prefill or prefill
    values: dict[str, object] = {"thinking": thinking, "prefill": prefill}
    if gen is not None:
        values |= {name: getattr(gen, name) for name in ("top_k", "min_p", "repetition_penalty")}
    refuse_for_openai(values, settings, prefix)
    if thinking is None and not llm.is_official_openai:
        thinking = llm.thinking
    if gen is None:
        return GenerationParams(
            max_tokens=max_tokens,
            thinking=thinking,
            prefill=prefill,
            prefill_mode=llm.resolved_prefill_mode,
        )
    model = gen.model if isinstance(gen, GenerationRequest) else None
    allowed = settings.llm.allowed_models
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
        top_k=gen.top_k,
        min_p=gen.min_p,
        repetition_penalty=gen.repetition_penalty,
        thinking=thinking,
        prefill=prefill,
        prefill_mode=llm.resolved_prefill_mode,
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
        ocr=c.ocr,
    )


def to_usage(usage: Usage | None) -> UsagePublic | None:
    if usage is None:
        return None
    return UsagePublic(
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        total_tokens=usage.total_tokens,
        reasoning_tokens=usage.reasoning_tokens,
    )


def to_response(answer: Answer, *, include_reasoning: bool = False) -> AskResponse:
    """The answer as /ask returns it; the model's thinking only when the request asked."""
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
                reasoning=c.reasoning if include_reasoning else None,
            )
            for c in answer.choices
        ]
        if len(answer.choices) > 1
        else None,
        reasoning=answer.reasoning if include_reasoning else None,
        steps=[
            AgentStepPublic(tool=s.tool, arguments=s.arguments, results=s.results, error=s.error)
            for s in answer.steps
        ]
        if answer.steps
        else None,
    )


def to_public(record: DocumentRecord) -> DocumentPublic:
    return DocumentPublic(
        id=record.id,
        filename=record.filename,
        media_type=record.media_type,
        size_bytes=record.size_bytes,
        sha256=record.sha256,
        pages=record.pages,
        chunks=record.chunks,
        status=record.status,
        progress=record.progress,
        error=(
            ErrorDetail(code=record.error_code or "ingest_failed", message=record.error or "")
            if record.status == "failed"
            else None
        ),
        title=record.title,
        metadata=dict(record.metadata),
        created_at=record.created_at,
    )


def job_to_public(job: JobRecord) -> JobPublic:
    return JobPublic(
        id=job.id,
        kind=job.kind,
        status=job.status,
        progress=job.progress,
        pages_done=job.pages_done,
        pages_total=job.pages_total,
        document_id=job.document_id,
        filename=job.filename,
        created=job.created,
        error=(
            ErrorDetail(code=job.error_code or "ingest_failed", message=job.error or "")
            if job.status == "failed"
            else None
        ),
        created_at=job.created_at,
        updated_at=job.updated_at,
    )
