"""Exponential backoff, one definition for every retry Conveyor schedules.

Sync retries (``spec.syncPolicy.retry.backoff``: 5 s, 10 s, ... up to 3 min), self-heal, the
kubelet's container restarts (10 s, 20 s, ... 5 min) and image pulls, and a Job's replacement
of failed Pods all wait ``base * factor ** n``, capped. The arithmetic lives here so that they
agree on it (and on not overflowing for a large ``n`` or factor); each caller keeps its own
defaults. Pure: no clock, no sleeping.
"""

from __future__ import annotations

import math


def exponential_delay(attempt: int, base: float, cap: float, factor: float = 2.0) -> float:
    """Seconds before try ``attempt`` (0-based): ``base * factor ** attempt``, at most ``cap``."""
    try:
        delay = base * float(factor) ** min(max(attempt, 0), 64)
    except OverflowError:
        return float(cap)
    return float(min(delay, cap))


class Backoff:
    """Exponential delays with an optional immediate first step and a reset after good runs.

    The kubelet's way: a crashing container restarts at once the first time, then after
    ``base``, ``2*base``, ... up to ``cap``; an instance that ran for ``reset_after`` seconds
    before exiting was healthy, and its next restart is immediate again.
    """

    def __init__(
        self,
        base: float,
        cap: float,
        *,
        reset_after: float = math.inf,
        immediate_first: bool = True,
    ) -> None:
        self._base = base
        self._cap = cap
        self._reset_after = reset_after
        self._immediate_first = immediate_first
        self._failures = 0

    @property
    def failures(self) -> int:
        """How many delays were handed out since the last reset."""
        return self._failures

    def next_delay(self, ran_for: float | None = None) -> float:
        """The delay before the next attempt; ``ran_for`` is how long the last attempt lasted."""
        if ran_for is not None and ran_for >= self._reset_after:
            self._failures = 0
        step = self._failures - 1 if self._immediate_first else self._failures
        self._failures += 1
        if step < 0:
            return 0.0
        return exponential_delay(step, self._base, self._cap)

    def reset(self) -> None:
        """Start again from the first step."""
        self._failures = 0
