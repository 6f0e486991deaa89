"""``conveyor demo`` as a newcomer runs it: dev Synced and Healthy, answering with the SHA."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from support.wheelhouse import needs_wheelhouse

pytestmark = [pytest.mark.slow, needs_wheelhouse]  # pip installs FastAPI offline

CONVEYOR = str(Path(sys.executable).with_name("conveyor"))


def _env(home: Path) -> dict[str, str]:
    return {**os.environ, "CONVEYOR_HOME": str(home), "CONVEYOR_LOG_LEVEL": "WARNING"}


def test_demo_serves_dev_with_the_built_sha_and_runs_again(tmp_path: Path) -> None:
    home = tmp_path / "home"
    demo = subprocess.Popen(
        [CONVEYOR, "demo", "--port", "0"],
        env=_env(home),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    try:
        assert demo.stdout is not None
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            line = demo.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "serving until interrupted" in line:
                break
        output = "".join(lines)
        assert "serving until interrupted" in output, output
        revision = re.search(r"app revision\s+([0-9a-f]{40})", output)
        dev_url = re.search(r"demo-dev\s+Synced\s+Healthy\s+(http://127\.0\.0\.1:\d+)", output)
        assert revision and dev_url, output
        assert (home / "admin.token").stat().st_mode & 0o777 == 0o600
        reply = httpx.get(dev_url.group(1) + "/", timeout=5)
        assert reply.status_code == 200
        assert reply.json()["version"] == revision.group(1)
    finally:
        demo.send_signal(signal.SIGINT)
        demo.wait(timeout=60)
    assert demo.returncode == 0, "".join(lines)

    again = subprocess.run(
        [CONVEYOR, "demo", "--port", "0", "--no-serve"],
        env=_env(home),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert again.returncode == 0, again.stdout + again.stderr
    assert revision.group(1) in again.stdout
    assert "building artifact" not in again.stdout  # reused


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        yield int(sock.getsockname()[1])


def test_demo_on_a_taken_port_fails_before_building(tmp_path: Path, taken_port: int) -> None:
    home = tmp_path / "home"
    done = subprocess.run(
        [CONVEYOR, "demo", "--port", str(taken_port), "--no-serve"],
        env=_env(home),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert f"cannot listen on 127.0.0.1:{taken_port}" in done.stderr
    assert not (home / "demo").exists()  # nothing was prepared or built


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_demo_checks_its_port_before_building(taken_port: int) -> None:
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        ["make", "-C", str(root), "demo", f"PORT={taken_port}"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert f"cannot listen on 127.0.0.1:{taken_port}" in done.stderr
    assert "pip install" not in done.stdout and "conveyor demo" not in done.stdout
    bad = subprocess.run(
        ["make", "-C", str(root), "demo", "PORT=http"], capture_output=True, text=True, timeout=60
    )
    assert bad.returncode != 0
    assert "PORT must be a number" in bad.stderr
