"""Time, injected: controllers ask a Clock so that tests can control it.

``monotonic`` drives timers and backoff; ``now`` stamps objects (creationTimestamp,
lastTransitionTime) in Kubernetes' RFC 3339 form.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    """The two readings of time the runtime needs."""

    def monotonic(self) -> float: ...

    def now(self) -> datetime: ...


class SystemClock:
    """The real clock."""

    def monotonic(self) -> float:
        return time.monotonic()

    def now(self) -> datetime:
        return datetime.now(UTC)


def rfc3339(moment: datetime) -> str:
    """Format a timestamp the way the Kubernetes API does (second precision, Z suffix)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
