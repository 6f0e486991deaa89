"""Host ports for containers: each container gets its own free port on 127.0.0.1.

Host processes share one network namespace, so two replicas cannot both listen on their
declared containerPort. Instead every container gets a free port (the kernel's choice for a
bind to port 0), handed to it as ``PORT``; the first declared containerPort is remapped to it
and further declared ports get their own, as ``PORT_<containerPort>``. The book remembers the
ports handed out so that two containers never get the same one before either binds it.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


class HostPortBook:
    """Free ports handed out to containers, until they are released."""

    def __init__(self) -> None:
        self._taken: set[int] = set()

    def allocate(self) -> int:
        """A port nothing listens on now and that no other container holds."""
        for _ in range(100):
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                sock.bind(("127.0.0.1", 0))
                port = int(sock.getsockname()[1])
            if port not in self._taken:
                self._taken.add(port)
                return port
        raise OSError("no free port on 127.0.0.1")

    def release(self, ports: Iterable[int]) -> None:
        """Give ports back."""
        self._taken.difference_update(ports)


@dataclass
class ContainerPorts:
    """One container's host ports: the primary ``PORT`` and the remapped declared ports."""

    primary: int
    by_number: dict[int, int] = field(default_factory=dict)
    by_name: dict[str, int] = field(default_factory=dict)

    @classmethod
    def allocate(cls, book: HostPortBook, declared: Iterable[Mapping[str, Any]]) -> ContainerPorts:
        """Ports for a container declaring ``declared`` (its ``ports`` list)."""
        ports = cls(primary=book.allocate())
        for index, item in enumerate(declared):
            try:
                number = int(item.get("containerPort"))  # type: ignore[arg-type]
            except (TypeError, ValueError):
                continue
            if number in ports.by_number:
                host = ports.by_number[number]
            else:
                host = ports.primary if index == 0 else book.allocate()
                ports.by_number[number] = host
            name = item.get("name")
            if name and name not in ports.by_name:
                ports.by_name[str(name)] = host
        return ports

    def all(self) -> set[int]:
        """Every host port this container holds."""
        return {self.primary, *self.by_number.values()}

    def env(self) -> dict[str, str]:
        """``PORT`` and ``PORT_<containerPort>`` for the container's environment."""
        out = {"PORT": str(self.primary)}
        out.update({f"PORT_{number}": str(host) for number, host in sorted(self.by_number.items())})
        return out

    def lookup(self, port: int | str) -> int | None:
        """The host port for a declared port number or name; None when not declared."""
        if isinstance(port, str) and not port.isdigit():
            return self.by_name.get(port)
        return self.by_number.get(int(port))

    def resolve(self, port: int | str) -> int | None:
        """Like ``lookup``, but a port number nobody declared means the container's ``PORT``.

        Apps here listen on PORT, so a probe on an undeclared number can only mean that one.
        """
        found = self.lookup(port)
        if found is None and (isinstance(port, int) or str(port).isdigit()):
            return self.primary
        return found
