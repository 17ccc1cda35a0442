"""Agent mode: the chat model searches the documents itself with a `search_documents` tool
(LangChain tool calling), a bounded number of times, then answers citing what it found."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from app.errors import InvalidRequest, ToolsNotSupported
from app.query.answering import AskService
from app.query.answers import AgentStep, Answer, PreparedQuestion, Question
from app.query.chat import ChatModel, Choice, Message, ToolCall, ToolSpec, Usage
from app.query.prompting import AGENT_SYSTEM_PROMPT, PromptSource, format_source_blocks

SEARCH_DOCUMENTS = ToolSpec(
    name="search_documents",
    description="Searches the user's documents. Returns numbered passages with file name and "
    "page; cite them in the answer as [n].",
    parameters={
        "type": "object",
        "properties": {
            "query": {"type": "string", "description": "what to look for, in plain words"},
            "document_ids": {
                "type": "array",
                "items": {"type": "string"},
                "description": "search only these documents (optional)",
            },
        },
        "required": ["query"],
    },
)
NOTHING_FOUND = "No relevant passages found."


class DocumentAgent:
    """Runs the tool loop for one question. By default the first turn always searches
    (tool_choice names the tool: small models call tools only when told to); later turns let
    the model choose, until it answers or `max_steps` searches were made, when it must answer.

    A caller's tool_choice sets the first turn: "none" answers without searching (and without
    sources), "required" or the tool's name make it search, "auto" lets the model decide. A
    server that ignores "auto" or "required" (it answers without calling the tool) is asked
    once more with the tool named, which every server with tool calling honours."""

    def __init__(self, service: AskService, chat_model: ChatModel | None, max_steps: int) -> None:
        self._service = service
        self._chat_model = chat_model
        self._max_steps = max_steps

    def run(self, question: Question, tool_choice: str | None = None) -> Answer:
        chat = self._chat_model
        if tool_choice not in (None, "none", "auto", "required", SEARCH_DOCUMENTS.name):
            raise InvalidRequest(
                f"generation.tool_choice: there is no tool {tool_choice!r}; the one tool is "
                f"{SEARCH_DOCUMENTS.name!r} (or use none, auto, required)"
            )
        if chat is None:
            raise ToolsNotSupported(
                "agent mode needs a chat model with tool calling; set DOCRAG_LLM__MODEL"
            )
        start = time.perf_counter()
        params = replace(question.generation, n=1, json_mode=False, prefill=None)
        messages = [
            Message("system", AGENT_SYSTEM_PROMPT),
            *question.history,
            Message("user", question.text),
        ]
        sources: list[PromptSource] = []
        steps: list[AgentStep] = []
        usage: Usage | None = None
        choice = tool_choice or SEARCH_DOCUMENTS.name
        retrieve_ms = 0.0
        while True:
            reply = chat.call_tools(messages, [SEARCH_DOCUMENTS], params, choice)
            if reply.usage is not None:
                usage = usage + reply.usage if usage else reply.usage
            if not reply.tool_calls and not steps and choice in ("auto", "required"):
                # The documented fallback: the server ignored the choice; name the tool.
                choice = SEARCH_DOCUMENTS.name
                continue
            if not reply.tool_calls or choice == "none":
                break
            messages.append(Message("assistant", reply.text, tool_calls=reply.tool_calls))
            for call in reply.tool_calls:
                searched = time.perf_counter()
                content = self._call(call, question, sources, steps)
                retrieve_ms += (time.perf_counter() - searched) * 1000
                messages.append(Message("tool", content, tool_call_id=call.id))
            choice = "auto" if len(steps) < self._max_steps else "none"
        if not steps and tool_choice != "none":
            raise ToolsNotSupported(
                f"the chat model {chat.name} did not call search_documents although it was "
                "told to; it or its server does not support tool calling: use the default mode"
            )
        prepared = PreparedQuestion(
            question=question,
            search_text=question.text,
            condensed_question=None,
            history=question.history,
            sources=sources,
            condense_ms=0.0,
            retrieve_ms=round(retrieve_ms, 1),
            rerank_ms=0.0,
        )
        answer = self._service.checked_answer(
            prepared,
            [Choice(reply.text, reply.finish_reason, reply.reasoning)],
            reply.model,
            usage,
            start,
        )
        return replace(answer, steps=steps)

    def _call(
        self,
        call: ToolCall,
        question: Question,
        sources: list[PromptSource],
        steps: list[AgentStep],
    ) -> str:
        """Runs one tool call; the text returned goes back to the model."""
        if len(steps) >= self._max_steps:
            error = f"the search limit ({self._max_steps}) is reached: answer now"
            steps.append(AgentStep(call.name, call.arguments, [], error))
            return error
        query = call.arguments.get("query")
        if call.name != SEARCH_DOCUMENTS.name or not isinstance(query, str) or not query.strip():
            error = "call search_documents with a non-empty string 'query'"
            steps.append(AgentStep(call.name, call.arguments, [], error))
            return f"error: {error}"
        filters = question.filters
        wanted = call.arguments.get("document_ids")
        if isinstance(wanted, list) and wanted:
            allowed = set(filters.document_ids)
            # The request's own filter still holds: the model may narrow it, never widen it.
            ids = tuple(str(d) for d in wanted if not allowed or str(d) in allowed)
            filters = replace(filters, document_ids=ids or filters.document_ids)
        found = self._service.prepare(
            replace(question, text=query.strip(), filters=filters, history=())
        )
        numbered = _renumber(found.sources, sources)
        steps.append(AgentStep(call.name, _plain(call.arguments), [s.n for s in numbered]))
        return format_source_blocks(numbered) if numbered else NOTHING_FOUND


def _renumber(found: list[PromptSource], sources: list[PromptSource]) -> list[PromptSource]:
    """Numbers passages across searches: a chunk found again keeps its first number."""
    by_chunk = {s.hit.chunk_id: s for s in sources}
    numbered = []
    for source in found:
        known = by_chunk.get(source.hit.chunk_id)
        if known is None:
            known = PromptSource(len(sources) + 1, source.hit, source.text)
            sources.append(known)
            by_chunk[source.hit.chunk_id] = known
        numbered.append(known)
    return numbered


def _plain(arguments: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in arguments.items() if isinstance(v, str | int | float | bool | list)}
