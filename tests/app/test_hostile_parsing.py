"""Hostile files over HTTP: a parse that hangs, one that eats memory and one that kills its
process each fail that file alone with a clear 422, and the service stays healthy: the next
upload works and questions are answered."""

from __future__ import annotations

from typing import Any

import pytest

from tests import samples as f
from tests.hostile_parsing import TARGET

NOTES = b"The aurora greenhouse opens in March. Its budget is forty thousand euros."


@pytest.fixture
def client(make_client: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    client = make_client(limits={"parse_timeout_s": 3, "parse_memory_mb": 256})
    # Fault injection: the parse workers run this module's parser, which misbehaves on demand.
    monkeypatch.setattr(client.app.state.parts.parser, "target", TARGET)
    return client


def upload(client: Any, name: str, data: bytes, **params: Any) -> Any:
    return client.post("/documents", files=[("files", (name, data))], params=params)


@pytest.mark.parametrize(
    ("name", "code", "hint"),
    [
        ("hang.pdf", "parse_timeout", "DOCRAG_LIMITS__PARSE_TIMEOUT_S"),
        ("bomb.pdf", "parse_memory_limit", "DOCRAG_LIMITS__PARSE_MEMORY_MB"),
        ("segfault.pdf", "parser_crashed", "crash"),
        ("exit.pdf", "parser_crashed", "crash"),
    ],
)
def test_a_hostile_file_fails_alone_and_the_service_stays_healthy(
    client: Any, name: str, code: str, hint: str
) -> None:
    kept = upload(client, "notes.txt", NOTES).json()["documents"][0]
    pdf = f.MULTIPAGE_PDF.read_bytes()

    response = client.post(
        "/documents", files=[("files", (name, pdf)), ("files", ("report.pdf", pdf + b"\n"))]
    )
    assert response.status_code == 201, response.text  # the good file of the two got in
    [error] = response.json()["errors"]
    assert error["filename"] == name and error["code"] == code
    assert hint in error["message"]
    [report] = response.json()["documents"]
    assert report["filename"] == "report.pdf" and report["status"] == "ready"

    alone = upload(client, name, pdf)
    assert alone.status_code == 422
    assert alone.json()["error"]["code"] == code

    assert client.get("/health").json()["status"] == "ok"
    listing = client.get("/documents").json()
    assert sorted(d["id"] for d in listing["data"]) == sorted([kept["id"], report["id"]])
    assert upload(client, "more.txt", b"Ferns grow in the shade of old oaks.").status_code == 201
    answer = client.post("/ask", json={"question": "When does the aurora greenhouse open?"})
    assert answer.status_code == 200 and answer.json()["citations"]


def test_a_hostile_file_fails_its_background_job(client: Any) -> None:
    from tests.app.test_jobs import wait_for_job

    response = upload(client, "segfault.pdf", f.MULTIPAGE_PDF.read_bytes(), wait="false")
    assert response.status_code == 202
    [job] = response.json()["jobs"]
    done = wait_for_job(client, job["id"])
    assert done["status"] == "failed" and done["error"]["code"] == "parser_crashed"
    document = client.get(f"/documents/{job['document_id']}").json()
    assert document["status"] == "failed" and document["error"]["code"] == "parser_crashed"
    assert client.get("/health").json()["chunks"] == 0
