"""``conveyor demo`` as a newcomer runs it: dev Synced and Healthy, answering with the SHA."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
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
