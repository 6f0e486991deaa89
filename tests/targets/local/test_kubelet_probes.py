"""Probes decide Ready and restarts: readiness toggles Ready, liveness restarts, startup gates
liveness; httpGet, tcpSocket and exec handlers, thresholds and timeouts."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import psutil
from test_kubelet_support import (
    condition,
    container_state,
    is_running_ready,
    key_of,
    make_pod,
    python_container,
    running_kubelet,
    write_server,
)

FAST_PROBE = {"periodSeconds": 0.1, "timeoutSeconds": 5}


def restarts(status: dict[str, Any]) -> int:
    count: int = status["containerStatuses"][0]["restartCount"]
    return count


def not_ready_running(status: dict[str, Any]) -> bool:
    return "running" in container_state(status) and condition(status, "Ready") == "False"


async def test_readiness_toggles_ready_without_restarting(tmp_path: Path) -> None:
    flag = tmp_path / "ready"
    container = python_container(
        "web",
        write_server(tmp_path),
        env={"READY_FILE": str(flag)},
        ports=[{"containerPort": 8080, "name": "http"}],
        readinessProbe={"httpGet": {"path": "/ready", "port": "http"}, **FAST_PROBE},
    )
    pod = make_pod("toggle", [container])
    key = key_of(pod)
    async with running_kubelet(tmp_path) as (kubelet, rec):
        kubelet.sync_pod(pod)
        status = await rec.status_where(key, not_ready_running, "running, not ready")
        assert status["containerStatuses"][0]["ready"] is False
        assert condition(status, "ContainersReady") == "False"
        await rec.until(lambda: "Unhealthy" in rec.reasons(key), what="a failed readiness probe")

        flag.touch()
        status = await rec.status_where(key, is_running_ready, "Ready")
        assert status["containerStatuses"][0]["ready"] is True

        flag.unlink()
        status = await rec.status_where(key, not_ready_running, "not Ready again")
        assert restarts(status) == 0
        assert "Killing" not in rec.reasons(key)

    messages = [m for k, r, m, _ in rec.events if k == key and r == "Unhealthy"]
    assert "Readiness probe failed: HTTP probe failed with statuscode: 503" in messages


async def test_failing_liveness_restarts_the_container(tmp_path: Path) -> None:
    container = python_container(
        "web",
        write_server(tmp_path),
        env={"HEALTH_OK_COUNT": "2"},
        livenessProbe={"httpGet": {"path": "/health", "port": 8080}, **FAST_PROBE},
    )
    pod = make_pod("lively", [container])
    key = key_of(pod)
    async with running_kubelet(tmp_path) as (kubelet, rec):
        kubelet.sync_pod(pod)
        status = await rec.status_where(key, lambda s: restarts(s) >= 1, "a restart")

    assert status["containerStatuses"][0]["lastState"]["terminated"]["exitCode"] in (143, 137)
    killing = [m for k, r, m, _ in rec.events if k == key and r == "Killing"]
    assert "Container web failed liveness probe, will be restarted" in killing
    unhealthy = [m for k, r, m, _ in rec.events if k == key and r == "Unhealthy"]
    assert "Liveness probe failed: HTTP probe failed with statuscode: 500" in unhealthy


async def test_startup_probe_holds_liveness_and_readiness_until_it_succeeds(
    tmp_path: Path,
) -> None:
    started = tmp_path / "started"
    container = python_container(
        "web",
        write_server(tmp_path),
        env={"HEALTH_OK_COUNT": "0"},  # liveness fails as soon as it runs
        startupProbe={
            "exec": {"command": ["test", "-f", str(started)]},
            "failureThreshold": 1000,
            **FAST_PROBE,
        },
        livenessProbe={"httpGet": {"path": "/health", "port": 8080}, "failureThreshold": 1},
    )
    container["livenessProbe"].update(FAST_PROBE)
    pod = make_pod("slow-start", [container])
    key = key_of(pod)

    def startup_failures() -> int:
        return sum(1 for k, r, m, _ in rec.events if k == key and m.startswith("Startup probe"))

    async with running_kubelet(tmp_path) as (kubelet, rec):
        kubelet.sync_pod(pod)
        await rec.until(lambda: startup_failures() >= 5, what="startup probe failures")
        status = rec.latest(key)
        assert status["containerStatuses"][0]["started"] is False
        assert status["containerStatuses"][0]["ready"] is False
        assert restarts(status) == 0
        assert not any(m.startswith("Liveness") for k, _, m, _ in rec.events if k == key)

        started.touch()
        await rec.status_where(key, lambda s: restarts(s) >= 1, "liveness to restart it")

    history = rec.history(key)
    assert any(s["containerStatuses"][0]["started"] for s in history)
    assert any(m.startswith("Liveness probe failed") for k, _, m, _ in rec.events if k == key)


async def test_failing_startup_probe_restarts_the_container(tmp_path: Path) -> None:
    container = python_container(
        "web",
        write_server(tmp_path),
        startupProbe={"exec": {"command": ["false"]}, "failureThreshold": 2, **FAST_PROBE},
    )
    pod = make_pod("never-starts", [container])
    key = key_of(pod)
    async with running_kubelet(tmp_path) as (kubelet, rec):
        kubelet.sync_pod(pod)
        await rec.status_where(key, lambda s: restarts(s) >= 1, "a restart")

    killing = [m for k, r, m, _ in rec.events if k == key and r == "Killing"]
    assert "Container web failed startup probe, will be restarted" in killing
    assert not any(s["containerStatuses"][0]["started"] for s in rec.history(key))


async def test_exec_probe_expands_the_env_and_runs_in_the_working_dir(tmp_path: Path) -> None:
    workdir = tmp_path / "work"
    workdir.mkdir()
    container = python_container(
        "web",
        write_server(tmp_path),
        env={"FLAG": "ready.flag"},
        workingDir=str(workdir),
        readinessProbe={"exec": {"command": ["test", "-f", "$(FLAG)"]}, **FAST_PROBE},
    )
    pod = make_pod("exec", [container])
    key = key_of(pod)
    async with running_kubelet(tmp_path) as (kubelet, rec):
        kubelet.sync_pod(pod)
        await rec.status_where(key, not_ready_running, "running, not ready")
        await rec.until(lambda: "Unhealthy" in rec.reasons(key), what="a failed exec probe")
        (workdir / "ready.flag").touch()
        await rec.status_where(key, is_running_ready, "Ready")

    messages = [m for k, r, m, _ in rec.events if k == key and r == "Unhealthy"]
    assert "Readiness probe failed: command exited with code 1" in messages


async def test_exec_probe_that_times_out_fails_and_its_process_is_killed(tmp_path: Path) -> None:
    marker = f"probe-{uuid.uuid4().hex}"
    container = python_container(
        "web",
        write_server(tmp_path),
        livenessProbe={
            "exec": {"command": ["sh", "-c", f"sleep 30; echo {marker}"]},
            "timeoutSeconds": 0.3,
            "periodSeconds": 0.1,
            "failureThreshold": 1,
        },
    )
    pod = make_pod("slow-probe", [container])
    key = key_of(pod)
    async with running_kubelet(tmp_path) as (kubelet, rec):
        kubelet.sync_pod(pod)
        await rec.status_where(key, lambda s: restarts(s) >= 1, "a restart")

    messages = [m for k, r, m, _ in rec.events if k == key and r == "Unhealthy"]
    assert "Liveness probe failed: command timed out after 0.3s" in messages
    leftovers = [
        p for p in psutil.process_iter(["cmdline"]) if marker in " ".join(p.info["cmdline"] or [])
    ]
    assert leftovers == []


TCP_SERVER = r"""
import os, socket, time
while not os.path.exists(os.environ["BIND_FILE"]):
    time.sleep(0.05)
sock = socket.socket()
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
sock.bind(("127.0.0.1", int(os.environ["PORT"])))
sock.listen()
while True:
    conn, _ = sock.accept()
    conn.close()
"""


async def test_tcp_socket_probe_on_a_named_port_is_ready_once_the_port_listens(
    tmp_path: Path,
) -> None:
    bind = tmp_path / "bind"
    container = python_container(
        "db",
        TCP_SERVER,
        env={"BIND_FILE": str(bind)},
        ports=[{"containerPort": 5432, "name": "pg"}],
        readinessProbe={"tcpSocket": {"port": "pg"}, **FAST_PROBE},
    )
    pod = make_pod("tcp", [container])
    key = key_of(pod)
    async with running_kubelet(tmp_path) as (kubelet, rec):
        kubelet.sync_pod(pod)
        await rec.status_where(key, not_ready_running, "running, not ready")
        await rec.until(lambda: "Unhealthy" in rec.reasons(key), what="a refused connection")
        bind.touch()
        await rec.status_where(key, is_running_ready, "Ready")
        port = kubelet.host_port(key, "pg")

    messages = [m for k, r, m, _ in rec.events if k == key and r == "Unhealthy"]
    assert f"Readiness probe failed: dial tcp 127.0.0.1:{port}: connect: connection refused" in (
        messages
    )


async def test_unsupported_probe_is_reported_and_ignored(tmp_path: Path) -> None:
    container = python_container(
        "web", write_server(tmp_path), livenessProbe={"grpc": {"port": 8080}}
    )
    pod = make_pod("grpc", [container])
    key = key_of(pod)
    async with running_kubelet(tmp_path) as (kubelet, rec):
        kubelet.sync_pod(pod)
        await rec.status_where(key, is_running_ready)

    failed = [m for k, r, m, _ in rec.events if k == key and r == "Failed"]
    assert "liveness probe (grpc) is not supported by the local runtime; it is ignored" in failed
