"""Projects that confine a team, against a real `conveyor server` process (issue 12).

Each test reproduces one way a tenant or a stranger on the network got past the server:
credentials of a repoURL shown to anyone, unbounded bodies read before authentication, inputs
that crashed a handler (500), files other users could read, and tokens that could do anything.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_helpers import app_manifest, wait_app

from support.runtime_helpers import git
from support.server_helpers import CONVEYOR, ServerProcess

PASSWORD = "hunter2-very-secret"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    home = tmp_path_factory.mktemp("tenancy") / "home"
    with ServerProcess(home, "--poll-interval", "300") as proc:
        yield proc


def client(server: ServerProcess, token: str | None = None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token or server.token}"}
    return httpx.Client(base_url=server.url, headers=headers, timeout=60.0)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- sourceRepos and Kustomize remote bases ----------------------------------------------------


def _repo(path: Path, files: dict[str, str]) -> Path:
    path.mkdir(parents=True)
    for name, text in files.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text)
    git(path, "init", "-q", "-b", "main")
    git(path, "add", "-A")
    git(path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "c")
    return path


CM = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: %s}\n"


def test_a_denied_repo_is_denied_in_every_spelling(server: ServerProcess, tmp_path: Path) -> None:
    denied = _repo(tmp_path / "git" / "denied", {"app/cm.yaml": CM % "x"})
    (tmp_path / "git" / "a").mkdir()
    project = _project("no-denied")
    project["spec"]["sourceRepos"] = ["*", f"!{denied}"]
    spellings = [
        f"{tmp_path}/git/a/../denied",
        f"{tmp_path}/git/./denied",
        f"{tmp_path}/git//denied",
        f"{denied}/",
        f"{denied}/.git",
        f"file://{denied}",
        f"file://localhost{denied}",
    ]
    with client(server) as api:
        api.post("/api/v1/projects", json=project).raise_for_status()
        answers = {}
        for i, url in enumerate(spellings):
            manifest = app_manifest(f"spelling-{i}", url)
            manifest["spec"]["project"] = "no-denied"
            answers[url] = api.post("/api/v1/applications", json=manifest).status_code
        assert answers == dict.fromkeys(spellings, 403)


def test_a_kustomize_remote_base_outside_source_repos_is_refused(
    server: ServerProcess, tmp_path: Path
) -> None:
    other = _repo(tmp_path / "other-team", {"app/kustomization.yaml": "resources: [cm.yaml]\n",
                                            "app/cm.yaml": CM % "other-team-config"})  # fmt: skip
    mine = _repo(
        tmp_path / "mine", {"app/kustomization.yaml": f"resources:\n- file://{other}//app\n"}
    )
    project = _project("only-mine")
    project["spec"]["sourceRepos"] = [str(mine)]
    manifest = app_manifest("remote-base", str(mine))
    manifest["spec"]["project"] = "only-mine"
    with client(server) as api:
        api.post("/api/v1/projects", json=project).raise_for_status()
        api.post("/api/v1/applications", json=manifest).raise_for_status()
        app = wait_app(
            api,
            "remote-base",
            lambda a: any(
                "remote base" in c.get("message", "")
                for c in (a.get("status") or {}).get("conditions") or []
            ),
            what="the remote base refused",
            timeout=60,
        )
        messages = [c["message"] for c in app["status"]["conditions"]]
        assert any("is not permitted in project 'only-mine'" in m for m in messages), messages
        api.delete("/api/v1/applications/remote-base").raise_for_status()


# -- credentials in a repoURL ------------------------------------------------------------------


def test_repo_url_credentials_appear_nowhere(server: ServerProcess) -> None:
    url = f"https://alice:{PASSWORD}@127.0.0.1:{closed_port()}/org/repo.git"
    with client(server) as api:
        created = api.post("/api/v1/applications", json=app_manifest("creds", url))
        assert created.status_code == 200, created.text
        app = wait_app(
            api,
            "creds",
            lambda a: bool((a.get("status") or {}).get("conditions")),
            what="the fetch error condition",
            timeout=60,
        )
        shown = {
            "create": created.text,
            "get": json.dumps(app),
            "list": api.get("/api/v1/applications").text,
            "metrics": httpx.get(f"{server.url}/metrics").text,
        }
        with api.stream("GET", "/api/v1/stream/applications", params={"name": "creds"}) as resp:
            for line in resp.iter_lines():
                if line.startswith("data:"):
                    shown["stream"] = line
                    break
        assert "argocd_app_info{" in shown["metrics"]
        api.delete("/api/v1/applications/creds").raise_for_status()
    shown["log"] = server.log.read_text()
    leaked = [where for where, text in shown.items() if PASSWORD in text]
    assert leaked == [], f"the password appears in: {leaked}"


def test_a_masked_manifest_put_back_keeps_the_stored_credentials(server: ServerProcess) -> None:
    url = f"https://alice:{PASSWORD}@127.0.0.1:{closed_port()}/org/repo.git"
    with client(server) as api:
        api.post("/api/v1/applications", json=app_manifest("creds-put", url)).raise_for_status()
        shown = api.get("/api/v1/applications/creds-put").json()
        manifest = {k: v for k, v in shown.items() if k != "status"}
        manifest["spec"]["source"]["targetRevision"] = "other"
        answer = api.put("/api/v1/applications/creds-put", json=manifest)
        assert answer.status_code == 200, answer.text
        assert answer.json()["result"] == "configured"
        again = api.get("/api/v1/applications/creds-put").json()
        assert again["spec"]["source"]["repoURL"] == shown["spec"]["source"]["repoURL"]
        api.delete("/api/v1/applications/creds-put").raise_for_status()


# -- bodies: bounded, and authenticated before they are read -------------------------------------


def _raw_post(server: ServerProcess, headers: dict[str, str], body: bytes) -> int:
    """POST with a Content-Length far larger than what is sent: the answer must not wait."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        sock.sendall(f"POST /api/v1/applications HTTP/1.1\r\nHost: x\r\n{head}\r\n".encode())
        sock.sendall(body)
        answer = sock.recv(4096).decode("latin-1")
    return int(answer.split(" ", 2)[1])


def test_an_unauthenticated_body_is_refused_before_it_is_read(server: ServerProcess) -> None:
    headers = {"Content-Type": "application/json", "Content-Length": str(500 * 1024 * 1024)}
    assert _raw_post(server, headers, b"{" * 1024) == 401


def test_an_oversized_body_gets_413(server: ServerProcess) -> None:
    headers = {
        "Authorization": f"Bearer {server.token}",
        "Content-Type": "application/json",
        "Content-Length": str(500 * 1024 * 1024),
    }
    assert _raw_post(server, headers, b"{" * 1024) == 413


def test_a_chunked_oversized_body_gets_413(server: ServerProcess) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(64):
            yield b" " * (1024 * 1024)

    with client(server) as api:
        answer = api.post(
            "/api/v1/applications",
            content=chunks(),
            headers={"Content-Type": "application/json"},
        )
    assert answer.status_code == 413


# -- no input produces a 500 -----------------------------------------------------------------------


def test_a_deeply_nested_webhook_body_is_a_400(server: ServerProcess) -> None:
    body = b'{"a":' * 1000 + b"1" + b"}" * 1000
    answer = httpx.post(
        f"{server.url}/api/v1/webhook",
        content=body,
        headers={"X-GitHub-Event": "push", "Content-Type": "application/json"},
    )
    assert answer.status_code == 400, answer.text
    assert "nested" in answer.json()["message"]
    deep = '{"metadata": {"name": "deep"}, "spec": ' + '{"x": ' * 1000 + "1" + "}" * 1001
    with client(server) as api:
        nested = api.post("/api/v1/applications", content=deep,
                          headers={"Content-Type": "application/json"})  # fmt: skip
    assert nested.status_code == 400, nested.text
    assert nested.json()["message"].startswith("spec.x.x...: the body is nested deeper")


def test_an_enormous_duration_is_a_400_naming_the_field(server: ServerProcess) -> None:
    manifest = app_manifest("huge-backoff", "/nowhere")
    manifest["spec"]["syncPolicy"]["retry"] = {
        "limit": 2,
        "backoff": {"duration": "99999999999999999h"},
    }
    with client(server) as api:
        answer = api.post("/api/v1/applications", json=manifest)
    assert answer.status_code == 400, answer.text
    assert "duration" in answer.json()["message"]


@pytest.mark.parametrize(
    "where",
    ["metadata.annotations.note", "spec.source.targetRevision", "metadata.labels.team"],
)
def test_a_lone_surrogate_is_a_400_naming_the_field(server: ServerProcess, where: str) -> None:
    manifest: dict[str, Any] = app_manifest("surrogate", "/nowhere")
    *parents, leaf = where.split(".")
    node = manifest
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = "bad\ud800text"
    body = json.dumps(manifest)  # ensure_ascii: the surrogate travels as \ud800
    with client(server) as api:
        answer = api.post(
            "/api/v1/applications", content=body, headers={"Content-Type": "application/json"}
        )
        assert answer.status_code == 400, answer.text
        assert where in answer.json()["message"]
        assert api.get("/api/v1/applications/surrogate").status_code == 404


# -- files other users cannot read ---------------------------------------------------------------


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_home_database_and_checkouts_are_private(server: ServerProcess) -> None:
    home = server.home
    assert _mode(home) == 0o700
    for path in home.rglob("*"):
        if path.is_symlink():
            continue
        mode = _mode(path)
        assert mode & 0o077 == 0, f"{path} is readable by others ({oct(mode)})"


# -- tokens with roles (Argo CD's RBAC policy CSV) ---------------------------------------------


def _project(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AppProject",
        "metadata": {"name": name},
        "spec": {
            "sourceRepos": ["*"],
            "destinations": [{"server": "*", "namespace": "*"}],
        },
    }


def _app(name: str, project: str) -> dict[str, Any]:
    manifest = app_manifest(name, "/nowhere")
    manifest["spec"]["project"] = project
    return manifest


def _token(api: httpx.Client, **body: Any) -> dict[str, Any]:
    answer = api.post("/api/v1/account/token", json=body)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


@pytest.fixture(scope="module")
def teams(server: ServerProcess) -> Iterator[None]:
    with client(server) as admin:
        for project in ("team-a", "team-b"):
            admin.post("/api/v1/projects", json=_project(project)).raise_for_status()
            admin.post("/api/v1/applications", json=_app(f"{project}-web", project))
        yield
        for project in ("team-a", "team-b"):
            admin.delete(f"/api/v1/applications/{project}-web")


def test_a_readonly_token_reads_and_changes_nothing(server: ServerProcess, teams: None) -> None:
    with client(server) as admin:
        made = _token(admin, name="viewer", role="readonly")
    assert made["role"] == "role:readonly"
    with client(server, made["token"]) as viewer:
        names = {a["metadata"]["name"] for a in viewer.get("/api/v1/applications").json()["items"]}
        assert {"team-a-web", "team-b-web"} <= names
        assert viewer.get("/api/v1/applications/team-a-web").status_code == 200
        assert viewer.get("/api/v1/projects/team-a").status_code == 200
        refused = {
            "sync": viewer.post("/api/v1/applications/team-a-web/sync", json={}),
            "delete": viewer.delete("/api/v1/applications/team-b-web"),
            "create": viewer.post("/api/v1/applications", json=_app("viewer-app", "team-a")),
            "patch": viewer.patch("/api/v1/applications/team-a-web", json={"metadata": {}}),
            "project": viewer.post("/api/v1/projects", json=_project("team-c")),
            "token": viewer.post("/api/v1/account/token", json={"name": "more"}),
            "revoke admin": viewer.delete("/api/v1/account/tokens/admin"),
        }
        assert {k: r.status_code for k, r in refused.items()} == dict.fromkeys(refused, 403)
        assert "permission denied" in refused["sync"].json()["message"]


def test_a_project_token_sees_and_syncs_only_its_projects(
    server: ServerProcess, teams: None
) -> None:
    with client(server) as admin:
        made = _token(admin, name="team-a-ci", role="team-a-ci", projects=["team-a"])
    assert made["role"] == "role:team-a-ci"
    assert "p, role:team-a-ci, applications, *, team-a/*, allow" in made["policy"]
    with client(server, made["token"]) as team_a:
        listed = team_a.get("/api/v1/applications").json()["items"]
        assert [a["metadata"]["name"] for a in listed] == ["team-a-web"]
        assert team_a.get("/api/v1/applications/team-b-web").status_code == 403
        assert team_a.delete("/api/v1/applications/team-b-web").status_code == 403
        assert team_a.post("/api/v1/applications/team-b-web/sync", json={}).status_code == 403
        moved = team_a.patch(
            "/api/v1/applications/team-a-web", json={"spec": {"project": "team-b"}}
        )
        assert moved.status_code == 403, moved.text
        assert team_a.post("/api/v1/applications", json=_app("b2", "team-b")).status_code == 403
        created = team_a.post("/api/v1/applications", json=_app("team-a-api", "team-a"))
        assert created.status_code == 200, created.text
        assert team_a.delete("/api/v1/applications/team-a-api").status_code == 200
        assert [p["metadata"]["name"] for p in team_a.get("/api/v1/projects").json()["items"]] == [
            "team-a"
        ]
        assert team_a.post("/api/v1/projects", json=_project("team-a")).status_code == 403
        assert team_a.post("/api/v1/account/token", json={"name": "x"}).status_code == 403


def test_a_policy_csv_token_follows_argo_cds_rules(server: ServerProcess, teams: None) -> None:
    policy = (
        "g, role:syncer, role:readonly\n"
        "p, role:syncer, applications, sync, team-*/*, allow\n"
        "p, role:syncer, applications, sync, team-b/*, deny\n"
    )
    with client(server) as admin:
        made = _token(admin, name="syncer", role="syncer", policy=policy)
        bad = admin.post(
            "/api/v1/account/token",
            json={"name": "bad", "role": "bad", "policy": "p, role:other, *, *, *, allow"},
        )
        assert bad.status_code == 400
        assert "policy line 1" in bad.json()["message"]
    with client(server, made["token"]) as syncer:
        assert syncer.get("/api/v1/applications/team-b-web").status_code == 200
        assert syncer.post("/api/v1/applications/team-b-web/sync", json={}).status_code == 403
        assert syncer.delete("/api/v1/applications/team-a-web").status_code == 403
        assert syncer.post("/api/v1/applications/team-a-web/sync", json={}).status_code != 403


def test_only_admin_revokes_tokens_and_tokens_default_to_the_admin_role(
    server: ServerProcess,
) -> None:
    with client(server) as admin:
        made = _token(admin, name="ci")
        assert made["role"] == "role:admin"
        viewer = _token(admin, name="v", role="readonly")
        with client(server, viewer["token"]) as ro:
            assert ro.delete(f"/api/v1/account/tokens/{made['id']}").status_code == 403
        listed = {t["id"]: t for t in admin.get("/api/v1/account/tokens").json()["items"]}
        assert listed[viewer["id"]]["role"] == "role:readonly"
        admin.delete(f"/api/v1/account/tokens/{made['id']}").raise_for_status()


def test_the_cli_makes_tokens_with_roles(server: ServerProcess, tmp_path: Path) -> None:
    env = {**os.environ, "CONVEYOR_HOME": str(server.home)}
    env.pop("CONVEYOR_AUTH_TOKEN", None)
    env.pop("CONVEYOR_SERVER", None)

    def cli(*args: str, token: str | None = None) -> subprocess.CompletedProcess[str]:
        extra = {"CONVEYOR_AUTH_TOKEN": token} if token else {}
        return subprocess.run(
            [str(CONVEYOR), *args], env={**env, **extra}, capture_output=True, text=True,
            timeout=120,
        )  # fmt: skip

    policy = tmp_path / "policy.csv"
    policy.write_text("p, role:deployer, applications, sync, team-a/*, allow\n")
    made = cli("account", "generate-token", "--name", "d", "--role", "deployer",
               "--policy-file", str(policy))  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert "role:deployer" in made.stderr
    token = made.stdout.strip()
    listed = cli("account", "list-tokens")
    assert "role:deployer" in listed.stdout
    refused = cli("account", "generate-token", token=token)
    assert refused.returncode == 1
    assert "permission denied" in refused.stderr
    ro = cli("account", "generate-token", "--role", "readonly", "--project", "team-a")
    assert ro.returncode == 1
    assert "built in" in ro.stderr


def test_a_wait_so_the_server_is_idle(server: ServerProcess) -> None:
    """The server keeps answering after everything above (no crash, no hang)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if httpx.get(f"{server.url}/healthz").status_code == 200:
            return
    raise AssertionError("the server stopped answering")
