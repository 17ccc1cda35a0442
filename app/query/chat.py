"""What docrag says to a chat model and hears back: messages, sampling parameters, replies,
tool calls, and the `ChatModel` role every backend plays."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

# How a server is told to continue an assistant prefill: a trailing assistant message (with
# vLLM's and SGLang's `continue_final_message`), DeepSeek's `prefix: true`, Kimi's
# `partial: true`.
PrefillMode = Literal["assistant_message", "deepseek_prefix", "kimi_partial"]


@dataclass(frozen=True, slots=True)
class GenerationParams:
    """Sampling parameters of one request; None (or empty) means "the configured default"."""

    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    stop: tuple[str, ...] = ()
    model: str | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    seed: int | None = None
    n: int = 1
    json_mode: bool = False
    # Server-specific sampling (vLLM, SGLang, LMDeploy, llama.cpp, Ollama; not OpenAI's API).
    top_k: int | None = None
    min_p: float | None = None
    repetition_penalty: float | None = None
    thinking: bool | None = None  # a server's thinking mode on/off; None: its default
    prefill: str | None = None  # the answer starts with this text; the model continues it
    prefill_mode: PrefillMode = "assistant_message"


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    reasoning_tokens: int | None = None  # part of completion_tokens, when the server says

    def __add__(self, other: Usage) -> Usage:
        reasoning = (
            None
            if self.reasoning_tokens is None and other.reasoning_tokens is None
            else (self.reasoning_tokens or 0) + (other.reasoning_tokens or 0)
        )
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.total_tokens + other.total_tokens,
            reasoning,
        )


@dataclass(frozen=True, slots=True)
class Choice:
    text: str  # the answer only, never the model's thinking
    finish_reason: str | None
    reasoning: str | None = None  # the thinking, apart (None: the model sent none)


@dataclass(frozen=True, slots=True)
class ReasoningDelta:
    """A piece of a streamed answer's thinking (never part of the answer's text)."""

    text: str


@dataclass(frozen=True, slots=True)
class Generation:
    """One reply: one choice, or several when `n` > 1."""

    choices: tuple[Choice, ...]
    model: str
    usage: Usage | None

    @property
    def text(self) -> str:
        return self.choices[0].text

    @property
    def finish_reason(self) -> str | None:
        return self.choices[0].finish_reason


@dataclass(frozen=True, slots=True)
class StreamEnd:
    """The last item of a stream, after its text deltas."""

    model: str
    usage: Usage | None  # None when the server sends no usage in streams (llama.cpp)
    finish_reason: str | None


@dataclass(frozen=True, slots=True)
class ToolCall:
    id: str
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A function the chat model may call: name, what it does, JSON schema of its arguments."""

    name: str
    description: str
    parameters: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ToolReply:
    text: str
    tool_calls: tuple[ToolCall, ...]
    model: str
    usage: Usage | None
    finish_reason: str | None
    reasoning: str | None = None


@dataclass(frozen=True, slots=True)
class Message:
    role: str  # "system" | "user" | "assistant" | "tool"
    content: str
    tool_calls: tuple[ToolCall, ...] = ()  # an assistant's calls
    tool_call_id: str | None = None  # a tool result: the call it answers


class ChatModel(Protocol):
    name: str

    def generate(self, messages: Sequence[Message], params: GenerationParams) -> Generation: ...

    def astream(
        self, messages: Sequence[Message], params: GenerationParams
    ) -> AsyncGenerator[str | ReasoningDelta | StreamEnd, None]:
        """Answer text deltas (and reasoning deltas), then one StreamEnd. Closing the
        iterator closes the upstream request."""
        ...

    def call_tools(
        self,
        messages: Sequence[Message],
        tools: Sequence[ToolSpec],
        params: GenerationParams,
        tool_choice: str,
    ) -> ToolReply:
        """One turn with tools offered; tool_choice is "auto", "none", "required" or a tool's
        name (which forces that call)."""
        ...
