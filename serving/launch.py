"""`guanxi serve` in a process of its own, for tests, benchmarks and scripts that need a real server:
start it in its own process group, wait until it is ready, stop the whole group."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

import httpx

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(env: dict[str, str], port: int, workers: int = 1, log: IO[str] | None = None,
          timeout: float = 180.0) -> subprocess.Popen[bytes]:
    """Start the server on 127.0.0.1:``port`` and return once ``/ready`` answers 200."""
    out = log if log is not None else subprocess.DEVNULL
    proc = subprocess.Popen([sys.executable, "-m", "guanxi.cli", "serve", "--port", str(port), "--workers",
                             str(workers)], env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                            start_new_session=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=5).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise RuntimeError(f"the server stopped with exit code {proc.returncode}")
        time.sleep(0.3)
    stop(proc)
    raise RuntimeError(f"the server was not ready after {timeout:.0f} s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop the server and its workers (the whole process group)."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
