"""Ports on 127.0.0.1 for Services, kept across restarts so that URLs stay the same.

A Service port gets its nodePort when the manifest sets one, else one allocated from the
Kubernetes NodePort range (30000-32767). The allocation is journaled: a restarted Conveyor
gives each Service the port it had.
"""

from __future__ import annotations

import socket

from conveyor.errors import ConflictError, ValidationError
from conveyor.targets.local.journal import StateJournal

NODE_PORT_RANGE = range(30000, 32768)


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """True when nothing listens on ``host:port`` (we could bind it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


class PortAllocator:
    """Service ports by owner (``namespace/service/port``), from the NodePort range."""

    def __init__(self, journal: StateJournal, allocated: dict[str, int] | None = None) -> None:
        self._journal = journal
        self._by_owner: dict[str, int] = dict(allocated or {})
        self._next = NODE_PORT_RANGE.start

    def get(self, owner: str) -> int | None:
        """The port ``owner`` holds, if any."""
        return self._by_owner.get(owner)

    def allocate(self, owner: str, requested: int | None = None) -> int:
        """The port for ``owner``: the requested nodePort, the one it had, or a free one."""
        held = self._by_owner.get(owner)
        if requested is not None:
            if requested not in NODE_PORT_RANGE:
                raise ValidationError(
                    f"nodePort {requested} is outside the range "
                    f"{NODE_PORT_RANGE.start}-{NODE_PORT_RANGE.stop - 1}; pick one inside it "
                    "or leave nodePort out to get one allocated",
                    obj=owner,
                )
            if held == requested:
                return held
            holder = next((o for o, p in self._by_owner.items() if p == requested), None)
            if holder is not None:
                raise ConflictError(
                    f"nodePort {requested} is already allocated to {holder}", obj=owner
                )
            return self._take(owner, requested)
        if held is not None:
            return held
        used = set(self._by_owner.values())
        for _ in range(len(NODE_PORT_RANGE)):
            candidate = self._next
            self._next = (
                candidate + 1 if candidate + 1 < NODE_PORT_RANGE.stop else NODE_PORT_RANGE.start
            )
            if candidate not in used and port_is_free(candidate):
                return self._take(owner, candidate)
        raise ConflictError("no free port left in the NodePort range", obj=owner)

    def release(self, owner: str) -> None:
        """Give ``owner``'s port back."""
        if self._by_owner.pop(owner, None) is not None:
            self._journal.record_port(owner, None)

    def owners(self, prefix: str) -> list[str]:
        """Owners whose name starts with ``prefix`` (a Service's ports)."""
        return sorted(o for o in self._by_owner if o.startswith(prefix))

    def _take(self, owner: str, port: int) -> int:
        self._by_owner[owner] = port
        self._journal.record_port(owner, port)
        return port
