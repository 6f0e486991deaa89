"""What each ReplicaSet behind a Service served: counts by status class, latency, recent samples.

The proxy records every HTTP request it answers against the ReplicaSet of the endpoint that
served it: its status class, its latency in a histogram with Prometheus' default buckets (what
``/metrics`` exports), per-second counts for the last ``WINDOW_LIMIT`` seconds (success rate
and request count over a window, what an analysis step asks), and a bounded reservoir of the
most recent latencies (percentiles over a window, and samples for statistical tests).

Recording is a handful of updates to preallocated arrays (no object is kept per request, and
windows come from the class totals marked as each second begins), so it costs the proxy little;
the work is at query time. Times are ``time.monotonic()`` seconds (the proxy passes the time it
already read; tests pass their own).
"""

from __future__ import annotations

import math
import time
from array import array
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
"""Upper bounds of the latency histogram, in seconds (Prometheus' defaults)."""
CLASSES = ("1xx", "2xx", "3xx", "4xx", "5xx")
WINDOW_LIMIT = 900  # seconds of per-second counts kept: the longest window a query may ask
RESERVOIR = 8192  # most recent latencies kept per ReplicaSet


@dataclass(frozen=True)
class Window:
    """Requests a ReplicaSet answered during the last ``seconds``, by status class."""

    seconds: float
    by_class: dict[str, int]

    @property
    def requests(self) -> int:
        """Requests answered in the window."""
        return sum(self.by_class.values())

    @property
    def success_rate(self) -> float | None:
        """Share of answers that were not 5xx; None when there were none."""
        total = self.requests
        return None if total == 0 else (total - self.by_class["5xx"]) / total


@dataclass(frozen=True)
class Histogram:
    """The latency histogram as Prometheus exports it: cumulative counts per upper bound."""

    buckets: tuple[tuple[float, int], ...]  # (le, count of latencies <= le), +Inf last
    sum: float
    count: int


class ReplicaSetStats:
    """Outcomes of the requests one ReplicaSet served through one Service."""

    __slots__ = (
        "_at",
        "_buckets",
        "_classes",
        "_clock",
        "_latency",
        "_marks",
        "_next",
        "_second",
        "_stamps",
        "_sum",
        "replicaset",
    )

    def __init__(self, replicaset: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.replicaset = replicaset
        self._clock = clock
        self._classes = [0] * 6  # index = status // 100
        self._buckets = [0] * (len(BUCKETS) + 1)
        self._sum = 0.0
        # per second that had requests: its stamp, and the class totals as it began
        self._second = -1
        self._stamps = array("q", [-1]) * WINDOW_LIMIT
        self._marks = array("q", [0]) * (WINDOW_LIMIT * 6)
        # the reservoir: a ring of (end time, latency) as C doubles, no object per request
        self._at = array("d", [0.0]) * RESERVOIR
        self._latency = array("d", [0.0]) * RESERVOIR
        self._next = 0

    def record(self, status: int, latency: float, now: float) -> None:
        """One answered request: its status, its latency and when it ended (seconds)."""
        second = int(now)
        if second != self._second:
            self._mark(second)
        cls = status // 100
        if not 1 <= cls <= 5:
            cls = 5  # not a status a client can use: count it as a server error
        self._classes[cls] += 1
        self._buckets[bisect_left(BUCKETS, latency)] += 1
        self._sum += latency
        i = self._next
        self._at[i] = now
        self._latency[i] = latency
        self._next = i + 1 if i + 1 < RESERVOIR else 0

    def _mark(self, second: int) -> None:
        """The first request of a second: keep the totals as the second began."""
        self._second = second
        slot = second % WINDOW_LIMIT
        self._stamps[slot] = second
        self._marks[slot * 6 : slot * 6 + 6] = array("q", self._classes)

    # -- totals (what /metrics exports) -----------------------------------------------------

    def requests_by_class(self) -> dict[str, int]:
        """Requests answered since the proxy started, by status class."""
        return {name: self._classes[i + 1] for i, name in enumerate(CLASSES)}

    def histogram(self) -> Histogram:
        """The latency histogram since the proxy started."""
        running = 0
        out = []
        for bound, count in zip((*BUCKETS, math.inf), self._buckets, strict=True):
            running += count
            out.append((bound, running))
        return Histogram(tuple(out), self._sum, running)

    # -- windows (what an analysis asks) ----------------------------------------------------

    def window(self, seconds: float) -> Window:
        """Counts over the last ``seconds`` (at most ``WINDOW_LIMIT``), to the second."""
        if not 0 < seconds <= WINDOW_LIMIT:
            raise ValueError(f"window must be in (0, {WINDOW_LIMIT}] seconds, got {seconds}")
        now = int(self._clock())
        before = [0] * 6
        for second in range(now - math.ceil(seconds) + 1, now + 1):
            slot = second % WINDOW_LIMIT
            if self._stamps[slot] == second:  # the first second of the window with requests
                before = list(self._marks[slot * 6 : slot * 6 + 6])
                break
        else:
            before = list(self._classes)  # none in the window
        return Window(
            seconds,
            {name: self._classes[i + 1] - before[i + 1] for i, name in enumerate(CLASSES)},
        )

    def request_count(self, seconds: float) -> int:
        """Requests answered during the last ``seconds``."""
        return self.window(seconds).requests

    def success_rate(self, seconds: float) -> float | None:
        """Share of non-5xx answers during the last ``seconds``; None when there were none."""
        return self.window(seconds).success_rate

    def latencies(self, seconds: float | None = None) -> list[float]:
        """Recent latencies (seconds), oldest first: those of the last ``seconds``, or all kept.

        At most ``RESERVOIR`` are kept; a busy window is represented by its most recent ones.
        """
        kept = min(sum(self._classes), RESERVOIR)
        order = range(self._next - kept, self._next)  # oldest first (negative indexes wrap)
        if seconds is None:
            return [self._latency[i] for i in order]
        since = self._clock() - seconds
        return [self._latency[i] for i in order if self._at[i] >= since]

    def latency_percentile(self, quantile: float, seconds: float | None = None) -> float | None:
        """The latency below which ``quantile`` (0-1) of recent requests fall; None if none."""
        if not 0 <= quantile <= 1:
            raise ValueError(f"quantile must be between 0 and 1, got {quantile}")
        values = sorted(self.latencies(seconds))
        if not values:
            return None
        rank = max(1, math.ceil(quantile * len(values)))  # nearest rank
        return values[rank - 1]


class ServiceStats:
    """Per-ReplicaSet stats of one Service, shared by the proxies of all its ports."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._by_replicaset: dict[str, ReplicaSetStats] = {}

    def record(self, replicaset: str, status: int, latency: float, now: float) -> None:
        """One request answered by an endpoint of ``replicaset``."""
        stats = self._by_replicaset.get(replicaset)
        if stats is None:
            stats = self._by_replicaset[replicaset] = ReplicaSetStats(replicaset, self._clock)
        stats.record(status, latency, now)

    def snapshot(self) -> dict[str, ReplicaSetStats]:
        """The stats of every ReplicaSet that served a request, by pod-template-hash."""
        return dict(self._by_replicaset)
