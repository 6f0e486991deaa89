"""``conveyor demo promote`` against a running ``conveyor demo``: a new build written back to
dev by ``conveyor ci run --write-back`` moves to staging, then (approved) to prod, through the
gates, each of them printed; a gate that fails refuses and is named. Real processes; slow."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from support.wheelhouse import needs_wheelhouse

pytestmark = [pytest.mark.slow, pytest.mark.processes, needs_wheelhouse]

CONVEYOR = str(Path(sys.executable).with_name("conveyor"))


@dataclass
class Demo:
    home: Path
    dev_url: str


def _env(home: Path) -> dict[str, str]:
    return {
        **os.environ,
        "CONVEYOR_HOME": str(home),
        "CONVEYOR_LOG_LEVEL": "WARNING",
        "CONVEYOR_PROMETHEUS": "off",
        "CONVEYOR_SERVER": "",
    }


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """A serving ``conveyor demo`` (dev Healthy)."""
    home = tmp_path_factory.mktemp("promote") / "home"
    process = subprocess.Popen(
        [CONVEYOR, "demo", "--port", "0"],
        env=_env(home),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines = []
        for line in process.stdout:  # ends when the demo exits, so a failed start fails here
            lines.append(line)
            if "serving until interrupted" in line:
                break
        output = "".join(lines)
        assert "serving until interrupted" in output, output
        dev_url = re.search(r"demo-dev\s+Synced\s+Healthy\s+(http://127\.0\.0\.1:\d+)", output)
        assert dev_url, output
        yield Demo(home, dev_url.group(1))
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=120)


def conveyor(home: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CONVEYOR, *args], env=_env(home), capture_output=True, text=True, timeout=timeout
    )


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def served_version(url: str) -> str:
    with httpx.Client(timeout=5, trust_env=False) as http:
        return str(http.get(url + "/").json()["version"])


def wait_until_served(url: str, sha: str, timeout: float = 180) -> None:
    """Until ``url`` answers with ``sha`` (dev syncs the write-back by itself)."""
    deadline = time.monotonic() + timeout
    seen = ""
    while time.monotonic() < deadline:
        seen = served_version(url)
        if seen == sha:
            return
        time.sleep(0.5)
    raise AssertionError(f"{url} still serves {seen}, not {sha}")


def test_a_new_build_moves_dev_to_staging_to_prod_through_the_gates(demo: Demo) -> None:
    app_repo = demo.home / "demo" / "demo-app"
    config_repo = demo.home / "demo" / "config-repo"
    (app_repo / "CHANGES").write_text("a change to promote\n")
    git(app_repo, "add", "CHANGES")
    git(app_repo, "commit", "-q", "-m", "a change to promote")
    sha = git(app_repo, "rev-parse", "HEAD")

    # Before anything runs in staging, prod cannot take it: the gates say why.
    early = conveyor(demo.home, "demo", "promote", "--to", "prod")
    assert early.returncode == 1
    assert "FAILED source-healthy: staging (demo-staging) is" in early.stdout, early.stdout
    assert "FAILED approval: prod needs --approve from a person" in early.stdout

    built = conveyor(
        demo.home, "ci", "run", str(app_repo), "--write-back", "demo-dev", "-o", "json"
    )
    assert built.returncode == 0, built.stdout + built.stderr
    run = json.loads(built.stdout)
    assert run["artifact"] == f"demo-app:{sha}"
    assert run["stages"][-1]["name"] == "write-back"
    assert run["stages"][-1]["status"] == "passed", run["stages"][-1]
    wait_until_served(demo.dev_url, sha)

    staging = conveyor(demo.home, "demo", "promote")
    out = staging.stdout
    assert staging.returncode == 0, out + staging.stderr
    assert "promoting demo-app from dev to staging" in out
    for gate in ("source-healthy", "soak", "analysis", "policy"):
        assert re.search(rf"^held   {gate}: ", out, re.MULTILINE), out
    assert f"promoted demo-app:{sha} to staging" in out
    trailers = git(config_repo, "show", "-s", "--format=%(trailers:only,unfold)", "HEAD")
    assert f"Conveyor-Promotion: dev -> staging {sha}" in trailers
    assert f"Conveyor-App-Commit: {sha}" in trailers
    assert f"Conveyor-Run: {run['id']}" in trailers  # carried over from dev's write-back
    staging_url = re.search(rf"demo-staging Synced and Healthy with demo-app:{sha}: (\S+)", out)
    assert staging_url, out
    assert served_version(staging_url.group(1)) == sha

    unapproved = conveyor(demo.home, "demo", "promote", "--to", "prod")
    assert unapproved.returncode == 1
    assert "FAILED approval: prod needs --approve from a person" in unapproved.stdout
    assert "held   source-healthy" in unapproved.stdout
    assert "gate approval failed" in unapproved.stderr

    prod = conveyor(demo.home, "demo", "promote", "--to", "prod", "--approve")
    assert prod.returncode == 0, prod.stdout + prod.stderr
    assert "held   approval: approved" in prod.stdout
    prod_url = re.search(rf"demo-prod Synced and Healthy with demo-app:{sha}: (\S+)", prod.stdout)
    assert prod_url, prod.stdout
    assert served_version(prod_url.group(1)) == sha

    done = conveyor(demo.home, "demo", "promote")
    assert done.returncode == 0
    assert f"every environment runs demo-app:{sha}: nothing to promote" in done.stdout
