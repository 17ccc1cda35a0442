"""Units of the question path: prompting, the cross-encoder rerank, and how chat-server
failures become docrag's errors."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import httpx
import openai
import pytest

from app.errors import (
    ChatModelError,
    ChatModelRateLimited,
    ChatModelTimeout,
    ChatModelUnavailable,
)
from app.query.analysis import plain_analysis
from app.query.chat import Message
from app.query.llm import translate_chat_errors
from app.query.prompting import (
    SYSTEM_PROMPT,
    build_messages,
    describe_location,
    fit_sources,
    trim_history,
)
from app.query.rerank import CrossEncoderReranker
from app.query.retrieval import Hit
from ingest.lexical.tokens import Tokenizer


def hit(text: str, n: int = 0, page: int | None = 3, heading: str | None = None) -> Hit:
    return Hit(
        chunk_id=f"doc:{n}",
        document_id="doc",
        filename="report.pdf",
        text=text,
        ordinal=n,
        page_start=page,
        page_end=page,
        heading=heading,
        score=0.5,
    )


def words(text: str) -> int:
    return len(text.split())


# --- prompting ---


def test_sources_are_numbered_in_rank_order_and_the_last_is_cut_at_a_word() -> None:
    hits = [hit("alpha " * 40, 0), hit("beta " * 40, 1), hit("gamma " * 200, 2)]
    sources = fit_sources(hits, words, budget_tokens=40 + 16 + 40 + 16 + 100)
    assert [s.n for s in sources] == [1, 2, 3]
    assert sources[0].text == hits[0].text and sources[1].text == hits[1].text
    cut = sources[2].text
    assert cut.endswith(" …") and len(cut) < len(hits[2].text)
    assert set(cut.removesuffix(" …").split()) == {"gamma"}  # no word cut in half


def test_a_source_that_does_not_fit_at_all_is_left_out() -> None:
    sources = fit_sources([hit("alpha " * 10, 0), hit("beta " * 500, 1)], words, 10 + 16 + 30)
    assert [s.n for s in sources] == [1]


def test_prompt_names_file_page_and_section_and_ends_with_the_question() -> None:
    source = fit_sources([hit("The budget is 4.2 M EUR.", heading="Finance")], words, 500)
    messages = build_messages(
        "What is the budget?", source, history=[Message("user", "hi"), Message("assistant", "!")]
    )
    assert messages[0] == Message("system", SYSTEM_PROMPT)
    assert [m.role for m in messages] == ["system", "user", "assistant", "user"]
    last = messages[-1].content
    assert "source [1] (file: report.pdf, page 3, section: Finance)" in last
    assert "The budget is 4.2 M EUR." in last
    assert last.index("Question: What is the budget?") > last.index("The budget is")
    assert describe_location(hit("x", page=None)) == "file: report.pdf"


def test_history_keeps_the_latest_whole_turns_and_starts_with_the_user() -> None:
    history = [
        Message("user", "one two three four"),
        Message("assistant", "five six"),
        Message("user", "seven"),
        Message("assistant", "eight nine"),
    ]
    kept = trim_history(history, words, budget_tokens=(1 + 4) + (2 + 4) + (2 + 4))
    assert kept == history[2:]  # "five six" would fit, but a conversation starts with the user


# --- rerank ---


def test_cross_encoder_reranker_orders_by_the_model_scores(minilm_path: str) -> None:
    # No cross-encoder weights can be had offline: MiniLM with a fresh head runs the real
    # code path (load, score, reorder); the check is that its order is its model's scores.
    reranker = CrossEncoderReranker(minilm_path, max_length=128)
    hits = [hit(t, i) for i, t in enumerate(["red apples", "tax law", "green pears", "rain"])]
    ranked = reranker.rerank("fruit", hits, top_n=3)
    expected = reranker._model.predict([("fruit", h.text) for h in hits])
    order = sorted(range(len(hits)), key=lambda i: -float(expected[i]))
    assert [h.chunk_id for h in ranked] == [hits[i].chunk_id for i in order[:3]]
    assert [h.rerank_score for h in ranked] == pytest.approx(
        [float(expected[i]) for i in order[:3]]
    )


# --- chat-model errors ---

REQUEST = httpx.Request("POST", "http://chat.local/v1/chat/completions")


def status_error(cls: type[openai.APIStatusError], status: int, **headers: str) -> Any:
    response = httpx.Response(status, headers=headers, request=REQUEST, json={"error": "x"})
    return cls("server said no: bad param 'top_k'", response=response, body=None)


@pytest.mark.parametrize(
    ("raised", "expected", "words_in_message"),
    [
        (openai.APITimeoutError(request=REQUEST), ChatModelTimeout, "DOCRAG_LLM__TIMEOUT_S"),
        (openai.APIConnectionError(request=REQUEST), ChatModelUnavailable, "DOCRAG_LLM__BASE_URL"),
        (
            status_error(openai.RateLimitError, 429, **{"retry-after": "7"}),
            ChatModelRateLimited,
            "7 s",
        ),
        (status_error(openai.AuthenticationError, 401), ChatModelError, "DOCRAG_LLM__API_KEY"),
        (status_error(openai.BadRequestError, 400), ChatModelError, "bad param 'top_k'"),
        (status_error(openai.InternalServerError, 500), ChatModelError, "HTTP 500"),
        (ValueError("no choices"), ChatModelError, "could not read"),
        (httpx.ReadTimeout("slow", request=REQUEST), ChatModelTimeout, "middle of its answer"),
        (httpx.RemoteProtocolError("cut"), ChatModelError, "broke off"),
    ],
)
def test_chat_server_failures_become_clear_errors(
    raised: Exception, expected: type[Exception], words_in_message: str
) -> None:
    with pytest.raises(expected) as caught, translate_chat_errors("http://chat.local/v1"):
        raise raised
    assert words_in_message in caught.value.message  # type: ignore[attr-defined]


def test_rate_limit_passes_the_servers_retry_after_on() -> None:
    with pytest.raises(ChatModelRateLimited) as caught, translate_chat_errors(None):
        raise status_error(openai.RateLimitError, 429, **{"retry-after": "3"})
    assert caught.value.headers == {"Retry-After": "3"}


# --- selection ---


def test_the_gate_keeps_hits_that_hold_half_of_what_the_best_hit_holds() -> None:
    from app.query.rerank import NoReranker
    from app.query.selection import SourceSelector

    selector = SourceSelector(reranker=NoReranker(), min_score=0.6, min_term_overlap=0.5)
    shares = {"best": 0.8, "half of it": 0.4, "little": 0.2, "close in meaning": 0.1}
    ranked = [
        replace(hit(text, i), term_overlap=share, score=0.7 if text == "close in meaning" else 0.1)
        for i, (text, share) in enumerate(shares.items())
    ]
    kept = [h.text for h in selector.select("q", ranked, 5)]
    assert kept == ["best", "half of it", "close in meaning"]
    # When no hit holds half of the question's terms, only the absolute gate counts: the
    # question passes on a close cosine, and weak term matches do not ride along with it.
    weak = [replace(h, term_overlap=h.term_overlap / 4) for h in ranked]
    assert [h.text for h in selector.select("q", weak, 5)] == ["close in meaning"]
    # Nothing passes: the documents do not answer the question.
    assert selector.select("q", [replace(h, score=0.1) for h in weak], 5) == []


def test_one_source_per_page_moves_a_pages_later_chunks_behind_other_pages() -> None:
    from app.query.rerank import NoReranker
    from app.query.selection import SourceSelector

    ranked = [hit("a", 0, 7), hit("b", 1, 7), hit("c", 2, 9), hit("d", 3, 7), hit("e", 4, 12)]
    selector = SourceSelector(reranker=NoReranker(), min_score=0.0, distinct_pages=True)
    kept = selector.select("q", ranked, 3)
    assert [(h.text, h.page_start) for h in kept] == [("a", 7), ("c", 9), ("e", 12)]
    # Fewer pages than places: the page's further chunks fill them, best first.
    assert [h.text for h in selector.select("q", ranked, 5)] == ["a", "c", "e", "b", "d"]
    # Chunks without pages (a text file) are each their own.
    unpaged = [hit(t, i, None) for i, t in enumerate("xyz")]
    assert [h.text for h in selector.select("q", unpaged, 2)] == ["x", "y"]
    plain = SourceSelector(reranker=NoReranker(), min_score=0.0)
    assert [h.text for h in plain.select("q", ranked, 3)] == ["a", "b", "c"]
    # The document a question names keeps its places ahead of another document's pages.
    other = [replace(hit("z", 9, 1), document_id="other", chunk_id="other:9")]
    named = replace(plain_analysis("q"), routed=("doc",))
    assert [h.text for h in selector.select(named, [*ranked[:2], *other], 2)] == ["a", "b"]
    assert [h.text for h in selector.select("q", [*ranked[:2], *other], 2)] == ["a", "z"]


# --- routing ---


def routes(tmp_path: Any, titles: dict[str, str | None], profile: str = "generic") -> Any:
    """The documents a question is routed to, over a real catalog of ready documents (file
    name -> title, or none), as a function of the question."""
    from datetime import UTC, datetime

    from app.query.analysis import QuestionAnalyzer
    from app.query.profiles import build_profile
    from app.query.routing import TitleIndex
    from ingest import store as store_module
    from ingest.catalog import ChromaPagedRecordStore, DocumentCatalog, DocumentRecord
    from ingest.store import ChromaRecordStore

    client = store_module.connect(path=tmp_path / "chroma")
    catalog = DocumentCatalog(
        ChromaPagedRecordStore(client, "t_documents"), ChromaRecordStore(client, "t_content")
    )
    at = datetime(2026, 1, 1, tzinfo=UTC)
    for i, (filename, title) in enumerate(titles.items()):
        fields = (f"d{i}", filename, "application/pdf", 1, f"s{i}", "ready", at, at)
        catalog.put(DocumentRecord(*fields, title=title))  # type: ignore[arg-type]

    class NoChunks:
        def token_frequencies(self, tokens: Any) -> dict[str, int]:
            return {}

        def size(self) -> int:
            return 0

    chosen = build_profile(profile)  # type: ignore[arg-type]
    analyzer = QuestionAnalyzer(
        tokenize=str.split,
        question_terms=Tokenizer().question_terms,
        statistics=NoChunks(),
        profile=chosen,
        titles=TitleIndex(catalog, chosen),
    )
    return lambda question: analyzer.analyze(question).routed


def test_a_year_narrows_the_named_documents_to_those_of_that_year(tmp_path: Any) -> None:
    route = routes(
        tmp_path,
        {
            "UMBRA_2016_report.pdf": "Umbra Labs annual report 2016",
            "UMBRA_2020_report.pdf": "Umbra Labs annual report 2020",
            "ACME_2016_report.pdf": "Acme Corp annual report 2016",
        },
    )
    assert route("What was Umbra's cash position in 2016?") == ("d0",)
    assert route("What was Umbra's revenue in 2020?") == ("d1",)
    # Without a year, or with a year none of them has, both of Umbra's documents.
    assert set(route("What is Umbra's revenue?")) == {"d0", "d1"}
    assert set(route("What was Umbra's revenue in 2011?")) == {"d0", "d1"}


def test_a_comparison_of_years_routes_to_the_filing_that_reports_them_all(tmp_path: Any) -> None:
    titles = {
        "GLOBEX_2018_10K.pdf": "Globex Holdings 10-K 2018",
        "GLOBEX_2020_10K.pdf": "Globex Holdings 10-K 2020",
        "ACME_2020_10K.pdf": "Acme Corp 10-K 2020",  # routing narrows only a library
    }
    route = routes(tmp_path, titles, "filings")
    # The 2020 10-K compares 2018, 2019 and 2020; the 2018 one holds only the first of them.
    average = "What is the FY2018 - FY2020 average capex of Globex Holdings?"
    assert route(average) == ("d1",)
    assert route("What was Globex's capex in FY2018?") == ("d0",)
    # Years no single filing reports: both filings.
    assert set(route("Globex's capex in FY2017, FY2018 and FY2020?")) == {"d0", "d1"}
    # The generic profile knows no reporting window: a comparison goes to both documents
    # of its years, the 2018 one first named by its year.
    generic = routes(tmp_path / "generic", titles)
    assert set(generic(average)) == {"d0", "d1"}


def test_chinese_names_route_without_capital_letters(tmp_path: Any) -> None:
    route = routes(
        tmp_path,
        {"zhang.txt": "张世昌", "li.txt": "李白故居", "notes.txt": "读书笔记"},
    )
    assert route("张世昌的职业是什么？") == ("d0",)
    assert route("李白故居在哪里？") == ("d1",)
    assert route("这位诗人出生在哪里？") == ()  # names no document


# --- extractive answers ---


def test_an_extractive_answer_quotes_no_lead_in_and_no_line_of_links(embedder: Any) -> None:
    from app.query.extractive import ExtractiveAnswerer

    source = hit(
        "The following table presents balance sheet and working capital measures (in "
        "millions):\nWorking capital $ 1,987 $ 2,145\n"
        "• Overview • Results of Operations • Liquidity and Capital Resources • Working Capital"
    )
    answer = ExtractiveAnswerer(embedder=embedder).answer(
        plain_analysis("Does the company have positive working capital?"), [source]
    )
    # The row carries the unit of its table, read from the lead-in it does not quote.
    assert answer.startswith("Working capital (in millions): $1,987 $2,145 [1]"), answer
    assert "following table" not in answer and "•" not in answer


def test_an_extractive_answer_quotes_each_source_once_and_each_sentence_once(
    embedder: Any,
) -> None:
    from app.query.extractive import ExtractiveAnswerer

    answerer = ExtractiveAnswerer(embedder=embedder)
    question = plain_analysis("How did net sales change in 2021?")
    sources = [
        hit("Net sales rose 6% in 2021. Net sales of pumps rose 9% in 2021.", 0, 3),
        hit("Net sales rose 6% in 2021.", 1, 8),  # the same sentence on another page
        hit("Net sales in Europe fell 2% in 2021.", 2, 9),
    ]
    answer = answerer.answer(question, sources)
    assert answer.count("Net sales rose 6% in 2021.") == 1, answer
    units = answer.split("\n\n")
    assert len(units) == 3, answer
    # Three sources answer: each one's best unit before any source's second.
    assert units[-1] == "Net sales of pumps rose 9% in 2021. [1]", answer
    # Fewer sources than places: the sources' next units fill them.
    two = answerer.answer(question, [sources[0], hit("Pumps are made in Ohio.", 4, 12)])
    assert two.count("[1]") == 2 and two.count("[2]") == 1, two


_INCOME_STATEMENT = (
    "Consolidated Statements of Income\n(in millions) 2021 2020 2019\n"
    "Total revenue 12,480 11,020 10,310\nCost of sales 4,100 3,980 3,700\n"
    "Net income 5,007 4,002 3,659"
)


def test_an_extractive_row_carries_its_column_headings_and_unit(embedder: Any) -> None:
    from app.query.extractive import ExtractiveAnswerer

    answer = ExtractiveAnswerer(embedder=embedder).answer(
        plain_analysis("What was Vantorix's net income in 2021?"), [hit(_INCOME_STATEMENT)]
    )
    first = answer.split("\n\n")[0]
    assert first == "Net income (in millions): 2021 5,007; 2020 4,002; 2019 3,659 [1]", answer
    assert "(in millions) 2021 2020 2019" not in answer  # the headings are not a quote


def test_a_chunk_that_starts_mid_table_reads_its_headings_from_the_page(embedder: Any) -> None:
    from app.query.extractive import ExtractiveAnswerer

    class Pages:
        def page_text(self, document_id: str, page: int) -> str | None:
            return f"Vantorix Corporation\n{_INCOME_STATEMENT}" if page == 3 else None

    question = plain_analysis("What was Vantorix's net income in 2021?")
    middle = replace(hit("Cost of sales 4,100 3,980 3,700\nNet income 5,007 4,002 3,659"))
    answer = ExtractiveAnswerer(embedder=embedder, pages=Pages()).answer(question, [middle])
    assert answer.startswith("Net income (in millions): 2021 5,007; 2020 4,002;"), answer
    # Without the page text, the column headings the chunk was indexed with.
    indexed = replace(middle, context="Vantorix 10-K | p. 3\n2021 2020 2019")
    answer = ExtractiveAnswerer(embedder=embedder).answer(question, [indexed])
    assert answer.startswith("Net income: 2021 5,007; 2020 4,002; 2019 3,659"), answer


def test_a_chinese_table_row_keeps_its_headings_and_unit(embedder: Any) -> None:
    from app.query.extractive import ExtractiveAnswerer

    statement = hit(
        "合并利润表\n单位：万元\n项目 2021年 2020年\n营业收入 12,480 11,020\n净利润 5,007 4,002"
    )
    answer = ExtractiveAnswerer(embedder=embedder).answer(
        plain_analysis("华星公司2021年的净利润是多少？"), [statement]
    )
    assert answer.startswith("净利润 (单位：万元): 2021 5,007; 2020 4,002 [1]"), answer


def test_a_source_below_the_relevance_gate_gives_no_answer_line(embedder: Any) -> None:
    from app.query.extractive import ExtractiveAnswerer
    from app.query.rerank import NoReranker
    from app.query.selection import SourceSelector

    gate = SourceSelector(reranker=NoReranker(), min_score=0.5, min_term_overlap=0.9)
    question = plain_analysis("How did net sales of pumps change in 2021?")
    relevant = replace(hit("Net sales of pumps rose 9% in 2021.", 0), score=0.7)
    along = replace(hit("Net sales of valves rose 4% in 2021.", 1, 8), score=0.3)
    answerer = ExtractiveAnswerer(embedder=embedder, is_relevant=gate.is_relevant)
    answer = answerer.answer(question, [relevant, along])
    assert answer == "Net sales of pumps rose 9% in 2021. [1]", answer
    # No source passes: the best one still answers, alone.
    weak = [replace(relevant, score=0.3), along]
    assert answerer.answer(question, weak) == "Net sales of pumps rose 9% in 2021. [1]"


def test_a_row_of_an_unrelated_table_does_not_pad_the_answer(embedder: Any) -> None:
    from app.query.extractive import ExtractiveAnswerer

    headcount = hit(
        "Workforce\n(in thousands) 2021 2020 2019\n"
        "Employees at the end of the year 12,400 11,900 11,200\n"
        "Contractors at the end of the year 1,100 950 870",
        1,
        4,
    )
    segments = hit(
        "Segment results\n(in millions) 2021 2020 2019\n"
        "Net income of the pumps segment 3,100 2,800 2,500",
        2,
        5,
    )
    answer = ExtractiveAnswerer(embedder=embedder).answer(
        plain_analysis("What was Vantorix's net income in 2021?"),
        [hit(_INCOME_STATEMENT), headcount, segments],
    )
    assert answer.startswith("Net income (in millions): 2021 5,007;"), answer
    # A table that shares no word with what is asked (names and years aside) gives no line.
    assert "Employees" not in answer and "Contractors" not in answer, answer
    assert "[2]" not in answer, answer
    # A row of a table about the asked line item still answers.
    assert "Net income of the pumps segment (in millions): 2021 3,100;" in answer, answer


def test_the_catalog_page_texts_follow_a_replaced_document(tmp_path: Any) -> None:
    from dataclasses import replace as changed
    from datetime import UTC, datetime

    from app.query.tables import CatalogPageTexts
    from ingest import store as store_module
    from ingest.catalog import DocumentCatalog, DocumentRecord
    from ingest.store import ChromaRecordStore
    from parsers.types import Page

    client = store_module.connect(path=tmp_path / "chroma")
    catalog = DocumentCatalog(ChromaRecordStore(client, "p_docs"), ChromaRecordStore(client, "p_c"))
    at = datetime(2026, 1, 1, tzinfo=UTC)
    record = DocumentRecord("d0", "a.pdf", "application/pdf", 1, "s", "ready", at, at)
    catalog.put(record)
    catalog.put_content("d0", [Page(1, "cover"), Page(3, _INCOME_STATEMENT)])
    pages = CatalogPageTexts(catalog)
    assert pages.page_text("d0", 3) == _INCOME_STATEMENT
    assert pages.page_text("d0", 2) is None and pages.page_text("other", 3) is None
    catalog.put_content("d0", [Page(3, "replaced")], generation=1)
    catalog.put(changed(record, generation=1))
    assert pages.page_text("d0", 3) == "replaced"  # the new generation's, not the cached one
