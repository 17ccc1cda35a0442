"""`GET /documents/{id}/file`: the stored original for the viewer, with its type, an inline
disposition a hostile name cannot break, and the same API keys as the rest."""

from __future__ import annotations

from typing import Any

from tests.conftest import FILES


def upload(client: Any, name: str, data: bytes) -> str:
    response = client.post("/documents", files=[("files", (name, data))])
    assert response.status_code == 201, response.text
    return str(response.json()["documents"][0]["id"])


def test_the_original_comes_back_byte_for_byte_as_inline_pdf(client: Any) -> None:
    data = (FILES / "three_pages.pdf").read_bytes()
    document_id = upload(client, 'Q3 "final"\r\nreport 报告.pdf', data)
    response = client.get(f"/documents/{document_id}/file")
    assert response.status_code == 200
    assert response.content == data
    assert response.headers["content-type"] == "application/pdf"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith('inline; filename="')
    plain = disposition.split('filename="')[1].split('"')[0]
    assert "\r" not in disposition and "\n" not in disposition and '"' not in plain
    assert "filename*=UTF-8''" in disposition and "%E6%8A%A5%E5%91%8A" in disposition


def test_an_uploaded_web_page_cannot_run_scripts_on_docrags_origin(client: Any) -> None:
    page = b"<html><body><h1>Harbour</h1><p>The harbour opens at dawn.</p>"
    page += b"<script>alert(sessionStorage.getItem('docrag.apiKey'))</script></body></html>"
    document_id = upload(client, "harbour.html", page)
    response = client.get(f"/documents/{document_id}/file")
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["content-security-policy"] == "sandbox"
    assert response.headers["x-content-type-options"] == "nosniff"


def test_an_unknown_or_deleted_document_is_a_404_that_says_so(client: Any) -> None:
    missing = client.get("/documents/0123456789abcdef0123456789abcdef/file")
    assert missing.status_code == 404
    assert "0123456789abcdef0123456789abcdef" in missing.json()["error"]["message"]
    document_id = upload(client, "notes.txt", (FILES / "notes_utf8.txt").read_bytes())
    assert client.delete(f"/documents/{document_id}").status_code == 204
    assert client.get(f"/documents/{document_id}/file").status_code == 404


def test_the_file_needs_the_api_key_like_everything_else(make_client: Any) -> None:
    client = make_client(auth={"api_keys": ["k-123"]})
    data = (FILES / "three_pages.pdf").read_bytes()
    stored = client.post(
        "/documents", files=[("files", ("a.pdf", data))], headers={"Authorization": "Bearer k-123"}
    )
    document_id = stored.json()["documents"][0]["id"]
    assert client.get(f"/documents/{document_id}/file").status_code == 401
    allowed = client.get(
        f"/documents/{document_id}/file", headers={"Authorization": "Bearer k-123"}
    )
    assert allowed.status_code == 200 and allowed.content == data
