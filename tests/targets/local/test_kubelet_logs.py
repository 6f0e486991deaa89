"""Container logs are kept per Pod, bounded and rotated, readable with tail, previous and follow;
and Conveyor's own log lines never carry a Secret's value."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import structlog
from test_kubelet_support import (
    FAST,
    Lookup,
    container_state,
    key_of,
    make_pod,
    python_container,
    running_kubelet,
)

from conveyor.errors import NotFoundError
from conveyor.logging import get_logger, mask_secrets
from conveyor.model.objects import ObjectKey
from conveyor.targets.local.kubelet import Kubelet
from conveyor.targets.local.kubelet.failures import log_failure


async def collect(kubelet: Kubelet, key: ObjectKey, **options: Any) -> list[str]:
    return [line async for line in kubelet.logs(key, **options)]


CHATTY = r"""
import sys
for i in range(3000):
    sys.stdout.write(f"line {i:05d} " + "x" * 88 + "\n")
    if i % 500 == 0:
        sys.stderr.write(f"progress {i}\n")
"""


async def test_logs_are_rotated_within_their_bound_and_lines_stay_whole(tmp_path: Path) -> None:
    options = replace(FAST, log_max_bytes=8192, log_backups=2)
    pod = make_pod("chatty", [python_container("main", CHATTY)], restartPolicy="Never")
    key = key_of(pod)
    async with running_kubelet(tmp_path, options=options) as (kubelet, rec):
        kubelet.sync_pod(pod)
        await rec.status_where(key, lambda s: s["phase"] == "Succeeded")
        tail = await collect(kubelet, key, tail_lines=3)
        everything = await collect(kubelet, key)

    files = sorted((tmp_path / "runtime" / "pods" / "default" / "chatty").glob("main.log*"))
    assert [f.name for f in files] == ["main.log", "main.log.1", "main.log.2"]
    assert sum(f.stat().st_size for f in files) <= 8192 * 3
    assert tail == [f"line {i:05d} " + "x" * 88 for i in (2997, 2998, 2999)]
    assert all(len(line) == 99 for line in everything if line.startswith("line"))
    assert len(everything) < 3000


FLAKY = r"""
import os, sys
marker = sys.argv[1]
attempt = 2 if os.path.exists(marker) else 1
open(marker, "w").close()
print(f"attempt {attempt}")
print(f"oops {attempt}", file=sys.stderr)
sys.exit(0 if attempt == 2 else 1)
"""


async def test_previous_logs_belong_to_the_instance_before_the_restart(tmp_path: Path) -> None:
    container = python_container("main", FLAKY, args=[str(tmp_path / "marker")])
    pod = make_pod("flaky", [container], restartPolicy="OnFailure")
    key = key_of(pod)
    async with running_kubelet(tmp_path) as (kubelet, rec):
        kubelet.sync_pod(pod)
        await rec.status_where(key, lambda s: s["phase"] == "Succeeded")

        assert await collect(kubelet, key) == ["attempt 2", "oops 2"]
        assert await collect(kubelet, key, container="main", previous=True) == [
            "attempt 1",
            "oops 1",
        ]
        assert await collect(kubelet, key, tail_lines=1) == ["oops 2"]
        with pytest.raises(NotFoundError, match='container "nope" is not valid'):
            await collect(kubelet, key, container="nope")
        with pytest.raises(NotFoundError, match='pods "ghost" not found'):
            await collect(kubelet, ObjectKey("", "Pod", "default", "ghost"))


async def test_follow_streams_until_the_container_ends(tmp_path: Path) -> None:
    script = (
        "import sys, time\n"
        "sys.stdin.close()\n"
        "while not __import__('os').path.exists(sys.argv[1]):\n"
        "    time.sleep(0.02)\n"
        "for i in range(20):\n"
        "    print(f'tick {i}', flush=True)\n"
        "    time.sleep(0.01)\n"
    )
    go = tmp_path / "go"
    pod = make_pod(
        "ticker", [python_container("main", script, args=[str(go)])], restartPolicy="Never"
    )
    key = key_of(pod)
    async with running_kubelet(tmp_path) as (kubelet, rec):
        kubelet.sync_pod(pod)
        await rec.status_where(key, lambda s: "running" in container_state(s))
        with pytest.raises(NotFoundError, match="previous terminated container"):
            await collect(kubelet, key, previous=True)
        stream = kubelet.logs(key, follow=True)
        go.touch()
        lines = [line async for line in stream]

    assert lines == [f"tick {i}" for i in range(20)]


SECRET = "hunter2-Zq9-very-secret"


async def test_secret_values_never_reach_conveyors_logs_events_or_statuses(
    tmp_path: Path,
) -> None:
    lookup = Lookup()
    lookup.add_secret("db", {"password": SECRET})
    container = python_container(
        "main",
        "import sys; sys.exit(1)",
        args=["--password=$(PASSWORD)"],
        envFrom=[{"secretRef": {"name": "db"}, "prefix": "DB_"}],
        livenessProbe={"exec": {"command": ["test", "$(PASSWORD)", "=", "x"]}},
    )
    container["env"] = [
        {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}},
        {"name": "DSN", "value": "postgres://app:$(PASSWORD)@db"},
    ]
    probed = python_container(
        "probed",
        "import time; time.sleep(60)",
        env={"TOKEN": SECRET},
        livenessProbe={
            "exec": {"command": ["sh", "-c", "echo $TOKEN; exit 1"]},
            "periodSeconds": 0.1,
            "failureThreshold": 1,
        },
    )
    missing_key = python_container("other", "print(1)")
    missing_key["env"] = [
        {"name": "X", "valueFrom": {"secretKeyRef": {"name": "db", "key": SECRET[:3]}}}
    ]
    pods = [
        make_pod("leaky", [container]),
        make_pod("probed", [probed]),
        make_pod("missing", [missing_key]),
    ]
    with structlog.testing.capture_logs() as captured:
        async with running_kubelet(tmp_path, lookup=lookup) as (kubelet, rec):
            for pod in pods:
                kubelet.sync_pod(pod)
            leaky, probed_key, missing = (key_of(p) for p in pods)
            await rec.status_where(
                leaky, lambda s: s["containerStatuses"][0]["restartCount"] >= 2, "restarts"
            )
            await rec.status_where(
                probed_key, lambda s: s["containerStatuses"][0]["restartCount"] >= 1, "a kill"
            )
            await rec.status_where(
                missing,
                lambda s: "CreateContainerConfigError" in json.dumps(s),
                "CreateContainerConfigError",
            )

    assert captured, "the kubelet logged something"
    rendered = [
        structlog.dev.ConsoleRenderer(colors=False)(None, "info", dict(event)) for event in captured
    ]
    text = "\n".join(
        [*rendered, json.dumps(rec.statuses, default=str), json.dumps(rec.events, default=str)]
    )
    assert SECRET not in text
    assert base64.b64encode(SECRET.encode()).decode() not in text


def test_failures_are_logged_without_the_values_in_their_frames() -> None:
    def resolve(value: str) -> None:
        env = {"PASSWORD": value}
        raise RuntimeError(f"boom with {len(env)} variables")

    with structlog.testing.capture_logs() as captured:
        try:
            resolve(SECRET)
        except RuntimeError as exc:
            log_failure(get_logger(pod="default/x"), "pod worker failed", exc, container="c")

    (event,) = captured
    assert event["error"] == "RuntimeError: boom with 1 variables"
    assert "raise RuntimeError" in event["traceback"]
    assert "exc_info" not in event
    rendered = structlog.dev.ConsoleRenderer(colors=False)(
        None, "error", mask_secrets(None, "", event)
    )
    assert SECRET not in rendered


async def test_forgetting_a_stopped_pod_drops_its_logs(tmp_path: Path) -> None:
    pod = make_pod("brief", [python_container("main", "print('bye')")], restartPolicy="Never")
    key = key_of(pod)
    pod_dir = tmp_path / "runtime" / "pods" / "default" / "brief"
    async with running_kubelet(tmp_path) as (kubelet, rec):
        kubelet.sync_pod(pod)
        await rec.status_where(key, lambda s: s["phase"] == "Succeeded")
        await rec.until(lambda: not kubelet.running_pods(), what="the worker to end")

        kubelet.forget_pod(key, uid="some-other-pod")
        assert await collect(kubelet, key) == ["bye"]
        kubelet.forget_pod(key, uid=pod["metadata"]["uid"])
        assert not pod_dir.exists()
        with pytest.raises(NotFoundError):
            await collect(kubelet, key)
