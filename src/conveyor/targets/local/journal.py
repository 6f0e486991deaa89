"""Where the local runtime keeps its own state, so that a restarted Conveyor finds it again.

The runtime (layer 3) must not import the store (layer 5), so it declares what it needs here
and the store implements it; the edges (CLI, server) wire the two together.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from conveyor.model.objects import Object


@dataclass
class RuntimeState:
    """What the runtime had when it last stopped."""

    objects: list[Object] = field(default_factory=list)
    """Every stored object, status included."""
    ports: dict[str, int] = field(default_factory=dict)
    """Allocated Service ports by owner (``namespace/name/portName``), kept across restarts."""


class StateJournal(Protocol):
    """Durable, buffered record of the runtime's objects and ports.

    ``record_*`` calls are cheap and buffered (the runtime calls them on every change);
    ``flush`` writes everything buffered in one transaction, the latest value per key winning.
    When to flush is the runtime's (``persistence.WriteBehind``).
    """

    async def load(self) -> RuntimeState: ...

    def record_object(self, key: str, obj: Object | None) -> None:
        """Remember ``obj`` under ``key`` (``str(ObjectKey)``); None means it was deleted."""
        ...

    def record_port(self, owner: str, port: int | None) -> None:
        """Remember a Service port allocation; None releases it."""
        ...

    async def flush(self) -> None:
        """Write everything buffered. On failure, keep what was not written buffered (newer
        records win) and raise, so that the next flush writes it."""
        ...

    async def close(self) -> None:
        """Flush what is buffered and release the connection."""
        ...


class MemoryJournal:
    """A journal that forgets on exit: for tests and throwaway runtimes."""

    def __init__(self) -> None:
        self.state = RuntimeState()

    async def load(self) -> RuntimeState:
        return RuntimeState(objects=list(self.state.objects), ports=dict(self.state.ports))

    def record_object(self, key: str, obj: Object | None) -> None:
        from conveyor.model.objects import ObjectKey

        self.state.objects = [o for o in self.state.objects if str(ObjectKey.of(o)) != key]
        if obj is not None:
            self.state.objects.append(obj)

    def record_port(self, owner: str, port: int | None) -> None:
        if port is None:
            self.state.ports.pop(owner, None)
        else:
            self.state.ports[owner] = port

    async def flush(self) -> None:
        return None

    async def close(self) -> None:
        return None
