"""Chat models: any OpenAI-compatible server through langchain-openai. The only module that
imports langchain-openai."""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Mapping, Sequence
from contextlib import aclosing
from functools import cache
from typing import Any, cast

from app.errors import ChatModelError, ChatModelUnavailable, ToolsNotSupported
from app.query.chat import (
    Choice,
    Generation,
    GenerationParams,
    Message,
    ReasoningDelta,
    StreamEnd,
    ToolCall,
    ToolReply,
    ToolSpec,
    Usage,
)
from app.query.chat_errors import translate_chat_errors
from app.query.reasoning import Piece, ThinkTagSplitter, join_reasoning, split_reasoning

__all__ = ["OpenAIChatModel", "translate_chat_errors"]

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

        self.name = model
        self.base_url = base_url
        self._defaults = defaults
        # Local servers ignore the key, but the client insists on having one.
        self._llm = _chat_openai_keeping_reasoning()(
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
        extra_body.update(_server_specific(params))
        if extra_body:
            merged["extra_body"] = extra_body
        if params.prefill:
            merged[_PREFILL_FLAG] = params.prefill_mode
        return {k: v for k, v in merged.items() if v is not None}

    @staticmethod
    def _to_langchain(messages: Sequence[Message], prefill: str | None = None) -> list[Any]:
        from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage

        if prefill:
            messages = [*messages, Message("assistant", prefill)]
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
                reply = bound.invoke(
                    self._to_langchain(messages, params.prefill), **self._payload(params)
                )
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
        reasoning, text = _answer_and_reasoning(reply, params.prefill)
        return ToolReply(
            text=text,
            tool_calls=tuple(calls),
            model=str(metadata.get("model_name") or self.name),
            usage=_usage_from_langchain(usage_meta) if usage_meta else None,
            finish_reason=metadata.get("finish_reason"),
            reasoning=reasoning,
        )

    def generate(self, messages: Sequence[Message], params: GenerationParams) -> Generation:
        lc_messages = self._to_langchain(messages, params.prefill)
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
                reasoning, text = _answer_and_reasoning(message, params.prefill)
                choices.append(Choice(text, info.get("finish_reason"), reasoning))
        return Generation(choices=tuple(choices), model=model, usage=usage)

    async def astream(
        self, messages: Sequence[Message], params: GenerationParams
    ) -> AsyncGenerator[str | ReasoningDelta | StreamEnd, None]:
        payload = self._payload(params)
        finish_reason: str | None = None
        usage: Usage | None = None
        model = self.name
        started = False
        tags = ThinkTagSplitter()
        if params.prefill:
            # The answer starts with the prefill; the server sends only what follows it.
            for piece in tags.feed(params.prefill):
                yield _delta(piece)
        try:
            with translate_chat_errors(self.base_url):
                # aclosing: when our consumer stops (a client disconnected), the upstream
                # stream is closed at once rather than whenever it is garbage-collected.
                stream = self._llm.astream(
                    self._to_langchain(messages, params.prefill), stream_usage=True, **payload
                )
                async with aclosing(cast(AsyncGenerator[Any, None], stream)) as chunks:
                    async for chunk in chunks:
                        started = True
                        metadata = chunk.response_metadata or {}
                        finish_reason = metadata.get("finish_reason") or finish_reason
                        model = str(metadata.get("model_name") or model)
                        if chunk.usage_metadata:
                            usage = _usage_from_langchain(chunk.usage_metadata)
                        reasoning = chunk.additional_kwargs.get("reasoning_content")
                        if isinstance(reasoning, str) and reasoning:
                            yield ReasoningDelta(reasoning)
                        for piece in tags.feed(_text_of(chunk)):
                            yield _delta(piece)
        except ChatModelUnavailable as exc:
            if not started:
                raise
            # The openai client reports a connection lost mid-body as a connection error.
            raise ChatModelError(
                f"the chat model at {self.base_url or 'the OpenAI API'} broke off its answer "
                "in the middle"
            ) from exc
        for piece in tags.finish():
            yield _delta(piece)
        yield StreamEnd(model=model, usage=usage, finish_reason=finish_reason)


def _delta(piece: Piece) -> str | ReasoningDelta:
    return piece.text if piece.kind == "answer" else ReasoningDelta(piece.text)


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
    details = token_usage.get("completion_tokens_details") or {}
    reasoning = details.get("reasoning_tokens") if isinstance(details, Mapping) else None
    return Usage(
        prompt_tokens=int(token_usage.get("prompt_tokens") or 0),
        completion_tokens=int(token_usage.get("completion_tokens") or 0),
        total_tokens=int(token_usage.get("total_tokens") or 0),
        reasoning_tokens=int(reasoning) if reasoning is not None else None,
    )


def _usage_from_langchain(usage_meta: Mapping[str, Any]) -> Usage:
    details = usage_meta.get("output_token_details") or {}
    reasoning = details.get("reasoning")
    return Usage(
        prompt_tokens=int(usage_meta.get("input_tokens", 0)),
        completion_tokens=int(usage_meta.get("output_tokens", 0)),
        total_tokens=int(usage_meta.get("total_tokens", 0)),
        reasoning_tokens=int(reasoning) if reasoning is not None else None,
    )


def _answer_and_reasoning(message: Any, prefill: str | None) -> tuple[str | None, str]:
    """(thinking, answer) of one reply: the reasoning field and any `<think>` blocks are
    thinking; the answer starts with the prefill (unless the server repeated it already)."""
    field = message.additional_kwargs.get("reasoning_content")
    content = _text_of(message)
    if prefill and not content.startswith(prefill):
        content = prefill + content
    tagged, answer = split_reasoning(content)
    return join_reasoning(field if isinstance(field, str) else None, tagged), answer


def _server_specific(params: GenerationParams) -> dict[str, Any]:
    """The fields that OpenAI's own API refuses but other servers take, for extra_body."""
    body: dict[str, Any] = {}
    if params.top_k is not None:
        body["top_k"] = params.top_k
    if params.min_p is not None:
        body["min_p"] = params.min_p
    if params.repetition_penalty is not None:
        # vLLM, SGLang, LMDeploy and DashScope call it repetition_penalty; llama.cpp calls it
        # repeat_penalty. Each server ignores the other's name.
        body["repetition_penalty"] = params.repetition_penalty
        body["repeat_penalty"] = params.repetition_penalty
    if params.thinking is not None:
        # Qwen3: DashScope reads enable_thinking; vLLM, SGLang and llama.cpp pass
        # chat_template_kwargs to the model's chat template.
        body["enable_thinking"] = params.thinking
        body["chat_template_kwargs"] = {"enable_thinking": params.thinking}
    if params.prefill and params.prefill_mode == "assistant_message":
        # vLLM and SGLang continue the trailing assistant message only when told to.
        body["continue_final_message"] = True
        body["add_generation_prompt"] = False
    return body


# A request option read (and removed) by the subclass below: which flag marks the prefill.
_PREFILL_FLAG = "docrag_prefill_mode"
_PREFILL_MARKS = {"deepseek_prefix": "prefix", "kimi_partial": "partial"}


@cache
def _chat_openai_keeping_reasoning() -> type[Any]:
    """ChatOpenAI that keeps what langchain-openai drops from non-OpenAI servers: the
    `reasoning_content` (or `reasoning`) of replies and stream deltas, and that marks an
    assistant prefill the way DeepSeek (`prefix`) and Kimi (`partial`) want it."""
    from langchain_openai import ChatOpenAI

    def reasoning_of(message: Any) -> str | None:
        if not isinstance(message, Mapping):
            return None
        value = message.get("reasoning_content") or message.get("reasoning")
        return value if isinstance(value, str) and value else None

    class ReasoningChatOpenAI(ChatOpenAI):
        def _get_request_payload(self, input_: Any, *, stop: Any = None, **kwargs: Any) -> dict:
            mode = kwargs.pop(_PREFILL_FLAG, None)
            payload = super()._get_request_payload(input_, stop=stop, **kwargs)
            mark = _PREFILL_MARKS.get(str(mode))
            if mark and payload.get("messages"):
                payload["messages"][-1][mark] = True
            return payload

        def _create_chat_result(self, response: Any, generation_info: Any = None) -> Any:
            result = super()._create_chat_result(response, generation_info)
            raw = response if isinstance(response, dict) else response.model_dump()
            choices = raw.get("choices") or []
            for generation, choice in zip(result.generations, choices, strict=False):
                reasoning = reasoning_of(choice.get("message"))
                if reasoning:
                    generation.message.additional_kwargs["reasoning_content"] = reasoning
            return result

        def _convert_chunk_to_generation_chunk(
            self, chunk: dict, default_chunk_class: type, base_generation_info: dict | None
        ) -> Any:
            generation = super()._convert_chunk_to_generation_chunk(
                chunk, default_chunk_class, base_generation_info
            )
            choices = chunk.get("choices") or []
            if generation is not None and choices:
                reasoning = reasoning_of(choices[0].get("delta"))
                if reasoning:
                    generation.message.additional_kwargs["reasoning_content"] = reasoning
            return generation

    return ReasoningChatOpenAI
