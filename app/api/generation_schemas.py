"""The chat parameters of a request (`generation` in /ask, the top level of
/v1/chat/completions), validated at the edge."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

_TOP_K = (
    "sample from the k likeliest tokens (vLLM, SGLang, LMDeploy, llama.cpp, Ollama, DashScope; "
    "refused for the OpenAI API)"
)
_MIN_P = (
    "drop tokens less likely than min_p times the likeliest (vLLM, SGLang, LMDeploy, "
    "llama.cpp, Ollama; refused for the OpenAI API)"
)
_REPETITION = (
    "above 1 discourages repeating tokens (vLLM, SGLang, LMDeploy, DashScope; llama.cpp's "
    "repeat_penalty; refused for the OpenAI API)"
)


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
    top_k: int | None = Field(None, ge=1, le=1000, description=_TOP_K)
    min_p: float | None = Field(None, ge=0.0, le=1.0, description=_MIN_P)
    repetition_penalty: float | None = Field(None, gt=0.0, le=2.0, description=_REPETITION)

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
