"""A reasoning model's thinking, kept apart from its answer. Servers send it in one of three
shapes: a `reasoning_content` (or `reasoning`) field beside the content (DeepSeek-R1, vLLM and
SGLang with a reasoning parser), `<think>...</think>` inside the content (Qwen3, R1 distills on
llama.cpp or Ollama without one), or streamed as reasoning deltas. The field shapes are read
by the chat-model backend; the tags are split here, whole or as they stream."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

OPEN_TAG = "<think>"
CLOSE_TAG = "</think>"


@dataclass(frozen=True, slots=True)
class Piece:
    kind: Literal["answer", "reasoning"]
    text: str


def _partial_tag_length(text: str, tag: str) -> int:
    """How many characters at the end of `text` could be the start of `tag`, cut by a delta
    boundary (held back until the next delta says)."""
    for size in range(min(len(tag) - 1, len(text)), 0, -1):
        if text.endswith(tag[:size]):
            return size
    return 0


class ThinkTagSplitter:
    """Splits streamed content into answer and reasoning pieces at `<think>` and `</think>`,
    even when a tag is cut across deltas. Whitespace between the thinking and the answer is
    dropped, so the answer starts with its first word."""

    def __init__(self) -> None:
        self._buffer = ""
        self._thinking = False
        self._answer_started = False

    def feed(self, text: str) -> list[Piece]:
        self._buffer += text
        pieces: list[Piece] = []
        while True:
            tag = CLOSE_TAG if self._thinking else OPEN_TAG
            at = self._buffer.find(tag)
            if at >= 0:
                self._emit(pieces, self._buffer[:at])
                self._buffer = self._buffer[at + len(tag) :]
                self._thinking = not self._thinking
                continue
            keep = _partial_tag_length(self._buffer, tag)
            self._emit(pieces, self._buffer[: len(self._buffer) - keep])
            self._buffer = self._buffer[len(self._buffer) - keep :]
            return pieces

    def finish(self) -> list[Piece]:
        """What is still held back; thinking that was never closed (a reply cut off at
        max_tokens) stays reasoning."""
        pieces: list[Piece] = []
        self._emit(pieces, self._buffer)
        self._buffer = ""
        return pieces

    def _emit(self, pieces: list[Piece], text: str) -> None:
        if self._thinking:
            if text:
                pieces.append(Piece("reasoning", text))
            return
        if not self._answer_started:
            text = text.lstrip()
            self._answer_started = bool(text)
        if text:
            pieces.append(Piece("answer", text))


def split_reasoning(content: str) -> tuple[str | None, str]:
    """(thinking, answer) of a whole reply. A reply with `</think>` and no opening tag is a
    chat template that opened the thinking in the prompt: what comes before it is thinking."""
    close = content.find(CLOSE_TAG)
    if close >= 0 and OPEN_TAG not in content[:close]:
        content = OPEN_TAG + content
    splitter = ThinkTagSplitter()
    pieces = splitter.feed(content) + splitter.finish()
    reasoning = "".join(p.text for p in pieces if p.kind == "reasoning")
    answer = "".join(p.text for p in pieces if p.kind == "answer")
    return (reasoning.strip() or None), answer


def join_reasoning(*parts: str | None) -> str | None:
    """The thinking of one reply from its shapes (a field and tags), None when there is none."""
    text = "\n\n".join(p.strip() for p in parts if p and p.strip())
    return text or None
