"""Lead time per environment: from the app commit to the moment the environment served it.

DORA's lead time for changes, measured where it ends: an environment's deployment record says
when it began serving a config revision (``servedAt``); that config commit's trailers, written
by write-back and carried over by promotion, name the app commit and its time
(``Conveyor-App-Commit``, ``Conveyor-App-Commit-Date``). The difference is the lead time of
that change into that environment.

The engine reads those trailers off each commit it syncs, so the deployment record itself
names the app commit and its time (``appCommit``, ``appCommitAt``): ``from_record`` needs no
config checkout.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from conveyor.model.trailers import APP_COMMIT_DATE_TRAILER, APP_COMMIT_TRAILER


@dataclass(frozen=True)
class LeadTime:
    environment: str
    revision: str
    app_commit: str
    served_at: datetime | None
    lead_time: timedelta | None
    """None when the revision is not served yet or its app commit time is unknown."""


def lead_time(
    environment: str,
    revision: str,
    served_at: datetime | None,
    trailers: Mapping[str, str],
) -> LeadTime:
    """The lead time of ``revision`` into ``environment`` from its config commit's trailers."""
    committed: datetime | None = None
    text = trailers.get(APP_COMMIT_DATE_TRAILER, "")
    if text:
        try:
            committed = datetime.fromisoformat(text)
        except ValueError:
            committed = None
    took = served_at - committed if served_at is not None and committed is not None else None
    return LeadTime(environment, revision, trailers.get(APP_COMMIT_TRAILER, ""), served_at, took)


def _moment(text: Any) -> datetime | None:
    return datetime.fromisoformat(str(text).replace("Z", "+00:00")) if text else None


def from_record(environment: str, record: Mapping[str, Any]) -> LeadTime | None:
    """The lead time of one deployment record (``/api/v1/deployments``' shape); None when
    the record names no app commit (its config commit had no trailers)."""
    if not record.get("appCommit"):
        return None
    served, committed = _moment(record.get("servedAt")), _moment(record.get("appCommitAt"))
    took = served - committed if served is not None and committed is not None else None
    return LeadTime(
        environment, str(record.get("revision", "")), str(record["appCommit"]), served, took
    )
