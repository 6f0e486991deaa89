"""Restart and retry delays, as the kubelet computes them (pure, no clock of its own).

A crashing container restarts at once the first time, then after ``base``, ``2*base``, ...
up to ``cap`` (the kubelet's 10 s, 20 s, ... 5 min). An instance that ran for
``reset_after`` seconds before exiting was healthy: its next restart is immediate again.
Image pulls use the same doubling without the immediate first retry.
"""

from __future__ import annotations

import math


class Backoff:
    """Exponential delays with an optional immediate first step and a reset after good runs."""

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
        return float(min(self._cap, self._base * (2.0 ** min(step, 64))))

    def reset(self) -> None:
        """Start again from the first step."""
        self._failures = 0


def format_duration(seconds: float) -> str:
    """A duration as Go prints it (``10s``, ``1m20s``, ``5m0s``, ``200ms``), as kubelet does."""
    if seconds <= 0:
        return "0s"
    if seconds < 1:
        millis = round(seconds * 1000, 3)
        return f"{_trim(millis)}ms"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{_trim(round(secs, 3))}s"
    if hours:
        return f"{int(hours)}h{int(minutes)}m{text}"
    if minutes:
        return f"{int(minutes)}m{text}"
    return text


def _trim(value: float) -> str:
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return text or "0"
