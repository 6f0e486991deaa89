"""Push webhooks: GitHub, Gitea and GitLab, signatures checked, exactly the right apps."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from api_helpers import SECRET, Live, app_manifest, configmap, revision, wait_app

from conveyor.api.webhook import push_target, verify
from engine.engine_helpers import ConfigRepo


@dataclass
class Repos:
    one: ConfigRepo
    two: ConfigRepo

    def revisions(self, api: httpx.Client) -> dict[str, str]:
        return {
            name: revision(api.get(f"/api/v1/applications/{name}").json())
            for name in ("hook-main", "hook-other-repo", "hook-branch")
        }


@pytest.fixture(scope="module")
def repos(live: Live) -> Iterator[Repos]:
    one, two = ConfigRepo(live.repos / "one"), ConfigRepo(live.repos / "two")
    for repo in (one, two):
        repo.write("app/cm.yaml", configmap("settings", k="1"))
        repo.commit()
    one.git("branch", "other")
    branch = app_manifest("hook-branch", one.url)
    branch["spec"]["source"]["targetRevision"] = "other"
    with live.client() as api:
        for manifest in (
            app_manifest("hook-main", one.url),
            app_manifest("hook-other-repo", two.url),
            branch,
        ):
            api.post("/api/v1/applications", json=manifest).raise_for_status()
            name = manifest["metadata"]["name"]
            wait_app(api, name, lambda a: bool(revision(a)), what=f"{name} compared")
    yield Repos(one, two)


def _sign(body: bytes, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def github(url: str, ref: str = "refs/heads/main") -> dict[str, Any]:
    return {"ref": ref, "repository": {"clone_url": url, "html_url": url.removesuffix(".git")}}


def gitlab(url: str, ref: str = "refs/heads/main") -> dict[str, Any]:
    return {"object_kind": "push", "ref": ref, "project": {"git_http_url": url, "web_url": url}}


def post(live: Live, headers: dict[str, str], payload: Any) -> httpx.Response:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return httpx.post(
        f"{live.url}/api/v1/webhook",
        content=body,
        headers={"Content-Type": "application/json", **headers},
    )


def github_headers(body: bytes, secret: str = SECRET) -> dict[str, str]:
    return {"X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=" + _sign(body, secret)}


def test_a_signed_github_push_refreshes_exactly_the_apps_on_that_repo_and_branch(
    live: Live, api: httpx.Client, repos: Repos
) -> None:
    before = repos.revisions(api)
    new = repos.one.commit("bump")
    payload = github(repos.one.url)
    body = json.dumps(payload).encode()

    bad = post(live, github_headers(body, "not-the-secret"), body)
    assert bad.status_code == 401
    unsigned = post(live, {"X-GitHub-Event": "push"}, body)
    assert unsigned.status_code == 401
    # The handler refreshes synchronously and names what it refreshed in a 200; a 401 answer
    # means no refresh was asked for, so nothing can have moved (the poll is 300 s away).
    assert "refreshed" not in bad.text and "refreshed" not in unsigned.text
    assert repos.revisions(api) == before

    reply = post(live, github_headers(body), body)
    assert reply.status_code == 200, reply.text
    assert reply.json() == {"refreshed": ["hook-main"]}
    wait_app(api, "hook-main", lambda a: revision(a) == new, what="the pushed commit")
    after = repos.revisions(api)
    assert after["hook-other-repo"] == before["hook-other-repo"]
    assert after["hook-branch"] == before["hook-branch"]


def test_a_push_to_another_branch_refreshes_only_the_app_tracking_it(
    live: Live, api: httpx.Client, repos: Repos
) -> None:
    payload = github(repos.one.url + ".git", ref="refs/heads/other")
    body = json.dumps(payload).encode()
    assert post(live, github_headers(body), body).json() == {"refreshed": ["hook-branch"]}


def test_a_signed_gitea_push_refreshes_the_app(live: Live, api: httpx.Client, repos: Repos) -> None:
    new = repos.one.commit("gitea")
    body = json.dumps(github(repos.one.url)).encode()
    bad = {"X-Gitea-Event": "push", "X-GitHub-Event": "push", "X-Gitea-Signature": "0" * 64}
    assert post(live, bad, body).status_code == 401
    good = {"X-Gitea-Event": "push", "X-GitHub-Event": "push", "X-Gitea-Signature": _sign(body)}
    reply = post(live, good, body)
    assert reply.json() == {"refreshed": ["hook-main"]}, reply.text
    wait_app(api, "hook-main", lambda a: revision(a) == new, what="the pushed commit")


def test_a_gitlab_push_with_the_token_refreshes_the_app(
    live: Live, api: httpx.Client, repos: Repos
) -> None:
    new = repos.two.commit("gitlab")
    payload = gitlab(repos.two.url)
    wrong = post(live, {"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": "nope"}, payload)
    assert wrong.status_code == 401
    reply = post(live, {"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": SECRET}, payload)
    assert reply.json() == {"refreshed": ["hook-other-repo"]}, reply.text
    wait_app(api, "hook-other-repo", lambda a: revision(a) == new, what="the pushed commit")


def test_without_a_secret_unsigned_pushes_are_accepted(live: Live, repos: Repos) -> None:
    context = live.app.state.context
    context.webhook_secret = None
    try:
        reply = post(live, {"X-GitHub-Event": "push"}, github(repos.two.url))
        assert reply.json() == {"refreshed": ["hook-other-repo"]}
    finally:
        context.webhook_secret = SECRET


@pytest.mark.parametrize(
    ("headers", "body", "status"),
    [
        ({}, b"{}", 400),  # no provider header
        ({"X-GitHub-Event": "ping"}, b'{"zen": "hi"}', 200),  # signed, but not a push
        ({"X-GitHub-Event": "push"}, b"not json", 400),
        ({"X-GitHub-Event": "push"}, b"[1, 2]", 400),
        ({"X-GitHub-Event": "push"}, b'{"ref": "refs/heads/main"}', 400),  # no repository
    ],
    ids=["unknown-provider", "ping", "not-json", "not-an-object", "no-repository"],
)
def test_malformed_or_foreign_webhooks_are_answered_without_refreshing(
    live: Live, headers: dict[str, str], body: bytes, status: int
) -> None:
    signed = {**headers, "X-Hub-Signature-256": "sha256=" + _sign(body)} if headers else {}
    reply = post(live, signed, body)
    assert reply.status_code == status, reply.text
    if status == 200:
        assert reply.json()["refreshed"] == []


def test_payload_urls_of_each_provider_are_found() -> None:
    gh = {"ref": "refs/tags/v1", "repository": {
        "clone_url": "https://github.com/o/r.git", "ssh_url": "git@github.com:o/r.git",
        "html_url": "https://github.com/o/r", "git_url": "git://github.com/o/r.git"}}  # fmt: skip
    urls, ref = push_target("github", gh)
    assert ref == "refs/tags/v1"
    assert urls[:3] == [
        "https://github.com/o/r.git",
        "git@github.com:o/r.git",
        "https://github.com/o/r",
    ]
    project = {
        "git_http_url": "https://gitlab.com/o/r.git",
        "git_ssh_url": "git@gitlab.com:o/r.git",
    }
    gl = {"ref": "refs/heads/main", "project": project}
    assert push_target("gitlab", gl) == (
        ["https://gitlab.com/o/r.git", "git@gitlab.com:o/r.git"],
        "refs/heads/main",
    )


def test_signatures_are_checked_the_way_each_host_signs() -> None:
    body = b'{"a": 1}'
    mac = _sign(body)
    assert verify("github", {"x-hub-signature-256": f"sha256={mac}"}, body, SECRET)
    assert not verify("github", {"x-hub-signature-256": f"sha256={mac}"}, body + b" ", SECRET)
    assert verify("gitea", {"x-gitea-signature": mac}, body, SECRET)
    assert not verify("gitea", {"x-gitea-signature": mac[:-1] + "0"}, body, "other")
    assert verify("gitlab", {"x-gitlab-token": SECRET}, body, SECRET)
    assert not verify("gitlab", {}, body, SECRET)
