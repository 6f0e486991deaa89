"""``resources.limits`` (memory, cpu) applied to host processes where the machine allows it.

Preferred: cgroup v2. When ``/sys/fs/cgroup`` is the unified hierarchy and Conveyor's own
cgroup is writable with the ``memory``/``cpu`` controllers delegated to its children (Conveyor
as root of a container's cgroup namespace, or under a systemd unit with ``Delegate=yes`` that
enabled them), each container gets a child cgroup with ``memory.max`` and ``cpu.max``; the
process moves itself into it before exec, so every child it forks is limited too, and an
OOM kill is reported as ``OOMKilled``.

Fallback on Linux: the memory limit becomes ``RLIMIT_DATA`` (heap and private mappings; the
stricter ``RLIMIT_AS`` breaks Python, which reserves address space it never touches). An
allocation over the limit fails inside the process (Python raises MemoryError) instead of
an OOM kill, so the exit shows as Error. CPU has no rlimit equivalent (RLIMIT_CPU kills after
a total of CPU seconds), so a cpu limit is not enforced.

Where neither works (no delegated cgroup v2 and not Linux), limits are recorded but not
enforced. Which of these happened is told once per container in a ``ResourceLimits`` event.

Never enforced, on any machine: ``requests`` (there is no scheduler; they only feed
``resourceFieldRef``), ``ephemeral-storage``, ``hugepages-*`` and extended resources. With the
rlimit fallback, the memory limit applies to each process on its own (a child forked by the
container gets its own allowance, not a share of one total), and it does not count shared or
file-backed memory, so it is looser than a cgroup's.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conveyor.errors import ValidationError
from conveyor.model.quantity import cpu_millis, memory_bytes

CGROUP_ROOT = Path("/sys/fs/cgroup")
CPU_PERIOD_US = 100_000
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


@dataclass(frozen=True)
class LimitPlan:
    """How one container's limits are enforced; the container's spawn applies it."""

    memory: str | None
    cpu: str | None
    rlimit_data: int | None
    """Set as RLIMIT_DATA (soft and hard) in the child before exec."""
    cgroup: Path | None
    """The child cgroup the process joins before exec."""
    message: str
    """What was applied, for the ResourceLimits event."""
    enforced: bool
    """False when some declared limit could not be enforced."""

    def oom_kills(self) -> int:
        """OOM kills so far in the container's cgroup (0 without one)."""
        if self.cgroup is None:
            return 0
        try:
            text = (self.cgroup / "memory.events").read_text()
        except OSError:
            return 0
        for line in text.splitlines():
            name, _, count = line.partition(" ")
            if name == "oom_kill":
                return int(count or 0)
        return 0

    def cleanup(self) -> None:
        """Remove the container's cgroup (once its processes are gone)."""
        if self.cgroup is not None:
            with contextlib.suppress(OSError):
                self.cgroup.rmdir()


def plan_limits(resources: Mapping[str, Any] | None, *, owner: str) -> LimitPlan | None:
    """Apply what can be applied of ``resources.limits``; None when no limit is declared.

    ``owner`` names the cgroup (pod uid and container name). Raises ValidationError for a
    quantity that does not parse.
    """
    limits = (resources or {}).get("limits") or {}
    memory = limits.get("memory")
    cpu = limits.get("cpu")
    if memory is None and cpu is None:
        return None
    mem_bytes = memory_bytes(memory) if memory is not None else None
    millis = cpu_millis(cpu) if cpu is not None else None
    if (mem_bytes is not None and mem_bytes <= 0) or (millis is not None and millis <= 0):
        raise ValidationError("resources.limits must be positive")
    wanted = ", ".join(
        part
        for part in (
            f"memory limit {memory}" if memory is not None else "",
            f"cpu limit {cpu}" if cpu is not None else "",
        )
        if part
    )

    cgroup = _make_cgroup(owner, mem_bytes, millis)
    if cgroup is not None:
        return LimitPlan(
            str(memory) if memory is not None else None,
            str(cpu) if cpu is not None else None,
            None,
            cgroup,
            f"{wanted} enforced by cgroup v2 {cgroup}",
            True,
        )

    why = "no writable cgroup v2 with the memory and cpu controllers delegated"
    if sys.platform.startswith("linux") and mem_bytes is not None:
        parts = [f"memory limit {memory} enforced as RLIMIT_DATA ({mem_bytes} bytes)"]
        if cpu is not None:
            parts.append(f"cpu limit {cpu} not enforced: {why}")
        return LimitPlan(
            str(memory), str(cpu) if cpu is not None else None, mem_bytes, None,
            "; ".join(parts), cpu is None,
        )  # fmt: skip
    return LimitPlan(
        str(memory) if memory is not None else None,
        str(cpu) if cpu is not None else None,
        None,
        None,
        f"{wanted} not enforced: {why}",
        False,
    )


def delegated_cgroup(needed: set[str], root: Path = CGROUP_ROOT) -> Path | None:
    """Conveyor's own cgroup v2 directory when children with ``needed`` controllers can be made."""
    if not (root / "cgroup.controllers").is_file():
        return None
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    own = next((line[3:] for line in lines if line.startswith("0::")), None)
    if own is None:
        return None
    parent = root / own.strip().lstrip("/")
    try:
        available = set((parent / "cgroup.controllers").read_text().split())
        enabled = set((parent / "cgroup.subtree_control").read_text().split())
    except OSError:
        return None
    if not needed <= available or not os.access(parent, os.W_OK):
        return None
    missing = needed - enabled
    if missing:
        try:
            (parent / "cgroup.subtree_control").write_text(" ".join(f"+{c}" for c in missing))
        except OSError:
            return None
    return parent


def _make_cgroup(owner: str, mem_bytes: int | None, millis: int | None) -> Path | None:
    needed = ({"memory"} if mem_bytes is not None else set()) | (
        {"cpu"} if millis is not None else set()
    )
    parent = delegated_cgroup(needed)
    if parent is None:
        return None
    path = parent / ("conveyor-" + _UNSAFE.sub("_", owner))[:200]
    try:
        path.mkdir(exist_ok=True)
        if mem_bytes is not None:
            (path / "memory.max").write_text(str(mem_bytes))
            with contextlib.suppress(OSError):
                (path / "memory.swap.max").write_text("0")
        if millis is not None:
            quota = max(1000, millis * CPU_PERIOD_US // 1000)
            (path / "cpu.max").write_text(f"{quota} {CPU_PERIOD_US}")
    except OSError:
        with contextlib.suppress(OSError):
            path.rmdir()
        return None
    return path
