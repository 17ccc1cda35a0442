"""POST/GET/DELETE /documents through HTTP, with real files, real Chroma and the real model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests import samples as f

NOTES = (
    b"Meeting notes. The aurora project ships in March. "
    b"The budget for aurora is forty thousand euros.\n"
)


def upload(client: Any, *files: tuple[str, bytes]) -> Any:
    return client.post("/documents", files=[("files", (name, data)) for name, data in files])


def stored_state(client: Any) -> tuple[list[str], int]:
    listing = client.get("/documents", params={"limit": 1000}).json()
    return sorted(d["id"] for d in listing["data"]), client.get("/health").json()["chunks"]


def test_upload_pdf_and_text_in_one_request(client: Any) -> None:
    pdf = f.MULTIPAGE_PDF.read_bytes()
    response = upload(client, ("report.pdf", pdf), ("notes.txt", NOTES))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["errors"] == []
    by_name = {d["filename"]: d for d in body["documents"]}
    report, notes = by_name["report.pdf"], by_name["notes.txt"]
    assert report["media_type"] == "application/pdf"
    assert report["pages"] == f.MULTIPAGE_PDF_PAGES
    assert report["chunks"] >= 1 and report["status"] == "ready"
    assert report["size_bytes"] == len(pdf)
    assert len(report["sha256"]) == 64 and report["created_at"]
    assert notes["media_type"] == "text/plain" and notes["chunks"] >= 1
    assert client.get("/health").json()["chunks"] == report["chunks"] + notes["chunks"]


def test_one_bad_file_does_not_stop_the_good_ones(client: Any) -> None:
    response = upload(client, ("good.txt", NOTES), ("program.exe", b"MZ\x90\x00" + bytes(200)))
    assert response.status_code == 201
    body = response.json()
    assert [d["filename"] for d in body["documents"]] == ["good.txt"]
    [error] = body["errors"]
    assert error["filename"] == "program.exe"
    assert error["code"] == "unsupported_file_type"
    assert "PDF" in error["message"]


def test_same_bytes_under_another_name_return_the_existing_document(client: Any) -> None:
    first = upload(client, ("notes.txt", NOTES)).json()["documents"][0]
    chunks_before = client.get("/health").json()["chunks"]
    again = upload(client, ("copy of notes.txt", NOTES))
    assert again.status_code == 200
    assert again.json()["documents"][0]["id"] == first["id"]
    assert client.get("/health").json()["chunks"] == chunks_before
    assert client.get("/documents").json()["total"] == 1


def test_list_is_paged(client: Any) -> None:
    for i in range(3):
        upload(client, (f"n{i}.txt", NOTES + f"copy {i}".encode()))
    first = client.get("/documents", params={"limit": 2}).json()
    rest = client.get("/documents", params={"limit": 2, "offset": 2}).json()
    assert first["total"] == rest["total"] == 3
    assert len(first["data"]) == 2 and len(rest["data"]) == 1
    assert {d["id"] for d in first["data"]}.isdisjoint({d["id"] for d in rest["data"]})


def test_get_document_and_its_pages(client: Any) -> None:
    doc = upload(client, ("report.pdf", f.MULTIPAGE_PDF.read_bytes())).json()["documents"][0]
    assert client.get(f"/documents/{doc['id']}").json() == doc
    pages = client.get(f"/documents/{doc['id']}/content").json()["pages"]
    assert [p["number"] for p in pages] == list(range(1, f.MULTIPAGE_PDF_PAGES + 1))
    assert f.PAGE_TWO_PHRASE in pages[1]["text"]
    assert f.PAGE_TWO_PHRASE not in pages[0]["text"]


def test_text_document_content_is_one_page(client: Any) -> None:
    doc = upload(client, ("notes.txt", NOTES)).json()["documents"][0]
    assert doc["pages"] == 0
    pages = client.get(f"/documents/{doc['id']}/content").json()["pages"]
    assert len(pages) == 1 and "aurora" in pages[0]["text"]


def test_markdown_is_accepted(client: Any) -> None:
    response = upload(client, ("guide.md", f.MARKDOWN.read_bytes()))
    assert response.status_code == 201
    assert response.json()["documents"][0]["media_type"] == "text/markdown"


def test_delete_removes_chunks_and_stored_file(client: Any, make_settings: Any) -> None:
    keep = upload(client, ("keep.txt", b"Keep this document about ferns and mosses.")).json()
    doc = upload(client, ("notes.txt", NOTES)).json()["documents"][0]
    stored = Path(client.app.state.parts.settings.files_dir) / doc["id"]
    assert stored.exists()

    assert client.delete(f"/documents/{doc['id']}").status_code == 204
    assert not stored.exists()
    assert client.get(f"/documents/{doc['id']}").status_code == 404
    assert client.get("/health").json()["chunks"] == keep["documents"][0]["chunks"]
    second = client.delete(f"/documents/{doc['id']}")
    assert second.status_code == 404
    assert second.json()["error"]["code"] == "document_not_found"


@pytest.mark.parametrize(
    ("name", "path", "status", "code", "hint"),
    [
        ("locked.pdf", f.ENCRYPTED_PDF, 422, "encrypted_document", "password"),
        ("broken.pdf", f.CORRUPT_PDF, 422, "corrupt_document", ""),
        ("scan.pdf", f.SCANNED_PDF, 422, "no_text_layer", "OCR"),
        ("fake.pdf", f.FAKE_PDF, None, None, "PDF"),
        ("binary.txt", f.BINARY_TXT, 415, "unsupported_file_type", ""),
    ],
)
def test_bad_files_get_clear_errors_and_change_nothing(
    client: Any, name: str, path: Path, status: int | None, code: str | None, hint: str
) -> None:
    upload(client, ("notes.txt", NOTES))
    before = stored_state(client)
    response = upload(client, (name, path.read_bytes()))
    assert response.status_code in ((status,) if status else (415, 422)), response.text
    error = response.json()["error"]
    if code:
        assert error["code"] == code
    assert hint in error["message"] and len(error["message"]) > 20
    assert response.json()["errors"][0]["filename"] == name
    assert stored_state(client) == before


def test_empty_file_is_refused(client: Any) -> None:
    response = upload(client, ("empty.txt", b""))
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "empty_document"


def test_unknown_type_names_the_supported_ones(client: Any) -> None:
    response = upload(client, ("archive.zip", b"PK\x03\x04" + bytes(64)))
    assert response.status_code == 415
    message = response.json()["error"]["message"]
    assert "PDF" in message and ".txt" in message and ".md" in message and ".png" in message


def test_a_damaged_image_is_a_422_not_a_crash(client: Any) -> None:
    response = upload(client, ("photo.png", b"\x89PNG\r\n\x1a\n" + bytes(64)))
    assert response.status_code == 422
    assert "photo.png" in response.json()["error"]["message"]


def test_file_over_the_size_limit_is_413(make_client: Any) -> None:
    client = make_client(limits={"max_upload_mb": 0.01})
    before = stored_state(client)
    response = upload(client, ("big.txt", b"word " * 5000))
    assert response.status_code == 413
    assert "DOCRAG_LIMITS__MAX_UPLOAD_MB" in response.json()["error"]["message"]
    assert stored_state(client) == before


def test_request_body_far_over_the_limit_is_refused_before_reading(make_client: Any) -> None:
    client = make_client(limits={"max_upload_mb": 0.01, "max_files_per_request": 1})
    response = upload(client, ("big.txt", b"word " * 20000))
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "file_too_large"


def test_no_files_and_too_many_files(make_client: Any) -> None:
    client = make_client(limits={"max_files_per_request": 2})
    none = client.post("/documents")
    assert none.status_code == 422 and "files" in none.json()["error"]["message"]
    many = upload(client, *[(f"{i}.txt", f"text {i}".encode()) for i in range(3)])
    assert many.status_code == 422
    assert "DOCRAG_LIMITS__MAX_FILES_PER_REQUEST" in many.json()["error"]["message"]
    assert client.get("/documents").json()["total"] == 0


def test_file_names_are_never_paths(client: Any) -> None:
    response = upload(client, ("../../../etc/evil.txt", NOTES))
    doc = response.json()["documents"][0]
    assert doc["filename"] == "evil.txt"
    files_dir = Path(client.app.state.parts.settings.files_dir)
    assert [p.name for p in files_dir.iterdir()] == [doc["id"]]


def test_unknown_ids_and_bad_paging(client: Any) -> None:
    for method, path in [
        ("get", "/documents/nope"),
        ("get", "/documents/nope/content"),
        ("delete", "/documents/nope"),
    ]:
        response = client.request(method.upper(), path)
        assert response.status_code == 404
        assert "GET /documents" in response.json()["error"]["message"]
    bad = client.get("/documents", params={"limit": 0})
    assert bad.status_code == 422 and "limit" in bad.json()["error"]["message"]
    assert client.get("/documents", params={"offset": -1}).status_code == 422


def test_real_pdfs_from_other_producers(client: Any) -> None:
    for path in f.REAL_PDFS:
        response = upload(client, (path.name, path.read_bytes()))
        assert response.status_code == 201, (path.name, response.text)
        assert response.json()["documents"][0]["chunks"] > 0


def test_unexpected_failure_is_a_500_with_request_id_and_leaves_nothing(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    container = client.app.state.parts

    def broken(texts: Any) -> Any:
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(container.embedder, "embed_documents", broken)
    response = upload(client, ("notes.txt", NOTES))
    assert response.status_code == 500
    body = response.json()
    assert body["error"]["code"] == "internal_error"
    assert "secret" not in response.text
    assert response.headers["X-Request-ID"] in body["error"]["message"]
    monkeypatch.undo()
    assert stored_state(client) == ([], 0)
    assert list(Path(container.settings.files_dir).glob("*")) == []
