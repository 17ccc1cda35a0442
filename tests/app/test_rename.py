"""PATCH /documents/{id}: a new name (and metadata) without reading or embedding again."""

from __future__ import annotations

from typing import Any

import pytest

from tests import samples as f

TEXT = (
    "The lighthouse keeper logs the weather every morning at six. "
    "Fog horns sound twice a minute when visibility drops below a mile. "
) * 30


@pytest.fixture
def stored(client: Any) -> dict[str, Any]:
    response = client.post(
        "/documents",
        files=[("files", ("keeper.txt", TEXT.encode()))],
        data={"metadata": '{"team": "coast"}'},
    )
    assert response.status_code == 201, response.text
    doc: dict[str, Any] = response.json()["documents"][0]
    assert doc["chunks"] > 1
    return doc


def cited_files(client: Any, **filters: Any) -> set[str]:
    response = client.post(
        "/ask", json={"question": "When does the keeper log the weather?", **filters}
    )
    assert response.status_code == 200, response.text
    return {c["filename"] for c in response.json()["citations"]}


def test_a_renamed_document_is_cited_and_filtered_by_its_new_name(
    client: Any, stored: dict[str, Any]
) -> None:
    assert cited_files(client) == {"keeper.txt"}
    response = client.patch(
        f"/documents/{stored['id']}",
        json={"filename": "logbook.txt", "metadata": {"team": "harbour"}},
    )
    assert response.status_code == 200, response.text
    renamed = response.json()
    assert renamed["id"] == stored["id"]
    assert renamed["filename"] == "logbook.txt" and renamed["metadata"] == {"team": "harbour"}
    assert renamed["chunks"] == stored["chunks"] and renamed["sha256"] == stored["sha256"]

    assert cited_files(client) == {"logbook.txt"}
    assert cited_files(client, filenames=["logbook.txt"]) == {"logbook.txt"}
    assert cited_files(client, filenames=["keeper.txt"]) == set()
    assert cited_files(client, metadata={"team": "harbour"}) == {"logbook.txt"}
    listed = client.get("/documents").json()
    assert [d["filename"] for d in listed["data"]] == ["logbook.txt"]
    content = client.get(f"/documents/{stored['id']}/content")
    assert content.status_code == 200 and "lighthouse keeper" in content.json()["pages"][0]["text"]
    assert client.get(f"/documents/{stored['id']}/file").content == TEXT.encode()


def test_a_rename_without_metadata_keeps_it(client: Any, stored: dict[str, Any]) -> None:
    response = client.patch(f"/documents/{stored['id']}", json={"filename": "log.txt"})
    assert response.status_code == 200, response.text
    assert response.json()["metadata"] == {"team": "coast"}
    again = client.patch(f"/documents/{stored['id']}", json={"filename": "log.txt"})
    assert again.status_code == 200 and again.json()["filename"] == "log.txt"


@pytest.mark.parametrize(
    ("body", "names"),
    [
        ({"filename": ""}, "filename"),
        ({"filename": "reports/q3.pdf"}, "without folders"),
        ({"filename": "a\x00b.txt"}, "control characters"),
        ({}, "filename"),
        ({"filename": "x.txt", "name": "y"}, "name"),
        ({"filename": "x.txt", "metadata": {"bad key!": 1}}, "metadata key"),
        ({"filename": "x.txt", "metadata": {"k": [1, 2]}}, "metadata value"),
    ],
)
def test_bad_renames_are_refused_naming_the_problem(
    client: Any, stored: dict[str, Any], body: dict[str, Any], names: str
) -> None:
    response = client.patch(f"/documents/{stored['id']}", json=body)
    assert response.status_code == 422, response.text
    assert names in response.json()["error"]["message"]
    assert client.get(f"/documents/{stored['id']}").json()["filename"] == "keeper.txt"


def test_renaming_an_unknown_document_is_a_404(client: Any) -> None:
    response = client.patch("/documents/nosuchdocument", json={"filename": "x.txt"})
    assert response.status_code == 404
    assert "GET /documents" in response.json()["error"]["message"]


def test_a_body_that_is_not_json_is_refused(client: Any, stored: dict[str, Any]) -> None:
    response = client.patch(
        f"/documents/{stored['id']}",
        content=b"filename=x.txt",
        headers={"content-type": "text/plain"},
    )
    assert 400 <= response.status_code < 500
    assert "application/json" in response.json()["error"]["message"]


def test_a_renamed_pdf_keeps_its_pages(client: Any) -> None:
    upload = client.post(
        "/documents", files=[("files", ("report.pdf", f.MULTIPAGE_PDF.read_bytes()))]
    )
    doc = upload.json()["documents"][0]
    response = client.patch(f"/documents/{doc['id']}", json={"filename": "annual.pdf"})
    assert response.status_code == 200, response.text
    assert response.json()["pages"] == doc["pages"] > 1
    pages = client.get(f"/documents/{doc['id']}/content").json()["pages"]
    assert len(pages) == doc["pages"]
