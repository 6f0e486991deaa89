"""The API server's refusals, turned into Conveyor's errors with messages a person can act on.

A Kubernetes API error is a ``Status`` object: ``code``, ``reason``, ``message`` and
``details.causes`` (one per field). Each becomes the error that decides what happens next:

    403 Forbidden        -> ForbiddenError (permanent): the RBAC message, and what to grant
    401 Unauthorized     -> ForbiddenError (permanent): the credentials are not accepted
    404 NotFound         -> NotFoundError (permanent)
    409 Conflict         -> ApplyConflictError (permanent): the fields and the managers owning them
    422 Invalid          -> ValidationError (permanent): each field and why
    429 TooManyRequests  -> ThrottledError (temporary), delay = Retry-After
    5xx, no connection   -> TemporaryError

The messages quote the server's, which never carry a Secret's values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from conveyor.errors import (
    ConflictError,
    ConveyorError,
    NotFoundError,
    PermanentError,
    TemporaryError,
    ValidationError,
)

DEFAULT_RETRY_AFTER = 1.0
MAX_RETRY_AFTER = 60.0
SERVER_ERROR_DELAY = 5.0

_CONFLICT = re.compile(
    r'conflict with "(?P<manager>[^"]+)"(?: using (?P<version>\S+))?:\s*(?P<field>\S+)'
)


class ForbiddenError(PermanentError):
    """The cluster refused Conveyor: its RBAC does not allow the verb, or the credentials
    are not accepted."""


@dataclass(frozen=True)
class FieldConflict:
    """A field another field manager owns (server-side apply's conflict)."""

    field: str
    manager: str


class ApplyConflictError(ConflictError):
    """Server-side apply refused to take fields another manager owns (force=false)."""

    def __init__(self, message: str, *, obj: str | None, conflicts: list[FieldConflict]) -> None:
        super().__init__(message, obj=obj)
        self.conflicts = conflicts


class ThrottledError(TemporaryError):
    """429: the API server asks to wait ``delay`` seconds (its Retry-After)."""


class GoneError(TemporaryError):
    """410 Gone: a watch's resourceVersion is too old; list again."""


def retry_after(headers: Any) -> float:
    """Seconds the server asks to wait (``Retry-After`` in seconds), within bounds."""
    try:
        value = float(headers.get("Retry-After", DEFAULT_RETRY_AFTER))
    except (TypeError, ValueError):
        return DEFAULT_RETRY_AFTER
    return min(max(value, 0.0), MAX_RETRY_AFTER)


def _causes(status: dict[str, Any]) -> list[dict[str, str]]:
    details = status.get("details") or {}
    causes = details.get("causes") if isinstance(details, dict) else None
    return [c for c in causes or [] if isinstance(c, dict)]


def conflicts_of(status: dict[str, Any]) -> list[FieldConflict]:
    """The (field, manager) pairs of a server-side apply conflict."""
    found: list[FieldConflict] = []
    for cause in _causes(status):
        match = _CONFLICT.search(str(cause.get("message", "")))
        if match:
            field = str(cause.get("field") or match["field"])
            found.append(FieldConflict(field, match["manager"]))
    if not found:  # older servers say it in the message only
        for match in _CONFLICT.finditer(str(status.get("message", ""))):
            found.append(FieldConflict(match["field"], match["manager"]))
    return found


def translate(
    code: int, status: dict[str, Any] | None, headers: Any, *, what: str
) -> ConveyorError:
    """The Conveyor error for an API server's answer ``code`` with its Status body."""
    status = status if isinstance(status, dict) else {}
    message = str(status.get("message") or status.get("reason") or f"HTTP {code}")
    reason = str(status.get("reason") or "")
    if code == 401:
        return ForbiddenError(
            f"the cluster does not accept Conveyor's credentials (401 Unauthorized): {message}; "
            "register the cluster again with valid credentials (conveyor cluster add)",
            obj=what,
        )
    if code == 403:
        return ForbiddenError(
            f"forbidden by the cluster's RBAC: {message}. Grant Conveyor's identity that verb "
            "on that resource (deploy/kubernetes has the ClusterRole Conveyor needs)",
            obj=what,
        )
    if code == 404:
        return NotFoundError(message, obj=what)
    if code == 409:
        conflicts = conflicts_of(status)
        if conflicts:
            fields = ", ".join(f"{c.field} (owned by {c.manager!r})" for c in conflicts)
            return ApplyConflictError(
                f"server-side apply conflict: {fields}. Conveyor does not take fields from "
                "another field manager; remove them from Git, have that manager release them, "
                "or sync with Replace=true",
                obj=what,
                conflicts=conflicts,
            )
        return ConflictError(f"{reason or 'Conflict'}: {message}", obj=what)
    if code == 410:
        return GoneError(f"resource version too old: {message}", obj=what, delay=0.0)
    if code == 422:
        causes = [
            f"{c.get('field') or '?'}: {c.get('message') or c.get('reason') or 'invalid'}"
            for c in _causes(status)
        ]
        detail = "; ".join(causes) if causes else message
        return ValidationError(f"the cluster refused the object as invalid: {detail}", obj=what)
    if code == 429:
        delay = retry_after(headers)
        return ThrottledError(
            f"the cluster's API server is throttling requests (429 TooManyRequests): {message}; "
            f"retrying after {delay:g}s",
            obj=what,
            delay=delay,
        )
    if code >= 500:
        return TemporaryError(
            f"the cluster's API server failed ({code} {reason or 'InternalError'}): {message}",
            obj=what,
            delay=SERVER_ERROR_DELAY,
        )
    return ValidationError(
        f"the cluster refused the request ({code} {reason}): {message}", obj=what
    )
