"""Which endpoint the next request (or connection) goes to: exact weights, then round robin.

Balancing is two-level. Endpoints are grouped by ReplicaSet; with weights set
(``set_weights``, what a canary step does), the groups share traffic by smooth weighted round
robin, as nginx does it: over any run of ``sum(weights)`` picks each group gets exactly its
weight, and the picks are interleaved rather than bunched. Inside a group, endpoints take turns
(smooth weighted round robin again, by the endpoint's own weight, 1 by default). Without
weights every endpoint takes its turn, as a Kubernetes Service spreads over its Pods.

A group with no eligible endpoint (no Ready Pod, or each one excluded) is skipped, so its share
goes to the others for that pick and no request fails because of it. When no weighted group
has an endpoint left but unweighted ones do, those take the traffic rather than letting it
fail. An endpoint that refused a connection moments ago is used only when nothing else is left.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Protocol, TypeVar

from conveyor.targets.local.network.endpoints import Endpoint, Peer

Weights = Mapping[str, int]  # ReplicaSet (pod-template-hash) -> relative weight


def validate_weights(weights: Weights | None) -> None:
    """Refuse anything but integer weights >= 0 (``ValueError`` naming the ReplicaSet)."""
    for key, weight in (weights or {}).items():
        if not isinstance(weight, int) or isinstance(weight, bool) or weight < 0:
            raise ValueError(
                f"weight of ReplicaSet {key!r} must be an integer >= 0, got {weight!r}"
            )


class Group:
    """The endpoints of one ReplicaSet, and its place in the weighted round robin."""

    __slots__ = ("current", "key", "peers", "weight")

    def __init__(self, key: str, weight: int) -> None:
        self.key = key
        self.weight = weight
        self.current = 0
        self.peers: list[Peer] = []


class _Weighted(Protocol):
    current: int
    weight: int


_W = TypeVar("_W", bound=_Weighted)


def _smooth(candidates: Sequence[_W]) -> _W:
    """One step of smooth weighted round robin over ``candidates`` (weights > 0)."""
    best = candidates[0]
    total = 0
    for item in candidates:
        item.current += item.weight
        total += item.weight
        if item.current > best.current:
            best = item
    best.current -= total
    return best


def _expire_down(peers: list[Peer]) -> bool:
    """Clear marks that ran out; True when a peer is still marked down."""
    now = 0.0
    down = False
    for peer in peers:
        if peer.down_until:
            now = now or time.monotonic()
            if now < peer.down_until:
                down = True
            else:
                peer.down_until = 0.0
    return down


class Balancer:
    """The endpoint set of one proxy, grouped by ReplicaSet, with optional group weights."""

    def __init__(self) -> None:
        self.endpoints: tuple[Endpoint, ...] = ()
        self.peers: list[Peer] = []  # every endpoint with weight > 0
        self._by_addr: dict[tuple[str, int], Peer] = {}
        self._weights: dict[str, int] | None = None
        self._groups: list[Group] = []
        self._weighted: list[Group] = []  # the groups with weight > 0
        self._fallback = 0  # round-robin position over unweighted groups, when only they are left

    @property
    def weights(self) -> dict[str, int] | None:
        """The ReplicaSet weights in force; None: every endpoint alike."""
        return None if self._weights is None else dict(self._weights)

    def replace(self, endpoints: Sequence[Endpoint]) -> list[Peer]:
        """Swap in a new endpoint set at once; returns the peers that left it."""
        if tuple(endpoints) == self.endpoints:
            return []  # the runtime repeats unchanged sets: keep the round-robin's place
        weights: dict[tuple[str, int], int] = {}
        first: dict[tuple[str, int], Endpoint] = {}
        for ep in endpoints:
            if ep.weight < 0:
                raise ValueError(f"endpoint {ep.label()}: weight must be >= 0, got {ep.weight}")
            addr = (ep.host, ep.port)
            first.setdefault(addr, ep)
            weights[addr] = weights.get(addr, 0) + ep.weight
        old = self._by_addr
        new: dict[tuple[str, int], Peer] = {}
        for addr, ep in first.items():
            peer = old.get(addr)
            if peer is None:
                peer = Peer(ep, weights[addr])
            else:
                peer.endpoint, peer.weight = ep, weights[addr]
            new[addr] = peer
        gone = [peer for addr, peer in old.items() if addr not in new or new[addr].weight == 0]
        for peer in gone:
            peer.removed = True
        for peer in new.values():
            if peer.weight > 0:
                peer.removed = False
        self._by_addr = new
        self.endpoints = tuple(endpoints)
        self.peers = [peer for peer in new.values() if peer.weight > 0]
        for peer in self.peers:
            peer.current = 0
        self._regroup(reset=False)
        return gone

    def set_weights(self, weights: Weights | None) -> None:
        """Share traffic between ReplicaSets by these weights (None: no weights); at once.

        A ReplicaSet left out of ``weights`` gets weight 0: no traffic while a weighted one
        has a Ready endpoint.
        """
        validate_weights(weights)
        new = None if weights is None else dict(weights)
        if new == self._weights:
            return
        self._weights = new
        self._regroup(reset=True)

    def _regroup(self, *, reset: bool) -> None:
        weights = self._weights
        previous = {group.key: group for group in self._groups}
        groups: dict[str, Group] = {}
        for peer in self.peers:
            key = "" if weights is None else peer.endpoint.replicaset
            group = groups.get(key)
            if group is None:
                weight = 1 if weights is None else weights.get(key, 0)
                group = groups[key] = Group(key, weight)
            group.peers.append(peer)
        if not reset and groups.keys() == previous.keys():
            for key, group in groups.items():  # same groups: keep the exact sequence going
                group.current = previous[key].current
        self._groups = list(groups.values())
        self._weighted = [group for group in self._groups if group.weight > 0]

    def pick(self, exclude: set[Peer] | None = None) -> Peer | None:
        """The next peer; skips ``exclude`` and, while others remain, endpoints marked down."""
        if not exclude and self._weighted:
            for peer in self.peers:
                if peer.down_until:
                    break
            else:  # the usual case, nothing to skip: no list is built
                weighted = self._weighted
                group = weighted[0] if len(weighted) == 1 else _smooth(weighted)
                peers = group.peers
                return peers[0] if len(peers) == 1 else _smooth(peers)
        best = self._pick(exclude, skip_down=True)
        if best is None:
            best = self._pick(exclude, skip_down=False)
        if best is None and exclude:
            best = self._pick(None, skip_down=False)
        return best

    def _pick(self, exclude: set[Peer] | None, *, skip_down: bool) -> Peer | None:
        weighted: list[Group] = []
        unweighted: list[Group] = []
        eligible: dict[str, list[Peer]] = {}
        for group in self._groups:
            peers = group.peers
            down = skip_down and _expire_down(peers)
            if exclude or down:
                peers = [
                    p
                    for p in peers
                    if not (exclude and p in exclude) and not (down and p.down_until)
                ]
            if not peers:
                continue
            eligible[group.key] = peers
            (weighted if group.weight > 0 else unweighted).append(group)
        if weighted:
            chosen = _smooth(weighted)
        elif unweighted:
            self._fallback += 1
            chosen = unweighted[self._fallback % len(unweighted)]
        else:
            return None
        peers = eligible[chosen.key]
        return peers[0] if len(peers) == 1 else _smooth(peers)
