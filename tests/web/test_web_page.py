"""The web page at `/`, in a real chromium against a real `docrag serve` with the real
embedding model: upload, the document list, the chat, the citation viewer, languages,
narrow screens, the API-key prompt, and the API docs offline."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.conftest import FILES
from tests.web.conftest import API_KEY, DocragServer, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.integration]

# Records, in order, what the user saw change: each upload's stage, and in the chat whether
# the sources or the answer's text appeared first.
WATCH = """
window.__seen = { stages: {}, chat: [] };
document.addEventListener("DOMContentLoaded", () => {
  new MutationObserver((records) => {
    for (const r of records) {
      const upload = r.target.closest?.(".upload");
      if (upload && r.attributeName === "data-stage") {
        const name = upload.querySelector(".upload-name").textContent;
        (window.__seen.stages[name] ||= []).push(upload.dataset.stage);
      }
      if (r.attributeName === "hidden" && r.target.matches(".sources") && !r.target.hidden) {
        window.__seen.chat.push("sources");
      }
      const text = r.target.closest?.(".turn.assistant .text");
      if (text && r.type === "childList" && [...r.addedNodes].some((n) => n.textContent)) {
        window.__seen.chat.push("text");
      }
    }
  }).observe(document.body, { subtree: true, childList: true, attributes: true });
});
"""

STEW = "What is the secret ingredient of the harbour stew?"


@pytest.fixture(scope="module")
def library(docrag_server: DocragServer) -> dict[str, Any]:
    """Documents stored through the API, for the tests that are not about uploading."""
    return {path.name: docrag_server.upload(path) for path in [FILES / "three_pages.pdf"]}


@pytest.fixture
def page(open_page: Callable[..., Any], docrag_server: DocragServer) -> Any:
    opened = open_page(docrag_server.url)
    opened.add_init_script(WATCH)
    opened.reload()
    return opened


def ask(page: Any, question: str) -> Any:
    turns = page.locator(".turn.assistant").count()
    page.fill("#question", question)
    page.press("#question", "Enter")
    page.wait_for_function(
        """(n) => {
          const reply = document.querySelectorAll(".turn.assistant")[n];
          return reply && !reply.classList.contains("busy");
        }""",
        arg=turns,
    )
    return page.locator(".turn.assistant").nth(turns)


def test_upload_shows_each_files_progress_and_refuses_a_bad_file_in_plain_words(
    page: Any, docrag_server: DocragServer
) -> None:
    page.set_input_files(
        "#file-input",
        [FILES / "field_report.pdf", FILES / "harbour_handbook.docx", FILES / "fake.pdf"],
    )
    refused = page.locator("#failed .failed-item", has_text="fake.pdf")
    refused.wait_for()
    assert "is not a PDF" in refused.inner_text() and "Rename it" in refused.inner_text()
    page.wait_for_function(
        """() => ["field_report.pdf", "harbour_handbook.docx"].every(
             (name) => (window.__seen.stages[name] || []).includes("ready"))"""
    )
    stages = page.evaluate("window.__seen.stages")
    for name in ("field_report.pdf", "harbour_handbook.docx"):
        # The bytes' progress first, then the job's own stages, ending ready.
        assert stages[name][0] == "uploading" and stages[name][-1] == "ready", stages
        assert {"queued", "parsing", "embedding"} & set(stages[name]), stages
    # A refused file never enters the library.
    assert page.locator("#documents tbody tr", has_text="fake.pdf").count() == 0

    row = page.locator("#documents tbody tr", has_text="field_report.pdf")
    row.locator("td.status-ready").wait_for()
    cells = row.locator("td").all_inner_texts()
    assert cells[0] == "6"  # pages
    assert int(cells[1]) > 0  # chunks
    assert cells[3].endswith("KB")
    screenshot(page, "upload-1280.png")
    # Finished uploads leave the upload list: their documents are in the library.
    page.locator(".upload").first.wait_for(state="detached")
    page.wait_for_function("document.querySelectorAll('#uploads .upload').length === 0")


def test_answer_shows_sources_first_and_its_citation_opens_the_cited_pdf_page(
    page: Any, library: dict[str, Any]
) -> None:
    reply = ask(page, STEW)
    seen = page.evaluate("window.__seen.chat")
    assert seen.index("sources") < seen.index("text"), seen
    assert "smoked paprika" in reply.locator(".text").inner_text()
    assert not reply.evaluate("el => el.classList.contains('not-found')")
    chip = reply.locator(".text .chip").first
    assert chip.inner_text() == "[1]"
    screenshot(page, "answer-1280.png")

    chip.click()
    viewer = page.locator("#viewer")
    viewer.locator(".textLayer .hit").first.wait_for()
    # three_pages.pdf is one chunk over pages 1-3; the quote is on page 2.
    assert page.locator("#page-indicator").inner_text() == "Page 2 of 3"
    highlighted = " ".join(viewer.locator(".textLayer .hit").all_inner_texts())
    assert "secret ingredient" in highlighted
    assert "lighthouse" not in highlighted  # page one's text is not what is marked
    screenshot(page, "viewer-1280.png")
    page.keyboard.press("Escape")
    viewer.wait_for(state="hidden")
    assert page.evaluate("document.activeElement.classList.contains('chip')")  # focus returns
    assert page.js_errors == []


def test_a_citation_of_a_markdown_file_marks_the_quote_in_its_text(
    page: Any, docrag_server: DocragServer
) -> None:
    docrag_server.upload(FILES / "guide.md")
    reply = ask(page, "Which Python version does docrag need?")
    chip = reply.locator(".source", has_text="guide.md").locator(".chip").first
    chip.click()
    marked = page.locator("#viewer mark")
    marked.wait_for()
    assert "Python 3.11 or newer" in marked.inner_text()
    # The quote only, in context: the chunk's other sentences are shown around it, unmarked.
    assert "docrag answers questions" in page.locator("#viewer .page-text").inner_text()
    assert "docrag answers questions" not in marked.inner_text()
    # One page of text: no page buttons that would do nothing.
    assert page.locator("#viewer-nav").is_hidden()
    assert page.locator("#viewer-zoom").is_hidden()


def test_a_question_asked_while_the_page_still_starts_is_answered(
    page: Any, library: dict[str, Any]
) -> None:
    # The start-up health check is held unanswered: the form must work all the same (it
    # was wired only after that check, so a quick question was lost).
    held: list[Any] = []
    page.route("**/health", lambda route: held.append(route))
    page.reload()
    reply = ask(page, STEW)
    assert held, "the page asked for /health"
    assert "smoked paprika" in reply.locator(".text").inner_text()
    for route in held:
        route.continue_()


def test_follow_up_questions_carry_the_conversation(page: Any, library: dict[str, Any]) -> None:
    sent: list[dict[str, Any]] = []
    page.on(
        "request",
        lambda r: sent.append(json.loads(r.post_data)) if r.url.endswith("/ask") else None,
    )
    first = ask(page, STEW)
    follow_up = ask(page, "And when did the bridge across the river open?")
    assert "1957" in follow_up.locator(".text").inner_text()
    assert "history" not in sent[0]
    assert sent[1]["history"] == [
        {"role": "user", "content": STEW},
        {"role": "assistant", "content": first.locator(".text").inner_text()},
    ]
    page.click("#new-conversation")
    assert page.locator(".turn").count() == 0
    ask(page, STEW)
    assert "history" not in sent[2]


def test_a_question_the_documents_cannot_answer_looks_different(
    page: Any, library: dict[str, Any]
) -> None:
    reply = ask(page, "What is the boiling point of liquid nitrogen on Jupiter?")
    assert reply.evaluate("el => el.classList.contains('not-found')")
    assert reply.locator(".who").inner_text() == "Not in your documents"
    assert reply.locator(".chip").count() == 0
    assert reply.evaluate("el => getComputedStyle(el).backgroundColor") != page.locator(
        ".turn.user"
    ).first.evaluate("el => getComputedStyle(el).backgroundColor")


def test_ask_within_chosen_documents(
    page: Any, docrag_server: DocragServer, library: dict[str, Any]
) -> None:
    notes = docrag_server.upload(FILES / "notes_utf8.txt")
    page.reload()
    page.click("#filter summary")
    page.check(f"#filter-options input[value='{notes['id']}']")
    assert page.locator("#filter-summary").inner_text() == "1 selected"
    reply = ask(page, STEW)
    # Only notes_utf8.txt may be searched: the stew, in three_pages.pdf, is out of reach.
    assert "three_pages.pdf" not in reply.inner_text()


def test_delete_asks_first_then_removes_the_document(
    page: Any, docrag_server: DocragServer
) -> None:
    doomed = docrag_server.upload(FILES / "latin1.txt")
    page.reload()
    row = page.locator("#documents tbody tr", has_text="latin1.txt")
    row.get_by_role("button", name="Delete latin1.txt").click()
    dialog = page.locator("#confirm-delete")
    assert "latin1.txt" in dialog.inner_text()
    dialog.get_by_role("button", name="Cancel").click()
    assert row.count() == 1
    row.get_by_role("button", name="Delete latin1.txt").click()
    dialog.get_by_role("button", name="Delete").click()
    row.wait_for(state="detached")
    gone = httpx.get(f"{docrag_server.url}/documents/{doomed['id']}")
    assert gone.status_code == 404


def test_the_interface_follows_a_chinese_browser_and_switches_to_english(
    open_page: Callable[..., Any], docrag_server: DocragServer, library: dict[str, Any]
) -> None:
    page = open_page(docrag_server.url, locale="zh-CN")
    assert page.locator("#upload-heading").inner_text() == "添加文档"
    assert page.evaluate("document.documentElement.lang") == "zh-CN"
    assert page.locator("#question").get_attribute("placeholder") == "就你的文档提任何问题……"
    page.fill("#question", "长江大桥是哪一年建成通车的？")
    page.press("#question", "Enter")
    page.locator(".turn.assistant:not(.busy)").wait_for()
    screenshot(page, "chinese-1280.png")
    page.select_option("#language", "en")
    assert page.locator("#upload-heading").inner_text() == "Add documents"
    assert page.evaluate("document.documentElement.lang") == "en"


def test_a_360_px_screen_shows_everything_without_sideways_scrolling(
    open_page: Callable[..., Any], docrag_server: DocragServer, library: dict[str, Any]
) -> None:
    page = open_page(docrag_server.url, width=360, height=780)
    reply = ask(page, STEW)
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    screenshot(page, "answer-360.png")
    page.click("#tab-library")
    page.locator("#documents tbody tr").first.wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.click("#tab-ask")
    reply.locator(".text .chip").first.click()
    page.locator("#viewer .textLayer .hit").first.wait_for()
    # The page is wider than the screen, so its text stays readable; it scrolls inside the
    # viewer, not the screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    screenshot(page, "viewer-360.png")


def test_keyboard_alone_reaches_upload_question_and_citation(
    page: Any, library: dict[str, Any]
) -> None:
    reply = ask(page, STEW)
    reply.locator(".chip").first.focus()
    page.keyboard.press("Enter")
    page.locator("#viewer .textLayer .hit").first.wait_for()
    page.keyboard.press("Escape")
    # Every control the page draws has a name a screen reader can say.
    unnamed = page.evaluate(
        """[...document.querySelectorAll('button, input, select, textarea')]
             .filter((el) => !el.closest('dialog:not([open])'))
             .filter((el) => !(el.labels?.length || el.getAttribute('aria-label')
                               || el.textContent.trim()))
             .map((el) => el.outerHTML)"""
    )
    assert unnamed == []


def test_an_api_key_is_asked_for_and_kept_for_the_session_only(
    open_page: Callable[..., Any], keyed_server: DocragServer
) -> None:
    page = open_page(keyed_server.url)
    dialog = page.locator("#key-dialog")
    dialog.wait_for()
    screenshot(page, "api-key-1280.png")
    page.fill("#key-input", "not-the-key")
    page.press("#key-input", "Enter")
    dialog.locator("#key-error").wait_for()
    assert "not accepted" in dialog.inner_text()
    page.fill("#key-input", API_KEY)
    page.press("#key-input", "Enter")
    page.locator("#no-documents").wait_for()
    assert page.evaluate("sessionStorage.getItem('docrag.apiKey')") == API_KEY
    assert API_KEY not in page.evaluate("JSON.stringify(localStorage)")
    assert httpx.get(f"{keyed_server.url}/documents/x/file").status_code == 401


@pytest.mark.parametrize(("path", "rendered"), [("/docs", ".opblock"), ("/redoc", "h1")])
def test_api_docs_load_with_no_internet(
    open_page: Callable[..., Any], docrag_server: DocragServer, path: str, rendered: str
) -> None:
    page = open_page(docrag_server.url)
    outside: list[str] = []

    def only_local(route: Any) -> None:
        if route.request.url.startswith(docrag_server.url):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_local)
    page.goto(f"{docrag_server.url}{path}")
    page.locator(rendered).first.wait_for()
    assert "docrag" in page.content()
    assert outside == []
