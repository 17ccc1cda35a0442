"""Domain <-> HTTP: requests to questions, answers, records and jobs to public schemas.
The routers, the CLI and the MCP server all use these."""

from __future__ import annotations

from dataclasses import fields
from typing import Any, Protocol

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
    StillReadingPublic,
    TimingsPublic,
    UsagePublic,
)
from app.config import Settings
from app.errors import DocumentNotFound, InvalidRequest
from app.query.answers import Answer, Citation, Question
from app.query.chat import GenerationParams, Message, Usage
from app.query.retrieval import Filters
from ingest.catalog import DocumentCatalog, DocumentRecord, still_reading
from ingest.jobs import JobRecord


class DocumentLookup(Protocol):
    """Where a question's document ids must be: one base's catalog, or several's."""

    def get_many(self, document_ids: list[str]) -> dict[str, DocumentRecord]: ...


def to_question(request: AskRequest, settings: Settings, catalog: DocumentLookup) -> Question:
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
    return CitationPublic.model_validate(c, from_attributes=True)


def to_usage(usage: Usage | None) -> UsagePublic | None:
    if usage is None:
        return None
    return UsagePublic(
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        total_tokens=usage.total_tokens,
        reasoning_tokens=usage.reasoning_tokens,
    )


# Documents being read are among the newest: this many records are looked at for them.
_READING_SCAN = 50


def documents_still_reading(
    catalog: DocumentCatalog, filters: Filters | None = None
) -> list[StillReadingPublic]:
    """The documents a question searched only in part: still being read, in its scope."""
    records, _ = catalog.page(_READING_SCAN, 0)
    wanted = set(filters.document_ids) if filters is not None else set()
    return [
        StillReadingPublic(
            document_id=r.id,
            filename=r.filename,
            answerable_pages=r.answerable_pages,
            chunks=r.chunks,
        )
        for r in records
        if still_reading(r) and (not wanted or r.id in wanted)
    ]


def to_response(
    answer: Answer,
    *,
    include_reasoning: bool = False,
    reading: list[StillReadingPublic] | None = None,
) -> AskResponse:
    """The answer as /ask returns it; the model's thinking only when the request asked;
    `reading`: the documents searched only in part."""
    return AskResponse(
        still_reading=reading or [],
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


def _failure(status: str, code: str | None, message: str | None) -> ErrorDetail | None:
    if status != "failed":
        return None
    return ErrorDetail(code=code or "ingest_failed", message=message or "")


def _fields_of(record: Any) -> dict[str, Any]:
    """A dataclass's fields by name (shallow: a metadata mapping stays as it is)."""
    return {f.name: getattr(record, f.name) for f in fields(record)}


def to_public(record: DocumentRecord) -> DocumentPublic:
    return DocumentPublic.model_validate(
        {
            **_fields_of(record),
            "error": _failure(record.status, record.error_code, record.error),
            "metadata": dict(record.metadata),
        }
    )


def job_to_public(job: JobRecord) -> JobPublic:
    return JobPublic.model_validate(
        {**_fields_of(job), "error": _failure(job.status, job.error_code, job.error)}
    )
