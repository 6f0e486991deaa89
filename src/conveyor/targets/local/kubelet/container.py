"""One container instance as a host process: spawned, its output logged, stopped as a group.

The process starts in its own session (``start_new_session``), so it leads a process group
and signals reach everything it forked. On Linux it also asks the kernel, before exec, to
SIGKILL it when Conveyor dies (``PR_SET_PDEATHSIG``): workloads never outlive Conveyor as
orphans, and a restarted Conveyor starts them again from the stored Pods. stdin is
/dev/null; stdout and stderr go, in order, through one pipe into the container's log.

When the main process ends, whatever is left of its group is killed, as a container's
processes end with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import psutil

from conveyor.targets.local.kubelet.limits import LimitPlan
from conveyor.targets.local.kubelet.logs import ContainerLog

PR_SET_PDEATHSIG = 1
PR_SET_NO_NEW_PRIVS = 38
_READ_CHUNK = 64 * 1024
_GROUP_GONE_TIMEOUT = 5.0


class SpawnError(Exception):
    """The process could not be started; ``message`` says why in the runtime's words."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Launch:
    """Everything needed to start one instance."""

    argv: tuple[str, ...]
    env: dict[str, str]
    cwd: Path
    display: str
    """The command as the manifest wrote it (before expansion), for messages."""
    limits: LimitPlan | None = None
    no_new_privs: bool = False
    """``securityContext.allowPrivilegeEscalation: false``: set ``no_new_privs`` before exec,
    so neither the process nor what it runs can gain privileges (setuid, file capabilities)."""


def exit_code(returncode: int) -> int:
    """Python's returncode as a container exit code: killed by signal N is 128+N (137 = KILL)."""
    return 128 - returncode if returncode < 0 else returncode


@cache
def _prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        func = libc.prctl
    except (OSError, AttributeError):
        return None
    func.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    func.restype = ctypes.c_int
    return func


def no_new_privs_supported() -> bool:
    """Whether a process can be started with ``no_new_privs`` here (Linux's prctl)."""
    return _prctl() is not None


def child_setup(limits: LimitPlan | None, no_new_privs: bool = False) -> Callable[[], None]:
    """The function run in the child between fork and exec (prepared here, in the parent).

    With ``no_new_privs`` and no way to set it, or when setting it fails, the child raises:
    the process does not start (never without the protection it asked for).
    """
    parent = os.getpid()
    prctl = _prctl()
    procs = str(limits.cgroup / "cgroup.procs") if limits and limits.cgroup else None
    rlimit = limits.rlimit_data if limits else None

    def setup() -> None:
        if prctl is not None:
            prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
            if os.getppid() != parent:  # Conveyor died before the line above
                os.kill(os.getpid(), signal.SIGKILL)
        if no_new_privs and (prctl is None or prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0):
            raise OSError("cannot set no_new_privs for allowPrivilegeEscalation: false")
        if procs is not None:
            with contextlib.suppress(OSError):
                fd = os.open(procs, os.O_WRONLY)
                try:
                    os.write(fd, b"0")
                finally:
                    os.close(fd)
        if rlimit is not None:
            import resource

            resource.setrlimit(resource.RLIMIT_DATA, (rlimit, rlimit))

    return setup


class ContainerProcess:
    """A running instance; ``wait`` and ``stop`` may be awaited from several places."""

    def __init__(self, proc: asyncio.subprocess.Process, log: ContainerLog) -> None:
        self._proc = proc
        self.pid = proc.pid
        assert proc.stdout is not None
        self._pump = asyncio.create_task(_pump(proc.stdout, log))
        self._finished = asyncio.create_task(self._finish())

    @classmethod
    async def spawn(cls, launch: Launch, log: ContainerLog) -> ContainerProcess:
        """Start the instance; raises SpawnError with a message naming the cause."""
        if not launch.cwd.is_dir():
            raise SpawnError(f'chdir to workingDir "{launch.cwd}": no such directory')
        try:
            proc = await asyncio.create_subprocess_exec(
                *launch.argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                cwd=launch.cwd,
                env=launch.env,
                start_new_session=True,
                preexec_fn=child_setup(launch.limits, launch.no_new_privs),
            )
        except FileNotFoundError as exc:
            where = (
                "no such file or directory"
                if "/" in launch.display
                else "executable file not found in $PATH"
            )
            raise SpawnError(f'exec: "{launch.display}": {where}') from exc
        except PermissionError as exc:
            raise SpawnError(f'exec: "{launch.display}": permission denied') from exc
        except (OSError, subprocess.SubprocessError, ValueError) as exc:
            reason = (
                exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
            )
            raise SpawnError(f'exec: "{launch.display}": {reason}') from exc
        return cls(proc, log)

    @property
    def returncode(self) -> int | None:
        """The exit code once the instance has ended, else None."""
        return exit_code(self._proc.returncode) if self._proc.returncode is not None else None

    async def wait(self) -> int:
        """Wait for the end (and for the rest of its group to be gone); the exit code."""
        return await asyncio.shield(self._finished)

    async def stop(self, grace: float) -> int:
        """SIGTERM the group, SIGKILL it after ``grace`` seconds; the exit code."""
        if self._proc.returncode is None:
            self.signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(max(0.0, grace)):
                    return await asyncio.shield(self._finished)
            except TimeoutError:
                self.signal(signal.SIGKILL)
        return await asyncio.shield(self._finished)

    def signal(self, sig: int) -> None:
        """Send ``sig`` to the whole process group."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, sig)

    async def _finish(self) -> int:
        code = exit_code(await self._proc.wait())
        await self._kill_leftovers()
        try:
            async with asyncio.timeout(2.0):
                await asyncio.shield(self._pump)
        except TimeoutError:
            self._pump.cancel()
        return code

    async def _kill_leftovers(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _GROUP_GONE_TIMEOUT
        while True:
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                return
            if not group_members(self.pid) or loop.time() > deadline:
                return
            await asyncio.sleep(0.05)


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes in process group ``pgid``."""
    members = []
    for proc in psutil.process_iter(["status"]):
        try:
            if os.getpgid(proc.pid) == pgid and proc.info["status"] != psutil.STATUS_ZOMBIE:
                members.append(proc.pid)
        except (ProcessLookupError, PermissionError, psutil.Error):
            continue
    return members


async def _pump(stream: asyncio.StreamReader, log: ContainerLog) -> None:
    failed = False
    while chunk := await stream.read(_READ_CHUNK):
        if failed:
            continue  # keep draining so the process never blocks on a full pipe
        try:
            log.write(chunk)
        except OSError:
            failed = True
