"""One dispatch for every face (`/ask`, `/v1/chat/completions`, MCP's ask): a plain answer, an
agent answer or a stream, with one error policy.

- Whatever fails before a stream has started raises, so each face answers it as it answers any
  error (the HTTP status of `app/errors.py`, or MCP's tool error). A stream counts as started
  only once its first text (or thinking) has come from the chat model: `open_stream` reads up to
  there before a face sends a byte, so a chat model that cannot be reached, refuses or
  rate-limits keeps its status on every face, streamed or not.
- After that, a failure is one `StreamFailed` event, the last one; each face renders it in its
  own stream format."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Literal

import anyio

from app.errors import DocragError, InternalError, InvalidRequest, as_docrag_error
from app.query.agent import DocumentAgent
from app.query.answering import AskService
from app.query.answers import Answer, Question, SourcesFound, StreamEvent
from app.query.chat import ChatModel

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AnswerRequest:
    """What a face asks for, in domain terms."""

    question: Question
    mode: Literal["rag", "agent"] = "rag"
    stream: bool = False
    tool_choice: str | None = None  # agent mode: none, auto, required or the tool's name


@dataclass(frozen=True, slots=True)
class StreamFailed:
    """The last event of a stream that failed after it started."""

    error: DocragError


AnswerEvent = StreamEvent | StreamFailed


def as_answer_error(error: Exception) -> DocragError:
    """docrag's error for any failure: a lower layer's gets its meaning from `app/errors.py`;
    a bug is logged with its traceback and becomes a generic internal error, never its repr."""
    mapped = as_docrag_error(error)
    if mapped is not None:
        return mapped
    logger.error("unexpected error while answering", exc_info=error)
    return InternalError("an unexpected error occurred")


class AnswerStream:
    """A stream whose first events were read before any byte went out. Iterating gives every
    event; a failure from here on is one `StreamFailed`, and then the stream ends. Closing it
    (a client went away) closes the chat model's stream upstream."""

    def __init__(self, first: list[StreamEvent], rest: AsyncGenerator[StreamEvent, None]) -> None:
        self._first = deque(first)
        self._rest = rest
        self._ended = False

    def __aiter__(self) -> AnswerStream:
        return self

    async def __anext__(self) -> AnswerEvent:
        if self._first:
            return self._first.popleft()
        if self._ended:
            raise StopAsyncIteration
        try:
            return await self._rest.__anext__()
        except StopAsyncIteration:
            self._ended = True
            raise
        except Exception as exc:
            self._ended = True
            await self._rest.aclose()
            return StreamFailed(as_answer_error(exc))

    async def aclose(self) -> None:
        self._ended = True
        self._first.clear()
        await self._rest.aclose()


class AnswerDispatch:
    """Decides how a question is answered: plain (`AskService`), agent (`DocumentAgent`) or
    streamed. Built with the ask service, one per index snapshot (`app/parts.py`)."""

    def __init__(
        self, service: AskService, chat_model: ChatModel | None, agent_max_steps: int
    ) -> None:
        self._service = service
        self._chat_model = chat_model
        self._agent_max_steps = agent_max_steps

    def answer(self, request: AnswerRequest) -> Answer:
        """The whole answer, blocking (MCP's tools run on a thread)."""
        _check(request)
        if request.mode == "agent":
            agent = DocumentAgent(self._service, self._chat_model, self._agent_max_steps)
            return agent.run(request.question, request.tool_choice)
        return self._service.ask(request.question)

    async def respond(self, request: AnswerRequest) -> Answer | AnswerStream:
        """The whole answer, or a started stream when one is asked for. Raises what failed
        before the stream started."""
        _check(request)
        if not request.stream:
            return await anyio.to_thread.run_sync(self.answer, request)
        return await self.open_stream(request.question)

    async def open_stream(self, question: Question) -> AnswerStream:
        prepared = await anyio.to_thread.run_sync(self._service.prepare, question)
        events = self._service.astream(prepared)
        first: list[StreamEvent] = []
        try:
            async for event in events:
                first.append(event)
                if not isinstance(event, SourcesFound):
                    break  # the chat model answered: from here on the stream has started
        except BaseException:
            await events.aclose()
            raise
        return AnswerStream(first, events)


def _check(request: AnswerRequest) -> None:
    if request.mode == "agent" and (request.stream or request.question.generation.n > 1):
        raise InvalidRequest("mode: agent answers are not streamed and have n=1")
