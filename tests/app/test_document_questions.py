"""Questions about named documents, through HTTP on real PDFs: routing to the filing a
question names, abstention when the named company is in no document, and extractive answers
that lead with the asked table row."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from app.query.analysis import named_terms
from tests.app.chat_fakes import FakeChatServer
from tests.app.filings import GLOBEX, INITECH, filing_pdf


def upload_filings(client: Any) -> None:
    for filing in (GLOBEX, INITECH):
        response = client.post(
            "/documents", files=[("files", (filing.filename, filing_pdf(filing)))]
        )
        assert response.status_code in (200, 201), response.text


def ask(client: Any, question: str, **extra: Any) -> dict[str, Any]:
    response = client.post("/ask", json={"question": question, **extra})
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture
def library(client: Any) -> Any:
    upload_filings(client)
    return client


def test_names_are_read_as_written() -> None:
    terms = [t.text for t in named_terms("What was Acme Tools's revenue in FY2021 (in USD)?")]
    assert terms == ["acme tools", "usd"]  # the year is a period, not a name
    assert [t.text for t in named_terms("Globex's net income in Q2")] == ["globex"]
    assert named_terms("what was the net income in 2021?") == []
    # A number with its unit measures; a letter with digits (B12, 3M) names.
    assert [t.text for t in named_terms("Does a 40mg dose of B12 help 3M's staff?")] == [
        "b12",
        "3m",
    ]
    # An acronym and the capitalised word after it stay two names.
    xyz = "Is XYZ Partners a capital-intensive business?"
    assert [t.text for t in named_terms(xyz)] == ["xyz", "partners"]


def test_a_question_naming_a_company_is_answered_from_its_filing(library: Any) -> None:
    body = ask(library, "What was Initech's total revenue in 2021?", top_k=2)
    assert body["grounded"]
    assert {s["filename"] for s in body["sources"]} == {INITECH.filename}


def test_a_year_narrows_a_company_to_that_filing(client: Any) -> None:
    earlier = replace(GLOBEX, year=2020, net_income=("4,002", "3,659", "3,120"))
    upload_filings(client)
    response = client.post("/documents", files=[("files", (earlier.filename, filing_pdf(earlier)))])
    assert response.status_code in (200, 201), response.text
    body = ask(client, "What was Globex's net income in FY2020?", top_k=3)
    assert {s["filename"] for s in body["sources"]} == {earlier.filename}
    later = ask(client, "What was Globex's net income in FY2021?", top_k=3)
    assert {s["filename"] for s in later["sources"]} == {GLOBEX.filename}


def test_a_question_naming_no_document_searches_every_filing(library: Any) -> None:
    body = ask(library, "Which company makes pumps and which writes payroll software?", top_k=6)
    assert {s["filename"] for s in body["sources"]} == {GLOBEX.filename, INITECH.filename}


def test_a_company_in_no_document_is_not_answered(library: Any) -> None:
    for question in ("What was Tesla's revenue in 2021?", "What is Apple's CEO's name?"):
        body = ask(library, question)
        assert body["grounded"] is False, question
        assert body["citations"] == []
        assert body["answer"] == "The documents do not contain an answer to this question."


def test_a_year_no_named_filing_reports_is_not_answered(make_client: Any) -> None:
    library = make_client(questions={"profile": "filings"})
    upload_filings(library)
    # Globex's only filing is its 2021 10-K: its statements report 2021, 2020 and 2019.
    asked = f"What was Globex's net income in FY{GLOBEX.year - 6}?"
    body = ask(library, asked)
    assert body["grounded"] is False, body["answer"]
    assert body["citations"] == []
    comparative = ask(library, f"What was Globex's net income in FY{GLOBEX.year - 2}?")
    assert comparative["grounded"] is True, comparative["answer"]
    assert {c["filename"] for c in comparative["citations"]} == {GLOBEX.filename}
    # The year after a filing is in its outlook.
    outlook = ask(library, f"What does Globex expect for net income in FY{GLOBEX.year + 1}?")
    assert outlook["grounded"] is True, outlook["answer"]
    # Filtered to the other company's filing, the question names no document it can see.
    elsewhere = ask(library, asked, filenames=[INITECH.filename])
    assert elsewhere["grounded"] is False


def test_the_generic_profile_knows_no_reporting_window(library: Any) -> None:
    # Any document may speak of any year: only a domain profile (filings) says which years
    # a document reports, so the generic default never refuses for a year.
    body = ask(library, f"What was Globex's net income in FY{GLOBEX.year - 2}?")
    assert body["grounded"] is True, body["answer"]
    quarter = ask(library, f"What was Globex's net income in Q2 of FY{GLOBEX.year + 1}?")
    assert quarter["grounded"] is True, quarter["answer"]


def test_abstaining_never_calls_the_chat_model(make_client: Any, fake: FakeChatServer) -> None:
    client = make_client(llm={"base_url": fake.url, "model": "m", "api_key": "k"})
    upload_filings(client)
    body = ask(client, "How much did Tesla spend on research in 2021?")
    assert body["grounded"] is False
    assert fake.requests == []


def test_abstention_can_be_switched_off(make_client: Any) -> None:
    # A company asked by a name its filing never writes (a ticker): refused while
    # abstention is on, answered from the filing once it is off.
    question = "What was GBX's net income in 2021?"
    for missing_share, answered in ((0.75, False), (1.0, True)):
        client = make_client(abstention={"missing_share": missing_share})
        response = client.post(
            "/documents", files=[("files", (GLOBEX.filename, filing_pdf(GLOBEX)))]
        )
        assert response.status_code in (200, 201), response.text
        body = ask(client, question)
        assert body["grounded"] is answered, body["answer"]
        assert ("5,007" in body["answer"]) is answered, body["answer"]


def test_an_extractive_figure_answer_leads_with_the_asked_row(library: Any) -> None:
    body = ask(library, "What was Globex's net income in fiscal 2021?")
    assert body["grounded"]
    first, rest = body["answer"].split(" [", 1)  # the lead unit and its marker
    # The row with its table's unit and each figure after its year.
    assert first == "Net income (in millions): 2021 5,007; 2020 4,002; 2019 3,659", first
    lead = next(c for c in body["citations"] if c["n"] == int(rest.split("]")[0]))
    assert lead["filename"] == GLOBEX.filename and lead["page"] == 3
    assert lead["quote"] == "Net income 5,007 4,002 3,659"  # the row as the page has it
    # Short: at most three sentences or rows, each cited.
    assert 1 <= body["answer"].count("[") <= 3


def test_extractive_quotes_start_at_a_sentence(library: Any) -> None:
    body = ask(library, "What does Globex make and where are its plants?", top_k=5)
    assert body["grounded"]
    for citation in body["citations"]:
        quote = citation["quote"]
        assert quote and (quote[0].isupper() or quote[0].isdigit()), quote
