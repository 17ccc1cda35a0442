"""Knowledge bases: separate libraries in one service, each searched alone (or several at
once), each a model in /v1, each deleted whole; and keys that open one base with a role."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from app.config import Settings
from tests.samples import THREE_PAGES_PDF

ADMIN = "dr-admin-key-7c1f2e9b04"

PAYROLL = (
    "payroll.txt",
    b"Payroll policy. Salaries are paid on the 25th day of every month by bank transfer. "
    b"Overtime is paid at one and a half times the hourly rate.",
)
REACTOR = (
    "reactor.txt",
    b"Reactor manual. The coolant pump must be inspected every 400 operating hours. "
    b"The pressure relief valve opens at 15 bar.",
)


def upload(client: Any, base: str | None, file: tuple[str, bytes], **headers: str) -> Any:
    params = {"knowledge_base": base} if base else {}
    return client.post(
        "/documents", params=params, files=[("files", file)], headers=headers or None
    )


def ask(client: Any, question: str, headers: dict[str, str] | None = None, **body: Any) -> Any:
    return client.post("/ask", json={"question": question, **body}, headers=headers)


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def cited_files(answer: dict[str, Any]) -> set[str]:
    return {c["filename"] for c in answer["citations"]}


def test_each_base_answers_from_its_own_documents_and_several_at_once(make_client: Any) -> None:
    client = make_client()
    assert upload(client, None, PAYROLL).status_code == 201  # the default base
    created = client.post("/knowledge-bases", json={"name": "engineering"})
    assert created.status_code == 201, created.text
    assert created.json()["model"] == "docrag/engineering"
    # An upload names its base as a form field (or as the query parameter).
    sent = client.post(
        "/documents", data={"knowledge_base": "engineering"}, files=[("files", REACTOR)]
    )
    assert sent.status_code == 201, sent.text

    names = {b["name"]: b for b in client.get("/knowledge-bases").json()["data"]}
    assert names["default"]["documents"] == 1 and names["engineering"]["documents"] == 1

    listed = client.get("/documents", params={"knowledge_base": "engineering"}).json()
    assert [d["filename"] for d in listed["data"]] == ["reactor.txt"]
    assert [d["filename"] for d in client.get("/documents").json()["data"]] == ["payroll.txt"]

    pump = ask(
        client, "How often must the coolant pump be inspected?", knowledge_base="engineering"
    )
    assert pump.status_code == 200, pump.text
    assert cited_files(pump.json()) == {"reactor.txt"}
    assert pump.json()["citations"][0]["knowledge_base"] == "engineering"
    # The same question of the default base finds nothing about pumps there.
    alone = ask(client, "How often must the coolant pump be inspected?").json()
    assert "reactor.txt" not in cited_files(alone)

    both = ask(
        client,
        "When are salaries paid and when must the coolant pump be inspected?",
        knowledge_bases=["default", "engineering"],
    )
    assert both.status_code == 200, both.text
    bases = {c["knowledge_base"] for c in both.json()["sources"]}
    assert bases == {"default", "engineering"}

    # The file viewer serves a base's original only when asked in that base.
    reactor_id = listed["data"][0]["id"]
    assert client.get(f"/documents/{reactor_id}/file").status_code == 404
    viewed = client.get(f"/documents/{reactor_id}/file", params={"knowledge_base": "engineering"})
    assert viewed.status_code == 200 and viewed.content == REACTOR[1]


def test_an_existing_library_is_the_default_base_after_a_restart(
    make_client: Any, make_settings: Any
) -> None:
    settings: Settings = make_settings()
    first = make_client(settings)
    assert upload(first, None, PAYROLL).status_code == 201
    assert first.post("/knowledge-bases", json={"name": "hr"}).status_code == 201
    assert upload(first, "hr", REACTOR).status_code == 201
    first.__exit__(None, None, None)

    again = make_client(settings)
    assert [d["filename"] for d in again.get("/documents").json()["data"]] == ["payroll.txt"]
    hr = again.get("/documents", params={"knowledge_base": "hr"}).json()["data"]
    assert [d["filename"] for d in hr] == ["reactor.txt"]
    answer = ask(again, "When are salaries paid?").json()
    assert answer["grounded"] and cited_files(answer) == {"payroll.txt"}


def test_deleting_a_base_removes_everything_of_it(make_client: Any) -> None:
    client = make_client()
    assert client.post("/knowledge-bases", json={"name": "scratch"}).status_code == 201
    assert upload(client, "scratch", REACTOR).status_code == 201
    assert upload(client, None, PAYROLL).status_code == 201
    files_dir = client.app.state.parts.library("scratch").settings.files_dir
    assert any(files_dir.rglob("*"))

    assert client.delete("/knowledge-bases/scratch").status_code == 204
    assert not files_dir.exists()
    assert client.get("/documents", params={"knowledge_base": "scratch"}).status_code == 404
    assert "scratch" not in {b["name"] for b in client.get("/knowledge-bases").json()["data"]}
    # A new base of the same name starts empty; the default base is untouched.
    assert client.post("/knowledge-bases", json={"name": "scratch"}).status_code == 201
    assert client.get("/documents", params={"knowledge_base": "scratch"}).json()["total"] == 0
    assert client.get("/documents").json()["total"] == 1
    refused = client.delete("/knowledge-bases/default")
    assert refused.status_code == 409 and "default" in refused.json()["error"]["message"]


def test_bad_knowledge_base_requests_are_told_what_to_fix(make_client: Any, tmp_path: Any) -> None:
    client = make_client(sync={"roots": [str(tmp_path / "allowed")]})
    bad_name = client.post("/knowledge-bases", json={"name": "Finance Team"})
    assert bad_name.status_code == 422
    assert client.post("/knowledge-bases", json={"name": "finance"}).status_code == 201
    taken = client.post("/knowledge-bases", json={"name": "finance"})
    assert taken.status_code == 409 and "exists" in taken.json()["error"]["message"]
    overlap = client.post(
        "/knowledge-bases", json={"name": "odd", "chunk_size": 64, "chunk_overlap": 64}
    )
    assert overlap.status_code == 422 and "chunk_overlap" in overlap.json()["error"]["message"]
    outside = client.post("/knowledge-bases", json={"name": "etc", "sync_folder": "/etc"})
    assert outside.status_code == 422
    assert "DOCRAG_SYNC__ROOTS" in outside.json()["error"]["message"]
    missing = client.get("/documents", params={"knowledge_base": "nope"})
    assert missing.status_code == 404
    assert "GET /knowledge-bases" in missing.json()["error"]["message"]
    both = ask(client, "anything?", knowledge_base="finance", knowledge_bases=["finance"])
    assert both.status_code == 422
    assert client.post("/ask", json={"question": "x?", "knowledge_bases": []}).status_code == 422


def test_a_read_key_sees_only_its_base_through_every_face(make_client: Any) -> None:
    client = make_client(auth={"api_keys": [ADMIN]})
    admin = bearer(ADMIN)
    assert (
        client.post("/knowledge-bases", json={"name": "finance"}, headers=admin).status_code == 201
    )
    assert upload(client, "finance", PAYROLL, **admin).status_code == 201
    assert upload(client, None, REACTOR, **admin).status_code == 201
    made = client.post(
        "/keys",
        json={"knowledge_base": "finance", "role": "read", "label": "intern"},
        headers=admin,
    )
    assert made.status_code == 201, made.text
    reader = bearer(made.json()["key"])

    bases = client.get("/knowledge-bases", headers=reader).json()["data"]
    assert [(b["name"], b["role"]) for b in bases] == [("finance", "read")]
    listed = client.get("/documents", params={"knowledge_base": "finance"}, headers=reader)
    assert [d["filename"] for d in listed.json()["data"]] == ["payroll.txt"]
    answer = ask(client, "When are salaries paid?", reader, knowledge_base="finance").json()
    assert answer["grounded"] and cited_files(answer) == {"payroll.txt"}

    # Another base is answered as missing, whatever the face.
    assert client.get("/documents", headers=reader).status_code == 404
    assert ask(client, "What does the pump need?", reader).status_code == 404
    assert ask(client, "pump?", reader, knowledge_bases=["finance", "default"]).status_code == 404
    reactor = client.get("/documents", headers=admin).json()["data"][0]["id"]
    assert client.get(f"/documents/{reactor}/file", headers=reader).status_code == 404
    models = client.get("/v1/models", headers=reader).json()["data"]
    assert [m["id"] for m in models] == ["docrag/finance"]
    other = client.post(
        "/v1/chat/completions",
        json={"model": "docrag/default", "messages": [{"role": "user", "content": "pump?"}]},
        headers=reader,
    )
    assert other.status_code == 404
    mine = client.post(
        "/v1/chat/completions",
        json={
            "model": "docrag/finance",
            "messages": [{"role": "user", "content": "When are salaries paid?"}],
        },
        headers=reader,
    )
    assert mine.status_code == 200, mine.text
    assert "25th" in mine.json()["choices"][0]["message"]["content"]

    # A read key changes nothing and manages nothing.
    refused = upload(client, "finance", REACTOR, **reader)
    assert refused.status_code == 403 and "write" in refused.json()["error"]["message"]
    doc = listed.json()["data"][0]["id"]
    deleting = client.delete(
        f"/documents/{doc}", params={"knowledge_base": "finance"}, headers=reader
    )
    assert deleting.status_code == 403
    assert client.post("/knowledge-bases", json={"name": "x"}, headers=reader).status_code == 403
    assert client.get("/keys", headers=reader).status_code == 403
    assert client.get("/documents", params={"knowledge_base": "finance"}).status_code == 401


def test_a_write_key_changes_its_base_and_a_revoked_key_stops(make_client: Any) -> None:
    client = make_client(auth={"api_keys": [ADMIN]})
    admin = bearer(ADMIN)
    assert client.post("/knowledge-bases", json={"name": "ops"}, headers=admin).status_code == 201
    made = client.post("/keys", json={"knowledge_base": "ops", "role": "write"}, headers=admin)
    writer = bearer(made.json()["key"])
    assert upload(client, "ops", REACTOR, **writer).status_code == 201
    pdf = upload(client, "ops", ("manual.pdf", THREE_PAGES_PDF.read_bytes()), **writer)
    assert pdf.status_code == 201
    assert (
        client.post(
            "/keys", json={"knowledge_base": "ops", "role": "read"}, headers=writer
        ).status_code
        == 403
    )
    assert upload(client, None, PAYROLL, **writer).status_code == 404

    listed = client.get("/keys", headers=admin).json()["data"]
    assert [(k["knowledge_base"], k["role"]) for k in listed] == [("ops", "write")]
    assert "key" not in listed[0]
    assert client.delete(f"/keys/{listed[0]['id']}", headers=admin).status_code == 204
    assert (
        client.get("/documents", params={"knowledge_base": "ops"}, headers=writer).status_code
        == 401
    )
    assert client.delete("/keys/000000", headers=admin).status_code == 404


@pytest.mark.integration
def test_an_mcp_tool_call_is_held_to_its_keys_base(tmp_path: Path, minilm_path: str) -> None:
    import anyio
    import httpx
    import httpx2
    import mcp
    from mcp.client.streamable_http import streamable_http_client

    from tests.app.test_mcp import structured
    from tests.conftest import free_port, wait_until

    docrag = str(Path(sys.executable).parent / "docrag")
    env = {
        "DOCRAG_DATA_DIR": str(tmp_path / "data"),
        "DOCRAG_EMBEDDING__MODEL": minilm_path,
        "DOCRAG_AUTH__API_KEYS": json.dumps([ADMIN]),
        "HF_HUB_OFFLINE": "1",
        "PATH": str(Path(sys.executable).parent),
    }
    run = {"env": env, "cwd": tmp_path, "capture_output": True, "text": True, "check": True}
    subprocess.run([docrag, "knowledge-bases", "create", "finance", "--local"], **run)
    made = subprocess.run(
        [docrag, "keys", "create", "--knowledge-base", "finance", "--role", "read", "--local"],
        **run,
    )
    reader = made.stdout.strip().splitlines()[-1]
    assert reader.startswith("drk_") and reader not in made.stderr

    port = free_port()
    proc = subprocess.Popen(
        [docrag, "mcp", "--http", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        wait_until(lambda: httpx.get(url, timeout=2).status_code < 500, 90, "docrag mcp", proc)

        async def session() -> None:
            headers = {"Authorization": f"Bearer {reader}"}
            async with httpx2.AsyncClient(headers=headers, timeout=60) as http:
                async with mcp.Client(streamable_http_client(url, http_client=http)) as client:
                    mine = await client.call_tool("list_documents", {"knowledge_base": "finance"})
                    assert structured(mine)["total"] == 0
                    other = await client.call_tool("list_documents", {})  # the default base
                    assert other.is_error and "no knowledge base named 'default'" in str(
                        other.content[0]
                    )
                    asked = await client.call_tool("ask", {"question": "What is paid?"})
                    assert asked.is_error and "knowledge_base_not_found" in str(asked.content[0])

        anyio.run(session)
    finally:
        proc.terminate()
        _, stderr = proc.communicate(timeout=15)
    assert reader not in stderr.decode(errors="replace")


def _documents(client: Any, base: str) -> dict[str, dict[str, Any]]:
    listed = client.get("/documents", params={"knowledge_base": base, "limit": 100}).json()
    return {d["filename"]: d for d in listed["data"]}


def test_a_watched_folder_keeps_its_base_in_step_across_a_restart(
    make_client: Any, make_settings: Any, tmp_path: Path
) -> None:
    from tests.conftest import wait_until

    folder = tmp_path / "shared" / "handbook"
    folder.mkdir(parents=True)
    (folder / "payroll.txt").write_bytes(PAYROLL[1])
    settings = make_settings(sync={"roots": [str(tmp_path / "shared")]})
    client = make_client(settings)
    created = client.post(
        "/knowledge-bases", json={"name": "handbook", "sync_folder": str(folder), "watch": True}
    )
    assert created.status_code == 201, created.text

    def ready(names: set[str]) -> bool:
        docs = _documents(client, "handbook")
        return set(docs) == names and all(d["status"] == "ready" for d in docs.values())

    wait_until(lambda: ready({"payroll.txt"}), 120, "the first pass")
    (folder / "reactor.txt").write_bytes(REACTOR[1])
    wait_until(lambda: ready({"payroll.txt", "reactor.txt"}), 120, "a new file")
    (folder / "payroll.txt").unlink()
    wait_until(lambda: ready({"reactor.txt"}), 120, "a deleted file")
    status = client.get("/knowledge-bases/handbook").json()["sync"]
    assert status["folder"] == str(folder) and status["watch"] is True
    assert status["state"] == "idle" and status["files"] == 1
    answer = ask(client, "At what pressure does the relief valve open?", knowledge_base="handbook")
    assert cited_files(answer.json()) == {"reactor.txt"}
    before = _documents(client, "handbook")["reactor.txt"]
    client.__exit__(None, None, None)

    # Changed while the service was down: caught up by the first pass, the rest untouched.
    (folder / "payroll.txt").write_bytes(PAYROLL[1])
    again = make_client(settings)
    client = again
    wait_until(lambda: ready({"payroll.txt", "reactor.txt"}), 120, "the catch-up pass")
    after = _documents(again, "handbook")["reactor.txt"]
    assert (after["id"], after["created_at"], after["chunks"]) == (
        before["id"],
        before["created_at"],
        before["chunks"],
    )


def test_a_pass_on_demand_and_its_bad_requests(
    make_client: Any, make_settings: Any, tmp_path: Path
) -> None:
    from tests.conftest import wait_until

    folder = tmp_path / "shared" / "notes"
    folder.mkdir(parents=True)
    (folder / "reactor.txt").write_bytes(REACTOR[1])
    (folder / "tool.exe").write_bytes(b"MZ\x90\x00" * 50)
    client = make_client(make_settings(sync={"roots": [str(tmp_path / "shared")]}))
    assert client.post("/knowledge-bases", json={"name": "plain"}).status_code == 201
    unbound = client.post("/knowledge-bases/plain/sync")
    assert unbound.status_code == 409 and "sync_folder" in unbound.json()["error"]["message"]

    bound = client.patch("/knowledge-bases/plain", json={"sync_folder": str(folder)})
    assert bound.status_code == 200, bound.text
    assert bound.json()["sync"]["watch"] is False
    assert client.post("/knowledge-bases/plain/sync").status_code == 202
    wait_until(
        lambda: client.get("/knowledge-bases/plain").json()["sync"]["files"] == 1, 60, "a pass"
    )
    sync = client.get("/knowledge-bases/plain").json()["sync"]
    assert [s["path"] for s in sync["skipped"]] == ["tool.exe"]
    assert set(_documents(client, "plain")) == {"reactor.txt"}
    nowhere = client.patch("/knowledge-bases/plain", json={"sync_folder": str(tmp_path)})
    assert nowhere.status_code == 422


def test_a_base_is_reindexed_alone(make_client: Any) -> None:
    from tests.conftest import wait_until

    client = make_client()
    assert upload(client, None, PAYROLL).status_code == 201
    assert client.post("/knowledge-bases", json={"name": "ops"}).status_code == 201
    assert upload(client, "ops", REACTOR).status_code == 201
    default_before = client.get("/index").json()["collection"]
    ops = {"knowledge_base": "ops"}
    ops_before = client.get("/index", params=ops).json()["collection"]
    assert ops_before != default_before

    started = client.post("/index/reindex", params=ops)
    assert started.status_code == 202, started.text
    wait_until(
        lambda: client.get("/index", params=ops).json()["reindex"]["status"] == "switched",
        120,
        "the reindex of ops",
    )
    assert client.get("/index", params=ops).json()["collection"] != ops_before
    assert client.get("/index").json()["collection"] == default_before
    answer = ask(client, "How often is the coolant pump inspected?", knowledge_base="ops").json()
    assert cited_files(answer) == {"reactor.txt"}


def test_docrag_keys_through_a_running_servers_admin_api(make_settings: Any, embedder: Any) -> None:
    import httpx
    from typer.testing import CliRunner

    from app.cli import cli
    from app.main import create_app
    from tests.app.live_server import live_server

    app = create_app(make_settings(auth={"api_keys": [ADMIN]}), embedder=embedder)
    runner = CliRunner()
    with live_server(app, log_level="warning") as url:
        remote = ["--url", url, "--api-key", ADMIN]
        made = runner.invoke(cli, ["knowledge-bases", "create", "legal", *remote])
        assert made.exit_code == 0, made.output
        created = runner.invoke(
            cli, ["keys", "create", "--knowledge-base", "legal", "--role", "write", *remote]
        )
        assert created.exit_code == 0, created.output
        key = created.stdout.strip().splitlines()[-1]
        writer = bearer(key)
        sent = httpx.post(
            f"{url}/documents",
            params={"knowledge_base": "legal"},
            files=[("files", PAYROLL)],
            headers=writer,
            timeout=120,
        )
        assert sent.status_code == 201, sent.text
        assert httpx.get(f"{url}/documents", headers=writer).status_code == 404  # default

        listed = runner.invoke(cli, ["keys", "list", *remote])
        assert listed.exit_code == 0 and "legal  write" in listed.stdout
        key_id = listed.stdout.split()[0]
        refused = runner.invoke(cli, ["keys", "list", "--url", url, "--api-key", key])
        assert refused.exit_code == 1 and "admin" in refused.output
        revoked = runner.invoke(cli, ["keys", "revoke", key_id, *remote])
        assert revoked.exit_code == 0, revoked.output
        gone = httpx.get(f"{url}/documents", params={"knowledge_base": "legal"}, headers=writer)
        assert gone.status_code == 401
        wrong = runner.invoke(
            cli, ["keys", "create", "--knowledge-base", "nope", "--role", "read", *remote]
        )
        assert wrong.exit_code == 1 and "no knowledge base named 'nope'" in wrong.output


def test_bad_key_requests_are_told_what_to_fix(make_client: Any) -> None:
    client = make_client(auth={"api_keys": [ADMIN]})
    admin = bearer(ADMIN)
    role = client.post("/keys", json={"knowledge_base": "default", "role": "owner"}, headers=admin)
    assert role.status_code == 422 and "role" in role.json()["error"]["message"]
    name = client.post("/keys", json={"knowledge_base": "Bad Name", "role": "read"}, headers=admin)
    assert name.status_code == 422 and "knowledge_base" in name.json()["error"]["message"]
    unknown = client.post("/keys", json={"knowledge_base": "nope", "role": "read"}, headers=admin)
    assert (
        unknown.status_code == 404 and "GET /knowledge-bases" in unknown.json()["error"]["message"]
    )
    assert (
        client.patch("/knowledge-bases/nope", json={"watch": True}, headers=admin).status_code
        == 404
    )
    extra = client.patch("/knowledge-bases/default", json={"colour": "red"}, headers=admin)
    assert extra.status_code == 422 and "colour" in extra.json()["error"]["message"]
    assert client.get("/keys", headers=admin).json()["count"] == 0  # nothing was stored
