"""The running server's record in its data directory. `docrag serve` writes it while it runs,
so that the other commands find the server that owns the same library and go through it
(no model to load, no second process writing into embedded Chroma) or warn before opening
the library beside it."""

from __future__ import annotations

import json
import os
import socket
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

RECORD_NAME = "server.json"


@dataclass(frozen=True, slots=True)
class ServerRecord:
    pid: int
    url: str
    machine: str
    started_at: str


def record_path(data_dir: Path) -> Path:
    return data_dir / RECORD_NAME


def local_url(host: str, port: int) -> str:
    """The address another process on this machine reaches a server bound to `host` at."""
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "[::1]"
    elif ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}"


def write_record(data_dir: Path, host: str, port: int) -> ServerRecord:
    record = ServerRecord(
        pid=os.getpid(),
        url=local_url(host, port),
        machine=socket.gethostname(),
        started_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    data_dir.mkdir(parents=True, exist_ok=True)
    path = record_path(data_dir)
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(asdict(record)) + "\n", "utf-8")
    os.replace(partial, path)
    return record


def remove_record(data_dir: Path) -> None:
    """Removes the record if it is this process's (a later server may have replaced it)."""
    record = read_record(data_dir)
    if record is not None and record.pid == os.getpid():
        record_path(data_dir).unlink(missing_ok=True)


def read_record(data_dir: Path) -> ServerRecord | None:
    try:
        values = json.loads(record_path(data_dir).read_text("utf-8"))
        return ServerRecord(
            pid=int(values["pid"]),
            url=str(values["url"]),
            machine=str(values["machine"]),
            started_at=str(values["started_at"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def live_server(data_dir: Path, *, timeout_s: float = 2.0) -> ServerRecord | None:
    """The server recorded in `data_dir` if it still runs and answers /health; a record left
    by a server that was killed is ignored."""
    record = read_record(data_dir)
    if record is None:
        return None
    if record.machine == socket.gethostname() and not _process_alive(record.pid):
        return None
    import httpx

    try:
        answered = httpx.get(f"{record.url}/health", timeout=timeout_s)
    except httpx.HTTPError:
        return None
    return record if answered.status_code == 200 else None
