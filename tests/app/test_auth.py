"""API keys: every route the app declares (read from its OpenAPI document, so new routes are
covered without touching this file) answers 401 without a valid key and serves a request
with one; only /health stays open. Keys never reach the logs."""

from __future__ import annotations

import logging
import re
from typing import Any

import httpx
import pytest

from app.main import create_app
from tests.app.live_server import live_server

KEY = "dr-test-key-5b1e0c7a9f"
OPEN = {("GET", "/health")}


def declared_routes(app: Any) -> list[tuple[str, str]]:
    return [
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method in operations
    ]


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "0" * 32, path)


def test_every_route_needs_a_key_except_health(make_client: Any) -> None:
    client = make_client(auth={"api_keys": ["another-key", KEY]})
    routes = declared_routes(client.app)
    assert OPEN <= set(routes)
    assert {
        ("POST", "/documents"),
        ("PUT", "/documents/{document_id}"),
        ("GET", "/index"),
        ("POST", "/index/reindex"),
        ("GET", "/jobs/{job_id}"),
    } <= set(routes)
    for method, path in routes:
        url = concrete(path)
        anonymous = client.request(method, url)
        wrong = client.request(method, url, headers={"Authorization": "Bearer not-the-key"})
        keyed = client.request(method, url, headers={"Authorization": f"Bearer {KEY}"})
        if (method, path) in OPEN:
            assert anonymous.status_code == wrong.status_code == keyed.status_code == 200
            continue
        for refused in (anonymous, wrong):
            assert refused.status_code == 401, (method, path, refused.text)
            assert refused.json()["error"]["code"] == "unauthorized"
            assert refused.headers["WWW-Authenticate"] == "Bearer"
        # With the key the request gets past authentication (empty bodies and made-up ids
        # are then refused for what they are).
        assert keyed.status_code not in (401, 403), (method, path)
        assert keyed.status_code < 500, (method, path, keyed.text)


def test_a_keyed_client_can_do_everything(make_client: Any) -> None:
    client = make_client(auth={"api_keys": [KEY]})
    client.headers["Authorization"] = f"Bearer {KEY}"
    assert client.get("/health").json()["auth"] is True
    doc = client.post("/documents", files=[("files", ("n.txt", b"Ferns grow in shade."))])
    assert doc.status_code == 201
    assert client.post("/ask", json={"question": "Where do ferns grow?"}).status_code == 200
    assert client.delete(f"/documents/{doc.json()['documents'][0]['id']}").status_code == 204


def test_keys_never_reach_the_logs(
    make_settings: Any, embedder: Any, caplog: pytest.LogCaptureFixture, capfd: Any
) -> None:
    """A real uvicorn server with debug logging: its access log and every logger."""
    caplog.set_level(logging.DEBUG)
    settings = make_settings(auth={"api_keys": [KEY]}, log_level="DEBUG")
    with live_server(create_app(settings, embedder=embedder), log_level="debug") as base:
        headers = {"Authorization": f"Bearer {KEY}"}
        upload = httpx.post(
            f"{base}/documents",
            files=[("files", ("n.txt", b"Ferns grow in the shade of oaks."))],
            headers=headers,
            timeout=60,
        )
        assert upload.status_code == 201
        asked = httpx.post(
            f"{base}/ask", json={"question": "Where do ferns grow?"}, headers=headers, timeout=60
        )
        assert asked.status_code == 200
        assert httpx.get(f"{base}/jobs/nope", headers=headers).status_code == 404
        wrong = {"Authorization": f"Bearer {KEY}x"}
        assert httpx.get(f"{base}/documents", headers=wrong).status_code == 401
        assert httpx.get(f"{base}/documents").status_code == 401
    out, err = capfd.readouterr()
    logs = out + err + caplog.text
    assert "POST /ask" in logs  # the access log was captured
    assert KEY not in logs
