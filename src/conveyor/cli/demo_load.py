"""A bounded load generator for ``conveyor demo release``: user traffic the analysis can judge.

A canary's success rate is measured on the requests it served, so a release shown without
traffic would have nothing to measure. This sends ``GET /`` to one address on 127.0.0.1 at a
fixed rate from a background thread, stopping at ``max_requests``, ``max_seconds`` or
``stop()``, whichever comes first, and records which Pod (hence which ReplicaSet) answered
each request and how. Only loopback addresses are accepted.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


@dataclass(frozen=True)
class Answer:
    """One request: when it was sent (monotonic), its status (0: no answer), its ReplicaSet."""

    at: float
    status: int
    replicaset: str


@dataclass
class Tally:
    """Answers of one ReplicaSet."""

    ok: int = 0
    failed: int = 0

    @property
    def total(self) -> int:
        return self.ok + self.failed

    @property
    def success_rate(self) -> float | None:
        return self.ok / self.total if self.total else None


def replicaset_of(pod: str) -> str:
    """``demo-app-6c4b8d7f9e-x7k2p`` -> ``demo-app-6c4b8d7f9e`` (Pods are named after it)."""
    return pod.rpartition("-")[0] if "-" in pod else pod


@dataclass
class LoadGenerator:
    """Requests to ``url`` at ``rate`` per second, bounded in count and in time."""

    url: str
    rate: float = 20.0
    max_requests: int = 4000
    max_seconds: float = 240.0
    answers: list[Answer] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        host = urlsplit(self.url).hostname or ""
        if host not in LOOPBACK:
            raise ValueError(f"the load generator only calls 127.0.0.1, not {self.url!r}")
        if not (0 < self.rate <= 500 and self.max_requests > 0 and self.max_seconds > 0):
            raise ValueError("rate, max_requests and max_seconds must be positive (rate <= 500)")

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="demo-load", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def snapshot(self) -> list[Answer]:
        with self._lock:
            return list(self.answers)

    def tallies(self, since: float = 0.0) -> dict[str, Tally]:
        """Per ReplicaSet, the answers to requests sent at or after ``since``."""
        out: dict[str, Tally] = {}
        for answer in self.snapshot():
            if answer.at < since:
                continue
            tally = out.setdefault(answer.replicaset, Tally())
            if 200 <= answer.status < 500:
                tally.ok += 1
            else:
                tally.failed += 1
        return out

    def _run(self) -> None:
        started = time.monotonic()
        period = 1.0 / self.rate
        with httpx.Client(timeout=5.0, trust_env=False) as http:
            for sent in range(self.max_requests):
                due = started + sent * period
                if due - started > self.max_seconds or self._stop.wait(
                    max(0.0, due - time.monotonic())
                ):
                    return
                at = time.monotonic()
                try:
                    reply = http.get(self.url)
                    status, pod = reply.status_code, _pod(reply)
                except httpx.HTTPError:
                    status, pod = 0, ""
                with self._lock:
                    self.answers.append(Answer(at, status, replicaset_of(pod) if pod else "?"))


def _pod(reply: httpx.Response) -> str:
    try:
        body = reply.json()
    except ValueError:
        return ""
    return str(body.get("pod") or "") if isinstance(body, dict) else ""
