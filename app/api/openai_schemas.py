"""Request and response models of the OpenAI-compatible API (/v1): the shapes the `openai`
SDKs send and read."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.api.schemas import CitationPublic, NamedToolChoice, SamplingRequest, TimingsPublic


class ChatContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: str
    text: str | None = None


class ChatMessageIn(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ChatContentPart] | None = None
    prefix: bool | None = Field(None, description="DeepSeek: a last assistant message is a prefill")
    partial: bool | None = Field(None, description="Kimi: a last assistant message is a prefill")

    @property
    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(p.text or "" for p in self.content if p.type == "text")
        return self.content or ""


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")

    include_usage: bool = False


class DocragOptions(BaseModel):
    """docrag's own options, sent with the SDK's `extra_body={"docrag": {...}}`."""

    model_config = ConfigDict(extra="forbid")

    top_k: int | None = Field(None, ge=1, le=50, description="sources kept for the answer")
    document_ids: list[str] | None = Field(
        None, max_length=1000, description="answer only from these documents"
    )
    mode: Literal["rag", "agent"] = Field(
        "rag", description="agent: the chat model searches with a search_documents tool"
    )


class ChatTemplateKwargs(BaseModel):
    model_config = ConfigDict(extra="allow")

    enable_thinking: bool | None = None


class ChatCompletionRequest(SamplingRequest):
    """An OpenAI chat completion request. The last user message is the question, earlier user
    and assistant messages are the history; system messages are ignored (docrag's own rules
    apply). Fields the SDKs send that docrag does not use (user, logprobs, ...) are ignored."""

    model_config = ConfigDict(extra="ignore")

    model: str = Field(
        description="docrag/<knowledge base>: answer from that base's documents (GET "
        "/v1/models); docrag-rag is the default base"
    )
    messages: list[ChatMessageIn] = Field(min_length=1, max_length=400)
    stream: bool = False
    stream_options: StreamOptions | None = None
    max_completion_tokens: int | None = Field(
        None, ge=1, le=32768, description="same as max_tokens (the newer name)"
    )
    docrag: DocragOptions | None = None
    include_reasoning: bool = Field(
        False, description="return the model's thinking as message.reasoning_content"
    )
    enable_thinking: bool | None = Field(
        None, description="a reasoning model's thinking mode on or off (Qwen3)"
    )
    chat_template_kwargs: ChatTemplateKwargs | None = Field(
        None, description="vLLM's way to say enable_thinking; other keys are ignored"
    )
    tool_choice: Literal["none", "auto", "required"] | NamedToolChoice | None = Field(
        None, description='with docrag.mode "agent": the first turn\'s tool choice'
    )

    @model_validator(mode="after")
    def _one_streamed_answer(self) -> Self:
        if self.stream and self.n > 1:
            raise ValueError("n: several answers cannot be streamed; use n=1")
        agent = self.docrag is not None and self.docrag.mode == "agent"
        if agent and (self.stream or self.n > 1):
            raise ValueError("docrag.mode: agent answers are not streamed and have n=1")
        if self.tool_choice is not None and not agent:
            raise ValueError(
                'tool_choice: docrag runs its own tool; send extra_body={"docrag": {"mode": '
                '"agent"}} to use it, or remove tool_choice'
            )
        return self

    @property
    def thinking(self) -> bool | None:
        if self.enable_thinking is not None:
            return self.enable_thinking
        return self.chat_template_kwargs.enable_thinking if self.chat_template_kwargs else None


class ModelPublic(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str


class ModelsPublic(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelPublic]


class CompletionMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str
    reasoning_content: str | None = Field(
        None, description="with include_reasoning: the model's thinking, apart from content"
    )


class CompletionTokensDetails(BaseModel):
    reasoning_tokens: int


class CompletionUsage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    completion_tokens_details: CompletionTokensDetails | None = None


class ChoiceCitations(BaseModel):
    grounded: bool
    citations: list[CitationPublic]
    dropped_citations: list[int]


class CompletionChoice(BaseModel):
    index: int
    message: CompletionMessage
    finish_reason: str
    logprobs: None = None
    docrag: ChoiceCitations = Field(description="this answer's checked citations")


class CompletionExtras(BaseModel):
    """The documented extra field `docrag` of a chat completion."""

    grounded: bool = Field(description="the first answer cites at least one real source")
    citations: list[CitationPublic] = Field(description="the first answer's citations")
    dropped_citations: list[int]
    sources: list[CitationPublic] = Field(description="every source given to the chat model")
    condensed_question: str | None
    mode: Literal["generative", "extractive"]
    model: str | None = Field(description="the chat model behind docrag")
    timings: TimingsPublic


class ChatCompletionResponse(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[CompletionChoice]
    usage: CompletionUsage | None
    docrag: CompletionExtras
