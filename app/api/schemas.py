"""Request and response models of the HTTP API (pydantic lives here, at the edge)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class ErrorDetail(BaseModel):
    code: str = Field(description="stable machine-readable error code")
    message: str = Field(description="what went wrong and how to fix it")


class ErrorResponse(BaseModel):
    error: ErrorDetail


class DocumentPublic(BaseModel):
    id: str = Field(
        description="document id, derived from the file's SHA-256; kept when the content is "
        "replaced (PUT /documents/{id})"
    )
    filename: str = Field(description="the uploaded file name (display only)")
    media_type: str = Field(description="detected type: application/pdf, text/plain, text/markdown")
    size_bytes: int
    sha256: str
    pages: int = Field(description="pages for PDFs; 0 for formats without pages")
    chunks: int = Field(description="chunks indexed for retrieval")
    status: Literal["queued", "parsing", "embedding", "pending", "ready", "failed"] = Field(
        description="queued, parsing, embedding (being ingested; invisible to questions), "
        "ready, or failed (see error)"
    )
    progress: float = Field(1.0, ge=0.0, le=1.0, description="share of the ingest done, 0..1")
    error: ErrorDetail | None = Field(None, description="why the ingest failed, when it did")
    title: str | None = Field(None, description="title from the file's metadata or first heading")
    metadata: dict[str, str | int | float | bool] = Field(
        default_factory=dict, description="metadata given at upload"
    )
    created_at: datetime


class UploadError(BaseModel):
    filename: str
    code: str
    message: str


class JobPublic(BaseModel):
    id: str = Field(description="job id, for GET /jobs/{id}")
    kind: Literal["ingest", "replace"] = Field(description="what the job does")
    status: Literal["queued", "parsing", "embedding", "ready", "failed"]
    progress: float = Field(ge=0.0, le=1.0, description="share of the work done, 0..1")
    document_id: str = Field(description="the document the job ingests or replaces")
    filename: str
    created: bool = Field(
        description="true once the job stored a new document or version; false when the same "
        "bytes were already stored"
    )
    error: ErrorDetail | None = Field(None, description="why the job failed, when it did")
    created_at: datetime
    updated_at: datetime


class UploadResponse(BaseModel):
    documents: list[DocumentPublic] = Field(description="one entry per accepted file")
    errors: list[UploadError] = Field(description="one entry per refused file")
    jobs: list[JobPublic] = Field(
        default_factory=list, description="with wait=false: one background job per accepted file"
    )


class DocumentsPublic(BaseModel):
    data: list[DocumentPublic]
    total: int = Field(description="documents in the catalog, across all pages")


class PagePublic(BaseModel):
    number: int = Field(description="1-based page number; text files have a single page 1")
    text: str
    ocr: bool = Field(False, description="the text was read from the page's image by OCR")


class DocumentContent(BaseModel):
    id: str
    pages: list[PagePublic]


class ResponseFormat(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["text", "json_object"] = Field(
        description="json_object: the answer must be valid JSON, or the request fails with 502"
    )


class SamplingRequest(BaseModel):
    """The OpenAI chat parameters docrag passes through, validated here at the edge."""

    temperature: float | None = Field(None, ge=0.0, le=2.0)
    top_p: float | None = Field(None, gt=0.0, le=1.0)
    max_tokens: int | None = Field(None, ge=1, le=32768)
    stop: list[str] | str | None = Field(None, description="up to 4 stop sequences")
    presence_penalty: float | None = Field(None, ge=-2.0, le=2.0)
    frequency_penalty: float | None = Field(None, ge=-2.0, le=2.0)
    seed: int | None = Field(
        None, ge=-(2**63), le=2**63 - 1, description="for reproducible sampling"
    )
    n: int = Field(
        1,
        ge=1,
        le=8,
        description="answers to generate, each with its own citations (not with stream)",
    )
    response_format: ResponseFormat | None = Field(
        None,
        description='{"type": "json_object"}: the answer is a JSON object '
        '{"answer": "... [n] ...", "citations": [n, ...]}',
    )
    top_k: int | None = Field(
        None,
        ge=1,
        le=1000,
        description="sample from the k likeliest tokens (vLLM, SGLang, LMDeploy, llama.cpp, "
        "Ollama, DashScope; refused for the OpenAI API)",
    )
    min_p: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        description="drop tokens less likely than min_p times the likeliest (vLLM, SGLang, "
        "LMDeploy, llama.cpp, Ollama; refused for the OpenAI API)",
    )
    repetition_penalty: float | None = Field(
        None,
        gt=0.0,
        le=2.0,
        description="above 1 discourages repeating tokens (vLLM, SGLang, LMDeploy, DashScope; "
        "llama.cpp's repeat_penalty; refused for the OpenAI API)",
    )

    @field_validator("stop")
    @classmethod
    def _stop_list(cls, value: list[str] | str | None) -> list[str] | None:
        if value is None:
            return None
        stops = [value] if isinstance(value, str) else value
        if len(stops) > 4 or any(not s for s in stops):
            raise ValueError("give at most 4 non-empty stop sequences")
        return stops


class NamedFunction(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64)


class NamedToolChoice(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["function"]
    function: NamedFunction


class GenerationRequest(SamplingRequest):
    """Sampling parameters for the chat model; unset fields take the server's settings."""

    model_config = ConfigDict(extra="forbid")

    model: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="chat model to use instead of DOCRAG_LLM__MODEL (limited by "
        "DOCRAG_LLM__ALLOWED_MODELS)",
    )
    prefill: str | None = Field(
        None,
        min_length=1,
        max_length=4000,
        description="the answer starts with this text and the model continues it; the "
        "returned answer includes it, and its [n] markers are checked like the rest",
    )
    thinking: bool | None = Field(
        None,
        description="a reasoning model's thinking mode on or off (Qwen3's enable_thinking); "
        "unset = DOCRAG_LLM__THINKING",
    )
    include_reasoning: bool = Field(
        False,
        description="return the model's thinking apart, as `reasoning` (and `reasoning` "
        "events when streamed); it is never part of the answer or its citations",
    )
    tool_choice: Literal["none", "auto", "required"] | NamedToolChoice | None = Field(
        None,
        description="agent mode: none (answer without searching), auto (the model decides; "
        "one that answers without searching is asked once more with the search forced), "
        'required, or {"type": "function", "function": {"name": "search_documents"}}; '
        "unset = the first turn must search, later turns choose",
    )


MetadataValue = str | int | float | bool


class InCondition(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    any_of: list[MetadataValue] = Field(alias="$in", min_length=1, max_length=100)


MetadataFilterValue = MetadataValue | InCondition


class HistoryMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["user", "assistant"]
    content: str = Field(max_length=32000)


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1, description="the question, in any language")
    top_k: int | None = Field(None, ge=1, le=50, description="sources kept for the answer")
    document_ids: list[str] | None = Field(
        None, max_length=1000, description="answer only from these documents"
    )
    filenames: list[str] | None = Field(
        None, max_length=1000, description="answer only from documents with these file names"
    )
    metadata: dict[str, MetadataFilterValue] | None = Field(
        None,
        max_length=32,
        description="answer only from documents whose upload metadata matches: "
        '{"team": "legal"} (equal) or {"year": {"$in": [2023, 2024]}} (any of)',
    )
    expand_neighbors: int | None = Field(
        None, ge=0, le=3, description="widen each source with this many neighbouring chunks"
    )
    generation: GenerationRequest | None = None
    history: list[HistoryMessage] | None = Field(
        None,
        max_length=200,
        description="earlier turns of the conversation, oldest first; a follow-up is "
        "rewritten into a standalone question before retrieval",
    )
    stream: bool = Field(
        False,
        description="answer with Server-Sent Events: `citations`, then `delta`s, then `done` "
        "(or `error`)",
    )
    mode: Literal["rag", "agent"] = Field(
        "rag",
        description="rag: search, then answer; agent: the chat model searches with a "
        "search_documents tool (up to DOCRAG_LLM__AGENT_MAX_STEPS times), then answers",
    )

    @field_validator("question")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the question is empty; send the text of your question")
        return value

    @model_validator(mode="after")
    def _one_streamed_answer(self) -> Self:
        if self.stream and self.generation is not None and self.generation.n > 1:
            raise ValueError("generation.n: several answers cannot be streamed; use n=1")
        if self.mode == "agent" and (
            self.stream or (self.generation is not None and self.generation.n > 1)
        ):
            raise ValueError("mode: agent answers are not streamed and have n=1")
        return self


class CitationPublic(BaseModel):
    n: int = Field(description="the number used as [n] in the answer")
    document_id: str
    filename: str
    page: int | None = Field(description="1-based page the chunk starts on; null for text files")
    page_end: int | None = Field(None, description="page the chunk ends on")
    heading: str | None = Field(None, description="section heading path (Markdown)")
    text: str = Field(description="the chunk's text")
    score: float = Field(description="retrieval similarity (cosine)")
    rerank_score: float | None = None
    quote: str | None = Field(
        None,
        description="in `citations`: the sentence of the chunk that best supports the "
        "answer's sentences citing it (lexical overlap); null in `sources`",
    )
    ocr: bool = Field(False, description="the text was read from a page image by OCR")


class UsagePublic(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    reasoning_tokens: int | None = Field(
        None, description="tokens of thinking, part of completion_tokens (when the server says)"
    )


class TimingsPublic(BaseModel):
    retrieve_ms: float
    rerank_ms: float
    generate_ms: float
    condense_ms: float = Field(0.0, description="rewriting a follow-up question")


class ChoicePublic(BaseModel):
    index: int
    answer: str
    grounded: bool
    citations: list[CitationPublic]
    dropped_citations: list[int]
    finish_reason: str | None
    reasoning: str | None = Field(
        None, description="with generation.include_reasoning: this answer's thinking"
    )


class AgentStepPublic(BaseModel):
    tool: str = Field(description="the tool the chat model called")
    arguments: dict[str, Any] = Field(description="the arguments it gave")
    results: list[int] = Field(description="the numbers of the sources the call returned")
    error: str | None = Field(None, description="why the call was refused")


class AskResponse(BaseModel):
    answer: str = Field(
        description="the answer, citing sources as [n] (markers pointing at no source removed)"
    )
    grounded: bool = Field(description="true when the answer cites at least one real source")
    citations: list[CitationPublic] = Field(
        description="the sources the answer cites, each with its supporting quote"
    )
    sources: list[CitationPublic] = Field(
        default_factory=list, description="every source given to the chat model, numbered"
    )
    dropped_citations: list[int] = Field(
        default_factory=list, description="[n] markers removed because no source n exists"
    )
    condensed_question: str | None = Field(
        None, description="the follow-up rewritten as a standalone question (with history)"
    )
    mode: Literal["generative", "extractive"]
    model: str | None = Field(description="chat model that wrote the answer; null if extractive")
    usage: UsagePublic | None = Field(
        description="token counts from the chat server; null when it sends none (extractive "
        "answers; streams from servers such as llama.cpp)"
    )
    timings: TimingsPublic
    finish_reason: str | None = None
    choices: list[ChoicePublic] | None = Field(
        None, description="with generation.n > 1: every answer (the first is also above)"
    )
    reasoning: str | None = Field(
        None,
        description="with generation.include_reasoning: the model's thinking, apart from the "
        "answer (never checked for citations); null when the model sent none",
    )
    steps: list[AgentStepPublic] | None = Field(
        None, description="agent mode: every tool call, in order, with what it returned"
    )


class HealthResponse(BaseModel):
    status: Literal["ok"]
    version: str
    mode: Literal["generative", "extractive"]
    embedding_model: str = Field(description="the model the index in use was built with")
    index: str = Field(description="the Chroma collection answering questions")
    reindex_needed: bool = Field(
        description="the configured embedding model differs from the index's: run `docrag reindex`"
    )
    chroma: str
    chat_model: str | None
    reranker: str | None
    documents: int
    chunks: int
    auth: bool


class ReindexPublic(BaseModel):
    status: Literal["idle", "running", "switched", "not_switched", "failed"] = Field(
        description="not_switched: some documents could not be embedded again (see failed); "
        "the index in use is unchanged"
    )
    model: str | None = Field(description="the embedding model of the new index")
    started_at: datetime | None
    finished_at: datetime | None
    documents_total: int
    documents_done: int
    chunks: int
    collection: str | None = Field(description="the new collection, once written")
    failed: dict[str, str] = Field(description="document id -> why it could not be re-embedded")
    error: str | None


class IndexPublic(BaseModel):
    collection: str = Field(description="the Chroma collection answering questions")
    embedding_model: str = Field(description="the model that built it")
    configured_model: str = Field(description="DOCRAG_EMBEDDING__MODEL")
    reindex_needed: bool
    chunks: int
    reindex: ReindexPublic = Field(description="the last reindex this process ran")
