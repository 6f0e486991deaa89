"""Running Conveyor's API server for tests: in a thread (API tests) or as `conveyor server`.

Both bind 127.0.0.1 on a free port and wait until the server answers /healthz. The thread
form lets schemathesis and sync httpx clients call a real uvicorn with a real controller;
the process form is what a user runs, for the CLI's end-to-end tests.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from conveyor.api.discovery import read_admin_token

CONVEYOR = Path(sys.executable).with_name("conveyor")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(url: str, timeout: float = 30.0, alive: Any = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if alive is not None and not alive():
            raise AssertionError("the server exited before it answered /healthz")
        try:
            if httpx.get(f"{url}/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"no answer from {url}/healthz after {timeout}s")


class ThreadServer:
    """uvicorn serving ``app`` in a thread of this process (lifespan included)."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="on")
        config.timeout_graceful_shutdown = 2
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    def __enter__(self) -> ThreadServer:
        self.thread.start()
        wait_healthy(self.url, alive=self.thread.is_alive)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(30)
        self.sock.close()
        assert not self.thread.is_alive(), "the server thread did not stop"


class ServerProcess:
    """`conveyor server` as a child process with CONVEYOR_HOME=home."""

    def __init__(self, home: Path, *args: str, env: Mapping[str, str] | None = None) -> None:
        self.home = home
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.args = [str(CONVEYOR), "server", "--port", str(self.port), *args]
        self.env = {**os.environ, "CONVEYOR_HOME": str(home), **(env or {})}
        self.log = home.parent / f"server-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> ServerProcess:
        self.home.mkdir(parents=True, exist_ok=True)
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                self.args, env=self.env, stdout=out, stderr=subprocess.STDOUT
            )
        proc = self.proc
        try:
            wait_healthy(self.url, timeout=60.0, alive=lambda: proc.poll() is None)
        except AssertionError as err:
            self.__exit__()
            raise AssertionError(f"server did not start; its log:\n{self.log.read_text()}") from err
        return self

    @property
    def token(self) -> str:
        token = read_admin_token(self.home)
        assert token is not None
        return token

    def stop(self) -> int:
        """SIGTERM, as a supervisor would; returns the exit status."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("the server did not stop within 30s of SIGTERM") from None
        return int(self.proc.returncode)

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.stop()
