"""Clusters from kubeconfig contexts, Argo CD cluster Secrets and a Pod's service account."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
import yaml

from conveyor.errors import ValidationError
from conveyor.targets.kubernetes.credentials import (
    ClusterCredentials,
    from_argocd_secret,
    from_kubeconfig,
    in_cluster,
)
from conveyor.targets.kubernetes.destinations import resolve, serves


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def secret(config: dict[str, object], **extra: str) -> dict[str, object]:
    return {
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "prod", "labels": {"argocd.argoproj.io/secret-type": "cluster"}},
        "data": {"name": b64("prod"), "server": b64("https://prod.example.com:6443"),
                 "config": b64(json.dumps(config)), **extra},
    }  # fmt: skip


def test_an_argo_cd_cluster_secret_is_read_as_argo_cd_writes_it() -> None:
    config = {"bearerToken": "tok", "tlsClientConfig": {"insecure": False, "caData": b64("CA")}}
    cluster = from_argocd_secret(secret(config))
    assert (cluster.name, cluster.server, cluster.config) == (
        "prod", "https://prod.example.com:6443", config,
    )  # fmt: skip
    single = cluster.single_config()
    assert single.cluster.server == "https://prod.example.com:6443"
    assert single.user is not None and single.user.token == "tok"


@pytest.mark.parametrize(
    ("config", "refused"),
    [
        ({"awsAuthConfig": {"clusterName": "x"}}, "awsAuthConfig"),
        ({"execProviderConfig": {"command": "x"}}, "execProviderConfig"),
        ({"tlsClientConfig": {"serverName": "api.internal"}}, "tlsClientConfig.serverName"),
    ],
    ids=["aws", "exec", "server-name"],
)
def test_what_conveyor_cannot_use_is_refused_not_ignored(
    config: dict[str, object], refused: str
) -> None:
    with pytest.raises(ValidationError, match=refused):
        from_argocd_secret(secret(config))


def test_a_secret_without_the_cluster_label_is_refused() -> None:
    plain = secret({})
    plain["metadata"] = {"name": "x"}
    with pytest.raises(ValidationError, match="secret-type=cluster"):
        from_argocd_secret(plain)


def test_a_kubeconfig_context_is_read_with_its_files_inlined(tmp_path: Path) -> None:
    (tmp_path / "ca.crt").write_text("CA-PEM")
    (tmp_path / "token").write_text("file-token\n")
    (tmp_path / "config").write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "dev",
        "clusters": [{"name": "c1", "cluster": {"server": "https://c1.example.com/",
                                                 "certificate-authority": "ca.crt"}}],
        "users": [{"name": "u1", "user": {"tokenFile": "token"}},
                  {"name": "u2", "user": {"exec": {"command": "aws"}}}],
        "contexts": [{"name": "dev", "context": {"cluster": "c1", "user": "u1", "namespace": "a"}},
                     {"name": "eks", "context": {"cluster": "c1", "user": "u2"}}],
    }))  # fmt: skip
    cluster = from_kubeconfig(None, tmp_path / "config", name="dev-cluster")
    assert cluster.name == "dev-cluster" and cluster.server == "https://c1.example.com"
    assert cluster.config == {
        "bearerToken": "file-token",
        "tlsClientConfig": {"caData": b64("CA-PEM")},
    }
    with pytest.raises(ValidationError, match="exec plugin"):
        from_kubeconfig("eks", tmp_path / "config")
    with pytest.raises(ValidationError, match=r"no context 'nope' .*contexts: dev, eks"):
        from_kubeconfig("nope", tmp_path / "config")


def test_in_cluster_uses_the_service_account(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "token").write_text("sa-token")
    (tmp_path / "ca.crt").write_text("CA")
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    cluster = in_cluster(tmp_path)
    assert (cluster.name, cluster.server) == ("in-cluster", "https://10.0.0.1:443")
    assert cluster.token_file == str(tmp_path / "token")
    assert cluster.public()["auth"] == "bearerToken"


PROD = ClusterCredentials("prod", "https://prod.example.com")
POD = ClusterCredentials("in-cluster", "https://10.0.0.1:443")
HERE = ClusterCredentials("here", "https://kubernetes.default.svc")


@pytest.mark.parametrize(
    ("server", "name", "registered", "pod", "expected"),
    [
        ("https://kubernetes.default.svc", "", [], None, None),
        ("", "in-cluster", [], None, None),
        ("https://kubernetes.default.svc", "", [], POD, POD),
        ("https://kubernetes.default.svc/", "", [HERE], POD, "here"),
        ("https://prod.example.com", "", [PROD], None, PROD),
        ("", "prod", [PROD], None, PROD),
    ],
    ids=["local-by-url", "local-by-name", "pod", "registered-in-cluster", "by-url", "by-name"],
)  # fmt: skip
def test_destinations_resolve_as_argo_cd_resolves_them(
    server: str,
    name: str,
    registered: list[ClusterCredentials],
    pod: ClusterCredentials | None,
    expected: ClusterCredentials | str | None,
) -> None:
    found = resolve(server, name, registered, lambda: pod)
    if isinstance(expected, str):
        assert found is not None and found.name == expected
    else:
        assert found == expected


def test_an_unknown_destination_and_another_clusters_are_refused() -> None:
    with pytest.raises(ValidationError, match="no clusters with this name: staging"):
        resolve("", "staging", [PROD], lambda: None)
    with pytest.raises(ValidationError, match="no clusters with this URL: https://x"):
        resolve("https://x", "", [PROD], lambda: None)
    check = serves(None, lambda: [PROD], lambda: None)  # this server: the local runtime
    assert check("https://kubernetes.default.svc", "") is None
    assert check("", "prod") == (
        "the destination is cluster prod (https://prod.example.com), but this Conveyor "
        "server deploys to the local runtime (CONVEYOR_CLUSTER selects it)"
    )
