"""One container's lifecycle inside a Pod: image, env, start, probes, restarts with backoff.

A runner loops until its container is done for good or the Pod is stopped: resolve the image
(ErrImagePull / ImagePullBackOff while it is missing), resolve env (CreateContainerConfigError
while a ConfigMap, Secret or key is missing), start the process, run its probes, wait for it
to end (or kill it when liveness or startup fails), then restart it per restartPolicy, the
first time at once and then with doubling delays shown as CrashLoopBackOff.

The runner owns its process: stopping the Pod sets an event the runner sees in every wait,
and the runner itself sends SIGTERM, waits the grace period, and SIGKILLs.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from conveyor.backoff import Backoff
from conveyor.errors import ValidationError
from conveyor.targets.local.kubelet import probing
from conveyor.targets.local.kubelet.api import ResolvedImage
from conveyor.targets.local.kubelet.backoff import format_duration
from conveyor.targets.local.kubelet.container import ContainerProcess, Launch, SpawnError
from conveyor.targets.local.kubelet.context import NORMAL, WARNING, PodContext
from conveyor.targets.local.kubelet.env import EnvConfigError, expand, resolve_env
from conveyor.targets.local.kubelet.hostports import ContainerPorts
from conveyor.targets.local.kubelet.limits import LimitPlan, plan_limits
from conveyor.targets.local.kubelet.logs import ContainerLog
from conveyor.targets.local.kubelet.probes import ProbeSpec, ProbeTarget
from conveyor.targets.local.kubelet.probing import ProbeHooks
from conveyor.targets.local.kubelet.status import ContainerStatus, Running, Terminated, Waiting

HOST_ENV = ("HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "SYSTEMROOT")
"""Host variables a container inherits; nothing else of Conveyor's environment leaks in."""


def base_env(image: ResolvedImage, pod_name: str) -> dict[str, str]:
    """The environment every container starts from, before envFrom, env and PORT."""
    env = {name: os.environ[name] for name in HOST_ENV if name in os.environ}
    host_path = os.environ.get("PATH") or os.defpath
    env["PATH"] = os.pathsep.join([*image.path_prepend, host_path])
    env["HOSTNAME"] = pod_name
    env["PYTHONUNBUFFERED"] = "1"
    return env


class ContainerRunner:
    """Runs one container of a Pod until it is done or stopped."""

    def __init__(
        self,
        ctx: PodContext,
        spec: Mapping[str, Any],
        ports: ContainerPorts | None,
        *,
        init: bool = False,
        seed: Mapping[str, Any] | None = None,
    ) -> None:
        self.ctx = ctx
        self.spec = spec
        self.name = str(spec.get("name") or "")
        self.init = init
        self.ports = ports
        self.status = ContainerStatus(self.name, str(spec.get("image") or ""))
        self._ran_before = False
        if seed:
            self.status.restart_count = int(seed.get("restartCount") or 0)
            state = seed.get("state") or {}
            self._ran_before = (
                bool(seed.get("lastState")) or "running" in state or "terminated" in state
            )
        opts = ctx.options
        self.log = ContainerLog(
            ctx.log_dir, self.name, max_bytes=opts.log_max_bytes, backups=opts.log_backups
        )
        self.process: ContainerProcess | None = None
        self.instance = 0
        self._stop = asyncio.Event()
        self._stop_grace = ctx.termination_grace
        self._kill = asyncio.Event()
        self._kill_grace = ctx.termination_grace
        self._kill_message = ""
        self._crash = Backoff(
            opts.backoff_base, opts.backoff_cap, reset_after=opts.backoff_reset_after
        )
        self._pull = Backoff(opts.image_retry_base, opts.backoff_cap, immediate_first=False)
        self._limits: LimitPlan | None = None
        self._limits_checked = False
        self._last_error = ""
        self._probes, self._probe_problems = probing.parse_probes(spec, init=init)

    # -- control ---------------------------------------------------------------------------

    def stop(self, grace: float) -> None:
        """Ask the runner to end: its process gets SIGTERM and, after ``grace``, SIGKILL."""
        self._stop_grace = grace
        self._stop.set()

    def alive(self, instance: int) -> bool:
        """True while instance number ``instance`` is the running one."""
        return self.process is not None and self.instance == instance

    async def run(self) -> int | None:
        """Run until done for good (the last exit code) or stopped (None)."""
        for problem in self._probe_problems:
            self._event("Failed", f"{problem}; it is ignored", WARNING)
        try:
            while not self._stop.is_set():
                launch = await self._prepare()
                if launch is None:
                    continue
                result = await self._run_instance(launch)
                if result is None:
                    return None
                term, ran_for = result
                if not self._should_restart(term.exit_code):
                    self.status.state = term
                    self.status.ready = self.init and term.exit_code == 0
                    self.ctx.changed()
                    return term.exit_code
                self.status.last_state = term
                delay = self._crash.next_delay(ran_for)
                if delay > 0:
                    self.status.state = Waiting(
                        "CrashLoopBackOff",
                        f"back-off {format_duration(delay)} restarting failed "
                        f"container={self.name} pod={self.ctx.key.name}",
                    )
                    self._event(
                        "BackOff",
                        f"Back-off restarting failed container {self.name} "
                        f"in pod {self.ctx.pod_ref}",
                        WARNING,
                    )
                    self.ctx.changed()
                else:
                    self.status.state = Waiting("ContainerCreating")
                if await self._sleep(delay):
                    return None
            return None
        except Exception:
            self._set_waiting(
                "RunContainerError", "internal error of the local runtime; see Conveyor's log"
            )
            raise
        finally:
            if self.process is not None:  # only after an unexpected error: no orphan
                await self.process.stop(0.0)
                self.process = None
            self.log.close()
            if self._limits is not None:
                self._limits.cleanup()

    def _should_restart(self, code: int) -> bool:
        policy = self.ctx.restart_policy
        if self.init:
            return policy != "Never" and code != 0
        return policy == "Always" or (policy == "OnFailure" and code != 0)

    # -- before a start ----------------------------------------------------------------------

    async def _prepare(self) -> Launch | None:
        """What to start, or None after waiting (image, config or command missing)."""
        image_name = self.status.image
        image = self._resolve_image(image_name)
        if image is None:
            await self._sleep(self._pull.next_delay())
            return None
        self._pull.reset()

        if not self._limits_checked:
            try:
                self._limits = plan_limits(
                    self.spec.get("resources"), owner=f"{self.ctx.uid}-{self.name}"
                )
            except ValidationError as exc:
                self._fail_config("CreateContainerConfigError", f"resources.limits: {exc.message}")
                await self._stop.wait()  # the spec never changes: nothing to retry
                return None
            self._limits_checked = True
            if self._limits is not None:
                kind = NORMAL if self._limits.enforced else WARNING
                self._event(
                    "ResourceLimits", f"container {self.name}: {self._limits.message}", kind
                )

        runtime_env = self.ports.env() if self.ports else {}
        try:
            env = resolve_env(
                self.spec,
                self.ctx.pod,
                self.ctx.lookup,
                base=base_env(image, self.ctx.key.name),
                runtime=runtime_env,
                node=self.ctx.node,
            )
        except EnvConfigError as exc:
            self._fail_config("CreateContainerConfigError", exc.message)
            await self._sleep(self.ctx.options.config_retry_period)
            return None

        command = [str(c) for c in self.spec.get("command") or []] or list(image.command or ())
        raw = command + [str(a) for a in self.spec.get("args") or []]
        if not raw:
            self._fail_config(
                "CreateContainerError",
                f'container "{self.name}" has no command and image "{image_name}" has no default '
                "command: set command (or args) in the Pod spec, or build the image with one",
            )
            await self._sleep(self._pull.next_delay())
            return None
        self._last_error = ""
        self._event("Pulled", f'Container image "{image_name}" already present on machine')
        cwd = Path(str(self.spec.get("workingDir") or image.working_dir))
        argv = tuple(expand(part, env) for part in raw)
        security = self.spec.get("securityContext") or {}
        no_new_privs = security.get("allowPrivilegeEscalation") is False
        return Launch(
            argv, env, cwd, display=raw[0], limits=self._limits, no_new_privs=no_new_privs
        )

    def _resolve_image(self, image_name: str) -> ResolvedImage | None:
        why = (
            f'image "{image_name}" not found in the local artifact store; '
            "build it with `conveyor artifact build`"
        )
        try:
            image = self.ctx.images.resolve(image_name)
        except Exception as exc:  # the store is another component: report, never crash
            image = None
            why = f'image "{image_name}" could not be resolved: {exc}'
        if image is not None:
            return image
        self._set_waiting("ErrImagePull", why)
        self._event("Failed", f'Failed to pull image "{image_name}": {why}', WARNING)
        self._set_waiting("ImagePullBackOff", f'Back-off pulling image "{image_name}": {why}')
        self._event("BackOff", f'Back-off pulling image "{image_name}"', NORMAL)
        return None

    def _fail_config(self, reason: str, message: str) -> None:
        self._set_waiting(reason, message)
        if message != self._last_error:
            self._last_error = message
            self._event("Failed", f"Error: {message}", WARNING)

    # -- one instance ------------------------------------------------------------------------

    async def _run_instance(self, launch: Launch) -> tuple[Terminated, float] | None:
        """Start, supervise and end one instance; None when the Pod is being stopped."""
        if self._ran_before:
            self.status.restart_count += 1
        self._ran_before = True
        self.log.new_instance()
        started_at = self.ctx.now()
        began = self.ctx.clock.monotonic()
        ooms = launch.limits.oom_kills() if launch.limits else 0
        try:
            proc = await ContainerProcess.spawn(launch, self.log)
        except SpawnError as exc:
            self.log.close()
            self._event("Failed", f"Error: {exc.message}", WARNING)
            self.ctx.logger.warning(
                "container failed to start", container=self.name, reason=exc.message
            )
            term = Terminated(128, "StartError", started_at, self.ctx.now(), exc.message)
            return term, 0.0
        self.process = proc
        self.instance += 1
        self._kill.clear()
        self._event("Created", f"Created container {self.name}")
        self._event("Started", f"Started container {self.name}")
        self.ctx.logger.info(
            "container started",
            container=self.name,
            pid=proc.pid,
            restarts=self.status.restart_count,
        )
        has_startup = self._probes["startup"] is not None
        self.status.state = Running(started_at)
        self.status.started = not has_startup
        self.status.ready = not self.init and not has_startup and self._probes["readiness"] is None
        self.ctx.changed()

        probing = asyncio.create_task(self._probe(launch)) if not self.init else None
        ended = asyncio.create_task(proc.wait())
        stopping = asyncio.create_task(self._stop.wait())
        killing = asyncio.create_task(self._kill.wait())
        try:
            await asyncio.wait({ended, stopping, killing}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (stopping, killing, probing):
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
        if ended.done():
            code = ended.result()
        elif self._stop.is_set():
            self._event("Killing", f"Stopping container {self.name}")
            code = await proc.stop(self._stop_grace)
        else:
            self._event("Killing", self._kill_message)
            code = await proc.stop(self._kill_grace)
        ended.cancel()
        stopped = self._stop.is_set()

        reason = "Completed" if code == 0 else "Error"
        if launch.limits is not None and launch.limits.oom_kills() > ooms:
            reason = "OOMKilled"
        term = Terminated(code, reason, started_at, self.ctx.now())
        self.process = None
        self.log.close()
        self.status.ready = False
        self.status.started = False
        self.ctx.logger.info("container exited", container=self.name, exit_code=code, reason=reason)
        if stopped:
            self.status.state = term
            self.ctx.changed()
            return None
        return term, self.ctx.clock.monotonic() - began

    async def _probe(self, launch: Launch) -> None:
        target = ProbeTarget(self._probe_port, launch.env, launch.cwd)
        hooks = ProbeHooks(self.status, self.ctx.changed, self._unhealthy, self._request_kill)
        await probing.supervise(self._probes, target, hooks)

    def _probe_port(self, port: int | str) -> int | None:
        return self.ports.resolve(port) if self.ports else None

    def _unhealthy(self, spec: ProbeSpec, message: str) -> None:
        self._event("Unhealthy", f"{spec.kind} probe failed: {message}", WARNING)

    def _request_kill(self, spec: ProbeSpec) -> None:
        grace = spec.termination_grace
        self._kill_grace = grace if grace is not None else self.ctx.termination_grace
        self._kill_message = (
            f"Container {self.name} failed {spec.kind.lower()} probe, will be restarted"
        )
        self._kill.set()

    # -- helpers -----------------------------------------------------------------------------

    def _set_waiting(self, reason: str, message: str) -> None:
        self.status.state = Waiting(reason, message)
        self.status.ready = False
        self.status.started = False
        self.ctx.changed()

    def _event(self, reason: str, message: str, kind: str = NORMAL) -> None:
        self.ctx.emit_event(reason, message, kind)

    async def _sleep(self, delay: float) -> bool:
        """Wait ``delay`` seconds; True when the Pod is being stopped."""
        if self._stop.is_set():
            return True
        if delay <= 0:
            return False
        try:
            async with asyncio.timeout(None if math.isinf(delay) else delay):
                await self._stop.wait()
        except TimeoutError:
            return False
        return True
