"""A request docrag cannot read gets a message naming what is wrong and how to send it."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.cli.common import warn_when_open
from app.main import create_app


@pytest.fixture
def client(make_client: Any) -> Any:
    return make_client()


def test_malformed_json_names_the_place_and_the_content_type(client: Any) -> None:
    body = b'{\n  "question": "When?",\n}'
    response = client.post("/ask", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_json"
    assert "line 3, column 1" in error["message"]
    assert "Content-Type: application/json" in error["message"]


def test_a_form_body_is_told_to_send_json(client: Any) -> None:
    response = client.post("/ask", data={"question": "When?"})
    assert response.status_code == 415
    message = response.json()["error"]["message"]
    assert "application/x-www-form-urlencoded" in message
    assert "Content-Type: application/json" in message and '{"question"' in message


def test_a_body_without_content_type_is_told_to_send_json(client: Any) -> None:
    response = client.post("/ask", content=b"When does it open?")
    assert response.status_code == 415
    assert "no Content-Type" in response.json()["error"]["message"]


def test_a_json_array_is_told_to_send_an_object(client: Any) -> None:
    response = client.post("/ask", json=["When?"])
    assert response.status_code == 422
    assert "one JSON object" in response.json()["error"]["message"]


def test_a_wrong_method_names_the_allowed_ones(client: Any) -> None:
    response = client.get("/ask")
    assert response.status_code == 405
    assert "GET is not allowed on /ask; use POST" in response.json()["error"]["message"]
    assert response.headers["allow"] == "POST"

    response = client.delete("/documents")
    assert response.status_code == 405
    assert "use GET or POST" in response.json()["error"]["message"]
    assert response.headers["allow"] == "GET, POST"


def test_an_unknown_route_points_at_the_docs(client: Any) -> None:
    response = client.get("/questions")
    assert response.status_code == 404
    assert "/docs" in response.json()["error"]["message"]


def test_openai_route_malformed_json_in_openai_shape(client: Any) -> None:
    response = client.post(
        "/v1/chat/completions",
        content=b'{"model": "docrag", "messages": [}',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and error["code"] == "invalid_json"
    assert "line 1, column 34" in error["message"]


def open_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "no API key" in r.getMessage()]


@pytest.mark.parametrize(
    ("host", "keys", "warned"),
    [("0.0.0.0", [], True), ("0.0.0.0", ["k1"], False), ("127.0.0.1", [], False)],
)
def test_serving_other_machines_without_keys_warns_at_start(
    make_settings: Any,
    embedder: Any,
    caplog: pytest.LogCaptureFixture,
    host: str,
    keys: list[str],
    warned: bool,
) -> None:
    app = create_app(make_settings(auth={"api_keys": keys}), embedder=embedder)
    warn_when_open(app, host, 8000)
    with caplog.at_level(logging.WARNING), TestClient(app) as client:
        headers = {"Authorization": "Bearer k1"} if keys else {}
        health = client.get("/health", headers=headers).json()
    found = open_warnings(caplog)
    assert bool(found) == warned
    assert bool(health["warnings"]) == warned
    if warned:
        assert "0.0.0.0:8000" in found[0] and "DOCRAG_AUTH__API_KEYS" in found[0]
        assert health["warnings"] == found
