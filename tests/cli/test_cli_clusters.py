"""`conveyor cluster add|list|rm`, and a server that deploys to the cluster it names.

A kubeconfig context is added (its token file read in), stored encrypted and never shown;
a server started with CONVEYOR_CLUSTER set to it syncs an app to that cluster's API server
(kmock on 127.0.0.1) and lists it as its connected cluster; an app for another cluster is
refused with a condition.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from cli_helpers import conveyor, ok, wait_json

from engine.engine_helpers import ConfigRepo, configmap
from support.kube_api import served_in_thread
from support.server_helpers import ServerProcess

pytestmark = pytest.mark.slow

TOKEN = "k8s-t0ken-that-must-not-leak"


def kubeconfig(path: Path, server: str) -> Path:
    (path.parent / "token").write_text(TOKEN)
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "other",
        "clusters": [{"name": "mock", "cluster": {"server": server}}],
        "users": [{"name": "ci", "user": {"tokenFile": "token"}}],
        "contexts": [{"name": "mock-ctx", "context": {"cluster": "mock", "user": "ci"}},
                     {"name": "other", "context": {"cluster": "mock", "user": "ci"}}],
    }))  # fmt: skip
    return path


def conditions(app: dict[str, Any]) -> str:
    return " ".join(c.get("message", "") for c in app["status"].get("conditions") or [])


def test_a_cluster_added_from_a_context_is_deployed_to_and_its_token_never_shown(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    repo = ConfigRepo(tmp_path / "config")
    repo.write("app/cm.yaml", configmap("settings", {"mode": "blue"}))
    repo.commit()
    with served_in_thread() as api:
        config = kubeconfig(tmp_path / "kubeconfig", str(api.kmock.url).rstrip("/"))
        with ServerProcess(home, "--poll-interval", "300"):
            added = ok(conveyor(home, "cluster", "add", "mock-ctx", "--name", "mock",
                                "--kubeconfig", str(config)))  # fmt: skip
            assert added.strip() == f"Cluster '{str(api.kmock.url).rstrip('/')}' added as 'mock'"
            listed = json.loads(ok(conveyor(home, "cluster", "list", "-o", "json")))
            assert [c["name"] for c in listed] == ["in-cluster", "mock"]
            assert TOKEN not in json.dumps(listed)
        assert not [p for p in home.rglob("*") if p.is_file() and TOKEN.encode() in p.read_bytes()]

        with ServerProcess(home, "--poll-interval", "300", env={"CONVEYOR_CLUSTER": "mock"}):
            ok(conveyor(home, "app", "create", "cfg", "--repo", repo.url, "--path", "app",
                        "--dest-name", "mock", "--dest-namespace", "demo",
                        "--sync-policy", "automated"))  # fmt: skip
            wait_json(home, "cfg", lambda a: a["status"]["sync"]["status"] == "Synced",
                      what="synced to the cluster", timeout=90)  # fmt: skip
            live = api.get("configmaps", "demo", "settings")
            assert live is not None and live["data"] == {"mode": "blue"}
            patches = [r for r in api.kmock["patch"] if r.url.path.endswith("/settings")]
            assert patches and patches[-1].headers["Authorization"] == f"Bearer {TOKEN}"
            listed = json.loads(ok(conveyor(home, "cluster", "list", "-o", "json")))
            mock = next(c for c in listed if c["name"] == "mock")
            assert mock["connectionState"]["status"] == "Successful"
            assert "in-cluster" not in [c["name"] for c in listed]  # the local runtime is unused

            ok(conveyor(home, "app", "create", "lost", "--repo", repo.url, "--path", "app",
                        "--dest-server", "https://kubernetes.default.svc",
                        "--dest-namespace", "demo"))  # fmt: skip
            refused = wait_json(home, "lost", lambda a: "local runtime" in conditions(a),
                                what="refused for another target", timeout=60)  # fmt: skip
            assert "this Conveyor server deploys to cluster mock" in conditions(refused)

            removed = ok(conveyor(home, "cluster", "rm", "mock"))
            assert removed.strip() == f"Cluster '{str(api.kmock.url).rstrip('/')}' removed"
