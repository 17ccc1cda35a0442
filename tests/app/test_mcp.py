"""`docrag mcp`: the tools search_documents, ask and list_documents, driven by the MCP SDK's
own client, in-process and over stdio against the real command."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import mcp  # noqa: F401 - a dependency of docrag; a missing SDK must fail, not skip
import pytest

from tests.app.test_generation import NOTES, QUESTION


def structured(result: Any) -> Any:
    assert not result.is_error, result.content
    if result.structured_content is not None:
        return result.structured_content.get("result", result.structured_content)
    return json.loads(result.content[0].text)


def test_tools_in_process(make_settings: Any, embedder: Any) -> None:
    from app.builders import build_parts
    from app.mcp_server import build_mcp_server

    container = build_parts(make_settings(), embedder=embedder)
    document = container.pipeline.ingest(NOTES, "notes.txt").document
    server = build_mcp_server(container)

    async def session() -> None:
        async with mcp.Client(server) as client:
            tools = {t.name for t in (await client.list_tools()).tools}
            assert tools == {"search_documents", "ask", "list_documents"}

            found = structured(await client.call_tool("search_documents", {"query": QUESTION}))
            assert found["results"][0]["filename"] == "notes.txt"
            assert found["results"][0]["n"] == 1

            answer = structured(await client.call_tool("ask", {"question": QUESTION}))
            assert answer["grounded"] is True and answer["citations"][0]["quote"]

            listed = structured(await client.call_tool("list_documents", {}))
            assert listed["total"] == 1 and listed["documents"][0]["id"] == document.id

            unknown = await client.call_tool(
                "ask", {"question": QUESTION, "document_ids": ["nope"]}
            )
            assert unknown.is_error and "nope" in unknown.content[0].text

    anyio.run(session)


@pytest.mark.integration
def test_docrag_mcp_over_stdio(tmp_path: Path, minilm_path: str) -> None:
    docrag = str(Path(sys.executable).parent / "docrag")
    env = {
        "DOCRAG_DATA_DIR": str(tmp_path / "data"),
        "DOCRAG_EMBEDDING__MODEL": minilm_path,
        "HF_HUB_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }
    notes = tmp_path / "notes.txt"
    notes.write_bytes(NOTES)
    ingested = subprocess.run(
        [docrag, "ingest", str(notes)],
        env={**env, "PATH": str(Path(sys.executable).parent)},
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert ingested.returncode == 0, ingested.stderr

    params = mcp.StdioServerParameters(command=docrag, args=["mcp"], env=env, cwd=str(tmp_path))

    async def session() -> None:
        async with mcp.Client(params, read_timeout_seconds=120) as client:
            tools = {t.name for t in (await client.list_tools()).tools}
            assert {"search_documents", "ask", "list_documents"} <= tools
            found = structured(await client.call_tool("search_documents", {"query": QUESTION}))
            assert found["results"][0]["filename"] == "notes.txt"
            listed = structured(await client.call_tool("list_documents", {"limit": 5}))
            assert listed["total"] == 1

    anyio.run(session)


@pytest.mark.integration
@pytest.mark.parametrize("key", [None, "s3cret-key"])
def test_docrag_mcp_over_streamable_http(tmp_path: Path, minilm_path: str, key: str | None) -> None:
    import httpx
    import httpx2
    from mcp.client.streamable_http import streamable_http_client

    from tests.conftest import free_port, wait_until

    port = free_port()
    env = {
        "DOCRAG_DATA_DIR": str(tmp_path / "data"),
        "DOCRAG_EMBEDDING__MODEL": minilm_path,
        "HF_HUB_OFFLINE": "1",
        "PATH": str(Path(sys.executable).parent),
    }
    if key is not None:
        env["DOCRAG_AUTH__API_KEYS"] = json.dumps([key])
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "docrag"), "mcp", "--http", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}/mcp"
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    try:
        wait_until(
            lambda: httpx.get(url, headers=headers, timeout=2).status_code < 500,
            90,
            "docrag mcp",
            proc,
        )
        if key is not None:
            for sent, why in (
                ({}, "send the header 'Authorization: Bearer <key>'"),
                ({"Authorization": "Bearer wrong"}, "the API key is not valid"),
            ):
                refused = httpx.post(url, json={}, headers=sent, timeout=5)
                assert refused.status_code == 401
                assert refused.json()["error"]["code"] == "unauthorized"
                assert why in refused.json()["error"]["message"]

        async def session() -> None:
            async with httpx2.AsyncClient(headers=headers, timeout=60) as http:
                async with mcp.Client(streamable_http_client(url, http_client=http)) as client:
                    tools = {t.name for t in (await client.list_tools()).tools}
                    assert tools == {"search_documents", "ask", "list_documents"}
                    listed = structured(await client.call_tool("list_documents", {}))
                    assert listed["total"] == 0

        anyio.run(session)
    finally:
        proc.terminate()
        _, stderr = proc.communicate(timeout=15)
    if key is not None:
        assert key not in stderr.decode(errors="replace")  # never in the logs
