"""A real uvicorn server for an app, on a free port in a thread (for what TestClient cannot
show: access logs, clients that speak HTTP themselves)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.conftest import free_port, wait_until


@contextmanager
def live_server(app: Any, log_level: str = "info") -> Iterator[str]:
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level=log_level))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.started, 60, "uvicorn")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)


@contextmanager
def docrag_serve() -> Iterator[tuple[str, Any]]:
    """`docrag serve` in a process of its own on a free port, with the test's environment;
    yields its URL once /health answers, and the process. Stopped with SIGTERM, as a service
    manager stops it."""
    import subprocess
    import sys
    from pathlib import Path

    import httpx

    port = free_port()
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "docrag"), "serve", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: httpx.get(f"{url}/health").status_code == 200, 90, "serve", proc)
        yield url, proc
    finally:
        proc.terminate()
        proc.wait(30)
