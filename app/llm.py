"""Chat models: any OpenAI-compatible server through langchain-openai, and the extractive
answerer used when no chat model is configured. The only module that imports langchain-openai."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from app.errors import (
    ChatModelError,
    ChatModelRateLimited,
    ChatModelTimeout,
    ChatModelUnavailable,
)
from app.retrieval import Hit
from ingest.embedding import Embedder

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class GenerationParams:
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    stop: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


@dataclass(frozen=True, slots=True)
class Generation:
    text: str
    model: str
    usage: Usage | None
    finish_reason: str | None


@dataclass(frozen=True, slots=True)
class Message:
    role: str  # "system" | "user" | "assistant"
    content: str


class ChatModel(Protocol):
    name: str

    def generate(self, messages: Sequence[Message], params: GenerationParams) -> Generation: ...


class OpenAIChatModel:
    """An OpenAI-compatible chat server (OpenAI, DeepSeek, Qwen, vLLM, SGLang, LMDeploy,
    Ollama, llama.cpp) reached through langchain-openai's ChatOpenAI."""

    def __init__(
        self,
        *,
        model: str,
        base_url: str | None,
        api_key: str | None,
        timeout_s: float,
        connect_timeout_s: float,
        max_retries: int,
        defaults: GenerationParams,
    ) -> None:
        import httpx
        from langchain_openai import ChatOpenAI

        self.name = model
        self.base_url = base_url
        self._defaults = defaults
        # Local servers ignore the key, but the client insists on having one.
        self._llm = ChatOpenAI(
            model=model,
            base_url=base_url,
            api_key=api_key or "not-needed",  # type: ignore[arg-type]
            timeout=httpx.Timeout(timeout_s, connect=connect_timeout_s),
            max_retries=max_retries,
        )

    def _payload(self, params: GenerationParams) -> dict[str, Any]:
        merged: dict[str, Any] = {
            "temperature": params.temperature
            if params.temperature is not None
            else self._defaults.temperature,
            "top_p": params.top_p if params.top_p is not None else self._defaults.top_p,
        }
        stop = list(params.stop or self._defaults.stop)
        if stop:
            merged["stop"] = stop
        max_tokens = params.max_tokens or self._defaults.max_tokens
        if max_tokens:
            # ChatOpenAI renames max_tokens to max_completion_tokens, which many
            # OpenAI-compatible servers do not know; extra_body sends the classic field as is.
            merged["extra_body"] = {"max_tokens": max_tokens}
        return {k: v for k, v in merged.items() if v is not None}

    def generate(self, messages: Sequence[Message], params: GenerationParams) -> Generation:
        from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

        kinds = {"system": SystemMessage, "user": HumanMessage, "assistant": AIMessage}
        lc_messages = [kinds[m.role](content=m.content) for m in messages]
        with translate_chat_errors(self.base_url):
            reply = self._llm.invoke(lc_messages, **self._payload(params))
        metadata = reply.response_metadata or {}
        usage_meta = reply.usage_metadata
        usage = (
            Usage(
                prompt_tokens=int(usage_meta.get("input_tokens", 0)),
                completion_tokens=int(usage_meta.get("output_tokens", 0)),
                total_tokens=int(usage_meta.get("total_tokens", 0)),
            )
            if usage_meta
            else None
        )
        text = reply.content if isinstance(reply.content, str) else str(reply.content)
        return Generation(
            text=text,
            model=str(metadata.get("model_name") or self.name),
            usage=usage,
            finish_reason=metadata.get("finish_reason"),
        )


@contextmanager
def translate_chat_errors(base_url: str | None) -> Iterator[None]:
    """Maps the openai client's exceptions to docrag's HTTP errors, without leaking secrets."""
    import openai

    where = base_url or "the OpenAI API"
    try:
        yield
    except openai.APITimeoutError as exc:
        raise ChatModelTimeout(
            f"the chat model at {where} did not answer in time; try again, or raise "
            "DOCRAG_LLM__TIMEOUT_S"
        ) from exc
    except openai.APIConnectionError as exc:
        raise ChatModelUnavailable(
            f"cannot reach the chat model at {where}; check that the server is running "
            "and DOCRAG_LLM__BASE_URL"
        ) from exc
    except openai.RateLimitError as exc:
        retry_after = exc.response.headers.get("retry-after")
        raise ChatModelRateLimited(
            "the chat model is rate-limiting requests; retry later"
            + (f" (after {retry_after} s)" if retry_after else ""),
            headers={"Retry-After": retry_after} if retry_after else None,
        ) from exc
    except (openai.AuthenticationError, openai.PermissionDeniedError) as exc:
        raise ChatModelError(
            f"the chat model at {where} refused docrag's credentials "
            f"(HTTP {exc.status_code}); check DOCRAG_LLM__API_KEY"
        ) from exc
    except openai.APIStatusError as exc:
        raise ChatModelError(
            f"the chat model at {where} answered with HTTP {exc.status_code}"
        ) from exc
    except (openai.APIError, ValueError, KeyError, TypeError) as exc:
        raise ChatModelError(
            f"the chat model at {where} sent a reply docrag could not read"
        ) from exc


_SENTENCE_END = re.compile(r"(?<=[.!?。！？；])\s+|(?<=[。！？；])|\n{2,}")


def split_sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text) if s and len(s.strip()) > 1]


def _bigrams(text: str) -> set[str]:
    compact = re.sub(r"\s+", " ", text.lower())
    return {compact[i : i + 2] for i in range(len(compact) - 1)} - {"  "}


@dataclass
class ExtractiveAnswerer:
    """Answers with the sentences of the best sources that best match the question, each cited.

    Sentences are scored by embedding similarity plus character-bigram overlap, so that
    languages the embedding model reads poorly (Chinese with an English model) still match."""

    embedder: Embedder
    max_sentences: int = 3
    max_candidates: int = 60
    sources_considered: int = 3
    _weights: Mapping[str, float] = field(default_factory=lambda: {"dense": 1.0, "lexical": 1.0})

    def answer(self, question: str, hits: Sequence[Hit]) -> str:
        candidates: list[tuple[int, int, str]] = []  # (source n, position, sentence)
        for n, hit in enumerate(hits[: self.sources_considered], start=1):
            for position, sentence in enumerate(split_sentences(hit.text)):
                candidates.append((n, position, sentence))
        candidates = candidates[: self.max_candidates]
        if not candidates:
            return ""
        vectors = self.embedder.embed_documents([c[2] for c in candidates])
        query_vector = self.embedder.embed_query(question)
        query_grams = _bigrams(question)
        scored = []
        for (n, position, sentence), vector in zip(candidates, vectors, strict=True):
            dense = sum(a * b for a, b in zip(query_vector, vector, strict=True))
            grams = _bigrams(sentence)
            lexical = len(query_grams & grams) / max(1, len(query_grams))
            score = self._weights["dense"] * dense + self._weights["lexical"] * lexical
            scored.append((score, n, position, sentence))
        best = sorted(scored, reverse=True)[: self.max_sentences]
        best.sort(key=lambda item: (item[1], item[2]))  # read in source order
        return " ".join(f"{sentence} [{n}]" for _, n, _, sentence in best)
