"""argocd's flags and verbs that scripts use, through `conveyor server` and the console script.

Plain ConfigMaps (nothing to run), so that each step is quick: what a flag writes into the
Application, which apps a selector picks, which resources a --resource filter syncs, and what
the verbs that edit an app or its live objects leave behind.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from cli_helpers import app_json, conveyor, ok, wait_json

from engine.engine_helpers import ConfigRepo, configmap
from support.server_helpers import ServerProcess

pytestmark = pytest.mark.slow


def resource_status(app: dict[str, Any]) -> dict[str, str]:
    return {r["name"]: r["status"] for r in app["status"].get("resources") or []}


def compared(app: dict[str, Any]) -> bool:
    return app["status"]["sync"]["status"] in ("Synced", "OutOfSync")


def test_create_flags_selectors_and_resource_filters(tmp_path: Path) -> None:
    home = tmp_path / "home"
    repo = ConfigRepo(tmp_path / "config")
    repo.write("web/cm.yaml", configmap("a", {"k": "1"}), configmap("b", {"k": "1"}))
    repo.write("web/nested/c.yaml", configmap("c", {"k": "1"}))
    repo.write("other/cm.yaml", configmap("d", {"k": "1"}))
    repo.write_text("other/kustomization.yaml", "resources: [cm.yaml]\n")
    first = repo.commit()
    other = {
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
        "metadata": {"name": "ignored", "labels": {"team": "b"}},
        "spec": {"source": {"repoURL": repo.url, "path": "other"},
                 "destination": {"server": "https://kubernetes.default.svc", "namespace": "demo"},
                 "syncPolicy": {"syncOptions": ["CreateNamespace=true"]}},
    }  # fmt: skip
    other_file = tmp_path / "other.yaml"
    other_file.write_text(yaml.safe_dump(other))
    with ServerProcess(home, "--poll-interval", "300"):
        ok(conveyor(
            home, "app", "create", "web", "--repo", repo.url, "--path", "web",
            "--dest-namespace", "demo", "--sync-option", "CreateNamespace=true",
            "--directory-recurse", "-l", "team=a", "--sync-retry-limit", "2",
            "--revision-history-limit", "3", "--insecure", "--grpc-web",
        ))  # fmt: skip
        created = ok(conveyor(home, "app", "create", "other", "-f", str(other_file),
                              "--nameprefix", "pre-"))  # fmt: skip
        assert created.strip() == "application 'other' created"
        web = wait_json(home, "web", compared, what="web compared", timeout=60)
        assert web["metadata"]["labels"] == {"team": "a"}
        assert web["spec"]["source"]["directory"] == {"recurse": True}
        assert web["spec"]["syncPolicy"]["retry"]["limit"] == 2
        assert web["spec"]["revisionHistoryLimit"] == 3
        assert resource_status(web) == {"a": "OutOfSync", "b": "OutOfSync", "c": "OutOfSync"}
        assert ok(conveyor(home, "app", "list", "-o", "name", "-l", "team=a")) == "argocd/web\n"
        assert ok(conveyor(home, "app", "list", "-o", "name", "-l", "team notin (a)")) == (
            "argocd/other\n"
        )
        assert conveyor(home, "app", "diff", "web").returncode == 1
        assert conveyor(home, "app", "diff", "web", "--exit-code=false").returncode == 0

        nothing = conveyor(home, "app", "sync", "web", "--resource", ":ConfigMap:nope")
        assert nothing.returncode == 1
        assert "No matching app resources found for resource filter: :ConfigMap:nope" in (
            nothing.stderr
        )
        assert "operationState" not in app_json(home, "web")["status"]

        ok(conveyor(home, "app", "sync", "web", "--resource", ":ConfigMap:demo/a",
                    "--timeout", "60"))  # fmt: skip
        web = wait_json(home, "web", lambda a: resource_status(a)["a"] == "Synced",
                        what="a synced", timeout=30)  # fmt: skip
        assert resource_status(web) == {"a": "Synced", "b": "OutOfSync", "c": "OutOfSync"}
        ok(conveyor(home, "app", "sync", "web", "--resource", "!:ConfigMap:c", "--timeout", "60"))
        web = wait_json(home, "web", lambda a: resource_status(a)["b"] == "Synced",
                        what="b synced", timeout=30)  # fmt: skip
        assert resource_status(web)["c"] == "OutOfSync"

        nobody = conveyor(home, "app", "sync", "-l", "team=zzz")
        assert nobody.returncode == 1
        assert "No matching apps found for filter: selector team=zzz" in nobody.stderr
        forced = conveyor(home, "app", "sync", "-l", "team=b", "--force", "--timeout", "60")
        assert forced.returncode == 0, forced.stderr
        assert "warning: --force is not supported yet" in forced.stderr
        ok(conveyor(home, "app", "sync", "argocd/web", "other", "--timeout", "60"))
        ok(conveyor(home, "app", "wait", "web", "argocd/other", "--sync", "--health",
                    "--timeout", "30"))  # fmt: skip
        ok(conveyor(home, "app", "wait", "-l", "team=b", "--sync", "--timeout", "30"))
        ok(conveyor(home, "app", "wait", "web", "--degraded", "--health", "--timeout", "30"))
        suspended = conveyor(home, "app", "wait", "web", "--suspended", "--timeout", "1")
        assert suspended.returncode == 1
        assert "waiting for web to be Suspended" in suspended.stderr
        assert "health=Healthy" in suspended.stderr
        live = json.loads(ok(conveyor(home, "app", "manifests", "other", "--source", "live",
                                      "-o", "json")))  # fmt: skip
        assert [o["metadata"]["name"] for o in live] == ["pre-d"]

        shown = ok(conveyor(home, "app", "get", "other", "--show-params", "--show-operation"))
        assert "namePrefix" in shown and "pre-" in shown and "Phase:" in shown
        assert "Phase:" not in ok(conveyor(home, "app", "get", "other"))
        tree = ok(conveyor(home, "app", "get", "web", "-o", "tree"))
        assert "ConfigMap/a" in tree and "KIND/NAME" in tree

        ok(conveyor(home, "app", "unset", "other", "--nameprefix"))
        assert "namePrefix" not in (app_json(home, "other")["spec"]["source"].get("kustomize")
                                    or {})  # fmt: skip

        repo.write("web/cm.yaml", configmap("a", {"k": "2"}), configmap("b", {"k": "1"}))
        repo.commit("a: 2")
        at_first = conveyor(home, "app", "diff", "web", "--revision", first)
        assert at_first.returncode == 0, at_first.stdout + at_first.stderr
        at_main = conveyor(home, "app", "diff", "web", "--revision", "main")
        assert at_main.returncode == 1 and "+  k: '2'" in at_main.stdout
        local = tmp_path / "local"
        (local / "nested").mkdir(parents=True)
        (local / "cm.yaml").write_text(yaml.safe_dump_all([
            configmap("a", {"k": "1"}), configmap("b", {"k": "local"})
        ]))  # fmt: skip
        (local / "nested" / "c.yaml").write_text(yaml.safe_dump(configmap("c", {"k": "1"})))
        at_local = conveyor(home, "app", "diff", "web", "--local", str(local))
        assert at_local.returncode == 1, at_local.stderr
        assert "===== ConfigMap demo/b ======" in at_local.stdout
        assert "+  k: local" in at_local.stdout and "ConfigMap demo/a" not in at_local.stdout
        (local / "cm.yaml").write_text(yaml.safe_dump_all([
            configmap("a", {"k": "1"}), configmap("b", {"k": "1"})
        ]))  # fmt: skip
        assert conveyor(home, "app", "diff", "web", "--local", str(local)).returncode == 0

        ok(conveyor(home, "app", "delete", "other", "--cascade=false"))
        names = ok(conveyor(home, "app", "list", "-o", "name"))
        assert names == "argocd/web\n"
        orphans = ok(conveyor(home, "app", "resources", "web", "--orphaned"))
        assert "pre-d" in orphans and "ConfigMap" in orphans
        items = json.loads(
            ok(conveyor(home, "app", "resources", "web", "--orphaned", "-o", "json"))
        )
        assert [(i["kind"], i["namespace"], i["name"]) for i in items] == [
            ("ConfigMap", "demo", "pre-d")
        ]

        ok(conveyor(home, "app", "delete-resource", "web", "--kind", "ConfigMap",
                    "--resource-name", "c"))  # fmt: skip
        web = wait_json(home, "web", lambda a: resource_status(a).get("c") == "OutOfSync",
                        what="c deleted", timeout=30)  # fmt: skip
        health = {
            r["name"]: (r.get("health") or {}).get("status") for r in web["status"]["resources"]
        }
        assert health.get("c") == "Missing"


def test_edit_projects_and_clusters(tmp_path: Path) -> None:
    home = tmp_path / "home"
    repo = ConfigRepo(tmp_path / "config")
    repo.write("web/cm.yaml", configmap("a", {"k": "1"}))
    repo.commit()
    editor = tmp_path / "editor.py"
    editor.write_text(
        "import sys, pathlib\n"
        "p = pathlib.Path(sys.argv[1])\n"
        "p.write_text(p.read_text().replace('path: web', 'path: web\\n  directory:\\n"
        "    recurse: true'))\n"
    )
    with ServerProcess(home, "--poll-interval", "300"):
        ok(conveyor(home, "proj", "create", "team", "-d", "https://kubernetes.default.svc,demo",
                    "-s", repo.url, "--description", "the team"))  # fmt: skip
        again = conveyor(home, "proj", "create", "team")
        assert again.returncode == 1 and "already exists" in again.stderr
        ok(conveyor(home, "proj", "add-source", "team", "https://example.com/other.git"))
        ok(conveyor(home, "proj", "add-destination", "team", "in-cluster", "qa", "--name"))
        ok(conveyor(home, "proj", "allow-cluster-resource", "team", "", "Namespace"))
        ok(conveyor(home, "proj", "deny-namespace-resource", "team", "", "Secret"))
        same = ok(conveyor(home, "proj", "add-source", "team", repo.url))
        assert "already" in same
        spec = json.loads(ok(conveyor(home, "proj", "get", "team", "-o", "json")))["spec"]
        assert spec["sourceRepos"] == [repo.url, "https://example.com/other.git"]
        assert spec["destinations"] == [
            {"server": "https://kubernetes.default.svc", "namespace": "demo"},
            {"name": "in-cluster", "namespace": "qa"},
        ]
        assert spec["clusterResourceWhitelist"] == [{"group": "", "kind": "Namespace"}]
        assert spec["namespaceResourceBlacklist"] == [{"group": "", "kind": "Secret"}]

        ok(conveyor(home, "app", "create", "web", "--repo", repo.url, "--path", "web",
                    "--dest-namespace", "demo", "--project", "team"))  # fmt: skip
        ok(conveyor(home, "app", "edit", "web", env={"EDITOR": f"{sys.executable} {editor}"}))
        assert app_json(home, "web")["spec"]["source"]["directory"] == {"recurse": True}
        ok(conveyor(home, "app", "set", "web", "--sync-retry-limit", "4",
                    "--directory-recurse=false", "--revision", "main"))  # fmt: skip
        spec = app_json(home, "web")["spec"]
        assert spec["source"]["directory"] == {"recurse": False}
        assert spec["source"]["targetRevision"] == "main"
        assert spec["syncPolicy"]["retry"]["limit"] == 4

        clusters = json.loads(ok(conveyor(home, "cluster", "list", "-o", "json")))
        assert [(c["server"], c["name"]) for c in clusters] == [
            ("https://kubernetes.default.svc", "in-cluster")
        ]
        assert "Successful" in ok(conveyor(home, "cluster", "list"))
