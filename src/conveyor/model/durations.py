"""Durations as Argo CD writes them: ``"5s"``, ``"2m"``, ``"1h30m"``, or whole seconds.

Argo CD parses retry backoffs with Go's ``time.ParseDuration`` and also takes a plain number
of seconds. A manifest keeps the value as written (a string, or an int for whole seconds) so
that it round-trips; ``parse_duration`` turns it into a ``timedelta`` where it is used.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import PlainValidator

_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
MAX_HOURS = 2_562_047
"""Go's ``time.Duration`` holds at most 2562047h47m16.854775807s."""
MAX_SECONDS = MAX_HOURS * 3600.0

_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")


def parse_duration(value: str | int) -> timedelta:
    """``"30"`` or ``30`` (seconds), ``"5s"``, ``"2m"``, ``"1h30m"`` -> timedelta.

    Raises ValueError saying what is accepted.
    """
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return _bounded(value, value)
    text = value.strip() if isinstance(value, str) else ""
    if text.isdigit():
        return _bounded(int(text), value)
    parts = _PART.findall(text)
    if not text or "".join(n + u for n, u in parts) != text:
        raise ValueError(
            f"'{value}' is not a duration: write a number with a unit (s, m or h),"
            " e.g. 5s, 2m, 1h, or whole seconds"
        )
    return _bounded(sum(float(n) * _UNITS[u] for n, u in parts), value)


def _bounded(seconds: float, value: str | int) -> timedelta:
    """Go's durations stop at ~292 years; longer ones (or overflowing ones) are refused."""
    if not seconds <= MAX_SECONDS:
        raise ValueError(f"'{value}' is too long a duration: the longest is {MAX_HOURS}h")
    return timedelta(seconds=seconds)


def _validate(value: Any) -> str | int:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError(f"'{value}' is not a duration: write e.g. 5s, 2m or 1h")
    parse_duration(value)
    return value


Duration = Annotated[str | int, PlainValidator(_validate)]
"""A manifest field holding a duration, kept as written."""


_WINDOW = re.compile(r"(\d+)([dw])")
MAX_WINDOW = timedelta(days=3660)


def parse_window(value: str) -> timedelta:
    """A reporting window: ``30d``, ``2w``, or a duration (``12h``, ``90m``); at most ten
    years, more than nothing. Raises ValueError saying what is accepted."""
    text = value.strip()
    match = _WINDOW.fullmatch(text)
    try:
        if match:
            count, unit = int(match.group(1)), match.group(2)
            window = timedelta(days=count * (7 if unit == "w" else 1))
        else:
            window = parse_duration(text)
    except (ValueError, OverflowError) as err:
        raise ValueError(
            f"window {value!r} is not like 30d, 2w or 12h (days, weeks, or a duration)"
        ) from err
    if not timedelta(0) < window <= MAX_WINDOW:
        raise ValueError(f"window {value!r} must be longer than 0 and at most 3660d")
    return window
