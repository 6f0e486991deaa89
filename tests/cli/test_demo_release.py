"""``conveyor demo release`` against a running ``conveyor demo``: a good version reaches 100 %
with the old ReplicaSet scaled down; a bad one (ERROR_RATE=0.3) is aborted by analysis and
every request is served by stable again. Real processes throughout; slow."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from support.wheelhouse import needs_wheelhouse

pytestmark = [pytest.mark.slow, needs_wheelhouse]

CONVEYOR = str(Path(sys.executable).with_name("conveyor"))


def _env(home: Path) -> dict[str, str]:
    return {**os.environ, "CONVEYOR_HOME": str(home), "CONVEYOR_LOG_LEVEL": "WARNING"}


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A serving ``conveyor demo`` (dev Healthy), with no Prometheus: the builtin twin."""
    home = tmp_path_factory.mktemp("release") / "home"
    env = {**_env(home), "CONVEYOR_PROMETHEUS": "off"}
    demo = subprocess.Popen(
        [CONVEYOR, "demo", "--port", "0"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert demo.stdout is not None
        lines = []
        for line in demo.stdout:  # ends when the demo exits, so a failed start fails here
            lines.append(line)
            if "serving until interrupted" in line:
                break
        assert "serving until interrupted" in "".join(lines), "".join(lines)
        yield home
    finally:
        demo.send_signal(signal.SIGINT)
        demo.wait(timeout=120)


def release(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**_env(home), "CONVEYOR_PROMETHEUS": "off"}
    return subprocess.run(
        [CONVEYOR, "demo", "release", "--timeout", "400", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def rollout_info(home: Path) -> dict[str, Any]:
    done = subprocess.run(
        [CONVEYOR, "rollouts", "get", "demo-app", "-n", "demo-prod", "-o", "json"],
        env=_env(home),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    info: dict[str, Any] = json.loads(done.stdout)
    return info


def served_by(url: str, count: int) -> list[tuple[int, str]]:
    with httpx.Client(timeout=5, trust_env=False) as http:
        replies = [http.get(url) for _ in range(count)]
    return [(r.status_code, str(r.json()["pod"]).rpartition("-")[0]) for r in replies]


def prod_url(output: str) -> str:
    found = re.search(r"load on (http://127\.0\.0\.1:\d+/)", output)
    assert found, output
    return found.group(1)


def test_a_good_release_steps_through_to_100_percent_and_scales_the_old_down(
    demo_home: Path,
) -> None:
    done = release(demo_home)
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    weights = [int(w) for w in re.findall(r"weights: canary (\d+)%", out)]
    assert {10, 25, 50, 75} <= set(weights), out  # the seeds' steps, in order
    assert weights.index(10) < weights.index(25) < weights.index(50) < weights.index(75)
    assert "verdict: promoted" in out
    assert re.search(r"time from push to 100 %: \d+\.\ds", out), out

    info = rollout_info(demo_home)
    assert info["status"] == "Healthy"
    running = [rs for rs in info["replicaSets"] if int(rs["replicas"]) > 0]
    assert len(running) == 1 and running[0]["stable"], info["replicaSets"]  # old scaled down
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"],
        cwd=demo_home / "demo" / "demo-app",
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert running[0]["images"] == [f"demo-app:{head}"]  # the new commit's artifact
    with httpx.Client(timeout=5, trust_env=False) as http:
        assert http.get(prod_url(out)).json()["version"] == head


def test_a_bad_release_is_aborted_by_analysis_and_traffic_returns_to_stable(
    demo_home: Path,
) -> None:
    done = release(demo_home, "--bad")
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert "verdict: aborted" in out
    assert 'Metric "success-rate" assessed Failed' in out
    to_abort = re.search(r"time from push to abort: (\d+\.\d)s", out)
    assert to_abort, out
    # What users saw from the canary: about 70 % success (ERROR_RATE=0.3), below 95 %.
    canary = re.search(r"by the canary (\S+)", out)
    assert canary, out
    rate = re.search(rf"{re.escape(canary.group(1))}: \d+ requests, success rate ([\d.]+)%", out)
    assert rate and float(rate.group(1)) < 95, out
    assert re.search(r"after the abort: \d+ requests, \d+ served by the stable \S+, 0 by", out)

    info = rollout_info(demo_home)
    assert info["status"] == "Degraded"
    stable = next(rs for rs in info["replicaSets"] if rs["stable"])["objectMeta"]["name"]
    answers = served_by(prod_url(out), 40)
    assert answers == [(200, stable)] * 40  # every request on stable, none failing
