"""kill -9 in the middle of an AnalysisRun: the restarted runtime resumes the run with the
measurements it had written, and the run ends with all of its measurements counted.

A real runtime process on a real CONVEYOR_HOME (SQLite journal) measures a web metric against
a real HTTP server in this process; it is killed with SIGKILL after some measurements are in
the database, and started again on the same home.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from analysis_helpers import JSONServer

from conveyor.settings import Settings
from conveyor.store import RuntimeStateStore, open_database

pytestmark = pytest.mark.slow

COUNT = 6


def analysis_run(url: str) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AnalysisRun",
        "metadata": {"name": "canary-check", "namespace": "default"},
        "spec": {
            "metrics": [
                {
                    "name": "success-rate",
                    "interval": "1s",
                    "count": COUNT,
                    "successCondition": "result.rate >= 0.95",
                    "provider": {"web": {"url": url, "jsonPath": "{$}"}},
                }
            ]
        },
    }


async def stored_status(home: Path) -> dict[str, Any]:
    """The run's status as the journal has it in the database (what survives a kill)."""
    settings = Settings(home, f"sqlite+aiosqlite:///{home}/conveyor.db")
    if not (home / "conveyor.db").exists():
        return {}
    async with await open_database(settings) as db:
        objects = (await RuntimeStateStore(db).load()).objects
    runs = [o for o in objects if o.get("kind") == "AnalysisRun"]
    return (runs[0].get("status") or {}) if runs else {}


def measurements(status: dict[str, Any]) -> list[dict[str, Any]]:
    results = status.get("metricResults") or [{}]
    return list(results[0].get("measurements") or [])


async def wait_stored(home: Path, check: Any, what: str, timeout: float = 90) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + timeout
    status: dict[str, Any] = {}
    while asyncio.get_running_loop().time() < deadline:
        status = await stored_status(home)
        if check(status):
            return status
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}; last status: {status}")


async def test_kill_9_mid_run_resumes_with_its_measurements(tmp_path: Path) -> None:
    home = tmp_path / "home"
    manifest = tmp_path / "run.json"
    script = Path(__file__).with_name("analysis_process.py")
    with JSONServer({"rate": 0.99}).running() as server:
        manifest.write_text(json.dumps(analysis_run(server.url)))
        args = [sys.executable, str(script), str(home), str(manifest)]

        first = await asyncio.create_subprocess_exec(*args, stdout=asyncio.subprocess.DEVNULL)
        try:
            before = await wait_stored(
                home, lambda s: len(measurements(s)) >= 2, "two measurements in the database"
            )
        finally:
            first.kill()  # SIGKILL: no cleanup, no last flush
            await first.wait()
        assert before["phase"] == "Running"
        kept = measurements(before)

        second = await asyncio.create_subprocess_exec(*args, stdout=asyncio.subprocess.DEVNULL)
        try:
            after = await wait_stored(
                home, lambda s: s.get("phase") == "Successful", "the run to end"
            )
        finally:
            second.kill()
            await second.wait()

    result = after["metricResults"][0]
    assert result["count"] == result["successful"] == COUNT
    assert after["startedAt"] == before["startedAt"]  # the same run, resumed
    done = measurements(after)
    assert done[: len(kept)] == kept  # the measurements written before the kill are its first
    assert len(done) == COUNT
    assert server.hits >= COUNT
