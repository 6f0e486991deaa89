"""A real Prometheus (Debian's ``prometheus`` binary) run by Conveyor for the local runtime.

``CONVEYOR_PROMETHEUS=auto`` asks ``conveyor server`` for one: it listens on a free port of
127.0.0.1, keeps its TSDB and generated config under CONVEYOR_HOME, scrapes the Pods of the
file_sd targets (job ``pods``) and Conveyor's own ``/metrics`` (job ``conveyor``, a file_sd
file the API server writes once it listens), and is restarted with backoff when it dies.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import time
from pathlib import Path

import httpx

from conveyor.backoff import Backoff
from conveyor.logging import get_logger
from conveyor.targets.local.monitoring.file_sd import write_atomically

log = get_logger(component="prometheus")

PODS_FILE = "pods.json"
SELF_FILE = "conveyor.json"
MISSING_BINARY = (
    "the prometheus binary is not installed, so Conveyor runs no Prometheus: install it "
    "(apt-get install prometheus) or set CONVEYOR_PROMETHEUS to the URL of a Prometheus server"
)


def find_binary() -> str | None:
    """Path of ``prometheus`` on PATH, or None."""
    return shutil.which("prometheus")


def free_port() -> int:
    """A port of 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def config_text(targets_dir: Path, scrape_interval: float) -> str:
    """prometheus.yml: the Pods' and Conveyor's own file_sd targets, re-read on change."""
    interval = f"{max(scrape_interval, 0.001) * 1000:.0f}ms"
    pods = targets_dir / PODS_FILE
    own = targets_dir / SELF_FILE
    return (
        f"global: {{scrape_interval: {interval}, evaluation_interval: {interval}}}\n"
        "scrape_configs:\n"
        "- job_name: pods\n"
        f"  file_sd_configs: [{{files: ['{pods}'], refresh_interval: 1s}}]\n"
        "- job_name: conveyor\n"
        f"  file_sd_configs: [{{files: ['{own}'], refresh_interval: 1s}}]\n"
    )


def write_self_target(targets_dir: Path, url: str) -> None:
    """Tell the supervised Prometheus where Conveyor's own ``/metrics`` is (``http://h:p``)."""
    address = url.split("://", 1)[-1].rstrip("/")
    text = f'[{{"targets": ["{address}"], "labels": {{"service": "conveyor"}}}}]\n'
    write_atomically(targets_dir / SELF_FILE, text)


class PrometheusSupervisor:
    """One ``prometheus`` process, restarted when it exits, until ``stop()``."""

    def __init__(
        self,
        binary: str,
        workdir: Path,
        targets_dir: Path,
        *,
        scrape_interval: float = 5.0,
        port: int | None = None,
    ) -> None:
        self._binary = binary
        self._workdir = workdir
        self._targets_dir = targets_dir
        self._scrape_interval = scrape_interval
        self._port = port
        self._backoff = Backoff(1.0, 60.0, reset_after=60.0)
        self._task: asyncio.Task[None] | None = None
        self._process: asyncio.subprocess.Process | None = None
        self._stopping = False
        self.url = ""
        """Where it listens (``http://127.0.0.1:PORT``), once started."""

    @property
    def pid(self) -> int | None:
        """The running process' id (for tests), or None."""
        return self._process.pid if self._process and self._process.returncode is None else None

    async def start(self) -> None:
        """Write the config and run Prometheus (its readiness is not awaited)."""
        self._workdir.mkdir(parents=True, exist_ok=True)
        self._targets_dir.mkdir(parents=True, exist_ok=True)
        for name in (PODS_FILE, SELF_FILE):
            if not (self._targets_dir / name).exists():
                write_atomically(self._targets_dir / name, "[]\n")
        config = self._workdir / "prometheus.yml"
        write_atomically(config, config_text(self._targets_dir, self._scrape_interval))
        port = self._port or free_port()
        self.url = f"http://127.0.0.1:{port}"
        self._task = asyncio.create_task(self._run(config, port), name="prometheus")

    async def _run(self, config: Path, port: int) -> None:
        args = [
            f"--config.file={config}",
            f"--storage.tsdb.path={self._workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--storage.tsdb.retention.time=1d",
            "--log.level=warn",
        ]
        log_path = self._workdir / "prometheus.log"
        while not self._stopping:
            started = time.monotonic()
            try:
                with log_path.open("ab") as output:
                    self._process = await asyncio.create_subprocess_exec(
                        self._binary,
                        *args,
                        stdin=asyncio.subprocess.DEVNULL,
                        stdout=output,
                        stderr=output,
                        start_new_session=True,
                    )
                log.info("prometheus started", url=self.url, pid=self._process.pid)
                code = await self._process.wait()
            except OSError as err:
                code = None
                log.warning("cannot start prometheus", error=str(err))
            if self._stopping:
                return
            delay = self._backoff.next_delay(time.monotonic() - started)
            log.warning("prometheus exited; restarting", code=code, delay=delay, log=str(log_path))
            await asyncio.sleep(delay)

    async def wait_ready(self, timeout: float) -> bool:
        """True once Prometheus answers ``/-/ready`` (within ``timeout`` seconds)."""
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(timeout=2, trust_env=False) as client:
            while time.monotonic() < deadline:
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(f"{self.url}/-/ready")).status_code == 200:
                        return True
                await asyncio.sleep(0.2)
        return False

    async def stop(self, grace: float = 20.0) -> None:
        """Stop the process (SIGTERM, then SIGKILL after ``grace`` s) and the restarts."""
        self._stopping = True
        process = self._process
        if process is not None and process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
            try:
                await asyncio.wait_for(process.wait(), grace)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
