"""Uploading Word, HTML and CSV files over HTTP, and the page-count limit."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests import samples as f
from tests.samples import FILES

DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def upload(client: Any, *names: str) -> Any:
    return client.post(
        "/documents", files=[("files", (name, (FILES / name).read_bytes())) for name in names]
    )


def content_text(client: Any, document_id: str) -> str:
    pages = client.get(f"/documents/{document_id}/content").json()["pages"]
    return "\n".join(page["text"] for page in pages)


def test_word_html_and_csv_are_ingested(client: Any) -> None:
    response = upload(client, "harbour_handbook.docx", "harbour_page.html", "cities_gbk.csv")

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["errors"] == []
    by_name = {d["filename"]: d for d in body["documents"]}
    assert by_name["harbour_handbook.docx"]["media_type"] == DOCX_TYPE
    assert by_name["harbour_handbook.docx"]["title"] == "Harbour Handbook"
    assert by_name["harbour_page.html"]["media_type"] == "text/html"
    assert by_name["harbour_page.html"]["title"] == "Harbour Guide | Port Authority"
    assert by_name["cities_gbk.csv"]["media_type"] == "text/csv"
    assert all(d["status"] == "ready" and d["chunks"] >= 1 for d in body["documents"])
    assert client.get("/health").json()["chunks"] == sum(d["chunks"] for d in body["documents"])

    handbook = content_text(client, by_name["harbour_handbook.docx"]["id"])
    assert "8 to 12 m | 18 euros | 105 euros" in handbook
    page = content_text(client, by_name["harbour_page.html"]["id"])
    assert "twelve euros" in page and "SCRIPTMARKER" not in page and "NAVMARKER" not in page
    assert "重庆" in content_text(client, by_name["cities_gbk.csv"]["id"])


def test_semicolon_csv_is_ingested(client: Any) -> None:
    response = upload(client, "catch_semicolon.csv")

    assert response.status_code == 201, response.text
    assert response.json()["documents"][0]["chunks"] > 1


def test_damaged_word_file_is_a_422_and_stores_nothing(client: Any) -> None:
    response = upload(client, "truncated.docx")

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "corrupt_document"
    assert client.get("/documents").json()["total"] == 0


def test_document_over_the_page_limit_is_refused(make_client: Callable[..., Any]) -> None:
    client = make_client(limits={"max_pages": 2})

    response = client.post(
        "/documents", files=[("files", ("report.pdf", f.MULTIPAGE_PDF.read_bytes()))]
    )

    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "too_many_pages"
    assert f"{f.MULTIPAGE_PDF_PAGES} pages" in error["message"]
    assert "at most 2 pages" in error["message"]
    assert "DOCRAG_LIMITS__MAX_PAGES" in error["message"]
    assert client.get("/documents").json()["total"] == 0
    assert client.get("/health").json()["chunks"] == 0
    # A document within the limit still goes in.
    assert upload(client, "harbour_page.html").status_code == 201
