"""`docrag ask` through a running server against `docrag ask --local` (which loads the model
and opens the library itself), alternating, each a fresh process as a user runs it.

    .venv/bin/python bench/cli_ask.py [--rounds N]

A temporary library holds one text file; `docrag serve` runs on it on a free port and records
its address, which `docrag ask` finds by itself. Prints the median seconds of each and their
ratio, measured in the same run.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

DOCRAG = str(Path(sys.executable).parent / "docrag")
QUESTION = "When does the aurora greenhouse open?"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def timed(args: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run([DOCRAG, *args], env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0 or "[1]" not in done.stdout:
        raise SystemExit(f"docrag {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "DOCRAG_DATA_DIR": str(Path(tmp) / "data"), "HF_HUB_OFFLINE": "1"}
        note = Path(tmp) / "notes.txt"
        note.write_text("The aurora greenhouse opens in March and closes in October.", "utf-8")
        subprocess.run([DOCRAG, "ingest", str(note)], env=env, check=True, capture_output=True)
        port = free_port()
        server = subprocess.Popen(
            [DOCRAG, "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 300
            while True:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit("docrag serve did not start")
                time.sleep(0.5)
            served, local = [], []
            for _ in range(args.rounds):
                served.append(timed(["ask", QUESTION], env))
                # --local beside a live server: read-only, for the comparison.
                local.append(timed(["ask", "--local", QUESTION], env))
        finally:
            server.terminate()
            server.wait(30)
    s, lo = statistics.median(served), statistics.median(local)
    print(f"through the server: {s:.2f} s (runs {', '.join(f'{x:.2f}' for x in served)})")
    print(f"--local:            {lo:.2f} s (runs {', '.join(f'{x:.2f}' for x in local)})")
    print(f"ratio: the server path takes {s / lo:.2f}x the local time ({lo / s:.1f}x faster)")


if __name__ == "__main__":
    main()
