"""Request and response models of the HTTP API (pydantic lives here, at the edge)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
    model_validator,
)

# Re-exported: the chat parameters live apart, and are still importable from here.
from app.api.generation_schemas import GenerationRequest as GenerationRequest
from app.api.generation_schemas import NamedFunction as NamedFunction
from app.api.generation_schemas import NamedToolChoice as NamedToolChoice
from app.api.generation_schemas import ResponseFormat as ResponseFormat
from app.api.generation_schemas import SamplingRequest as SamplingRequest


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
    status: Literal["queued", "parsing", "ocr", "embedding", "pending", "ready", "failed"] = Field(
        description="queued, parsing, embedding (being read: its pages 1 to answerable_pages "
        "already answer questions), ready, or failed (see error)"
    )
    progress: float = Field(1.0, ge=0.0, le=1.0, description="share of the ingest done, 0..1")
    answerable_pages: int = Field(
        0, description="pages 1 to this one answer questions (all once ready; 0 without pages)"
    )
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
    status: Literal["queued", "parsing", "ocr", "embedding", "ready", "failed"] = Field(
        description="ocr: pages without a text layer are being read from their images"
    )
    progress: float = Field(ge=0.0, le=1.0, description="share of the work done, 0..1")
    pages_done: int = Field(0, description="pages read so far (parsing, ocr)")
    pages_total: int = Field(0, description="pages of the file, once known")
    answerable_pages: int = Field(
        0, description="while the document is read: pages 1 to this one answer questions already"
    )
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


class DocumentPatch(BaseModel):
    """PATCH /documents/{id}: a new name (and metadata) for a stored document."""

    model_config = ConfigDict(extra="forbid")

    filename: str = Field(
        min_length=1, max_length=255, description="the new file name, e.g. q3-report.pdf"
    )
    metadata: dict[str, Any] | None = Field(
        None, description='new metadata, e.g. {"team": "legal"}; omit to keep it'
    )

    @field_validator("filename")
    @classmethod
    def _plain_file_name(cls, value: str) -> str:
        if not value.strip() or any(c in value for c in "/\\") or not value.isprintable():
            raise ValueError(
                "give a file name without folders or control characters, e.g. q3-report.pdf"
            )
        return value.strip()


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
    knowledge_base: str | None = Field(
        None,
        max_length=48,
        description="the knowledge base to answer from (default: the `knowledge_base` query "
        "parameter, else `default`)",
    )
    knowledge_bases: list[str] | None = Field(
        None,
        min_length=1,
        max_length=32,
        description="answer from several knowledge bases at once (instead of knowledge_base)",
    )

    @model_validator(mode="after")
    def _one_way_to_name_bases(self) -> Self:
        if self.knowledge_base is not None and self.knowledge_bases is not None:
            raise ValueError("send knowledge_base (one) or knowledge_bases (a list), not both")
        return self

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
    figure: bool = Field(
        False, description="the text is a vision model's description of the page's figures"
    )
    knowledge_base: str | None = Field(
        None, description="the knowledge base holding the document (for its file and content)"
    )


class UsagePublic(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    reasoning_tokens: int | None = Field(
        None,
        description="tokens of thinking, part of completion_tokens; present only when the "
        "server reports it",
    )

    @model_serializer(mode="wrap")
    def _without_unreported_reasoning(self, handler: SerializerFunctionWrapHandler) -> Any:
        data = handler(self)
        if isinstance(data, dict) and data.get("reasoning_tokens") is None:
            data.pop("reasoning_tokens", None)
        return data


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


class StillReadingPublic(BaseModel):
    document_id: str
    filename: str
    answerable_pages: int = Field(
        description="only pages 1 to this one were searched (0 for formats without pages)"
    )
    chunks: int = Field(description="chunks of the document searched")


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
    still_reading: list[StillReadingPublic] = Field(
        default_factory=list,
        description="documents in scope that were still being read: only the pages indexed "
        "so far were searched; ask again once they are ready for the rest",
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
    warnings: list[str] = Field(
        default_factory=list,
        description="what an operator should fix, e.g. listening beyond this machine with no "
        "API key",
    )


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
