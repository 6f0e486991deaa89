"""The addresses a Service proxy sends traffic to, and what it keeps about each.

An ``Endpoint`` is what the runtime hands the proxy: a Ready Pod's host port, the ReplicaSet
it belongs to (its ``pod-template-hash``, or ``rollouts-pod-template-hash`` for a Rollout's
Pods), and a relative weight inside that ReplicaSet. A ``Peer`` is the proxy's side of it:
balancing state, a short "refused a connection" mark, and pooled keep-alive connections.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Endpoint:
    """One Pod port traffic may go to; ``weight`` is its share within its ReplicaSet."""

    host: str
    port: int
    weight: int = 1
    name: str = ""
    replicaset: str = ""  # the Pod's (rollouts-)pod-template-hash; "" when it has none

    def label(self) -> str:
        """How logs name the endpoint: the Pod's name, else its address."""
        return self.name or f"{self.host}:{self.port}"


class Peer:
    """Balancing state of one endpoint, and its idle keep-alive connections (HTTP mode)."""

    __slots__ = ("current", "down_until", "endpoint", "idle", "removed", "weight")

    def __init__(self, endpoint: Endpoint, weight: int) -> None:
        self.endpoint = endpoint
        self.weight = weight
        self.current = 0
        self.down_until = 0.0
        self.removed = False
        self.idle: list[Any] = []  # pooled upstream protocols, most recently used last

    def mark_down(self, down_for: float) -> None:
        """Prefer the other endpoints for ``down_for`` seconds: this one refused a connection."""
        self.down_until = time.monotonic() + down_for

    def close_idle(self) -> None:
        """Close every pooled connection (the endpoint was removed or the proxy stops)."""
        idle, self.idle = self.idle, []
        for proto in idle:
            proto.transport.close()
