"""The acceptance tests of the server and CLI, through the real `conveyor` console script.

Each test starts `conveyor server` with its own CONVEYOR_HOME (where the CLI finds it), builds
the hello app at two commits into that home's artifact store, and drives everything as a user
would: `conveyor app ...` in a subprocess, git commits, webhooks over HTTP.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from cli_helpers import (
    Load,
    app_json,
    build_hello,
    conveyor,
    ok,
    version_at,
    wait_json,
    wait_version,
    web_manifests,
)

from engine.engine_helpers import ConfigRepo, configmap
from support.server_helpers import ServerProcess

pytestmark = pytest.mark.slow

SECRET = "e2e-webhook-secret"


def synced_at(revision: str) -> Any:
    def check(app: dict[str, Any]) -> bool:
        status = app.get("status") or {}
        return (
            status.get("sync", {}).get("revision") == revision
            and status.get("sync", {}).get("status") == "Synced"
            and status.get("health", {}).get("status") == "Healthy"
        )

    return check


def create_web(home: Path, repo: ConfigRepo) -> None:
    ok(conveyor(
        home, "app", "create", "web", "--repo", repo.url, "--path", "app",
        "--revision", "main", "--dest-namespace", "web", "--sync-policy", "automated",
        "--auto-prune", "--self-heal", "--sync-option", "CreateNamespace=true",
    ))  # fmt: skip
    ok(conveyor(home, "app", "wait", "web", "--sync", "--health", "--timeout", "90"))


def test_a_new_image_tag_is_deployed_without_a_failed_request_then_rolled_back(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    first, second = build_hello(home, tmp_path)
    repo = ConfigRepo(tmp_path / "config")
    repo.write("app/web.yaml", *web_manifests(first))
    first_commit = repo.commit(f"hello {first[:7]}")
    with ServerProcess(home, "--poll-interval", "2") as server:
        create_web(home, repo)
        app = app_json(home, "web")
        status = app["status"]
        assert status["sync"] == {**status["sync"], "status": "Synced", "revision": first_commit}
        assert status["health"]["status"] == "Healthy"
        assert status["summary"]["images"] == [f"hello:{first}"]
        url = status["summary"]["externalURLs"][0]
        assert url.startswith("http://127.0.0.1:")
        assert version_at(url) == first

        with Load(url) as load:
            load.wait_steady(first, timeout=10)
            repo.write("app/web.yaml", *web_manifests(second))
            second_commit = repo.commit(f"hello {second[:7]}")  # no other step: the poll finds it
            load.wait_steady(second)
        assert load.failures == [], load.failures[:5]
        assert load.versions[first] > 0 and load.versions[second] > 0
        assert load.total > 100  # about 60 per second, before, during and after the rollout
        app = wait_json(home, "web", synced_at(second_commit), what="v2 synced", timeout=30)
        assert [h["revision"] for h in app["status"]["history"]] == [first_commit, second_commit]

        logs = ok(conveyor(home, "app", "logs", "web", "--kind", "Deployment", "--name", "hello"))
        assert f"hello-app {second} listening" in logs
        resources = ok(conveyor(home, "app", "resources", "web"))
        assert resources.count(" Pod ") >= 2 and "ReplicaSet" in resources
        table = ok(conveyor(home, "app", "get", "web"))
        assert "Sync Status:" in table and "Deployment" in table and url in table

        history = json.loads(ok(conveyor(home, "app", "history", "web", "-o", "json")))
        assert [h["id"] for h in history] == [0, 1]
        rolled = conveyor(home, "app", "rollback", "web", "--timeout", "90")  # to id 0
        ok(rolled)
        assert "automated sync was disabled" in rolled.stderr
        wait_version(url, first)
        app = app_json(home, "web")
        assert "automated" not in app["spec"]["syncPolicy"]
        assert app["status"]["history"][-1]["revision"] == first_commit

        assert server.stop() in (0, -15)  # SIGTERM: graceful
    assert not (home / "server.json").exists()
    assert version_at(url) is None  # the runtime stopped with the server


def test_a_signed_webhook_deploys_at_once_and_a_badly_signed_one_changes_nothing(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    first, second = build_hello(home, tmp_path)
    repo = ConfigRepo(tmp_path / "config")
    repo.write("app/web.yaml", *web_manifests(first, replicas=1))
    first_commit = repo.commit()
    env = {"CONVEYOR_POLL_INTERVAL": "300", "CONVEYOR_WEBHOOK_SECRET": SECRET}
    with ServerProcess(home, env=env) as server:
        create_web(home, repo)
        url = app_json(home, "web")["status"]["summary"]["externalURLs"][0]
        repo.write("app/web.yaml", *web_manifests(second, replicas=1))
        second_commit = repo.commit()
        body = json.dumps({"ref": "refs/heads/main", "repository": {"clone_url": repo.url}})

        def push(secret: str) -> httpx.Response:
            mac = hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()
            return httpx.post(
                f"{server.url}/api/v1/webhook",
                content=body,
                headers={"X-GitHub-Event": "push", "X-Hub-Signature-256": f"sha256={mac}"},
            )

        # A refused push asks for no refresh (the handler names what it refreshes in a 200),
        # so the app stays at the first commit with nothing to wait for.
        for refused in (push("wrong-secret"), push("")):
            assert refused.status_code == 401 and "refreshed" not in refused.text
        app = app_json(home, "web")
        assert app["status"]["sync"]["revision"] == first_commit
        assert version_at(url) == first

        reply = push(SECRET)
        assert reply.status_code == 200 and reply.json() == {"refreshed": ["web"]}
        wait_json(home, "web", synced_at(second_commit), what="the pushed commit", timeout=60)
        wait_version(url, second)


def test_diff_masks_secrets_patch_is_healed_and_bad_tokens_change_nothing(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    repo = ConfigRepo(tmp_path / "config")
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"},
              "stringData": {"password": "hunter2-old"}}  # fmt: skip
    repo.write("cfg/all.yaml", configmap("settings", {"mode": "blue"}), secret)
    repo.write("healed/cm.yaml", configmap("tuning", {"level": "1"}))
    repo.commit()
    manifests = tmp_path / "apps.yaml"
    project = {"apiVersion": "argoproj.io/v1alpha1", "kind": "AppProject",
               "metadata": {"name": "team"},
               "spec": {"sourceRepos": [repo.url],
                        "destinations": [{"server": "*", "namespace": "*"}]}}  # fmt: skip
    apps = [
        {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
         "metadata": {"name": name, "namespace": "argocd"},
         "spec": {"project": "team",
                  "source": {"repoURL": repo.url, "path": name, "targetRevision": "main"},
                  "destination": {"server": "https://kubernetes.default.svc", "namespace": name},
                  "syncPolicy": policy}}
        for name, policy in (
            ("cfg", {"syncOptions": ["CreateNamespace=true"]}),
            ("healed", {"automated": {"selfHeal": True},
                        "syncOptions": ["CreateNamespace=true"]}),
        )
    ]  # fmt: skip
    manifests.write_text(yaml.safe_dump_all([apps[0], project], sort_keys=False))
    with ServerProcess(home, "--poll-interval", "300"):
        applied = ok(conveyor(home, "apply", "-f", str(manifests)))
        assert applied.splitlines() == [
            "appproject.argoproj.io/team created",
            "application.argoproj.io/cfg created",
        ]
        stdin = ok(conveyor(home, "apply", "-f", "-", input=yaml.safe_dump(apps[1])))
        assert stdin.strip() == "application.argoproj.io/healed created"

        ok(conveyor(home, "app", "sync", "cfg", "--timeout", "60"))
        ok(conveyor(home, "app", "wait", "cfg", "--timeout", "30"))
        assert conveyor(home, "app", "diff", "cfg").returncode == 0

        secret["stringData"] = {"password": "hunter2-new"}
        repo.write("cfg/all.yaml", configmap("settings", {"mode": "green"}), secret)
        repo.commit("rotate")
        diff = conveyor(home, "app", "diff", "cfg", "--refresh")
        assert diff.returncode == 1, diff.stderr
        waited = conveyor(home, "app", "wait", "cfg", "--sync", "--timeout", "2")
        assert waited.returncode != 0 and "timed out after 2s" in waited.stderr
        assert "===== ConfigMap cfg/settings ======" in diff.stdout
        assert "-  mode: blue" in diff.stdout and "+  mode: green" in diff.stdout
        assert "===== Secret cfg/db ======" in diff.stdout and "+++" in diff.stdout
        git = ok(conveyor(home, "app", "manifests", "cfg"))
        live = ok(conveyor(home, "app", "manifests", "cfg", "--source", "live"))
        for shown in (diff.stdout, git, live):
            assert "hunter2" not in shown and "aHVudGVy" not in shown  # nor its base64

        listed = json.loads(ok(conveyor(home, "app", "list", "-o", "json")))
        assert sorted(a["metadata"]["name"] for a in listed) == ["cfg", "healed"]
        app = app_json(home, "cfg")
        status = app["status"]
        assert status["sync"]["status"] == "OutOfSync" and len(status["sync"]["revision"]) == 40
        assert status["health"]["status"] == "Healthy"
        assert status["operationState"]["phase"] == "Succeeded"
        assert [h["id"] for h in status["history"]] == [0]
        assert {r["kind"] for r in status["resources"]} == {"ConfigMap", "Secret"}
        assert "summary" in status and "conditions" not in status

        ok(conveyor(home, "app", "wait", "healed", "--timeout", "30"))
        ok(conveyor(
            home, "app", "patch-resource", "healed", "--kind", "ConfigMap",
            "--resource-name", "tuning", "--patch", '{"data": {"level": "99"}}',
            "--patch-type", "application/merge-patch+json",
        ))  # fmt: skip

        def level(app: dict[str, Any]) -> bool:
            live = json.loads(ok(conveyor(
                home, "app", "manifests", "healed", "--source", "live", "-o", "json"
            )))  # fmt: skip
            return bool(live and live[0]["data"]["level"] == "1")

        wait_json(home, "healed", level, what="selfHeal to revert the patch", timeout=30)

        before = ok(conveyor(home, "app", "list", "-o", "json"))
        bad = {"CONVEYOR_AUTH_TOKEN": "cvy_not-a-real-token"}
        for args in (
            ["app", "sync", "cfg"],
            ["app", "delete", "cfg", "--yes"],
            ["app", "set", "cfg", "--path", "elsewhere"],
            ["app", "rollback", "cfg", "0"],
            ["app", "terminate-op", "cfg"],
            ["app", "create", "x", "--repo", repo.url, "--path", "cfg", "--dest-namespace", "x"],
            ["app", "patch-resource", "cfg", "--kind", "ConfigMap", "--resource-name",
             "settings", "--patch", "{}"],
            ["apply", "-f", str(manifests)],
            ["account", "generate-token"],
            ["proj", "delete", "team"],
        ):  # fmt: skip
            result = conveyor(home, *args, env=bad)
            assert result.returncode == 1, args
            assert "invalid or revoked token" in result.stderr, (args, result.stderr)
            assert result.stdout == "", args
        assert ok(conveyor(home, "app", "list", "-o", "json")) == before

        token = ok(conveyor(home, "account", "generate-token", "--name", "ci")).strip()
        as_ci = conveyor(home, "app", "sync", "cfg", "--timeout", "60",
                         env={"CONVEYOR_AUTH_TOKEN": token})  # fmt: skip
        ok(as_ci)
        assert app_json(home, "cfg")["status"]["history"][-1]["initiatedBy"] == {"username": "ci"}
        assert conveyor(home, "app", "diff", "cfg").returncode == 0
