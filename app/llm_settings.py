"""The chat model's settings (`DOCRAG_LLM__*`): a part of `app/config.py`'s `Settings`."""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, SecretStr, field_validator


def blank_is_unset(value: object) -> object:
    # docker compose passes `${VAR:-}` as an empty string; that means "not configured".
    if isinstance(value, str) and not value.strip():
        return None
    if isinstance(value, SecretStr) and not value.get_secret_value().strip():
        return None
    return value


class GenerationDefaults(BaseModel):
    temperature: float = Field(0.1, ge=0.0, le=2.0, description="default sampling temperature")
    top_p: float = Field(1.0, gt=0.0, le=1.0, description="default nucleus sampling")
    max_tokens: int = Field(512, ge=1, le=32768, description="default answer length limit")
    stop: list[str] = Field(
        default_factory=list, max_length=4, description="default stop sequences"
    )


class LLMSettings(BaseModel):
    base_url: str | None = Field(
        None, description="OpenAI-compatible base URL (falls back to OPENAI_BASE_URL)"
    )
    model: str | None = Field(
        None, description="chat model name; unset = extractive answers, no chat model"
    )
    api_key: SecretStr | None = Field(None, description="API key (falls back to OPENAI_API_KEY)")
    _blank = field_validator("base_url", "model", "api_key", mode="before")(blank_is_unset)

    timeout_s: float = Field(120.0, gt=0, description="read timeout for one chat request")
    connect_timeout_s: float = Field(5.0, gt=0, description="connect timeout to the chat server")
    max_retries: int = Field(
        2, ge=0, le=10, description="retries on connection errors, 429 and 5xx"
    )
    context_tokens: int = Field(
        3000, ge=256, description="token budget for the sources placed in the prompt"
    )
    history_tokens: int = Field(
        1000,
        ge=0,
        description="token budget for earlier conversation turns sent with a question "
        "(oldest dropped first; counted with the embedding model's tokenizer)",
    )
    condense: bool = Field(
        True,
        description="rewrite a follow-up into a standalone question with the chat model "
        "before retrieval",
    )
    condense_max_tokens: int = Field(
        96, ge=8, le=1024, description="length limit of the rewritten standalone question"
    )
    allowed_models: list[str] = Field(
        default_factory=list,
        description="chat models a request may choose with generation.model; empty = any",
    )
    agent_max_steps: int = Field(
        4, ge=1, le=16, description="most search_documents calls in agent mode"
    )
    thinking: bool | None = Field(
        None,
        description="a reasoning model's thinking mode (Qwen3's enable_thinking): true/false "
        "sent with every request; unset = the server's default (generation.thinking overrides)",
    )
    prefill_mode: Literal["auto", "assistant_message", "deepseek_prefix", "kimi_partial"] = Field(
        "auto",
        description="how generation.prefill reaches the server: a trailing assistant "
        "message, DeepSeek's prefix completion (`prefix: true`, base URL "
        "https://api.deepseek.com/beta) or Kimi's partial mode (`partial: true`); auto = "
        "from the base URL's host",
    )
    generation: GenerationDefaults = Field(default_factory=GenerationDefaults)

    @property
    def enabled(self) -> bool:
        return bool(self.model)

    @property
    def host(self) -> str:
        """The chat server's host name; api.openai.com when no base URL is set."""
        return (urlsplit(self.base_url).hostname or "") if self.base_url else "api.openai.com"

    @property
    def is_official_openai(self) -> bool:
        """The official OpenAI API, which refuses server-specific parameters (top_k, ...)."""
        return self.host == "api.openai.com" or self.host.endswith(".openai.azure.com")

    @property
    def resolved_prefill_mode(
        self,
    ) -> Literal["assistant_message", "deepseek_prefix", "kimi_partial"]:
        if self.prefill_mode != "auto":
            return self.prefill_mode
        if self.host == "api.deepseek.com":
            return "deepseek_prefix"
        if self.host in ("api.moonshot.cn", "api.moonshot.ai"):
            return "kimi_partial"
        return "assistant_message"


__all__ = ["GenerationDefaults", "LLMSettings", "blank_is_unset"]
