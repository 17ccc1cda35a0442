"""What the question path takes and gives: a question, its prepared sources, the answer
with checked citations, and the events of a streamed answer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from app.query.analysis import QuestionAnalysis
from app.query.chat import GenerationParams, Message, ReasoningDelta, Usage
from app.query.prompting import PromptSource
from app.query.retrieval import Filters


@dataclass(frozen=True, slots=True)
class Question:
    text: str
    top_k: int
    filters: Filters = Filters()
    expand_neighbors: int | None = None  # None: the configured default
    generation: GenerationParams = GenerationParams()
    history: tuple[Message, ...] = ()  # earlier turns, oldest first (user/assistant)


@dataclass(frozen=True, slots=True)
class Citation:
    n: int
    document_id: str
    filename: str
    page: int | None
    page_end: int | None
    heading: str | None
    text: str
    score: float
    rerank_score: float | None
    quote: str | None = None  # the chunk's sentence that best supports the citing sentence
    ocr: bool = False  # the chunk's text was read from a page image
    figure: bool = False  # the chunk describes the figures on its page
    knowledge_base: str | None = None  # the base holding the document


@dataclass(frozen=True, slots=True)
class Timings:
    retrieve_ms: float
    rerank_ms: float
    generate_ms: float
    condense_ms: float = 0.0


@dataclass(frozen=True, slots=True)
class AnswerChoice:
    """One of the `n` answers, its citations checked on their own."""

    index: int
    answer: str
    grounded: bool
    citations: list[Citation]
    dropped_citations: list[int]
    finish_reason: str | None
    reasoning: str | None = None  # the model's thinking, never part of `answer` or checked


@dataclass(frozen=True, slots=True)
class AgentStep:
    """One tool call of agent mode and what it returned (the numbers of the sources)."""

    tool: str
    arguments: dict[str, Any]
    results: list[int]
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Answer:
    answer: str
    grounded: bool
    citations: list[Citation]  # the sources the answer cites, in source order
    mode: Literal["generative", "extractive"]
    model: str | None
    usage: Usage | None
    timings: Timings
    finish_reason: str | None = None
    sources: list[Citation] = field(default_factory=list)  # every source given to the model
    dropped_citations: list[int] = field(default_factory=list)
    condensed_question: str | None = None
    choices: list[AnswerChoice] = field(default_factory=list)  # all n answers, first included
    steps: list[AgentStep] = field(default_factory=list)  # agent mode: its tool calls
    reasoning: str | None = None  # the first answer's thinking, apart from it


@dataclass(frozen=True, slots=True)
class PreparedQuestion:
    """A question with its sources found: everything before generation."""

    question: Question  # as asked
    search_text: str  # the condensed question, or the question itself
    condensed_question: str | None
    history: tuple[Message, ...]  # trimmed to the budget
    sources: list[PromptSource]  # empty: nothing relevant, the chat model is not called
    condense_ms: float
    retrieve_ms: float
    rerank_ms: float
    analysis: QuestionAnalysis | None = None  # of search_text, read once
    abstained: bool = False  # the names or the period asked about are not in the library


@dataclass(frozen=True, slots=True)
class SourcesFound:
    """First event of a stream: the numbered sources, before any text."""

    sources: list[Citation]
    condensed_question: str | None
    mode: Literal["generative", "extractive"]
    model: str | None


@dataclass(frozen=True, slots=True)
class TextDelta:
    text: str


@dataclass(frozen=True, slots=True)
class Finished:
    answer: Answer


StreamEvent = SourcesFound | TextDelta | ReasoningDelta | Finished
