"""Start the real app (`streamlit run Home.py`, or another script) on a free loopback port; for bench and e2e tests."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AppServer:
    """Context manager: a streamlit server process, healthy on entry, stopped on exit."""

    def __init__(self, env: dict[str, str] | None = None, timeout_s: float = 90, script: str = "Home.py",
                 cwd: Path = ROOT, poll_s: float = 0.25):
        self.script, self.cwd, self.poll_s = script, cwd, poll_s
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.timeout_s = timeout_s
        self.env = {**os.environ, "CNNLAB_OFFLINE": "1", **(env or {})}
        self.proc: subprocess.Popen | None = None
        self.started_at = self.healthy_at = 0.0

    def __enter__(self) -> "AppServer":
        self.started_at = time.perf_counter()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", self.script, "--server.headless", "true",
             "--server.port", str(self.port), "--server.address", "127.0.0.1",
             "--browser.gatherUsageStats", "false"],
            cwd=self.cwd, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + self.timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"streamlit exited early:\n{self.proc.stdout.read().decode(errors='replace')}")
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as r:
                    if r.read().decode().strip() == "ok":
                        self.healthy_at = time.perf_counter()
                        return self
            except OSError:
                pass
            time.sleep(self.poll_s)
        self.__exit__(None, None, None)
        raise TimeoutError(f"streamlit did not become healthy within {self.timeout_s} s")

    def __exit__(self, *exc) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def wait_until_idle(page, timeout_ms: int = 120_000) -> None:
    """Wait until the app is connected and no script run is in progress.

    Streamlit marks its root with data-test-script-state (running / notRunning); the short pause
    lets a rerun triggered by the last interaction start before we wait for it to end.
    """
    page.wait_for_selector('[data-testid="stApp"][data-test-connection-state="CONNECTED"]', timeout=timeout_ms)
    page.wait_for_timeout(400)
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=timeout_ms)
    page.wait_for_timeout(200)
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=timeout_ms)
    # Widgets' code loads lazily; until it has, they show as skeleton placeholders.
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stSkeleton\"]')", timeout=timeout_ms)
