"""The notifications' durable parts: applied configuration, notified state, and the outbox.

A notification is written to the outbox, together with the state key that says it was
triggered, in one transaction before anything is sent: a crash after that sends it after the
restart, and never triggers it twice. The sender takes due rows, and records each attempt's
outcome: ``sent``, ``pending`` again with the time of the next try and the error, or ``dead``
after the last try. Sent rows are trimmed to the newest ``KEEP_SENT``; dead ones are kept
until the configuration or an operator removes them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select

from conveyor.store.db import Database
from conveyor.store.deployments import as_utc
from conveyor.store.tables import (
    NotificationConfigRow,
    NotificationOutboxRow,
    NotificationStateRow,
)

PENDING = "pending"
SENT = "sent"
DEAD = "dead"
KEEP_SENT = 1000
"""Sent notifications kept for ``GET /api/v1/notifications`` (the newest)."""
KEEP_STATE = 500
"""Notified keys kept per subject (oncePer values add one per revision): the newest, as
Argo CD trims its notified-state annotation."""


@dataclass(frozen=True)
class OutboxInput:
    key: str
    """The notified-state key recorded with it."""
    subject: str
    trigger: str
    service: str
    recipient: str
    body: dict[str, Any]
    app: str = ""
    """The app it concerns (for a Rollout's, the app tracking it)."""


@dataclass(frozen=True)
class OutboxEntry:
    id: int
    created_at: datetime
    subject: str
    app: str
    trigger: str
    service: str
    recipient: str
    body: dict[str, Any]
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str
    sent_at: datetime | None

    def to_dict(self) -> dict[str, Any]:
        def stamp(moment: datetime | None) -> str | None:
            return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None

        return {
            "id": self.id, "createdAt": stamp(self.created_at), "subject": self.subject,
            "app": self.app,
            "trigger": self.trigger, "service": self.service, "recipient": self.recipient,
            "templates": self.body.get("templates", []), "status": self.status,
            "attempts": self.attempts, "nextAttemptAt": stamp(self.next_attempt_at),
            "lastError": self.last_error, "sentAt": stamp(self.sent_at),
        }  # fmt: skip


def _entry(row: NotificationOutboxRow) -> OutboxEntry:
    return OutboxEntry(
        id=row.id, created_at=as_utc(row.created_at), subject=row.subject, app=row.app,
        trigger=row.trigger, service=row.service, recipient=row.recipient, body=dict(row.body),
        status=row.status, attempts=row.attempts, next_attempt_at=as_utc(row.next_attempt_at),
        last_error=row.last_error, sent_at=as_utc(row.sent_at) if row.sent_at else None,
    )  # fmt: skip


class NotificationStore:
    """What the notifier, its sender and the API keep and read."""

    def __init__(
        self, database: Database, *, keep_sent: int = KEEP_SENT, keep_state: int = KEEP_STATE
    ) -> None:
        self._db = database
        self._keep_sent = keep_sent
        self._keep_state = keep_state

    # -- configuration -----------------------------------------------------------------------

    async def configs(self) -> dict[str, dict[str, str]]:
        """Every applied ConfigMap's and Secret's data, by name."""
        async with self._db.sessions() as session:
            rows = await session.scalars(select(NotificationConfigRow))
            return {row.name: {str(k): str(v) for k, v in row.data.items()} for row in rows}

    async def save_config(self, name: str, kind: str, data: dict[str, str], at: datetime) -> bool:
        """Store ``name``'s data; True when it was created, False when replaced."""
        async with self._db.writing(), self._db.sessions() as session, session.begin():
            row = await session.get(NotificationConfigRow, name)
            created = row is None
            if row is None:
                row = NotificationConfigRow(name=name)
                session.add(row)
            row.kind, row.data, row.updated_at = kind, dict(data), as_utc(at)
            return created

    async def delete_config(self, name: str) -> bool:
        async with self._db.writing(), self._db.sessions() as session, session.begin():
            result = await session.execute(
                delete(NotificationConfigRow).where(NotificationConfigRow.name == name)
            )
            return bool(getattr(result, "rowcount", 0))

    # -- notified state and the outbox -------------------------------------------------------

    async def notified(self) -> set[str]:
        async with self._db.sessions() as session:
            return set(await session.scalars(select(NotificationStateRow.key)))

    async def record(
        self,
        send: Iterable[OutboxInput],
        forget: Iterable[str],
        at: datetime,
        *,
        rejected: dict[str, str] | None = None,
    ) -> None:
        """In one transaction: the keys of ``send`` recorded and their rows queued, the
        ``forget`` keys removed. ``rejected`` (key -> why) rows go straight to dead."""
        moment = as_utc(at)
        rejected = rejected or {}
        async with self._db.writing(), self._db.sessions() as session, session.begin():
            gone = list(forget)
            if gone:
                await session.execute(
                    delete(NotificationStateRow).where(NotificationStateRow.key.in_(gone))
                )
            for item in send:
                if await session.get(NotificationStateRow, item.key) is None:
                    session.add(
                        NotificationStateRow(key=item.key, subject=item.subject, created_at=moment)
                    )
                why = rejected.get(item.key)
                session.add(
                    NotificationOutboxRow(
                        created_at=moment, subject=item.subject, app=item.app,
                        trigger=item.trigger,
                        service=item.service, recipient=item.recipient, body=item.body,
                        status=DEAD if why else PENDING, attempts=0, next_attempt_at=moment,
                        last_error=why or "", sent_at=None,
                    )
                )  # fmt: skip
            for subject in {item.subject for item in send}:
                await self._trim_state(session, subject)

    async def _trim_state(self, session: Any, subject: str) -> None:
        await session.flush()
        keep = (
            select(NotificationStateRow.key)
            .where(NotificationStateRow.subject == subject)
            .order_by(NotificationStateRow.created_at.desc(), NotificationStateRow.key)
            .limit(self._keep_state)
        )
        await session.execute(
            delete(NotificationStateRow).where(
                NotificationStateRow.subject == subject, NotificationStateRow.key.not_in(keep)
            )
        )

    async def forget_subject(self, subject: str) -> None:
        """Remove a deleted object's notified state (a new one of that name starts afresh)."""
        async with self._db.writing(), self._db.sessions() as session, session.begin():
            await session.execute(
                delete(NotificationStateRow).where(NotificationStateRow.subject == subject)
            )

    async def due(self, now: datetime, limit: int = 20) -> list[OutboxEntry]:
        """Pending rows whose time has come, oldest first."""
        query = (
            select(NotificationOutboxRow)
            .where(
                NotificationOutboxRow.status == PENDING,
                NotificationOutboxRow.next_attempt_at <= as_utc(now),
            )
            .order_by(NotificationOutboxRow.id)
            .limit(limit)
        )
        async with self._db.sessions() as session:
            return [_entry(row) for row in await session.scalars(query)]

    async def next_due(self) -> datetime | None:
        """When the earliest pending row is due (None: nothing pending)."""
        async with self._db.sessions() as session:
            moment = await session.scalar(
                select(func.min(NotificationOutboxRow.next_attempt_at)).where(
                    NotificationOutboxRow.status == PENDING
                )
            )
            return as_utc(moment) if moment is not None else None

    async def attempted(
        self, entry_id: int, *, status: str, attempts: int, error: str, at: datetime,
        next_at: datetime | None = None,
    ) -> None:  # fmt: skip
        """Record one attempt's outcome (``sent``, ``pending`` with ``next_at``, ``dead``)."""
        async with self._db.writing(), self._db.sessions() as session, session.begin():
            row = await session.get(NotificationOutboxRow, entry_id)
            if row is None:
                return
            row.status, row.attempts, row.last_error = status, attempts, error
            if status == SENT:
                row.sent_at = as_utc(at)
            if next_at is not None:
                row.next_attempt_at = as_utc(next_at)
            if status == SENT:
                await self._trim(session)

    async def _trim(self, session: Any) -> None:
        cutoff = await session.scalar(
            select(NotificationOutboxRow.id)
            .where(NotificationOutboxRow.status == SENT)
            .order_by(NotificationOutboxRow.id.desc())
            .offset(self._keep_sent)
            .limit(1)
        )
        if cutoff is not None:
            await session.execute(
                delete(NotificationOutboxRow).where(
                    NotificationOutboxRow.status == SENT, NotificationOutboxRow.id <= cutoff
                )
            )

    async def listing(
        self, *, status: str | None = None, app: str | None = None, limit: int = 100
    ) -> list[OutboxEntry]:
        """The newest ``limit`` rows (of one status, of one app), newest first."""
        query = select(NotificationOutboxRow)
        if status is not None:
            query = query.where(NotificationOutboxRow.status == status)
        if app is not None:
            query = query.where(NotificationOutboxRow.app == app)
        query = query.order_by(NotificationOutboxRow.id.desc()).limit(limit)
        async with self._db.sessions() as session:
            return [_entry(row) for row in await session.scalars(query)]
