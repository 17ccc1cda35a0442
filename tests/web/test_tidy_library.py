"""The library stays tidy: failed uploads are listed apart with their reason and can be
dismissed (across a reload), finished uploads leave the upload list, a deleted document
leaves every list, long names stay on one line, and the picker names every type."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import FILES
from tests.web.conftest import DocragServer, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.integration]


@pytest.fixture
def page(open_page: Callable[..., Any], docrag_server: DocragServer) -> Any:
    return open_page(docrag_server.url)


def failed_item(page: Any, name: str) -> Any:
    return page.locator("#failed .failed-item", has_text=name)


def test_a_failed_upload_is_listed_apart_until_dismissed_even_across_a_reload(
    page: Any, docrag_server: DocragServer, tmp_path: Path
) -> None:
    bad = tmp_path / "not-really.pdf"
    bad.write_bytes((FILES / "fake.pdf").read_bytes() + b" (a copy)")
    page.set_input_files("#file-input", [bad])
    item = failed_item(page, "not-really.pdf")
    item.wait_for()
    assert "is not a PDF" in item.inner_text()
    assert page.locator("#documents tbody tr", has_text="not-really.pdf").count() == 0
    page.wait_for_function("document.querySelectorAll('#uploads .upload').length === 0")
    screenshot(page, "failed-upload-1280.png")

    page.reload()
    item.wait_for()  # still there: the server keeps the failed record, with its reason
    assert "is not a PDF" in item.inner_text()
    item.get_by_role("button", name="Dismiss not-really.pdf").click()
    item.wait_for(state="detached")
    page.reload()
    page.locator("#documents tbody tr").first.wait_for(state="attached")
    assert failed_item(page, "not-really.pdf").count() == 0
    listed = httpx.get(f"{docrag_server.url}/documents").json()["data"]
    assert all(d["filename"] != "not-really.pdf" for d in listed)


def test_an_upload_that_never_reached_the_server_is_kept_in_the_failed_list(
    page: Any, tmp_path: Path
) -> None:
    notes = tmp_path / "offline-notes.txt"
    notes.write_text("Written while the network was down.")
    # Fault injection: the network drops the upload.
    page.route("**/documents?wait=false*", lambda route: route.abort())
    page.set_input_files("#file-input", [notes])
    item = failed_item(page, "offline-notes.txt")
    item.wait_for()
    assert "cannot be reached" in item.inner_text()
    page.unroute("**/documents?wait=false*")
    page.reload()
    item.wait_for()  # kept by this browser: the server never had it
    item.get_by_role("button", name="Dismiss offline-notes.txt").click()
    page.reload()
    page.locator("#language").wait_for()
    assert failed_item(page, "offline-notes.txt").count() == 0


def test_a_deleted_document_leaves_every_list(page: Any, tmp_path: Path) -> None:
    short = tmp_path / "short-lived.txt"
    short.write_text("The ferry timetable changes in October.")
    page.set_input_files("#file-input", [short])
    row = page.locator("#documents tbody tr", has_text="short-lived.txt")
    row.locator("td.status-ready").wait_for()
    page.click("#filter summary")
    option = page.locator("#filter-options label", has_text="short-lived.txt")
    option.wait_for()
    row.get_by_role("button", name="Delete short-lived.txt").click()
    page.locator("#confirm-delete").get_by_role("button", name="Delete").click()
    row.wait_for(state="detached")
    assert page.locator("#uploads .upload", has_text="short-lived.txt").count() == 0
    assert option.count() == 0
    assert failed_item(page, "short-lived.txt").count() == 0


def test_a_long_file_name_stays_on_one_line_and_shows_whole_on_hover(
    page: Any, docrag_server: DocragServer, tmp_path: Path
) -> None:
    name = "quarterly_financial_statements_and_management_discussion_" * 2 + "2024.txt"
    long = tmp_path / name
    long.write_text("The warehouse in Rotterdam holds spare parts for the cranes.")
    docrag_server.upload(long)
    page.reload()
    cell = page.locator("#documents tbody tr", has_text="quarterly").locator(".doc-name")
    cell.wait_for()
    assert cell.get_attribute("title") == name
    box = cell.bounding_box()
    line = cell.evaluate("el => parseFloat(getComputedStyle(el).lineHeight)")
    assert box is not None and box["height"] <= line * 1.5  # one line, not five
    assert cell.evaluate("el => el.scrollWidth > el.clientWidth")  # cut, with an ellipsis
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280


def test_the_picker_names_every_supported_type_images_included(page: Any) -> None:
    accept = page.locator("#file-input").get_attribute("accept")
    for extension in (".pdf", ".docx", ".html", ".csv", ".txt", ".md", ".png", ".jpg", ".webp"):
        assert extension in accept.split(","), accept
    assert "images" in page.locator("#dropzone .hint").inner_text()
