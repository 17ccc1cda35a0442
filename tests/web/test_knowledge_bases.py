"""Knowledge bases in the page: the switcher, a new base made from the page, each base's own
documents and conversation, a read key that sees no upload or delete controls, a base's
folder sync, and a server without knowledge bases (the page works as with one)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import FILES
from tests.web.conftest import API_KEY, DocragServer, running_docrag, screenshot
from tests.web.test_web_page import STEW, ask

pytestmark = [pytest.mark.browser, pytest.mark.integration]


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("synced-folders")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, folders: Path) -> Iterator[DocragServer]:
    with running_docrag(
        tmp_path_factory.mktemp("web-bases"),
        {
            "DOCRAG_AUTH__API_KEYS": json.dumps([API_KEY]),
            "DOCRAG_SYNC__ROOTS": json.dumps([str(folders)]),
        },
    ) as started:
        started.api_key = API_KEY
        started.upload(FILES / "three_pages.pdf")  # in the default base
        yield started


def signed_in(open_page: Callable[..., Any], server: DocragServer, key: str) -> Any:
    page = open_page(server.url)
    page.locator("#key-dialog").wait_for()
    page.fill("#key-input", key)
    page.press("#key-input", "Enter")
    page.locator("#kb-switch").wait_for()
    return page


def selected_base(page: Any) -> str:
    page.locator("#kb-switch").wait_for()
    return str(page.locator("#knowledge-base").input_value())


def test_a_new_base_has_its_own_documents_and_conversation(
    open_page: Callable[..., Any], server: DocragServer
) -> None:
    page = signed_in(open_page, server, API_KEY)
    assert selected_base(page) == "default"
    page.locator("#documents tbody tr", has_text="three_pages.pdf").wait_for()
    ask(page, STEW)

    page.get_by_role("button", name="New knowledge base").click()
    page.fill("#kb-name", "Finance!")
    page.get_by_role("button", name="Create").click()
    assert page.locator("#kb-dialog").is_visible()  # not a name a base may have
    page.fill("#kb-name", "finance")
    page.get_by_role("button", name="Create").click()
    page.locator("#kb-dialog").wait_for(state="hidden")
    assert selected_base(page) == "finance"
    page.locator("#no-documents").wait_for()
    assert page.locator(".turn").count() == 0  # its own conversation, empty

    page.set_input_files("#file-input", [FILES / "guide.md"])
    page.locator("#documents tbody tr", has_text="guide.md").locator("td.status-ready").wait_for()
    reply = ask(page, "Which Python version does docrag need?")
    assert "guide.md" in reply.inner_text() and "three_pages.pdf" not in reply.inner_text()
    in_finance = httpx.get(
        f"{server.url}/documents",
        params={"knowledge_base": "finance"},
        headers=server.headers(),
    ).json()["data"]
    assert [d["filename"] for d in in_finance] == ["guide.md"]
    screenshot(page, "knowledge-base-1280.png")

    page.select_option("#knowledge-base", "default")
    page.locator("#documents tbody tr", has_text="three_pages.pdf").wait_for()
    assert page.locator("#documents tbody tr", has_text="guide.md").count() == 0
    assert STEW in page.locator(".turn.user").first.inner_text()  # default's conversation
    page.reload()
    assert selected_base(page) == "default"  # the choice is kept
    page.select_option("#knowledge-base", "finance")
    page.locator(".turn.user", has_text="Python version").wait_for()


def test_a_read_key_sees_no_upload_or_delete_controls(
    open_page: Callable[..., Any], server: DocragServer
) -> None:
    httpx.post(f"{server.url}/knowledge-bases", json={"name": "archive"}, headers=server.headers())
    created = httpx.post(
        f"{server.url}/keys",
        json={"knowledge_base": "archive", "role": "read", "label": "reader"},
        headers=server.headers(),
    )
    assert created.status_code == 201, created.text
    page = signed_in(open_page, server, created.json()["key"])
    assert selected_base(page) == "archive"
    page.locator("#read-only").wait_for()
    assert page.locator("#upload-panel").is_hidden()
    assert page.get_by_role("button", name="New knowledge base").is_hidden()
    assert page.locator("#question").is_visible()  # asking is reading


def test_a_synced_base_shows_its_folder(
    open_page: Callable[..., Any], server: DocragServer, folders: Path
) -> None:
    folder = folders / "handbook"
    folder.mkdir()
    (folder / "notes.txt").write_text("The ferry leaves at nine.")
    made = httpx.post(
        f"{server.url}/knowledge-bases",
        json={"name": "handbook", "sync_folder": str(folder)},
        headers=server.headers(),
    )
    assert made.status_code == 201, made.text
    page = signed_in(open_page, server, API_KEY)
    page.select_option("#knowledge-base", "handbook")
    status = page.locator("#kb-sync")
    status.wait_for()
    assert f"Synced from {folder}" in status.inner_text()
    page.select_option("#knowledge-base", "default")
    status.wait_for(state="hidden")  # the default base follows no folder


def test_a_server_without_knowledge_bases_shows_no_switcher(
    open_page: Callable[..., Any], server: DocragServer
) -> None:
    page = open_page(server.url)
    # Fault injection: the server of an earlier version, which has no such route.
    page.route("**/knowledge-bases", lambda route: route.fulfill(status=404, body="{}"))
    page.reload()
    page.fill("#key-input", API_KEY)
    page.press("#key-input", "Enter")
    page.locator("#documents tbody tr", has_text="three_pages.pdf").wait_for()
    assert page.locator("#kb-switch").is_hidden()
    sent: list[str] = []
    page.on("request", lambda r: sent.append(f"{r.url} {r.post_data or ''}"))
    reply = ask(page, STEW)
    assert "smoked paprika" in reply.locator(".text").inner_text()
    assert sent and not any("knowledge_base" in request for request in sent)
