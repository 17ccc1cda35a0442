"""A newcomer's first answer, timed, while the document is still being read: a fresh
`docrag serve`, a ~100-page PDF chosen in the page, the question asked as soon as the page
says some pages answer (and again each time more do, until an answer cites its source),
then the wait until the whole document is ready.

The same steps through the HTTP API alone, on a second fresh server, are the baseline
(`POST /documents?wait=false`, `GET /documents/{id}` for the answerable pages, `POST /ask`).
Every time counts from the moment the file is chosen (or posted).

    .venv/bin/python bench/first_answer.py [--pdf FILE] [--question TEXT] [--json]

With `--json` the last line is one JSON object: `first_answer_s` and `ready_s` (browser),
their ratio, the pages answerable when the first cited answer came, and the API's numbers.
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
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.web.conftest import CHROMIUM, CHROMIUM_ARGS, docrag_command  # noqa: E402

DEFAULT_PDF = ROOT.parent / "shared" / "data" / "financebench-pdfs" / "ADOBE_2022_10K.pdf"
# Answered on page 3 of the filing (Item 1, Business): the kind of fact a person checks first.
DEFAULT_QUESTION = "Where is Adobe incorporated?"
POLL_S = 0.25


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


ROW_STATE = """(name) => {
  const row = [...document.querySelectorAll('#documents tbody tr')]
    .find((r) => r.querySelector('.doc-name')?.textContent === name);
  if (!row) return null;
  return { status: row.dataset.status, pages: Number(row.dataset.answerablePages || 0) };
}"""


def through_the_page(pdf: Path, question: str, tmp: Path) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        # The newcomer's browser is already open: its start is not part of the time.
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(1_800_000)
        with served(tmp / "page-data") as (url, serve_s):
            page.goto(f"{url}/")
            page.locator("#no-documents").wait_for()
            begin = time.perf_counter()
            page.set_input_files("#file-input", [pdf])
            asked_at_pages, first_answer_s, tries, note = -1, None, 0, ""
            answerable_s: float | None = None
            while first_answer_s is None:
                # Ask once the page says some pages answer, and again each time more do.
                handle = page.wait_for_function(
                    f"""(name) => {{
                      const failed = document.querySelector('#failed .failed-item');
                      if (failed) return {{ failed: failed.textContent }};
                      const row = ({ROW_STATE})(name);
                      if (!row) return null;
                      if (row.status === 'ready') return row;
                      if (row.pages > Math.max({asked_at_pages}, 0)) return row;
                      return null;
                    }}""",
                    arg=pdf.name,
                    polling=int(POLL_S * 1000),
                )
                state = handle.json_value()
                if "failed" in state:
                    raise RuntimeError(state["failed"])
                asked_at_pages = state["pages"]
                asked_s = time.perf_counter() - begin
                answerable_s = answerable_s if answerable_s is not None else asked_s
                turns = page.locator(".turn.assistant").count()
                page.fill("#question", question)
                page.press("#question", "Enter")
                reply = page.locator(".turn.assistant").nth(turns)
                page.wait_for_function(
                    "(n) => !document.querySelectorAll('.turn.assistant')[n]"
                    ".classList.contains('busy')",
                    arg=turns,
                )
                tries += 1
                if reply.locator(".text .chip").count():
                    first_answer_s = time.perf_counter() - begin
                    answer = reply.locator(".text").inner_text()
                    note = " ".join(reply.locator(".still-reading").all_inner_texts())
                elif state["status"] == "ready":
                    raise RuntimeError(f"no cited answer once ready: {reply.inner_text()}")
            page.wait_for_function(
                f"(name) => ({ROW_STATE})(name)?.status === 'ready'", arg=pdf.name
            )
            ready_s = time.perf_counter() - begin
        browser.close()
    return {
        "serve_s": serve_s,
        "answerable_s": answerable_s,  # the page first said some pages answer
        "asked_s": asked_s,  # the question that got the first cited answer was asked
        "first_answer_s": first_answer_s,
        "ready_s": ready_s,
        "answerable_pages_at_first_answer": asked_at_pages,
        "questions_asked": tries,
        "still_reading_note": note,
        "answer": answer[:300],
    }


def through_the_api(pdf: Path, question: str, tmp: Path) -> dict[str, Any]:
    with served(tmp / "api-data") as (url, serve_s), httpx.Client(base_url=url) as http:
        begin = time.perf_counter()
        with pdf.open("rb") as f:
            posted = http.post(
                "/documents", params={"wait": "false"}, files=[("files", (pdf.name, f))]
            )
        posted.raise_for_status()
        document_id = posted.json()["jobs"][0]["document_id"]
        asked_at_pages, first_answer_s, tries, asked = -1, None, 0, {}
        answerable_s: float | None = None
        asked_s = 0.0
        while True:
            doc = http.get(f"/documents/{document_id}").json()
            if doc["status"] == "failed":
                raise RuntimeError(doc["error"])
            more = doc["answerable_pages"] > max(asked_at_pages, 0) or doc["status"] == "ready"
            if first_answer_s is None and more:
                asked_at_pages = doc["answerable_pages"]
                asked_s = time.perf_counter() - begin
                answerable_s = answerable_s if answerable_s is not None else asked_s
                asked = http.post("/ask", json={"question": question}, timeout=600).json()
                tries += 1
                if asked["citations"]:
                    first_answer_s = time.perf_counter() - begin
                elif doc["status"] == "ready":
                    raise RuntimeError(f"no cited answer once ready: {asked['answer']}")
            if doc["status"] == "ready" and first_answer_s is not None:
                return {
                    "serve_s": serve_s,
                    "answerable_s": answerable_s,
                    "asked_s": asked_s,
                    "first_answer_s": first_answer_s,
                    "ready_s": time.perf_counter() - begin,
                    "answerable_pages_at_first_answer": asked_at_pages,
                    "questions_asked": tries,
                    "still_reading": asked.get("still_reading", []),
                }
            time.sleep(POLL_S)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pdf", type=Path, default=DEFAULT_PDF)
    parser.add_argument("--question", default=DEFAULT_QUESTION)
    parser.add_argument("--json", action="store_true", help="end with one line of JSON")
    args = parser.parse_args()
    from pypdf import PdfReader

    pages = len(PdfReader(args.pdf).pages)
    with tempfile.TemporaryDirectory() as tmp:
        page = through_the_page(args.pdf, args.question, Path(tmp))
        api = through_the_api(args.pdf, args.question, Path(tmp))
    result = {
        "pdf": args.pdf.name,
        "pages": pages,
        "cpu_count": os.cpu_count(),
        "question": args.question,
        "first_answer_s": round(page["first_answer_s"], 2),
        "ready_s": round(page["ready_s"], 2),
        "first_answer_over_ready": round(page["first_answer_s"] / page["ready_s"], 3),
        "page": page,
        "api": api,
        "api_first_answer_over_ready": round(api["first_answer_s"] / api["ready_s"], 3),
    }
    print(
        f"{args.pdf.name} ({pages} pages): browser: first cited answer "
        f"{page['first_answer_s']:.1f} s (pages 1-{page['answerable_pages_at_first_answer']} "
        f"answerable), fully ready {page['ready_s']:.1f} s "
        f"({result['first_answer_over_ready']:.0%}); API: {api['first_answer_s']:.1f} s / "
        f"{api['ready_s']:.1f} s ({result['api_first_answer_over_ready']:.0%})"
    )
    if args.json:
        print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
