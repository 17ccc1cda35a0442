"""The conversation as a person keeps it: it survives a reload of the tab, a language switch
re-labels every turn, server messages show in the chosen language, and the page says that
answers are quotes until a chat model is connected."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import FILES
from tests.web.conftest import DocragServer
from tests.web.test_web_page import STEW, ask

pytestmark = [pytest.mark.browser, pytest.mark.integration]


@pytest.fixture(scope="module")
def stored(docrag_server: DocragServer) -> dict[str, Any]:
    return docrag_server.upload(FILES / "three_pages.pdf")


@pytest.fixture
def page(open_page: Callable[..., Any], docrag_server: DocragServer, stored: Any) -> Any:
    return open_page(docrag_server.url)


def test_a_reload_keeps_the_conversation_and_its_citations(page: Any) -> None:
    first = ask(page, STEW)
    answer = first.locator(".text").inner_text()
    page.reload()
    kept = page.locator(".turn.assistant").first
    kept.locator(".chip").first.wait_for()
    assert kept.locator(".text").inner_text() == answer
    assert page.locator(".turn.user .text").first.inner_text() == STEW
    kept.locator(".text .chip").first.click()
    page.locator("#viewer .textLayer .hit").first.wait_for()
    page.keyboard.press("Escape")

    sent: list[dict[str, Any]] = []
    page.on(
        "request",
        lambda r: sent.append(json.loads(r.post_data)) if r.url.endswith("/ask") else None,
    )
    ask(page, "And when did the bridge across the river open?")
    assert sent[0]["history"] == [
        {"role": "user", "content": STEW},
        {"role": "assistant", "content": answer},
    ]
    page.click("#new-conversation")
    page.reload()
    page.locator("#question").wait_for()
    assert page.locator(".turn").count() == 0


def test_a_language_switch_relabels_every_earlier_turn(page: Any) -> None:
    ask(page, STEW)
    ask(page, "What is the boiling point of liquid nitrogen on Jupiter?")
    page.select_option("#language", "zh")
    assert page.locator(".turn.user .who").all_inner_texts() == ["你", "你"]
    whos = page.locator(".turn.assistant .who").all_inner_texts()
    assert whos == ["回答", "你的文档中没有相关内容"]
    assert page.locator(".turn.assistant .sources h3").first.inner_text() == "来源"
    assert "第" in page.locator(".turn.assistant .source-name").first.inner_text()
    page.select_option("#language", "en")
    assert page.locator(".turn.assistant .who").all_inner_texts() == [
        "Answer",
        "Not in your documents",
    ]


def test_a_server_message_shows_in_the_chosen_language(
    open_page: Callable[..., Any], docrag_server: DocragServer, tmp_path: Path
) -> None:
    page = open_page(docrag_server.url, locale="zh-CN")
    bad = tmp_path / "假的.pdf"
    bad.write_bytes((FILES / "fake.pdf").read_bytes() + b" zh")
    page.set_input_files("#file-input", [bad])
    item = page.locator("#failed .failed-item", has_text="假的.pdf")
    item.wait_for()
    reason = item.locator(".failed-reason").inner_text()
    assert reason.startswith("不支持这种文件类型") or reason.startswith("文件已损坏"), reason
    assert "is not a PDF" in reason  # the server's own words (they name the fix) stay beside
    item.get_by_role("button").click()


def test_the_page_says_answers_are_quotes_until_a_chat_model_is_connected(page: Any) -> None:
    note = page.locator("#extractive-note")
    note.wait_for()
    assert "connect a chat model" in note.inner_text()
    note.locator("summary").click()
    assert "DOCRAG_LLM__BASE_URL" in note.inner_text()
    assert "Chat model" in note.inner_text()
