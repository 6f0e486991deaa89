"""Applications and projects through the REST API: CRUD, views, operations, validation."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from api_helpers import app_manifest, configmap, revision, secret, synced_healthy, wait_app

from engine.engine_helpers import ConfigRepo


@pytest.fixture
def repo(tmp_path: Path) -> ConfigRepo:
    repo = ConfigRepo(tmp_path / "cfg")
    repo.write("app/cm.yaml", configmap("settings", greeting="hello"))
    repo.write("app/secret.yaml", secret("creds", password="hunter2"))
    repo.commit("first")
    return repo


def test_create_read_update_patch_delete(api: httpx.Client, repo: ConfigRepo) -> None:
    manifest = app_manifest("crud", repo.url)
    created = api.post("/api/v1/applications", json=manifest)
    assert created.status_code == 200, created.text
    assert created.json()["result"] == "created"
    assert api.post("/api/v1/applications", json=manifest).json()["result"] == "unchanged"

    changed = app_manifest("crud", repo.url, path="other")
    conflict = api.post("/api/v1/applications", json=changed)
    assert conflict.status_code == 409
    assert "upsert" in conflict.json()["message"]
    upserted = api.post("/api/v1/applications", params={"upsert": "true"}, json=changed)
    assert upserted.json()["result"] == "configured"

    replaced = api.put("/api/v1/applications/crud", json=manifest)
    assert replaced.json()["result"] == "configured"
    renamed = api.put("/api/v1/applications/crud", json=app_manifest("other", repo.url))
    assert renamed.status_code == 400

    patched = api.patch(
        "/api/v1/applications/crud",
        json={"spec": {"syncPolicy": {"automated": {"prune": True, "selfHeal": True}}}},
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["application"]["spec"]["syncPolicy"]["automated"] == {
        "prune": True,
        "selfHeal": True,
    }
    assert patched.json()["application"]["spec"]["source"]["path"] == "app"  # merged, kept
    app = wait_app(api, "crud", synced_healthy, what="Synced and Healthy")
    assert app["kind"] == "Application" and app["status"]["sync"]["revision"]

    listed = api.get("/api/v1/applications").json()["items"]
    assert "crud" in [a["metadata"]["name"] for a in listed]
    assert api.get("/api/v1/applications", params={"projects": "nope"}).json() == {"items": []}

    assert api.delete("/api/v1/applications/crud").json() == {}
    assert api.get("/api/v1/applications/crud").status_code == 404
    assert api.get("/api/v1/applications/crud/manifests").status_code == 404


def test_invalid_input_is_a_400_naming_the_problem(api: httpx.Client, repo: ConfigRepo) -> None:
    bad = app_manifest("Bad_Name", repo.url)
    bad["spec"]["source"]["repoURL"] = "--upload-pack=evil"
    reply = api.post("/api/v1/applications", json=bad)
    assert reply.status_code == 400
    body = reply.json()
    assert body["code"] == 400 and body["problems"]
    assert any("metadata.name" in p for p in body["problems"])

    assert api.get("/api/v1/applications/UPPER").status_code == 400  # not a DNS-1123 name
    assert api.post("/api/v1/applications", content=b"[1]").status_code == 400
    assert api.post("/api/v1/applications", params={"upsert": "maybe"}, json={}).status_code == 400
    assert api.get("/api/v1/applications/x/manifests", params={"source": "db"}).status_code == 400


def test_views_operations_and_history(api: httpx.Client, repo: ConfigRepo) -> None:
    api.post("/api/v1/applications", json=app_manifest("views", repo.url)).raise_for_status()
    app = wait_app(api, "views", lambda a: bool(revision(a)), what="compared")
    first = revision(app)
    assert app["status"]["sync"]["status"] == "OutOfSync"  # manual app, nothing deployed

    git = api.get("/api/v1/applications/views/manifests").json()
    kinds = {m["kind"]: m for m in git["manifests"]}
    assert set(kinds) == {"ConfigMap", "Secret"} and git["revision"] == first
    assert "hunter2" not in str(git)
    diff = api.get("/api/v1/applications/views/diff").json()
    assert diff["status"] == "OutOfSync" and "hunter2" not in str(diff)

    dry = api.post("/api/v1/applications/views/sync", json={"dryRun": True}).json()
    assert dry["status"]["operationState"]["phase"] in ("Running", "Succeeded")
    wait_app(
        api, "views", lambda a: a["status"]["operationState"]["phase"] == "Succeeded", what="dry"
    )
    assert (
        api.get("/api/v1/applications/views/manifests", params={"source": "live"}).json()[
            "manifests"
        ]
        == []
    )

    only = [{"kind": "ConfigMap", "name": "settings", "namespace": "views"}]
    api.post("/api/v1/applications/views/sync", json={"resources": only}).raise_for_status()
    wait_app(api, "views", lambda a: len(a["status"].get("history", [])) == 1, what="a sync")
    live = api.get("/api/v1/applications/views/manifests", params={"source": "live"}).json()
    assert [m["kind"] for m in live["manifests"]] == ["ConfigMap"]

    api.post("/api/v1/applications/views/sync", json={}).raise_for_status()
    wait_app(api, "views", synced_healthy, what="synced")
    wait_app(api, "views", lambda a: len(a["status"].get("history", [])) == 2, what="2 syncs")
    tree = api.get("/api/v1/applications/views/resource-tree").json()["nodes"]
    assert {n["kind"] for n in tree} == {"ConfigMap", "Secret"}
    history = api.get("/api/v1/applications/views/history").json()["items"]
    assert [h["id"] for h in history] == [0, 1]
    assert history[-1]["initiatedBy"] == {"username": "admin"}
    assert api.get("/api/v1/applications/views/events").json() == {"items": []}

    patched = api.post(
        "/api/v1/applications/views/resource",
        params={"kind": "ConfigMap", "resourceName": "settings"},
        json={"data": {"greeting": "changed"}},
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["manifest"]["data"]["greeting"] == "changed"
    app = api.get("/api/v1/applications/views", params={"refresh": "normal"}).json()
    assert app["status"]["sync"]["status"] == "OutOfSync"  # manual: nobody heals it

    missing = api.post("/api/v1/applications/views/rollback", json={"id": 99})
    assert missing.status_code == 404 and "ids: 0, 1" in missing.json()["message"]
    assert api.delete("/api/v1/applications/views/operation").status_code == 409
    rolled = api.post("/api/v1/applications/views/rollback", json={"id": 0}).json()
    assert "rolling back to history id 0" in rolled["message"]
    wait_app(api, "views", lambda a: len(a["status"].get("history", [])) == 3, what="rollback")
    assert api.get("/api/v1/applications/views/logs").status_code == 404  # no Pods
    api.delete("/api/v1/applications/views").raise_for_status()


def test_projects_and_artifacts(api: httpx.Client, repo: ConfigRepo) -> None:
    names = [p["metadata"]["name"] for p in api.get("/api/v1/projects").json()["items"]]
    assert "default" in names
    project = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AppProject",
        "metadata": {"name": "team"},
        "spec": {
            "sourceRepos": [repo.url],
            "destinations": [{"server": "https://kubernetes.default.svc", "namespace": "team-*"}],
        },
    }
    assert api.post("/api/v1/projects", json=project).json()["result"] == "created"
    assert api.get("/api/v1/projects/team").json()["spec"]["sourceRepos"] == [repo.url]

    denied = app_manifest("elsewhere", repo.url)  # namespace "elsewhere" is not team-*
    denied["spec"]["project"] = "team"
    reply = api.post("/api/v1/applications", json=denied)
    assert reply.status_code == 403, reply.text
    allowed = app_manifest("team-ok", repo.url)
    allowed["spec"]["project"] = "team"
    allowed["spec"]["destination"]["namespace"] = "team-ok"
    assert api.post("/api/v1/applications", json=allowed).status_code == 200

    assert api.delete("/api/v1/projects/team").status_code == 409  # team-ok uses it
    api.delete("/api/v1/applications/team-ok").raise_for_status()
    assert api.delete("/api/v1/projects/team").status_code == 200
    assert api.get("/api/v1/projects/team").status_code == 404
    assert api.delete("/api/v1/projects/team").status_code == 404
    assert api.get("/api/v1/artifacts").json() == {"items": []}


@pytest.mark.parametrize(
    "body",
    [
        {"metadata": [1]},
        {"metadata": {"name": ["x"]}},
        {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": "x"},
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Application",
            "metadata": {"name": "odd"},
            "spec": "not an object",
        },
        {"kind": "AppProject", "metadata": {"name": "odd"}, "spec": {"sourceRepos": 3}},
    ],
    ids=["metadata-list", "name-list", "metadata-string", "spec-string", "wrong-kind"],
)
def test_malformed_manifests_are_400s_everywhere(
    api: httpx.Client, body: dict[str, object]
) -> None:
    for method, path in (
        ("POST", "/api/v1/applications"),
        ("POST", "/api/v1/projects"),
        ("PUT", "/api/v1/applications/odd"),
    ):
        reply = api.request(method, path, json=body)
        assert reply.status_code in (400, 404), (method, path, reply.text)
    assert api.get("/api/v1/applications/odd").status_code == 404


def test_sync_of_resources_the_app_lacks_is_refused_and_selectors_pick_apps(
    api: httpx.Client, repo: ConfigRepo
) -> None:
    manifest = app_manifest("picky", repo.url)
    manifest["metadata"]["labels"] = {"team": "a", "tier": "web"}
    assert api.post("/api/v1/applications", json=manifest).status_code == 200
    wait_app(api, "picky", lambda a: a["status"].get("sync", {}).get("status") == "OutOfSync",
             what="compared")  # fmt: skip

    missing = {
        "resources": [
            {"kind": "ConfigMap", "name": "nope"},
            {"group": "apps", "kind": "ConfigMap", "name": "settings"},
        ]
    }
    refused = api.post("/api/v1/applications/picky/sync", json=missing)
    assert refused.status_code == 400
    assert refused.json()["message"] == (
        "No matching app resources found for resource filter: "
        ":ConfigMap:nope, apps:ConfigMap:settings"
    )
    assert "operationState" not in api.get("/api/v1/applications/picky").json()["status"]

    one = {"resources": [{"kind": "ConfigMap", "name": "settings"}]}  # any namespace
    assert api.post("/api/v1/applications/picky/sync", json=one).status_code == 200
    app = wait_app(api, "picky", lambda a: a["status"].get("operationState", {}).get("phase")
                   == "Succeeded", what="the sync done")  # fmt: skip
    synced = {r["name"]: r["status"] for r in app["status"]["resources"]}
    assert synced == {"settings": "Synced", "creds": "OutOfSync"}

    def names(selector: str) -> list[str]:
        answer = api.get("/api/v1/applications", params={"selector": selector})
        assert answer.status_code == 200, answer.text
        return [a["metadata"]["name"] for a in answer.json()["items"]]

    assert names("team=a,tier in (web, api)") == ["picky"]
    assert "picky" not in names("team!=a")
    assert "picky" not in names("!tier")
    bad = api.get("/api/v1/applications", params={"selector": "team=a=b"})
    assert bad.status_code == 400 and "does not parse" in bad.json()["message"]
