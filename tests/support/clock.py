"""A clock the test moves by hand (``conveyor.clock.Clock``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class ManualClock:
    """Monotonic seconds and wall time that move only when the test says so."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
        self._monotonic = 1000.0

    def monotonic(self) -> float:
        return self._monotonic

    def now(self) -> datetime:
        return self._now

    def advance(self, seconds: float) -> None:
        self._monotonic += seconds
        self._now += timedelta(seconds=seconds)
