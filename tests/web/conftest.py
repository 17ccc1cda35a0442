"""The web page's fixtures: one Debian chromium per session, driven by Playwright, and real
`docrag serve` processes (the default embedding model, no hub) on temporary data, one per
API-key configuration."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import free_port, unavailable, wait_until

CHROMIUM = os.environ.get("DOCRAG_TEST_CHROMIUM", "/usr/bin/chromium")
# Quiet, offline chromium: no sandbox (containers), no GPU, no background calls home.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ROOT = Path(__file__).resolve().parents[2]
# The README's screenshots are refreshed on request only (DOCRAG_SCREENSHOTS=docs/screenshots),
# so that a test run leaves the working tree as it found it.
SCREENSHOTS = Path(
    os.environ.get("DOCRAG_SCREENSHOTS") or Path(tempfile.gettempdir()) / "docrag-screenshots"
)
API_KEY = "web-test-key-7f3a"


@dataclass
class DocragServer:
    url: str
    data_dir: Path
    log: Path
    api_key: str | None = None

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    def upload(self, path: Path) -> dict[str, Any]:
        """Stores a file through the API (for tests about something other than uploading)."""
        with path.open("rb") as f:
            response = httpx.post(
                f"{self.url}/documents",
                files=[("files", (path.name, f))],
                headers=self.headers(),
                timeout=120,
            )
        response.raise_for_status()
        document: dict[str, Any] = response.json()["documents"][0]
        return document


def docrag_command() -> list[str]:
    script = shutil.which("docrag", path=str(Path(sys.executable).parent))
    return [script] if script else [sys.executable, "-m", "app.cli"]


@contextlib.contextmanager
def running_docrag(tmp: Path, extra_env: dict[str, str] | None = None) -> Iterator[DocragServer]:
    """`docrag serve` as a newcomer runs it: no DOCRAG_EMBEDDING__MODEL, the hub unreachable."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCRAG_")}
    env.update(
        {
            "DOCRAG_DATA_DIR": str(tmp / "data"),
            "HF_HUB_OFFLINE": "1",
            "TOKENIZERS_PARALLELISM": "false",
            "DOCRAG_LOG_LEVEL": "WARNING",
            **(extra_env or {}),
        }
    )
    log_path = tmp / "serve.log"
    log = log_path.open("wb")
    proc = subprocess.Popen(
        [*docrag_command(), "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=tmp,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        try:
            wait_until(
                lambda: httpx.get(f"{url}/health", timeout=2).status_code == 200,
                180,
                "docrag serve",
                proc,
            )
        except RuntimeError as e:
            raise RuntimeError(f"{e}; its output:\n{log_path.read_text()[-3000:]}") from e
        yield DocragServer(url, tmp / "data", log_path, env.get("DOCRAG_AUTH__API_KEYS"))
    finally:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(15)
        proc.kill()
        log.close()


@pytest.fixture(scope="session")
def docrag_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DocragServer]:
    with running_docrag(tmp_path_factory.mktemp("web-open")) as server:
        yield server


@pytest.fixture(scope="session")
def keyed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DocragServer]:
    with running_docrag(
        tmp_path_factory.mktemp("web-keyed"), {"DOCRAG_AUTH__API_KEYS": f'["{API_KEY}"]'}
    ) as server:
        yield server


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright is not installed: pip install -e '.[test]'")
    if not Path(CHROMIUM).exists():
        unavailable(f"no chromium at {CHROMIUM}: apt-get install chromium")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def open_page(browser: Any) -> Iterator[Callable[..., Any]]:
    """A fresh browser context per test (its own sessionStorage, language and size)."""
    contexts: list[Any] = []

    def open_(url: str, *, width: int = 1280, height: int = 900, locale: str = "en-GB") -> Any:
        context = browser.new_context(viewport={"width": width, "height": height}, locale=locale)
        contexts.append(context)
        page = context.new_page()
        # Generous: a loaded 2-core CI machine parses, OCRs and embeds behind these waits.
        page.set_default_timeout(180_000)
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.js_errors = errors
        page.goto(f"{url}/")
        return page

    yield open_
    for context in contexts:
        context.close()


def screenshot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name), full_page=False)
