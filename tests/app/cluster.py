"""A docrag deployment past one process, for the distributed tests and bench/distributed.py:
a real redis-server and `chroma run`, `docrag worker` and `docrag serve` processes sharing
one data directory. Each process runs in a session of its own, so a fault is one signal to
its process group (the parse workers it started die with it)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(check: Callable[[], Any], timeout: float, what: str) -> Any:
    """The first truthy result of `check` (exceptions count as not yet)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            result = check()
            if result:
                return result
        time.sleep(0.25)
    raise AssertionError(f"{what}: not within {timeout:.0f} s")


class Service:
    """One process (and whatever it starts), restartable, logging to a file."""

    def __init__(self, name: str, argv: list[str], env: Mapping[str, str], log_dir: Path) -> None:
        self.name, self.argv, self.env = name, argv, dict(env)
        self.log = log_dir / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Service:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                self.argv,
                env=self.env,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        return self

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig: int) -> None:
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)

    def kill(self) -> None:
        """kill -9 of the process and all it started."""
        self.signal(signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait(30)

    def stop(self, timeout: float = 30) -> None:
        if not self.running:
            return
        assert self.proc is not None
        self.signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


class Cluster:
    """redis-server, `chroma run`, and any number of docrag workers and API processes."""

    def __init__(self, root: Path, settings_env: Mapping[str, str]) -> None:
        redis_server = shutil.which("redis-server")
        chroma = shutil.which("chroma", path=str(Path(sys.executable).parent)) or shutil.which(
            "chroma"
        )
        if redis_server is None or chroma is None:
            raise FileNotFoundError("redis-server (apt) and chroma (the chromadb package)")
        self.root = root
        self.logs = root / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.redis_port, self.chroma_port = free_port(), free_port()
        base = {k: v for k, v in os.environ.items() if not k.startswith("DOCRAG_")}
        # Redis keeps nothing on disk: a restart loses every queued message.
        self.redis = Service(
            "redis",
            [redis_server, "--port", str(self.redis_port), "--save", "", "--appendonly", "no"],
            base,
            self.logs,
        )
        self.chroma = Service(
            "chroma",
            [chroma, "run", "--path", str(root / "chroma"), "--port", str(self.chroma_port)],
            base,
            self.logs,
        )
        self.env = {
            **base,
            "PYTHONPATH": str(ROOT),
            "HF_HUB_OFFLINE": "1",
            "TOKENIZERS_PARALLELISM": "false",
            "DOCRAG_DATA_DIR": str(root / "data"),
            "DOCRAG_CHROMA__HOST": "127.0.0.1",
            "DOCRAG_CHROMA__PORT": str(self.chroma_port),
            "DOCRAG_QUEUE__BROKER_URL": f"redis://127.0.0.1:{self.redis_port}/0",
            **settings_env,
        }
        self.workers: dict[str, Service] = {}
        self.apis: dict[str, str] = {}  # name -> base URL
        self._api_services: dict[str, Service] = {}

    @property
    def broker_url(self) -> str:
        return self.env["DOCRAG_QUEUE__BROKER_URL"]

    def start_stores(self) -> None:
        self.start_redis()
        self.start_chroma()

    def start_redis(self) -> None:
        self.redis.start()
        wait_for(self._redis_answers, 30, "redis-server")

    def _redis_answers(self) -> bool:
        import redis

        return bool(redis.Redis(port=self.redis_port, socket_timeout=2).ping())

    def start_chroma(self) -> None:
        self.chroma.start()
        url = f"http://127.0.0.1:{self.chroma_port}/api/v2/heartbeat"
        wait_for(lambda: httpx.get(url, timeout=2).status_code == 200, 90, "chroma run")

    def start_worker(self, name: str, env: Mapping[str, str] | None = None) -> Service:
        argv = [sys.executable, "-m", "app.cli", "worker"]
        worker = Service(name, argv, {**self.env, **(env or {})}, self.logs)
        self.workers[name] = worker.start()
        # Logged at INFO once its parts are built and its lexical index is up to date.
        wait_for(lambda: "worker warm" in worker.text() or not worker.running, 180, name)
        assert worker.running, worker.text()[-3000:]
        return worker

    def start_api(
        self, name: str, processes: int = 1, env: Mapping[str, str | None] | None = None
    ) -> str:
        """An API process (`processes` > 1: `docrag serve --workers`); `env` changes its
        settings (None removes one)."""
        port = free_port()
        argv = [sys.executable, "-m", "app.cli", "serve", "--port", str(port)]
        if processes > 1:
            argv += ["--workers", str(processes)]
        merged: dict[str, str | None] = {**self.env, **(env or {})}
        service_env = {k: v for k, v in merged.items() if v is not None}
        service = Service(name, argv, service_env, self.logs).start()
        url = f"http://127.0.0.1:{port}"
        try:
            wait_for(lambda: httpx.get(f"{url}/health", timeout=5).status_code == 200, 180, name)
        except AssertionError:
            raise AssertionError(service.text()[-3000:]) from None
        self._api_services[name] = service
        self.apis[name] = url
        return url

    def api_service(self, name: str) -> Service:
        return self._api_services[name]

    def stop_api(self, name: str) -> None:
        self._api_services.pop(name).stop()
        del self.apis[name]

    def close(self) -> None:
        services = [*self._api_services.values(), *self.workers.values()]
        for service in [*services, self.chroma, self.redis]:
            service.stop(15)

    # -- what a client does --------------------------------------------------------------

    def upload(self, api: str, filename: str, data: bytes) -> dict[str, Any]:
        response = httpx.post(
            f"{self.apis[api]}/documents",
            params={"wait": "false"},
            files={"files": (filename, data)},
            timeout=60,
        )
        assert response.status_code == 202, response.text
        jobs: list[dict[str, Any]] = response.json()["jobs"]
        return jobs[0]

    def job(self, api: str, job_id: str) -> dict[str, Any]:
        response = httpx.get(f"{self.apis[api]}/jobs/{job_id}", timeout=30)
        assert response.status_code == 200, response.text
        job: dict[str, Any] = response.json()
        return job

    def wait_job(
        self, api: str, job_id: str, until: Callable[[dict[str, Any]], bool], timeout: float
    ) -> dict[str, Any]:
        return dict(
            wait_for(
                lambda: (lambda j: j if until(j) else None)(self.job(api, job_id)),
                timeout,
                f"job {job_id}",
            )
        )

    def ask(self, api: str, question: str, **body: Any) -> dict[str, Any]:
        response = httpx.post(
            f"{self.apis[api]}/ask", json={"question": question, **body}, timeout=120
        )
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer

    def documents(self, api: str) -> dict[str, Any]:
        response = httpx.get(f"{self.apis[api]}/documents", params={"limit": 200}, timeout=30)
        assert response.status_code == 200, response.text
        listed: dict[str, Any] = response.json()
        return listed


NOUNS = "heron plover curlew gannet puffin tern osprey egret grebe dunlin shag petrel".split()
ADJECTIVES = "amber brisk coral dusky eastern frosty golden hazel ivory jade khaki lunar".split()
PLACES = "quay jetty slipway breakwater pier mole causeway wharf dock bay cove inlet".split()


def page_subject(n: int) -> str:
    """Words naming page `n` alone (the furniture finder ignores lines that differ only
    in their numbers)."""
    return (
        f"{ADJECTIVES[n % 12]} {NOUNS[(n // 12) % 12]} of the "
        f"{PLACES[(n // 144) % 12]} {ADJECTIVES[(n // 7) % 12]}"
    )


def long_report(pages: int, word: str) -> bytes:
    """A PDF of `pages` pages about `word`, each with a fact about its own subject."""
    import io

    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=A4)
    for n in range(1, pages + 1):
        subject = page_subject(n)
        lines = [
            f"The {word} survey of the {subject}.",
            f"Counters saw the {subject} feeding {n * 7} times along the {word} shore.",
            f"Inspectors said the {subject} nests beside the {NOUNS[n % 5]} colony.",
            f"The {ADJECTIVES[(n // 3) % 12]} tide covered the {PLACES[n % 12]} twice.",
            f"Volunteers of the {NOUNS[(n // 2) % 12]} club cleaned the {PLACES[(n // 5) % 12]}.",
        ]
        y = 800
        for line in lines:
            pdf.drawString(60, y, line)
            y -= 18
        pdf.showPage()
    pdf.save()
    return out.getvalue()
