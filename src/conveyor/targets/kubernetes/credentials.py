"""How Conveyor reaches a cluster: one record per cluster, in Argo CD's cluster Secret shape.

Argo CD keeps a cluster as a Secret labelled ``argocd.argoproj.io/secret-type: cluster`` with
the keys ``name``, ``server`` and ``config`` (JSON: ``bearerToken``, ``username``/``password``,
``tlsClientConfig`` with ``insecure``, ``caData``, ``certData``, ``keyData``).
Conveyor keeps the same record whatever the cluster came from: a kubeconfig context (files
read in, so the record stands alone), such a Secret, or the Pod's service account when
Conveyor runs in a cluster. lightkube turns the record into an authenticated HTTP client.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from lightkube.config.kubeconfig import KubeConfig, SingleConfig

from conveyor.errors import ValidationError

IN_CLUSTER_SERVER = "https://kubernetes.default.svc"
"""Argo CD's name for the cluster it runs in."""
IN_CLUSTER_NAME = "in-cluster"
SECRET_TYPE_LABEL = "argocd.argoproj.io/secret-type"  # noqa: S105 (a label, not a password)
SECRET_TYPE_CLUSTER = "cluster"  # noqa: S105
SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")

_TLS_KEYS = frozenset({"insecure", "caData", "certData", "keyData"})
"""``serverName`` is not among them: lightkube cannot override the TLS server name, so a
record that needs it is refused rather than connecting without it."""
_CONFIG_KEYS = frozenset({"bearerToken", "username", "password", "tlsClientConfig"})


@dataclass(frozen=True)
class ClusterCredentials:
    """One cluster: its name, API server URL and Argo CD's ``config`` (secrets inside)."""

    name: str
    server: str
    config: dict[str, Any] = field(default_factory=dict, repr=False)
    namespace: str = ""
    """Namespace of the kubeconfig context it came from ("" if none); informative."""
    token_file: str = ""
    """A token file re-read when it rotates (in-cluster service account)."""

    def public(self) -> dict[str, Any]:
        """What the API and CLI show: how it authenticates, never with what."""
        tls = self.config.get("tlsClientConfig") or {}
        if self.config.get("bearerToken") or self.token_file:
            auth = "bearerToken"
        elif self.config.get("username"):
            auth = "basic"
        elif tls.get("certData"):
            auth = "clientCertificate"
        else:
            auth = "none"
        return {
            "name": self.name, "server": self.server, "auth": auth,
            "insecure": bool(tls.get("insecure")), "hasCaData": bool(tls.get("caData")),
        }  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        """The stored form (secrets included: only for the encrypted store)."""
        return {
            "name": self.name, "server": self.server, "config": self.config,
            "namespace": self.namespace, "tokenFile": self.token_file,
        }  # fmt: skip

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ClusterCredentials:
        return cls(
            name=str(raw["name"]),
            server=str(raw["server"]),
            config=dict(raw.get("config") or {}),
            namespace=str(raw.get("namespace") or ""),
            token_file=str(raw.get("tokenFile") or ""),
        )

    def single_config(self) -> SingleConfig:
        """lightkube's configuration for this cluster (certificates as data, no files)."""
        tls = self.config.get("tlsClientConfig") or {}
        cluster: dict[str, Any] = {"server": self.server}
        if tls.get("insecure"):
            cluster["insecure-skip-tls-verify"] = True
        if tls.get("caData"):
            cluster["certificate-authority-data"] = tls["caData"]
        user: dict[str, Any] = {}
        if self.config.get("bearerToken"):
            user["token"] = self.config["bearerToken"]
        if self.token_file:
            user["tokenFile"] = self.token_file
        if self.config.get("username"):
            user["username"] = self.config["username"]
            user["password"] = self.config.get("password", "")
        if tls.get("certData") and tls.get("keyData"):
            user["client-certificate-data"] = tls["certData"]
            user["client-key-data"] = tls["keyData"]
        conf = {
            "clusters": [{"name": self.name, "cluster": cluster}],
            "users": [{"name": self.name, "user": user}],
            "contexts": [{"name": self.name, "context": {"cluster": self.name, "user": self.name}}],
            "current-context": self.name,
        }
        single = KubeConfig.from_dict(conf).get()
        assert single is not None
        return single


def check_server(server: str) -> str:
    """An API server URL: http(s), with a host."""
    if not server.startswith(("https://", "http://")) or len(server.split("://", 1)[1]) == 0:
        raise ValidationError(f"cluster server must be an https:// URL, not {server!r}")
    return server.rstrip("/")


def check_config(config: Any, where: str) -> None:
    """Argo CD's cluster ``config``, with only the fields Conveyor can use."""
    if not isinstance(config, dict):
        raise ValidationError("config must be a JSON object", obj=where)
    tls = config.get("tlsClientConfig") or {}
    if not isinstance(tls, dict):
        raise ValidationError("config.tlsClientConfig must be an object", obj=where)
    unknown = set(config) - _CONFIG_KEYS
    tls_unknown = set(tls) - _TLS_KEYS
    if unknown or tls_unknown:
        names = sorted(unknown) + [f"tlsClientConfig.{k}" for k in sorted(tls_unknown)]
        raise ValidationError(
            f"config fields Conveyor does not support: {', '.join(names)} "
            "(use bearerToken, username/password or tlsClientConfig)",
            obj=where,
        )


def from_argocd_secret(secret: dict[str, Any]) -> ClusterCredentials:
    """A cluster from Argo CD's declarative cluster Secret (``data`` base64, or
    ``stringData``); ValidationError naming what is wrong."""
    meta = secret.get("metadata") or {}
    labels = meta.get("labels") or {}
    where = f"Secret/{meta.get('name', '?')}"
    if labels.get(SECRET_TYPE_LABEL) != SECRET_TYPE_CLUSTER:
        raise ValidationError(f"not a cluster Secret: label {SECRET_TYPE_LABEL}=cluster missing")
    values: dict[str, str] = {}
    for key, value in (secret.get("data") or {}).items():
        try:
            values[key] = base64.b64decode(value, validate=True).decode()
        except ValueError as err:
            raise ValidationError(f"data.{key} is not base64", obj=where) from err
    values.update({k: str(v) for k, v in (secret.get("stringData") or {}).items()})
    if "server" not in values:
        raise ValidationError("a cluster Secret needs a server", obj=where)
    try:
        config = json.loads(values.get("config") or "{}")
    except ValueError as err:
        raise ValidationError("config is not JSON", obj=where) from err
    check_config(config, where)
    server = check_server(values["server"])
    return ClusterCredentials(name=values.get("name") or server, server=server, config=config)


def _file_data(path: str | None, data: str | None, base: Path) -> str | None:
    if data:
        return data
    if not path:
        return None
    full = Path(path) if os.path.isabs(path) else base / path
    return base64.b64encode(full.expanduser().read_bytes()).decode()


def from_kubeconfig(
    context: str | None = None, kubeconfig: Path | None = None, *, name: str | None = None
) -> ClusterCredentials:
    """A cluster from a kubeconfig context (``$KUBECONFIG`` or ``~/.kube/config`` by
    default), its certificate and token files read in so the record stands alone."""
    path = kubeconfig or Path(os.environ.get("KUBECONFIG", "~/.kube/config")).expanduser()
    try:
        raw = yaml.safe_load(path.read_text())
    except OSError as err:
        raise ValidationError(f"cannot read kubeconfig {path}: {err.strerror}") from err
    if not isinstance(raw, dict):
        raise ValidationError(f"{path} is not a kubeconfig")
    by_name = {
        section: {i.get("name"): i.get(section[:-1]) or {} for i in raw.get(section) or []}
        for section in ("clusters", "users", "contexts")
    }
    context = context or raw.get("current-context")
    ctx = by_name["contexts"].get(context)
    if not context or ctx is None:
        known = ", ".join(sorted(str(c) for c in by_name["contexts"])) or "none"
        raise ValidationError(f"no context {context!r} in {path} (contexts: {known})")
    cluster = by_name["clusters"].get(ctx.get("cluster"))
    if cluster is None:
        raise ValidationError(
            f"context {context!r} names an unknown cluster {ctx.get('cluster')!r}"
        )
    user = by_name["users"].get(ctx.get("user")) or {}
    if user.get("exec") or user.get("auth-provider"):
        raise ValidationError(
            f"context {context!r} authenticates with an exec plugin or auth provider, which "
            "Conveyor cannot store; use a ServiceAccount token (kubectl create token) instead"
        )
    base = path.parent
    tls: dict[str, Any] = {}
    if cluster.get("insecure-skip-tls-verify"):
        tls["insecure"] = True
    if cluster.get("tls-server-name") or cluster.get("proxy-url"):
        raise ValidationError(
            f"context {context!r} sets tls-server-name or proxy-url, which Conveyor's client "
            "does not support; connect to the API server's own name instead"
        )
    ca = _file_data(
        cluster.get("certificate-authority"), cluster.get("certificate-authority-data"), base
    )
    cert = _file_data(user.get("client-certificate"), user.get("client-certificate-data"), base)
    key = _file_data(user.get("client-key"), user.get("client-key-data"), base)
    tls.update({k: v for k, v in (("caData", ca), ("certData", cert), ("keyData", key)) if v})
    config: dict[str, Any] = {}
    token = user.get("token")
    if not token and user.get("tokenFile"):
        token = (base / str(user["tokenFile"])).read_text().strip()
    if token:
        config["bearerToken"] = token
    if user.get("username"):
        config["username"], config["password"] = user["username"], user.get("password", "")
    if tls:
        config["tlsClientConfig"] = tls
    return ClusterCredentials(
        name=name or context,
        server=check_server(str(cluster.get("server", ""))),
        config=config,
        namespace=str(ctx.get("namespace") or ""),
    )


def running_in_cluster(account_dir: Path = SERVICE_ACCOUNT_DIR) -> bool:
    """Whether Conveyor runs in a Pod with a service account token."""
    return bool(os.environ.get("KUBERNETES_SERVICE_HOST")) and (account_dir / "token").is_file()


def in_cluster(account_dir: Path = SERVICE_ACCOUNT_DIR) -> ClusterCredentials:
    """The cluster Conveyor's Pod runs in, through its service account (the token file is
    re-read as the kubelet rotates it)."""
    host = os.environ.get("KUBERNETES_SERVICE_HOST", "")
    port = os.environ.get("KUBERNETES_SERVICE_PORT", "443")
    if not host or not (account_dir / "token").is_file():
        raise ValidationError("not running in a Kubernetes Pod with a service account")
    host = f"[{host}]" if ":" in host else host
    ca = account_dir / "ca.crt"
    tls = {"caData": base64.b64encode(ca.read_bytes()).decode()} if ca.is_file() else {}
    return ClusterCredentials(
        name=IN_CLUSTER_NAME,
        server=f"https://{host}:{port}",
        config={"tlsClientConfig": tls} if tls else {},
        token_file=str(account_dir / "token"),
    )
