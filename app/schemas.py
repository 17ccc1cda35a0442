"""Request and response models of the HTTP API (pydantic lives here, at the edge)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class ErrorDetail(BaseModel):
    code: str = Field(description="stable machine-readable error code")
    message: str = Field(description="what went wrong and how to fix it")


class ErrorResponse(BaseModel):
    error: ErrorDetail


class DocumentPublic(BaseModel):
    id: str = Field(description="document id, derived from the file's SHA-256")
    filename: str = Field(description="the uploaded file name (display only)")
    media_type: str = Field(description="detected type: application/pdf, text/plain, text/markdown")
    size_bytes: int
    sha256: str
    pages: int = Field(description="pages for PDFs; 0 for formats without pages")
    chunks: int = Field(description="chunks indexed for retrieval")
    status: Literal["pending", "ready", "failed"]
    title: str | None = Field(None, description="title from the file's metadata or first heading")
    created_at: datetime


class UploadError(BaseModel):
    filename: str
    code: str
    message: str


class UploadResponse(BaseModel):
    documents: list[DocumentPublic] = Field(description="one entry per accepted file")
    errors: list[UploadError] = Field(description="one entry per refused file")


class DocumentsPublic(BaseModel):
    data: list[DocumentPublic]
    total: int = Field(description="documents in the catalog, across all pages")


class PagePublic(BaseModel):
    number: int = Field(description="1-based page number; text files have a single page 1")
    text: str


class DocumentContent(BaseModel):
    id: str
    pages: list[PagePublic]


class GenerationRequest(BaseModel):
    """Sampling parameters for the chat model; unset fields take the server's settings."""

    model_config = ConfigDict(extra="forbid")

    temperature: float | None = Field(None, ge=0.0, le=2.0)
    top_p: float | None = Field(None, gt=0.0, le=1.0)
    max_tokens: int | None = Field(None, ge=1, le=32768)
    stop: list[str] | str | None = Field(None, description="up to 4 stop sequences")

    @field_validator("stop")
    @classmethod
    def _stop_list(cls, value: list[str] | str | None) -> list[str] | None:
        if value is None:
            return None
        stops = [value] if isinstance(value, str) else value
        if len(stops) > 4 or any(not s for s in stops):
            raise ValueError("give at most 4 non-empty stop sequences")
        return stops


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1, description="the question, in any language")
    top_k: int | None = Field(None, ge=1, le=50, description="sources kept for the answer")
    document_ids: list[str] | None = Field(
        None, max_length=1000, description="answer only from these documents"
    )
    generation: GenerationRequest | None = None

    @field_validator("question")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the question is empty; send the text of your question")
        return value


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


class UsagePublic(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class TimingsPublic(BaseModel):
    retrieve_ms: float
    rerank_ms: float
    generate_ms: float


class AskResponse(BaseModel):
    answer: str = Field(description="the answer, citing sources as [n]")
    grounded: bool = Field(description="true when the answer rests on cited sources")
    citations: list[CitationPublic]
    mode: Literal["generative", "extractive"]
    model: str | None = Field(description="chat model that wrote the answer; null if extractive")
    usage: UsagePublic | None
    timings: TimingsPublic
    finish_reason: str | None = None


class HealthResponse(BaseModel):
    status: Literal["ok"]
    version: str
    mode: Literal["generative", "extractive"]
    embedding_model: str
    chroma: str
    chat_model: str | None
    reranker: str | None
    documents: int
    chunks: int
    auth: bool
