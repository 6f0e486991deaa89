"""One server deploys to the local runtime and to every added cluster, side by side.

Two clusters (two Kubernetes API mocks on 127.0.0.1, each with its own token) are added with
`conveyor cluster add`; the server started after that (no CONVEYOR_CLUSTER) deploys an app
for the in-cluster URL to its local runtime, an app naming `east` to east and an app for
west's URL to west, each through that cluster's own API and credentials. The app list shows
all three, the cluster list counts each cluster's apps, an app for a cluster nobody added says
so until that cluster is added (then, without a restart, it is deployed there), an app whose
destination is edited moves to the new cluster, and deleting east's app deletes on east
only. After a restart every app is found on its own target again.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from cli_helpers import conveyor, ok, wait_json

from engine.engine_helpers import ConfigRepo, configmap
from support.kube_api import KubeApiServer, served_in_thread
from support.server_helpers import ServerProcess

pytestmark = pytest.mark.slow

IN_CLUSTER = "https://kubernetes.default.svc"


def url(api: KubeApiServer) -> str:
    return str(api.kmock.url).rstrip("/")


def kubeconfig(path: Path, clusters: dict[str, KubeApiServer]) -> Path:
    """One context per cluster (``NAME-ctx``), each with its own token file."""
    config: dict[str, Any] = {"apiVersion": "v1", "kind": "Config", "current-context": "",
                              "clusters": [], "users": [], "contexts": []}  # fmt: skip
    for name, api in clusters.items():
        (path.parent / f"{name}-token").write_text(f"token-of-{name}")
        config["clusters"].append({"name": name, "cluster": {"server": url(api)}})
        config["users"].append({"name": name, "user": {"tokenFile": f"{name}-token"}})
        config["contexts"].append(
            {"name": f"{name}-ctx", "context": {"cluster": name, "user": name}}
        )
    path.write_text(yaml.safe_dump(config))
    return path


def synced(app: dict[str, Any]) -> bool:
    status = app["status"]
    return bool(status["sync"]["status"] == "Synced" and status["health"]["status"] == "Healthy")


def conditions(app: dict[str, Any]) -> str:
    return " ".join(c.get("message", "") for c in app["status"].get("conditions") or [])


def compared_to(app: dict[str, Any]) -> str:
    return str(app["status"]["sync"]["comparedTo"]["destination"].get("name"))


def patched(api: KubeApiServer) -> set[str]:
    """The object names the cluster's API server received server-side applies for."""
    return {r.url.path.rsplit("/", 1)[-1] for r in api.kmock["patch"]}


def create(home: Path, repo: ConfigRepo, name: str, *dest: str) -> None:
    ok(conveyor(home, "app", "create", name, "--repo", repo.url, "--path", name,
                *dest, "--dest-namespace", "demo", "--sync-policy", "automated",
                "--sync-option", "CreateNamespace=true"))  # fmt: skip


def test_one_server_deploys_to_the_local_runtime_and_two_clusters(tmp_path: Path) -> None:
    home = tmp_path / "home"
    repo = ConfigRepo(tmp_path / "config")
    for name in ("here", "east-cfg", "west-cfg", "lost"):
        repo.write(f"{name}/cm.yaml", configmap(f"cm-{name}", {"app": name}))
    repo.commit()
    with served_in_thread() as east, served_in_thread() as west, served_in_thread() as north:
        config = kubeconfig(tmp_path / "kubeconfig", {"east": east, "west": west, "north": north})
        with ServerProcess(home, "--poll-interval", "300"):
            for name in ("east", "west"):
                ok(conveyor(home, "cluster", "add", f"{name}-ctx", "--name", name,
                            "--kubeconfig", str(config)))  # fmt: skip

        with ServerProcess(home, "--poll-interval", "300"):
            create(home, repo, "here", "--dest-server", IN_CLUSTER)
            create(home, repo, "east-cfg", "--dest-name", "east")
            create(home, repo, "west-cfg", "--dest-server", url(west))
            create(home, repo, "lost", "--dest-name", "north")
            for name in ("here", "east-cfg", "west-cfg"):
                wait_json(home, name, synced, what=f"{name} synced", timeout=120)

            # Each cluster received its own app's object, with its own token, and no other.
            assert east.get("configmaps", "demo", "cm-east-cfg") is not None
            assert west.get("configmaps", "demo", "cm-west-cfg") is not None
            # (the Namespace too: CreateNamespace=true)
            assert patched(east) == {"demo", "cm-east-cfg"}
            assert patched(west) == {"demo", "cm-west-cfg"}
            assert {r.headers["Authorization"] for r in east.kmock["patch"]} == {
                "Bearer token-of-east"
            }
            assert {r.headers["Authorization"] for r in west.kmock["patch"]} == {
                "Bearer token-of-west"
            }
            # The in-cluster app runs on the local runtime, not on either cluster.
            live = json.loads(ok(conveyor(home, "app", "manifests", "here", "--source", "live",
                                          "-o", "json")))  # fmt: skip
            assert [o["metadata"]["name"] for o in live] == ["cm-here"]
            assert live[0]["data"] == {"app": "here"}

            listed = json.loads(ok(conveyor(home, "app", "list", "-o", "json")))
            assert sorted(a["metadata"]["name"] for a in listed) == [
                "east-cfg", "here", "lost", "west-cfg",
            ]  # fmt: skip
            lost = wait_json(home, "lost", lambda a: "north" in conditions(a),
                             what="an unknown destination named", timeout=60)  # fmt: skip
            assert "there are no clusters with this name: north" in conditions(lost)

            listing = ok(conveyor(home, "cluster", "list", "-o", "json"))
            clusters = {c["name"]: c for c in json.loads(listing)}
            assert sorted(clusters) == ["east", "in-cluster", "west"]
            for name in ("east", "west"):
                assert clusters[name]["connectionState"]["status"] == "Successful"
                assert clusters[name]["info"] == {"applicationsCount": 1}

            # Deleting east's app deletes its object on east, and nothing anywhere else.
            ok(conveyor(home, "app", "delete", "east-cfg", "--yes"))
            assert [p.rsplit("/", 1)[-1] for p, _ in east.deletes] == ["cm-east-cfg"]
            assert east.get("configmaps", "demo", "cm-east-cfg") is None
            assert west.deletes == []
            assert west.get("configmaps", "demo", "cm-west-cfg") is not None
            assert synced(json.loads(ok(conveyor(home, "app", "get", "here", "-o", "json"))))

            # An app whose destination is edited moves to the other cluster, history kept.
            before = json.loads(ok(conveyor(home, "app", "history", "west-cfg", "-o", "json")))
            ok(conveyor(home, "app", "set", "west-cfg", "--dest-name", "east"))
            moved = wait_json(home, "west-cfg", lambda a: compared_to(a) == "east",
                              what="compared on east", timeout=60)  # fmt: skip
            assert moved["status"]["sync"]["status"] == "OutOfSync"  # not on east yet
            # Same commit, same source: automated sync already ran it (as in Argo CD).
            ok(conveyor(home, "app", "sync", "west-cfg"))
            wait_json(home, "west-cfg", lambda a: synced(a) and bool(
                east.get("configmaps", "demo", "cm-west-cfg")), what="moved to east",
                timeout=120)  # fmt: skip
            assert "cm-west-cfg" in patched(east)
            after = json.loads(ok(conveyor(home, "app", "history", "west-cfg", "-o", "json")))
            assert after[: len(before)] == before and len(after) == len(before) + 1
            # Its object on west is left there, as Argo CD leaves it (no longer tracked).
            assert west.deletes == []
            assert west.get("configmaps", "demo", "cm-west-cfg") is not None

            # A cluster added while the server runs is connected and deployed to, without a
            # restart: the app that named it waited on the primary and moves to it.
            ok(conveyor(home, "cluster", "add", "north-ctx", "--name", "north",
                        "--kubeconfig", str(config)))  # fmt: skip
            wait_json(home, "lost", synced, what="lost synced on north", timeout=120)
            assert north.get("configmaps", "demo", "cm-lost") is not None
            assert "cm-lost" not in patched(east) | patched(west)
            listing = ok(conveyor(home, "cluster", "list", "-o", "json"))
            north_entry = next(c for c in json.loads(listing) if c["name"] == "north")
            assert north_entry["connectionState"]["status"] == "Successful"
            assert north_entry["info"] == {"applicationsCount": 1}

        with ServerProcess(home, "--poll-interval", "300"):  # each app back on its target
            for name in ("here", "west-cfg", "lost"):
                wait_json(home, name, synced, what=f"{name} synced after the restart",
                          timeout=120)  # fmt: skip
            live = json.loads(ok(conveyor(home, "app", "manifests", "west-cfg", "--source",
                                          "live", "-o", "json")))  # fmt: skip
            assert [o["metadata"]["name"] for o in live] == ["cm-west-cfg"]
            live = json.loads(ok(conveyor(home, "app", "manifests", "lost", "--source",
                                          "live", "-o", "json")))  # fmt: skip
            assert [o["metadata"]["name"] for o in live] == ["cm-lost"]
