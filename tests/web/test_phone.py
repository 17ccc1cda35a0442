"""A phone: the Ask box is on the first screen, the library one tap away, and the PDF viewer
keeps text readable and zooms."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import FILES
from tests.web.conftest import DocragServer, screenshot
from tests.web.test_web_page import STEW, ask

pytestmark = [pytest.mark.browser, pytest.mark.integration]

WIDTH, HEIGHT = 360, 740


@pytest.fixture(scope="module")
def stored(docrag_server: DocragServer) -> dict[str, Any]:
    return docrag_server.upload(FILES / "three_pages.pdf")


@pytest.fixture
def phone(open_page: Callable[..., Any], docrag_server: DocragServer, stored: Any) -> Any:
    return open_page(docrag_server.url, width=WIDTH, height=HEIGHT)


def test_the_ask_box_is_on_the_first_screen_and_the_library_one_tap_away(phone: Any) -> None:
    question = phone.locator("#question")
    phone.wait_for_load_state("networkidle")  # the header is complete (knowledge bases too)
    box = question.bounding_box()
    assert box is not None and box["y"] + box["height"] <= HEIGHT  # no scrolling needed
    assert phone.evaluate("window.scrollY") == 0
    assert phone.locator("#documents").is_hidden()  # the library is behind its tab
    screenshot(phone, "ask-first-360.png")
    phone.click("#tab-library")
    phone.locator("#documents tbody tr", has_text="three_pages.pdf").wait_for()
    assert phone.locator("#question").is_hidden()
    assert phone.get_attribute("#tab-library", "aria-selected") == "true"
    phone.click("#tab-ask")
    assert phone.locator("#question").is_visible()


def test_the_viewer_keeps_text_readable_and_zooms(phone: Any) -> None:
    reply = ask(phone, STEW)
    reply.locator(".text .chip").first.click()
    hit = phone.locator("#viewer .textLayer .hit").first
    hit.wait_for()
    sheet = phone.locator("#viewer .pdf-page")
    # Text at least as large as the PDF's own size: the page is wider than the screen and
    # scrolls inside the viewer, with the quote scrolled into view.
    font = hit.evaluate("el => el.getBoundingClientRect().height")
    assert font >= 8, font
    width = sheet.bounding_box()["width"]
    assert width > WIDTH
    assert phone.locator("#zoom-level").inner_text() == "100%"
    hit_box = hit.bounding_box()
    assert hit_box is not None and 0 <= hit_box["x"] < WIDTH
    assert phone.evaluate("document.documentElement.scrollWidth") <= WIDTH
    screenshot(phone, "viewer-zoom-360.png")

    phone.get_by_role("button", name="Zoom in").click()
    phone.wait_for_function("document.getElementById('zoom-level').textContent === '125%'")
    phone.locator("#viewer .textLayer .hit").first.wait_for()
    assert sheet.bounding_box()["width"] == pytest.approx(width * 1.25, rel=0.02)
    phone.get_by_role("button", name="Zoom out").click()
    phone.get_by_role("button", name="Zoom out").click()
    phone.wait_for_function("document.getElementById('zoom-level').textContent === '80%'")
    phone.get_by_role("button", name="Fit width").click()
    phone.wait_for_function(
        f"document.querySelector('#viewer .pdf-page').getBoundingClientRect().width <= {WIDTH}"
    )
    # Ctrl+wheel (a trackpad's pinch) zooms too.
    before = phone.locator("#zoom-level").inner_text()
    phone.locator("#viewer-body").hover()
    phone.keyboard.down("Control")
    phone.mouse.wheel(0, -100)
    phone.keyboard.up("Control")
    phone.wait_for_function(
        "(before) => document.getElementById('zoom-level').textContent !== before", arg=before
    )
