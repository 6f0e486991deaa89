"""Restart and retry delays as the kubelet shows them (``back-off 20s restarting ...``).

The delays themselves come from the shared ``conveyor.backoff.Backoff`` (immediate first
restart, then 10 s, 20 s, ... 5 min; image pulls without the immediate first retry), re-exported
here for the kubelet's modules; this module formats them as Go prints durations.
"""

from __future__ import annotations

from conveyor.backoff import Backoff

__all__ = ["Backoff", "format_duration"]


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
