"""Service stats chosen by a test, behind Conveyor's ``ServiceStats`` seam (what the local
runtime's proxy records per ReplicaSet: answers by status class, recent latencies)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from conveyor.analysis.servicestats import ReplicaSetTraffic


@dataclass(frozen=True)
class Window:
    by_class: dict[str, int]

    @property
    def requests(self) -> int:
        return sum(self.by_class.values())


@dataclass
class Traffic:
    ok: int = 0
    errors: int = 0
    samples: list[float] = field(default_factory=list)
    asked: list[float] = field(default_factory=list)

    def window(self, seconds: float) -> Window:
        self.asked.append(seconds)
        if seconds > 900:
            raise ValueError("window must be in (0, 900] seconds, got 3600")
        return Window({"2xx": self.ok, "5xx": self.errors})

    def latencies(self, seconds: float | None = None) -> list[float]:
        return list(self.samples)


@dataclass
class Stats:
    services: dict[tuple[str, str], dict[str, Traffic]]

    def service_stats(self, namespace: str, service: str) -> Mapping[str, ReplicaSetTraffic]:
        return self.services.get((namespace, service), {})
