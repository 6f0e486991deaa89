"""What Conveyor's own providers read: the requests each ReplicaSet behind a Service served.

The local runtime's Service proxy records, per Service and ReplicaSet (keyed by its
pod-template-hash), answers by status class over recent windows and a reservoir of recent
latencies. The ``conveyor/builtin`` and ``conveyor/judge`` providers read them through this
Protocol, so that the analysis layer needs no runtime (and tests can give numbers of their
own); ``LocalRuntime`` implements it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Protocol


class TrafficWindow(Protocol):
    """Answers during a window, by status class (``1xx`` ... ``5xx``)."""

    @property
    def requests(self) -> int: ...

    @property
    def by_class(self) -> Mapping[str, int]: ...


class ReplicaSetTraffic(Protocol):
    """What one ReplicaSet served through one Service."""

    def window(self, seconds: float) -> TrafficWindow:
        """Counts over the last ``seconds``; raises ValueError beyond what is kept."""
        ...

    def latencies(self, seconds: float | None = None) -> list[float]:
        """Recent latencies in seconds (those of the last ``seconds``), oldest first."""
        ...


class ServiceStats(Protocol):
    """Per-ReplicaSet traffic of the Services of a runtime."""

    def service_stats(self, namespace: str, service: str) -> Mapping[str, ReplicaSetTraffic]:
        """The ReplicaSets that served the Service, by pod-template-hash ({} if none)."""
        ...


def find_replicaset(
    stats: Mapping[str, ReplicaSetTraffic], replicaset: str
) -> ReplicaSetTraffic | None:
    """The traffic of ``replicaset``, given by pod-template-hash or by name
    (``<owner>-<hash>``, as Deployments and Rollouts name their ReplicaSets)."""
    if replicaset in stats:
        return stats[replicaset]
    for template_hash, traffic in stats.items():
        if replicaset.endswith(f"-{template_hash}"):
            return traffic
    return None


def percentile(values: Sequence[float], p: float) -> float | None:
    """The nearest-rank ``p``-th percentile (0 < p <= 100); None without values."""
    ordered = sorted(values)
    if not ordered:
        return None
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]
