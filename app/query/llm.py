"""Chat models: any OpenAI-compatible server through langchain-openai. The only module that
imports langchain-openai."""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Iterator, Mapping, Sequence
from contextlib import aclosing, contextmanager
from typing import Any, cast

from app.errors import (
    ChatModelError,
    ChatModelRateLimited,
    ChatModelTimeout,
    ChatModelUnavailable,
    ToolsNotSupported,
)
from app.query.chat import (
    Choice,
    Generation,
    GenerationParams,
    Message,
    StreamEnd,
    ToolCall,
    ToolReply,
    ToolSpec,
    Usage,
)

logger = logging.getLogger(__name__)


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
        defaults = self._defaults
        merged: dict[str, Any] = {
            "model": params.model,
            "temperature": params.temperature
            if params.temperature is not None
            else defaults.temperature,
            "top_p": params.top_p if params.top_p is not None else defaults.top_p,
            "presence_penalty": params.presence_penalty,
            "frequency_penalty": params.frequency_penalty,
            "seed": params.seed,
        }
        stop = list(params.stop or defaults.stop)
        if stop:
            merged["stop"] = stop
        extra_body: dict[str, Any] = {}
        max_tokens = params.max_tokens or defaults.max_tokens
        if max_tokens:
            # ChatOpenAI renames max_tokens to max_completion_tokens, which many
            # OpenAI-compatible servers do not know; extra_body sends the classic field as is.
            extra_body["max_tokens"] = max_tokens
        if params.json_mode:
            # Through extra_body too: a `response_format` argument sends ChatOpenAI down its
            # structured-output path (`beta...parse`), which expects a schema, not JSON mode.
            extra_body["response_format"] = {"type": "json_object"}
        if extra_body:
            merged["extra_body"] = extra_body
        return {k: v for k, v in merged.items() if v is not None}

    @staticmethod
    def _to_langchain(messages: Sequence[Message]) -> list[Any]:
        from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage

        converted: list[Any] = []
        for m in messages:
            if m.role == "tool":
                converted.append(ToolMessage(content=m.content, tool_call_id=m.tool_call_id or ""))
            elif m.role == "assistant" and m.tool_calls:
                calls = [
                    {"id": c.id, "name": c.name, "args": c.arguments, "type": "tool_call"}
                    for c in m.tool_calls
                ]
                # llama.cpp's server refuses the null content OpenAI allows beside tool calls
                # (and LangChain sends null for ""): a blank keeps every server content.
                converted.append(AIMessage(content=m.content or " ", tool_calls=calls))
            else:
                kinds = {"system": SystemMessage, "user": HumanMessage, "assistant": AIMessage}
                converted.append(kinds[m.role](content=m.content))
        return converted

    def call_tools(
        self,
        messages: Sequence[Message],
        tools: Sequence[ToolSpec],
        params: GenerationParams,
        tool_choice: str,
    ) -> ToolReply:
        specs = [
            {
                "type": "function",
                "function": {
                    "name": t.name,
                    "description": t.description,
                    "parameters": t.parameters,
                },
            }
            for t in tools
        ]
        bound = self._llm.bind_tools(specs, tool_choice=tool_choice)
        try:
            with translate_chat_errors(self.base_url):
                reply = bound.invoke(self._to_langchain(messages), **self._payload(params))
        except ChatModelError as exc:
            status = getattr(exc.__cause__, "status_code", None)
            if status in (400, 404, 405, 422, 501):
                raise ToolsNotSupported(
                    f"the chat model {self.name} at {self.base_url or 'the OpenAI API'} refused "
                    f"a request with tools (HTTP {status}); use the default mode, or a model "
                    "and server with tool calling"
                ) from exc
            raise
        calls = [
            ToolCall(str(c.get("id") or f"call_{i}"), c["name"], dict(c.get("args") or {}))
            for i, c in enumerate(getattr(reply, "tool_calls", None) or [])
        ]
        # Arguments that were not valid JSON: the call stands, with no arguments, so the
        # loop can tell the model what went wrong.
        calls += [
            ToolCall(str(c.get("id") or f"bad_{i}"), str(c.get("name") or ""), {})
            for i, c in enumerate(getattr(reply, "invalid_tool_calls", None) or [])
        ]
        metadata = reply.response_metadata or {}
        usage_meta = getattr(reply, "usage_metadata", None)
        return ToolReply(
            text=_text_of(reply),
            tool_calls=tuple(calls),
            model=str(metadata.get("model_name") or self.name),
            usage=_usage_from_langchain(usage_meta) if usage_meta else None,
            finish_reason=metadata.get("finish_reason"),
        )

    def generate(self, messages: Sequence[Message], params: GenerationParams) -> Generation:
        lc_messages = self._to_langchain(messages)
        payload = self._payload(params)
        choices: list[Choice] = []
        usage: Usage | None = None
        model = self.name
        # Servers that ignore `n` (llama.cpp's does) answer once: ask again for the rest,
        # so `n` means n answers everywhere. At most n requests.
        for _ in range(params.n):
            missing = params.n - len(choices)
            if missing <= 0:
                break
            request: dict[str, Any] = {**payload, **({"n": missing} if missing > 1 else {})}
            with translate_chat_errors(self.base_url):
                result = self._llm.generate([lc_messages], **request)
            generations = result.generations[0]
            if not generations:
                raise ChatModelError("the chat model sent a reply without any answer")
            output = result.llm_output or {}
            model = str(output.get("model_name") or model)
            token_usage = output.get("token_usage")
            if token_usage:
                this = _usage_from_openai(token_usage)
                usage = usage + this if usage else this
            for generation in generations[:missing]:
                info = generation.generation_info or {}
                message = getattr(generation, "message", generation)
                choices.append(Choice(_text_of(message), info.get("finish_reason")))
        return Generation(choices=tuple(choices), model=model, usage=usage)

    async def astream(
        self, messages: Sequence[Message], params: GenerationParams
    ) -> AsyncGenerator[str | StreamEnd, None]:
        payload = self._payload(params)
        finish_reason: str | None = None
        usage: Usage | None = None
        model = self.name
        started = False
        try:
            with translate_chat_errors(self.base_url):
                # aclosing: when our consumer stops (a client disconnected), the upstream
                # stream is closed at once rather than whenever it is garbage-collected.
                stream = self._llm.astream(
                    self._to_langchain(messages), stream_usage=True, **payload
                )
                async with aclosing(cast(AsyncGenerator[Any, None], stream)) as chunks:
                    async for chunk in chunks:
                        started = True
                        metadata = chunk.response_metadata or {}
                        finish_reason = metadata.get("finish_reason") or finish_reason
                        model = str(metadata.get("model_name") or model)
                        if chunk.usage_metadata:
                            usage = _usage_from_langchain(chunk.usage_metadata)
                        text = _text_of(chunk)
                        if text:
                            yield text
        except ChatModelUnavailable as exc:
            if not started:
                raise
            # The openai client reports a connection lost mid-body as a connection error.
            raise ChatModelError(
                f"the chat model at {self.base_url or 'the OpenAI API'} broke off its answer "
                "in the middle"
            ) from exc
        yield StreamEnd(model=model, usage=usage, finish_reason=finish_reason)


def _text_of(message: Any) -> str:
    content = message.content
    if isinstance(content, str):
        return content
    # A list of content parts: keep the text ones.
    return "".join(
        part if isinstance(part, str) else str(part.get("text", ""))
        for part in content
        if isinstance(part, str) or (isinstance(part, dict) and part.get("type") == "text")
    )


def _usage_from_openai(token_usage: Mapping[str, Any]) -> Usage:
    return Usage(
        prompt_tokens=int(token_usage.get("prompt_tokens") or 0),
        completion_tokens=int(token_usage.get("completion_tokens") or 0),
        total_tokens=int(token_usage.get("total_tokens") or 0),
    )


def _usage_from_langchain(usage_meta: Mapping[str, Any]) -> Usage:
    return Usage(
        prompt_tokens=int(usage_meta.get("input_tokens", 0)),
        completion_tokens=int(usage_meta.get("output_tokens", 0)),
        total_tokens=int(usage_meta.get("total_tokens", 0)),
    )


@contextmanager
def translate_chat_errors(base_url: str | None) -> Iterator[None]:
    """Maps the openai client's exceptions to docrag's HTTP errors, without leaking secrets.
    Also the raw httpx errors a stream raises when it breaks off after it started."""
    import httpx
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
        detail = ""
        if 400 <= exc.status_code < 500:
            # The server's own words say which parameter it refused (an unknown model, JSON
            # mode on a server without it); they are about the request, not docrag's secrets.
            detail = f": {str(exc.message)[:300]}"
        raise ChatModelError(
            f"the chat model at {where} answered with HTTP {exc.status_code}{detail}"
        ) from exc
    except (openai.APIError, ValueError, KeyError, TypeError) as exc:
        raise ChatModelError(
            f"the chat model at {where} sent a reply docrag could not read"
        ) from exc
    except httpx.TimeoutException as exc:
        raise ChatModelTimeout(
            f"the chat model at {where} stopped sending in the middle of its answer; try "
            "again, or raise DOCRAG_LLM__TIMEOUT_S"
        ) from exc
    except httpx.HTTPError as exc:
        raise ChatModelError(
            f"the chat model at {where} broke off its answer ({type(exc).__name__})"
        ) from exc
