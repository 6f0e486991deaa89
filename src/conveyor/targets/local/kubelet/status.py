"""A Pod's status in Kubernetes' exact shape, built from what the kubelet knows (pure).

Container states are small records (waiting / running / terminated); ``compute_phase``
follows the kubelet's ``getPhase``; ``ConditionTracker`` keeps ``lastTransitionTime`` stable
until a condition actually flips, so that an unchanged Pod produces an identical dict.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

POD_IP = "127.0.0.1"


@dataclass(frozen=True)
class Waiting:
    """Not running yet, or between restarts."""

    reason: str
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        out = {"reason": self.reason}
        if self.message:
            out["message"] = self.message
        return {"waiting": out}


@dataclass(frozen=True)
class Running:
    """Running since ``started_at``."""

    started_at: str

    def to_dict(self) -> dict[str, Any]:
        return {"running": {"startedAt": self.started_at}}


@dataclass(frozen=True)
class Terminated:
    """Ended with ``exit_code``."""

    exit_code: int
    reason: str
    started_at: str
    finished_at: str
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "exitCode": self.exit_code,
            "reason": self.reason,
            "startedAt": self.started_at,
            "finishedAt": self.finished_at,
        }
        if self.message:
            out["message"] = self.message
        return {"terminated": out}


State = Waiting | Running | Terminated


@dataclass
class ContainerStatus:
    """What the kubelet reports for one container (mutable; the runner updates it)."""

    name: str
    image: str
    state: State = field(default_factory=lambda: Waiting("ContainerCreating"))
    last_state: Terminated | None = None
    restart_count: int = 0
    ready: bool = False
    started: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "image": self.image,
            "imageID": "",
            "ready": self.ready,
            "started": self.started,
            "restartCount": self.restart_count,
            "state": self.state.to_dict(),
            "lastState": self.last_state.to_dict() if self.last_state else {},
        }

    @property
    def ever_ran(self) -> bool:
        """True once an instance has run (a waiting container with a last state restarts)."""
        return not isinstance(self.state, Waiting) or self.last_state is not None


def compute_phase(restart_policy: str, statuses: Sequence[ContainerStatus]) -> str:
    """The Pod phase from its containers, as the kubelet's getPhase decides it."""
    running = waiting = stopped = succeeded = 0
    for status in statuses:
        state = status.state
        if isinstance(state, Running):
            running += 1
        elif isinstance(state, Terminated):
            stopped += 1
            succeeded += state.exit_code == 0
        elif status.last_state is not None:
            stopped += 1
        else:
            waiting += 1
    if waiting:
        return "Pending"
    if running:
        return "Running"
    if not stopped:
        return "Pending"
    if restart_policy == "Always":
        return "Running"
    if stopped == succeeded:
        return "Succeeded"
    if restart_policy == "Never":
        return "Failed"
    return "Running"


class ConditionTracker:
    """Pod conditions whose lastTransitionTime changes only when their status does."""

    def __init__(self, now: Callable[[], str]) -> None:
        self._now = now
        self._since: dict[str, tuple[str, str]] = {}

    def condition(
        self, kind: str, value: bool, reason: str = "", message: str = ""
    ) -> dict[str, Any]:
        status = "True" if value else "False"
        previous = self._since.get(kind)
        if previous is None or previous[0] != status:
            previous = (status, self._now())
            self._since[kind] = previous
        out: dict[str, Any] = {
            "type": kind,
            "status": status,
            "lastProbeTime": None,
            "lastTransitionTime": previous[1],
        }
        if reason:
            out["reason"] = reason
        if message:
            out["message"] = message
        return out


def pod_status(
    *,
    phase: str,
    conditions: ConditionTracker,
    init_statuses: Sequence[ContainerStatus],
    statuses: Sequence[ContainerStatus],
    initialized: bool,
    start_time: str,
) -> dict[str, Any]:
    """The whole ``status`` of a Pod."""
    completed = phase in ("Succeeded", "Failed")
    unready = [s.name for s in statuses if not s.ready]
    ready = not unready and phase == "Running"
    not_ready_reason = "PodCompleted" if completed else "ContainersNotReady"
    not_ready_message = (
        "" if completed else f"containers with unready status: [{' '.join(unready)}]"
    )
    pending_init = [s.name for s in init_statuses if not _succeeded(s)]
    out: dict[str, Any] = {
        "phase": phase,
        "conditions": [
            conditions.condition(
                "Initialized",
                initialized,
                *(
                    ()
                    if initialized
                    else (
                        "ContainersNotInitialized",
                        f"containers with incomplete status: [{' '.join(pending_init)}]",
                    )
                ),
            ),
            conditions.condition(
                "Ready", ready, *(() if ready else (not_ready_reason, not_ready_message))
            ),
            conditions.condition(
                "ContainersReady", ready, *(() if ready else (not_ready_reason, not_ready_message))
            ),
            conditions.condition("PodScheduled", True),
        ],
        "hostIP": POD_IP,
        "hostIPs": [{"ip": POD_IP}],
        "podIP": POD_IP,
        "podIPs": [{"ip": POD_IP}],
        "startTime": start_time,
        "containerStatuses": [s.to_dict() for s in statuses],
    }
    if init_statuses:
        out["initContainerStatuses"] = [s.to_dict() for s in init_statuses]
    return out


def _succeeded(status: ContainerStatus) -> bool:
    return isinstance(status.state, Terminated) and status.state.exit_code == 0
