"""A Pod becomes a running, reachable host process whose env is resolved as in Kubernetes."""

from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path

from test_kubelet_support import (
    Images,
    Lookup,
    condition,
    container_state,
    fetch,
    is_running_ready,
    key_of,
    make_pod,
    python_container,
    running_kubelet,
    write_server,
)

from conveyor.targets.local.kubelet import ResolvedImage


async def test_http_server_becomes_running_ready_and_answers_on_its_host_port(
    tmp_path: Path,
) -> None:
    server = write_server(tmp_path)
    container = python_container(
        "web",
        server,
        ports=[{"containerPort": 8080, "name": "http"}],
        readinessProbe={"httpGet": {"path": "/", "port": "http"}, "periodSeconds": 0.1},
    )
    pod = make_pod("web-1", [container])
    key = key_of(pod)
    async with running_kubelet(tmp_path) as (kubelet, rec):
        kubelet.sync_pod(pod)
        kubelet.sync_pod(pod)  # idempotent
        status = await rec.status_where(key, is_running_ready, "Running and Ready")

        port = kubelet.host_port(key, 8080)
        assert port is not None
        assert kubelet.host_port(key, "http") == port
        assert kubelet.host_port(key, "nope") is None
        assert (await fetch(port)).text == "hello from web-1"
        assert kubelet.running_pods() == [key]

        assert status["podIP"] == status["hostIP"] == "127.0.0.1"
        assert status["startTime"].endswith("Z")
        for kind in ("PodScheduled", "Initialized", "ContainersReady", "Ready"):
            assert condition(status, kind) == "True"
            cond = next(c for c in status["conditions"] if c["type"] == kind)
            assert cond["lastTransitionTime"].endswith("Z")
        cs = status["containerStatuses"][0]
        assert cs["name"] == "web"
        assert cs["image"] == "demo:1"
        assert cs["imageID"] == ""
        assert cs["ready"] is True
        assert cs["started"] is True
        assert cs["restartCount"] == 0
        assert set(container_state(status)) == {"running"}
        assert cs["lastState"] == {}

        history = rec.history(key)
        assert history[0]["phase"] == "Pending"
        assert all(a != b for a, b in itertools.pairwise(history)), "duplicate report"
        started = [r for r in rec.reasons(key) if r in ("Pulled", "Created", "Started")]
        assert started == ["Pulled", "Created", "Started"]


async def test_env_from_values_config_maps_secrets_and_the_pod_reaches_the_process(
    tmp_path: Path,
) -> None:
    server = write_server(tmp_path)
    lookup = Lookup()
    lookup.add_config_map("settings", {"GREETING": "hi", "COLOR": "blue"})
    lookup.add_secret("creds", {"password": "s3cr3t", "TOKEN": "tok"})
    bin_dir = tmp_path / "venv" / "bin"
    bin_dir.mkdir(parents=True)
    workdir = tmp_path / "app"
    workdir.mkdir()
    images = Images({"demo:1": ResolvedImage(workdir, (str(bin_dir),), None)})
    container = python_container(
        "web",
        server,
        ports=[{"containerPort": 8080}, {"containerPort": 9090, "name": "metrics"}],
        env=None,
        args=["--ignored=$(GREETING)"],
    )
    container["command"] = [sys.executable, str(server)]
    container["env"] = [
        {"name": "NAME", "value": "world"},
        {"name": "MESSAGE", "value": "hello $(NAME) on $(PORT), $$(NAME) and $(MISSING)"},
        {
            "name": "GREETING",
            "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "GREETING"}},
        },
        {
            "name": "DB_PASSWORD",
            "valueFrom": {"secretKeyRef": {"name": "creds", "key": "password"}},
        },
        {
            "name": "OPTIONAL",
            "valueFrom": {"secretKeyRef": {"name": "absent", "key": "x", "optional": True}},
        },
        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "POD_NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        {"name": "POD_UID", "valueFrom": {"fieldRef": {"fieldPath": "metadata.uid"}}},
        {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
        {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
        {"name": "PORT", "value": "1"},  # the runtime's PORT wins
    ]
    container["envFrom"] = [
        {"configMapRef": {"name": "settings"}, "prefix": "CFG_"},
        {"secretRef": {"name": "creds"}},
    ]
    pod = make_pod("envy", [container])
    key = key_of(pod)
    async with running_kubelet(tmp_path, images=images, lookup=lookup) as (kubelet, rec):
        kubelet.sync_pod(pod)
        await rec.status_where(key, is_running_ready)
        port = kubelet.host_port(key, 8080)
        metrics = kubelet.host_port(key, "metrics")
        assert port and metrics and port != metrics
        env = json.loads((await fetch(port, "/env")).text)
        cwd = (await fetch(port, "/cwd")).text

    assert env["PORT"] == str(port)
    assert env["PORT_8080"] == str(port)
    assert env["PORT_9090"] == str(metrics)
    assert env["MESSAGE"] == f"hello world on {port}, $(NAME) and $(MISSING)"
    assert env["GREETING"] == "hi"
    assert env["CFG_GREETING"] == "hi" and env["CFG_COLOR"] == "blue"
    assert env["DB_PASSWORD"] == "s3cr3t"
    assert env["password"] == "s3cr3t" and env["TOKEN"] == "tok"
    assert "OPTIONAL" not in env
    assert env["POD_NAME"] == "envy" and env["POD_NS"] == "default"
    assert env["POD_UID"] == pod["metadata"]["uid"]
    assert env["POD_IP"] == "127.0.0.1"
    assert env["APP"] == "envy"
    assert env["PATH"].split(":")[0] == str(bin_dir)
    assert cwd == str(workdir)


async def test_args_are_expanded_from_the_env(tmp_path: Path) -> None:
    out = tmp_path / "argv.json"
    script = "import json, sys; json.dump(sys.argv[1:], open(sys.argv[1], 'w'))"
    container = python_container("job", script, env={"WHO": "you"})
    container["args"] = [str(out), "$(WHO)", "$$(WHO)", "$(NOPE)", "port=$(PORT)"]
    pod = make_pod("argv", [container], restartPolicy="Never")
    key = key_of(pod)
    async with running_kubelet(tmp_path) as (kubelet, rec):
        kubelet.sync_pod(pod)
        await rec.status_where(key, lambda s: s["phase"] == "Succeeded")
    argv = json.loads(out.read_text())
    assert argv[1:4] == ["you", "$(WHO)", "$(NOPE)"]
    assert argv[4].startswith("port=") and argv[4][5:].isdigit()


async def test_missing_secret_waits_with_create_container_config_error_then_starts(
    tmp_path: Path,
) -> None:
    server = write_server(tmp_path)
    lookup = Lookup()
    container = python_container("web", server)
    container["env"] = [
        {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}
    ]
    pod = make_pod("needs-secret", [container])
    key = key_of(pod)
    async with running_kubelet(tmp_path, lookup=lookup) as (kubelet, rec):
        kubelet.sync_pod(pod)
        status = await rec.status_where(
            key,
            lambda s: (
                container_state(s).get("waiting", {}).get("reason") == "CreateContainerConfigError"
            ),
            "CreateContainerConfigError",
        )
        waiting = container_state(status)["waiting"]
        assert 'secret "db" not found' in waiting["message"]
        assert status["phase"] == "Pending"

        lookup.add_secret("db", {"other": "x"})
        await rec.status_where(
            key,
            lambda s: (
                "couldn't find key password in Secret default/db"
                in container_state(s).get("waiting", {}).get("message", "")
            ),
            "the missing key named",
        )
        lookup.add_secret("db", {"password": "pw"})
        await rec.status_where(key, is_running_ready)


async def test_no_command_anywhere_is_a_create_container_error(tmp_path: Path) -> None:
    pod = make_pod("idle", [{"name": "app", "image": "demo:1"}])
    key = key_of(pod)
    async with running_kubelet(tmp_path) as (kubelet, rec):
        kubelet.sync_pod(pod)
        status = await rec.status_where(key, lambda s: "waiting" in container_state(s))
        await rec.status_where(
            key,
            lambda s: container_state(s)["waiting"]["reason"] == "CreateContainerError",
        )
        status = rec.latest(key)
        assert "has no command" in container_state(status)["waiting"]["message"]
        assert status["phase"] == "Pending"


async def test_image_default_command_runs_when_the_container_gives_none(tmp_path: Path) -> None:
    server = write_server(tmp_path)
    images = Images({"demo:1": ResolvedImage(tmp_path, (), (sys.executable, str(server)))})
    pod = make_pod("defaults", [{"name": "app", "image": "demo:1"}])
    key = key_of(pod)
    async with running_kubelet(tmp_path, images=images) as (kubelet, rec):
        kubelet.sync_pod(pod)
        await rec.status_where(key, is_running_ready)
        port = kubelet.host_port(key, 8080)  # undeclared: the container's PORT
        assert port is not None
        assert (await fetch(port)).text == "hello from defaults"
