"""Which cluster an Application's destination names, as Argo CD decides it.

A destination gives ``server`` (the API server URL) or ``name`` (a registered cluster's name),
not both. ``https://kubernetes.default.svc`` and ``in-cluster`` are the cluster Conveyor runs
in: a cluster registered under that URL or name, else the Pod's own cluster when Conveyor
runs in one, else the local runtime (so manifests written for a cluster deploy on a laptop).
``None`` stands for the local runtime.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from conveyor.errors import ValidationError
from conveyor.targets.kubernetes.credentials import (
    IN_CLUSTER_NAME,
    IN_CLUSTER_SERVER,
    ClusterCredentials,
)

InCluster = Callable[[], ClusterCredentials | None]
"""The Pod's own cluster, or None when Conveyor does not run in one."""


def resolve(
    server: str, name: str, clusters: Sequence[ClusterCredentials], in_cluster: InCluster
) -> ClusterCredentials | None:
    """The cluster a destination names (None: the local runtime); ValidationError naming
    the destination when no cluster matches."""
    server = server.rstrip("/")
    if server and name:
        raise ValidationError(
            f"application destination can't have both name and server defined: {name} {server}"
        )
    if name:
        for cluster in clusters:
            if cluster.name == name:
                return cluster
        if name == IN_CLUSTER_NAME:
            return in_cluster()
        raise ValidationError(f"there are no clusters with this name: {name}")
    if server:
        for cluster in clusters:
            if cluster.server.rstrip("/") == server:
                return cluster
        if server == IN_CLUSTER_SERVER:
            return in_cluster()
        raise ValidationError(
            f"there are no clusters with this URL: {server} (register it with conveyor cluster add)"
        )
    raise ValidationError("application destination needs a server or a name")


def describe(cluster: ClusterCredentials | None) -> str:
    return "the local runtime" if cluster is None else f"cluster {cluster.name} ({cluster.server})"


def serves(
    target: ClusterCredentials | None,
    clusters: Callable[[], Sequence[ClusterCredentials]],
    in_cluster: InCluster,
) -> Callable[[str, str], str | None]:
    """A check for the engine: None when a destination resolves to ``target`` (what this
    Conveyor deploys to), else the reason it cannot be deployed here."""

    def check(server: str, name: str) -> str | None:
        try:
            wanted = resolve(server, name, clusters(), in_cluster)
        except ValidationError as err:
            return err.message
        same = (wanted is None and target is None) or (
            wanted is not None and target is not None and wanted.server == target.server
        )
        if same:
            return None
        return (
            f"the destination is {describe(wanted)}, but this Conveyor server deploys to "
            f"{describe(target)} (CONVEYOR_CLUSTER selects it)"
        )

    return check
