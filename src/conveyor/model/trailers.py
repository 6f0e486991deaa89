"""The commit trailers that tie a config commit to the app commit behind it.

CI write-back (``conveyor.ci.writeback``) ends each config commit it makes with trailers that
name the app repository commit the tag was built from and that commit's time; promotion
carries them over. The engine reads them off the commit it syncs, so that the deployment
record names its app commit and lead time is read from the record. One place names them for
both sides.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

APP_COMMIT_TRAILER = "Conveyor-App-Commit"
"""Trailer naming the app repository commit the tag was built from."""
APP_COMMIT_DATE_TRAILER = "Conveyor-App-Commit-Date"
"""Trailer with the app commit's time (ISO 8601): lead time runs from it."""
PREFIX = "Conveyor-"
"""Every trailer Conveyor writes starts so; others are not read."""


@dataclass(frozen=True)
class AppCommit:
    """The app commit a config commit names (``sha`` "" when it names none)."""

    sha: str = ""
    at: datetime | None = None
    """Its time (UTC), None when not given or not a time."""


def parse(text: str) -> dict[str, str]:
    """``Key: value`` lines (``git show --format=%(trailers:only,unfold)``) whose key starts
    with ``Conveyor-``; the last of a repeated key wins."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.startswith(PREFIX):
            found[key.strip()] = value.strip()
    return found


def app_commit(trailers: Mapping[str, str]) -> AppCommit:
    """The app commit (and its time) that ``trailers`` name."""
    sha = trailers.get(APP_COMMIT_TRAILER, "")
    at: datetime | None = None
    text = trailers.get(APP_COMMIT_DATE_TRAILER, "")
    if sha and text:
        try:
            at = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            at = None
        else:
            at = at.astimezone(UTC) if at.tzinfo else at.replace(tzinfo=UTC)
    return AppCommit(sha, at)
