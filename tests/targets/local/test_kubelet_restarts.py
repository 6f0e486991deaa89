"""Containers end, restart with backoff per restartPolicy, and stop on SIGTERM or SIGKILL.

Every process a Pod started is gone after terminate_pod and after shutdown, children included.
"""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path
from typing import Any

import psutil
import pytest
from test_kubelet_support import (
    container_state,
    fetch,
    is_running_ready,
    key_of,
    make_pod,
    python_container,
    running_kubelet,
    write_server,
)


def status_of(status: dict[str, Any], index: int = 0) -> dict[str, Any]:
    container: dict[str, Any] = status["containerStatuses"][index]
    return container


def waiting_reason(status: dict[str, Any]) -> str | None:
    reason: str | None = container_state(status).get("waiting", {}).get("reason")
    return reason


def gone(pid: int) -> bool:
    """True when ``pid`` no longer runs (a zombie waiting for a reaper does not run)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


async def read_pids(path: Path, *, other_than: str = "") -> list[int]:
    """The pids a workload wrote to ``path`` (waiting for it, and for a change)."""
    for _ in range(600):
        text = path.read_text() if path.exists() else ""
        if text.strip() and text != other_than:
            return [int(p) for p in text.split()]
        await asyncio.sleep(0.025)
    raise AssertionError(f"{path} was never written")


async def test_killed_container_restarts_then_waits_in_crash_loop_back_off(
    tmp_path: Path,
) -> None:
    pid_file = tmp_path / "pid"
    container = python_container("web", write_server(tmp_path), env={"PID_FILE": str(pid_file)})
    pod = make_pod("crashy", [container])
    key = key_of(pod)
    async with running_kubelet(tmp_path) as (kubelet, rec):
        kubelet.sync_pod(pod)
        await rec.status_where(key, is_running_ready)
        first = await read_pids(pid_file)

        os.kill(first[0], signal.SIGKILL)
        status = await rec.status_where(
            key, lambda s: status_of(s)["restartCount"] == 1 and is_running_ready(s), "restart 1"
        )
        last = status_of(status)["lastState"]["terminated"]
        assert last["exitCode"] == 137
        assert last["reason"] == "Error"
        assert last["startedAt"].endswith("Z") and last["finishedAt"].endswith("Z")

        second = await read_pids(pid_file, other_than=str(first[0]))
        os.kill(second[0], signal.SIGKILL)
        status = await rec.status_where(
            key, lambda s: status_of(s)["restartCount"] == 2 and is_running_ready(s), "restart 2"
        )
        assert (await fetch(kubelet.host_port(key, 8080) or 0)).status_code == 200

    backing_off = [s for s in rec.history(key) if waiting_reason(s) == "CrashLoopBackOff"]
    assert backing_off, "the second restart waited in CrashLoopBackOff"
    waiting = backing_off[0]
    assert waiting["phase"] == "Running"
    assert status_of(waiting)["ready"] is False
    assert status_of(waiting)["lastState"]["terminated"]["exitCode"] == 137
    assert (
        "back-off 200ms restarting failed container=web"
        in (container_state(waiting)["waiting"]["message"])
    )
    assert "BackOff" in rec.reasons(key)


@pytest.mark.parametrize(
    ("policy", "script", "phase", "exit_code", "reason"),
    [
        ("Never", "raise SystemExit(0)", "Succeeded", 0, "Completed"),
        ("Never", "raise SystemExit(3)", "Failed", 3, "Error"),
        ("OnFailure", "raise SystemExit(0)", "Succeeded", 0, "Completed"),
    ],
    ids=["never-succeeds", "never-fails", "onfailure-succeeds"],
)
async def test_a_container_that_is_not_restarted_ends_the_pod(
    tmp_path: Path, policy: str, script: str, phase: str, exit_code: int, reason: str
) -> None:
    pod = make_pod("job", [python_container("main", script)], restartPolicy=policy)
    key = key_of(pod)
    async with running_kubelet(tmp_path) as (kubelet, rec):
        kubelet.sync_pod(pod)
        status = await rec.status_where(key, lambda s: s["phase"] == phase, phase)
        await rec.until(lambda: not kubelet.running_pods(), what="the worker to end")
        assert kubelet.host_port(key, 8080) is None
        kubelet.sync_pod(pod)  # the runtime syncs on every status update: nothing restarts
        assert not kubelet.running_pods()

    terminated = container_state(status)["terminated"]
    assert (terminated["exitCode"], terminated["reason"]) == (exit_code, reason)
    assert status_of(status)["restartCount"] == 0
    assert status_of(status)["ready"] is False
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "PodCompleted")


async def test_on_failure_restarts_a_failed_container_until_it_succeeds(tmp_path: Path) -> None:
    marker = tmp_path / "tried"
    script = (
        "import os, sys\n"
        f"if not os.path.exists({str(marker)!r}):\n"
        f"    open({str(marker)!r}, 'w').close()\n"
        "    sys.exit(2)\n"
    )
    pod = make_pod("retry", [python_container("main", script)], restartPolicy="OnFailure")
    key = key_of(pod)
    async with running_kubelet(tmp_path) as (kubelet, rec):
        kubelet.sync_pod(pod)
        status = await rec.status_where(key, lambda s: s["phase"] == "Succeeded")

    assert status_of(status)["restartCount"] == 1
    assert status_of(status)["lastState"]["terminated"]["exitCode"] == 2
    assert container_state(status)["terminated"]["reason"] == "Completed"


async def test_always_restarts_a_container_that_completed(tmp_path: Path) -> None:
    pod = make_pod("again", [python_container("main", "print('done')")])
    key = key_of(pod)
    async with running_kubelet(tmp_path) as (kubelet, rec):
        kubelet.sync_pod(pod)
        status = await rec.status_where(key, lambda s: status_of(s)["restartCount"] >= 2)
        assert kubelet.running_pods() == [key]

    assert status["phase"] == "Running"
    assert status_of(status)["lastState"]["terminated"]["reason"] == "Completed"


STUBBORN = r"""
import os, signal, subprocess, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(f"{os.getpid()} {child.pid}")
os.replace(sys.argv[1] + ".tmp", sys.argv[1])
time.sleep(600)
"""

POLITE = r"""
import os, signal, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(f"{os.getpid()} {child.pid}")
os.replace(sys.argv[1] + ".tmp", sys.argv[1])
time.sleep(600)
"""


@pytest.mark.parametrize(
    ("script", "spec_grace", "grace", "exit_code"),
    [
        (STUBBORN, None, 0.5, 137),
        (STUBBORN, 1, None, 137),
        (POLITE, None, 30.0, 143),
    ],
    ids=["sigkill-after-given-grace", "sigkill-after-pod-grace", "exits-on-sigterm"],
)
async def test_terminate_sends_sigterm_then_sigkill_and_leaves_no_process(
    tmp_path: Path, script: str, spec_grace: int | None, grace: float | None, exit_code: int
) -> None:
    pid_file = tmp_path / "pids"
    container = python_container("main", script, args=[str(pid_file)])
    extra = {} if spec_grace is None else {"terminationGracePeriodSeconds": spec_grace}
    pod = make_pod("stopper", [container], **extra)
    key = key_of(pod)
    async with running_kubelet(tmp_path) as (kubelet, rec):
        kubelet.sync_pod(pod)
        pids = await read_pids(pid_file)
        await kubelet.terminate_pod(key, grace)

        assert all(gone(pid) for pid in pids), "the container and its child are gone"
        assert kubelet.running_pods() == []
        status = rec.latest(key)
        assert status["phase"] == "Failed"
        assert container_state(status)["terminated"]["exitCode"] == exit_code
        assert "Killing" in rec.reasons(key)
        await kubelet.terminate_pod(key, 0)  # again: nothing left to do


async def test_shutdown_kills_every_process_and_reports_no_pod_as_finished(
    tmp_path: Path,
) -> None:
    pods = []
    async with running_kubelet(tmp_path) as (kubelet, rec):
        for name in ("one", "two"):
            container = python_container("main", STUBBORN, args=[str(tmp_path / name)])
            pods.append(make_pod(name, [container]))
            kubelet.sync_pod(pods[-1])
        pids = [pid for name in ("one", "two") for pid in await read_pids(tmp_path / name)]
        for pod in pods:
            await rec.status_where(key_of(pod), is_running_ready)
        reported = len(rec.statuses)
    # running_kubelet shut the kubelet down (its shutdown_grace is 1 s)

    assert all(gone(pid) for pid in pids)
    assert kubelet.running_pods() == []
    assert len(rec.statuses) == reported, "a shutdown is not reported as the Pods' end"
    kubelet.sync_pod(pods[0])  # after shutdown: ignored
    assert kubelet.running_pods() == []


async def test_a_new_pod_with_the_same_name_replaces_the_running_one(tmp_path: Path) -> None:
    first_pids = tmp_path / "first"
    old = python_container("main", STUBBORN, args=[str(first_pids)])
    old_pod = make_pod("same", [old], terminationGracePeriodSeconds=0.2)
    middle_pod = make_pod("same", [python_container("main", "import time; time.sleep(600)")])
    new_pod = make_pod("same", [python_container("main", write_server(tmp_path))])
    key = key_of(new_pod)
    async with running_kubelet(tmp_path) as (kubelet, rec):
        kubelet.sync_pod(old_pod)
        pids = await read_pids(first_pids)
        kubelet.sync_pod(middle_pod)
        kubelet.sync_pod(new_pod)  # supersedes the middle one, which never starts
        port = await rec.until(lambda: kubelet.host_port(key, 8080), what="the new Pod's port")
        response = await fetch(port)

        assert response.text == "hello from same"
        assert all(gone(pid) for pid in pids)
        assert kubelet.running_pods() == [key]
        assert rec.latest(key)["phase"] == "Running", "the old Pod's end is not reported"
