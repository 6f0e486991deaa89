"""The local runtime's StateJournal, kept in the store so that a restarted Conveyor finds it.

The runtime records every change to an object or a Service port; doing a database write per
change would make the runtime as slow as the disk. So ``record_*`` only remembers the latest
value per key in memory (O(1)), and ``flush`` writes everything remembered in one
transaction: a delete of every touched key followed by one batched insert of the rows that
still exist. Delete-then-insert is plain SQL on every dialect and never trips the UNIQUE
port constraint halfway through (a port can move from one owner to another in one batch).
When to flush is the runtime's decision (``targets.local.persistence.WriteBehind``: in the
background shortly after a change, or at once before acting on a decision that must survive
a crash); a failed flush keeps the batch buffered for the next one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import DBAPIError, IntegrityError, StatementError
from sqlalchemy.ext.asyncio import AsyncConnection

from conveyor.clock import Clock, SystemClock
from conveyor.errors import ConflictError, TemporaryError, ValidationError
from conveyor.model.objects import Object
from conveyor.store.db import Database, dumps_json
from conveyor.store.leases import Fence
from conveyor.store.tables import RuntimeObject, RuntimePort
from conveyor.targets.local.journal import RuntimeState

_T = TypeVar("_T")
_Objects = dict[str, tuple[Object | None, datetime]]
"""Buffered object records: key -> (object or None when deleted, when it was recorded)."""
# Keys per ``IN (...)`` clause: far below every dialect's bound-parameter limit.
_CHUNK = 500
_PORTS = range(1, 65536)


def _chunks(items: Sequence[_T]) -> Iterator[Sequence[_T]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


class RuntimeStateStore:
    """Buffered StateJournal on a Database (the runtime_objects and runtime_ports tables).

    The store does not own the Database: ``close`` flushes, and whoever opened the Database
    closes it.
    """

    def __init__(
        self, database: Database, *, clock: Clock | None = None, fence: Fence | None = None
    ) -> None:
        """``fence``: the lease this process writes under (several servers, one database)."""
        self._db = database
        self._fence = fence
        self._clock = clock or SystemClock()
        self._objects: _Objects = {}
        self._ports: dict[str, int | None] = {}
        # Which owner holds which port, as far as this process knows (loaded + recorded):
        # lets record_port refuse a duplicate at once instead of at the next flush.
        self._port_holder: dict[int, str] = {}
        self._owner_port: dict[str, int] = {}
        self._lock = asyncio.Lock()

    # -- StateJournal ----------------------------------------------------------------------

    async def load(self) -> RuntimeState:
        """Everything stored, objects sorted by key; buffered changes are flushed first."""
        await self.flush()
        async with self._db.engine.connect() as conn:
            bodies = await conn.scalars(select(RuntimeObject.body).order_by(RuntimeObject.key))
            objects: list[Object] = list(bodies)
            rows = await conn.execute(
                select(RuntimePort.owner, RuntimePort.port).order_by(RuntimePort.owner)
            )
            ports = {owner: port for owner, port in rows}
        self._owner_port = dict(ports)
        for owner, pending in self._ports.items():  # recorded while we were reading
            if pending is None:
                self._owner_port.pop(owner, None)
            else:
                self._owner_port[owner] = pending
        self._port_holder = {port: owner for owner, port in self._owner_port.items()}
        return RuntimeState(objects=objects, ports=ports)

    def record_object(self, key: str, obj: Object | None) -> None:
        """Remember ``obj`` under ``key`` (None: deleted); written at the next flush."""
        self._objects[key] = (obj, self._clock.now())

    def record_port(self, owner: str, port: int | None) -> None:
        """Remember ``owner``'s port (None: released); written at the next flush.

        Raises ConflictError when another owner is known to hold ``port``.
        """
        if port is not None:
            if isinstance(port, bool) or not isinstance(port, int) or port not in _PORTS:
                raise ValidationError(f"port must be an integer 1-65535, not {port!r}", obj=owner)
            holder = self._port_holder.get(port)
            if holder is not None and holder != owner:
                raise ConflictError(f"port {port} is already allocated to {holder}", obj=owner)
        self._forget_port(owner)
        if port is not None:
            self._owner_port[owner] = port
            self._port_holder[port] = owner
        self._ports[owner] = port

    async def flush(self) -> None:
        """Write every buffered change in one transaction; nothing buffered, nothing done.

        On a database error the changes go back into the buffer (newer records win) and
        TemporaryError is raised. A port that another writer of the same database already
        holds is not written: the rest is committed, then ConflictError names it.
        """
        async with self._lock:
            objects, self._objects = self._objects, {}
            ports, self._ports = self._ports, {}
            if not objects and not ports:
                return
            try:
                taken = await self._write(objects, ports)
            except BaseException as exc:
                self._requeue(objects, ports)
                # SQLite's driver wraps the encoder's error in StatementError; psycopg does not.
                orig = exc.orig if isinstance(exc, StatementError) else exc
                if isinstance(orig, TypeError | ValueError):
                    raise self._unserializable(objects) from exc
                if isinstance(exc, IntegrityError):
                    raise ConflictError(
                        f"writing runtime state broke a constraint: {exc.orig}", obj=self._db.url
                    ) from exc
                if isinstance(exc, DBAPIError):
                    raise TemporaryError(
                        f"writing runtime state failed, will retry: {exc.orig}", obj=self._db.url
                    ) from exc
                raise
            if taken:
                for owner, (port, _) in taken.items():
                    if self._owner_port.get(owner) == port:
                        self._forget_port(owner)
                held = ", ".join(f"{port} (held by {other})" for port, other in taken.values())
                raise ConflictError(
                    f"ports already allocated in the database were not recorded: {held}",
                    obj=", ".join(sorted(taken)),
                )

    async def close(self) -> None:
        """Flush what is buffered."""
        await self.flush()

    @property
    def pending(self) -> int:
        """How many keys (objects and ports) wait for the next flush."""
        return len(self._objects) + len(self._ports)

    # -- internals -------------------------------------------------------------------------

    async def _write(
        self, objects: _Objects, ports: dict[str, int | None]
    ) -> dict[str, tuple[int, str]]:
        """One transaction; returns the port records skipped because another owner holds them."""
        taken: dict[str, tuple[int, str]] = {}
        async with self._db.writing(), self._db.engine.begin() as conn:
            if self._fence is not None:
                await self._fence.check(conn)
            if objects:
                keys = sorted(objects)
                for chunk in _chunks(keys):
                    await conn.execute(delete(RuntimeObject).where(RuntimeObject.key.in_(chunk)))
                rows = []
                for key in keys:
                    obj, at = objects[key]
                    if obj is not None:
                        rows.append(_object_row(key, obj, at))
                if rows:
                    await conn.execute(insert(RuntimeObject), rows)
            if ports:
                owners = sorted(ports)
                taken = await _ports_held_elsewhere(conn, ports)
                for chunk in _chunks(owners):
                    await conn.execute(delete(RuntimePort).where(RuntimePort.owner.in_(chunk)))
                port_rows = [
                    {"owner": owner, "port": ports[owner]}
                    for owner in owners
                    if ports[owner] is not None and owner not in taken
                ]
                if port_rows:
                    await conn.execute(insert(RuntimePort), port_rows)
        return taken

    def _requeue(self, objects: _Objects, ports: dict[str, int | None]) -> None:
        """Put a failed batch back under what was recorded since (the newer value wins)."""
        self._objects = {**objects, **self._objects}
        self._ports = {**ports, **self._ports}

    def _unserializable(self, objects: _Objects) -> ValidationError:
        """Drop the objects that cannot be JSON-encoded (they would fail every flush)."""
        bad = []
        for key, (obj, _) in objects.items():
            try:
                dumps_json(obj)
            except (TypeError, ValueError):
                bad.append(key)
        for key in bad:
            if self._objects.get(key, (None,))[0] is objects[key][0]:
                del self._objects[key]
        return ValidationError(
            "objects are not JSON-serializable and were not recorded; the rest will be "
            "written at the next flush",
            obj=", ".join(sorted(bad)) or None,
        )

    def _forget_port(self, owner: str) -> None:
        old = self._owner_port.pop(owner, None)
        if old is not None and self._port_holder.get(old) == owner:
            del self._port_holder[old]


def _object_row(key: str, obj: Object, at: datetime) -> dict[str, Any]:
    meta = obj.get("metadata") or {}
    # str(ObjectKey) is Kind[.group]/namespace/name, or Kind[.group]/name cluster-scoped.
    parts = key.split("/")
    return {
        "key": key,
        "api_version": str(obj.get("apiVersion") or ""),
        "kind": str(obj.get("kind") or ""),
        "namespace": parts[1] if len(parts) == 3 else "",
        "name": str(meta.get("name") or parts[-1]),
        "body": obj,
        "updated_at": at,
    }


async def _ports_held_elsewhere(
    conn: AsyncConnection, ports: dict[str, int | None]
) -> dict[str, tuple[int, str]]:
    """Ports recorded here that the database gives to an owner outside this batch.

    Returns owner -> (port, holder).
    """
    wanted = {port: owner for owner, port in ports.items() if port is not None}
    taken: dict[str, tuple[int, str]] = {}
    for chunk in _chunks(sorted(wanted)):
        rows = await conn.execute(
            select(RuntimePort.owner, RuntimePort.port).where(RuntimePort.port.in_(chunk))
        )
        for other, port in rows:
            if other not in ports:
                taken[wanted[port]] = (port, other)
    return taken
