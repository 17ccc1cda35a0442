"""A newcomer's first answer, timed: `docrag serve` -> the page loaded in a browser -> a
~100-page PDF uploaded through the page and ready -> the first answer on screen.

Baseline in the same run: the same steps through the HTTP API alone (a second fresh server,
`POST /documents` then `POST /ask`), so the page's own cost is the ratio of the two.

    .venv/bin/python bench/first_answer.py --output first_answer.json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.web.conftest import CHROMIUM, CHROMIUM_ARGS, docrag_command  # noqa: E402

DEFAULT_PDF = Path("/work/shared/data/financebench-pdfs/ADOBE_2022_10K.pdf")
DEFAULT_QUESTION = "What was Adobe's total revenue in fiscal 2022?"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def served(data_dir: Path) -> Iterator[tuple[str, float]]:
    """A fresh `docrag serve` as the README starts it; yields its URL and the seconds until
    it answered."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCRAG_")}
    env.update({"DOCRAG_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1"})
    started = time.perf_counter()
    proc = subprocess.Popen(
        [*docrag_command(), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError("docrag serve exited")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            time.sleep(0.1)
        yield url, time.perf_counter() - started
    finally:
        proc.terminate()
        proc.wait(30)


def through_the_page(pdf: Path, question: str, tmp: Path) -> dict[str, float]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        # The newcomer's browser is already open: its start is not part of the time.
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(1_800_000)
        begin = time.perf_counter()
        with served(tmp / "page-data") as (url, serve_s):
            page.goto(f"{url}/")
            page.locator("#no-documents").wait_for()
            page_s = time.perf_counter() - begin
            page.set_input_files("#file-input", [pdf])
            page.locator(".upload[data-stage=ready], .upload[data-stage=failed]").wait_for()
            if page.locator(".upload[data-stage=failed]").count():
                raise RuntimeError(page.locator(".upload").inner_text())
            upload_s = time.perf_counter() - begin
            page.fill("#question", question)
            page.press("#question", "Enter")
            page.locator(".turn.assistant .sources:not([hidden])").wait_for()
            sources_s = time.perf_counter() - begin
            page.locator(".turn.assistant:not(.busy)").wait_for()
            answer_s = time.perf_counter() - begin
            answer = page.locator(".turn.assistant .text").inner_text()
        browser.close()
    return {
        "serve_s": serve_s,
        "page_loaded_s": page_s,
        "upload_ready_s": upload_s,
        "sources_shown_s": sources_s,
        "first_answer_s": answer_s,
        "answer": answer[:300],  # type: ignore[dict-item]
    }


def through_the_api(pdf: Path, question: str, tmp: Path) -> dict[str, float]:
    begin = time.perf_counter()
    with served(tmp / "api-data") as (url, serve_s):
        with pdf.open("rb") as f:
            stored = httpx.post(f"{url}/documents", files=[("files", (pdf.name, f))], timeout=1800)
        stored.raise_for_status()
        upload_s = time.perf_counter() - begin
        asked = httpx.post(f"{url}/ask", json={"question": question}, timeout=600)
        asked.raise_for_status()
        answer_s = time.perf_counter() - begin
    return {"serve_s": serve_s, "upload_ready_s": upload_s, "first_answer_s": answer_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pdf", type=Path, default=DEFAULT_PDF)
    parser.add_argument("--question", default=DEFAULT_QUESTION)
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    from pypdf import PdfReader

    pages = len(PdfReader(args.pdf).pages)
    with tempfile.TemporaryDirectory() as tmp:
        page = through_the_page(args.pdf, args.question, Path(tmp))
        api = through_the_api(args.pdf, args.question, Path(tmp))
    result = {
        "pdf": args.pdf.name,
        "pages": pages,
        "size_bytes": args.pdf.stat().st_size,
        "cpu_count": os.cpu_count(),
        "page": page,
        "api_baseline": api,
        "page_over_api": page["first_answer_s"] / api["first_answer_s"],
    }
    text = json.dumps(result, indent=2, ensure_ascii=False)
    print(text)
    if args.output:
        args.output.write_text(text + "\n")


if __name__ == "__main__":
    main()
