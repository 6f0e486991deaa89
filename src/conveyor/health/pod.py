"""Health of a Pod, with Argo CD's meaning.

Long-running Pods (restartPolicy Always) are degraded as soon as a container is stuck in a
waiting state that will not fix itself (CrashLoopBackOff, ImagePullBackOff, ErrImagePull,
CreateContainerConfigError, InvalidImageName…), and healthy only when Ready. Pods with
restartPolicy Never or OnFailure are usually sync hooks: they are judged by how they end
(Succeeded or Failed), never degraded early, because an early Degraded would fail the hook
while Kubernetes may still start it once the image appears.

One addition to Argo CD: init containers stuck in such a state count as well, since the Pod
cannot start until they finish.
"""

from __future__ import annotations

from conveyor.model.health import Health, HealthStatus
from conveyor.model.objects import Object
from conveyor.model.synccommon import ANNOTATION_IGNORE_RESTART_POLICY, is_hook

# Argo CD's annotation: judge a Running Pod by readiness whatever its restartPolicy (for Pods
# that an operator runs with restartPolicy Never or OnFailure but that are not hooks: on a
# hook Pod it is ignored, as in gitops-engine, since a hook is judged by how it ends).
IGNORE_RESTART_POLICY = ANNOTATION_IGNORE_RESTART_POLICY

# Waiting reasons that end with none of "Error"/"BackOff" and start with no "Err", yet fail.
_STUCK_REASONS = frozenset({"InvalidImageName"})


def assess(obj: Object) -> Health:
    """The health of one Pod."""
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    restart_policy = spec.get("restartPolicy", "Always")  # Kubernetes' default
    message = str(status.get("message") or "")

    if restart_policy == "Always":
        stuck = _stuck_messages(status)
        if stuck:
            return Health(HealthStatus.DEGRADED, ", ".join(stuck))

    phase = status.get("phase")
    if phase == "Pending":
        return Health(HealthStatus.PROGRESSING, message or _pending_message(status))
    if phase == "Succeeded":
        return Health(HealthStatus.HEALTHY, message)
    if phase == "Failed":
        return Health(HealthStatus.DEGRADED, message or _failure_message(status))
    if phase == "Running":
        annotations = (obj.get("metadata") or {}).get("annotations") or {}
        by_readiness = IGNORE_RESTART_POLICY in annotations and not is_hook(obj)
        if restart_policy == "Always" or by_readiness:
            return _running_health(status, message)
        return Health(HealthStatus.PROGRESSING, message or "Pod is running to completion")
    return Health(HealthStatus.UNKNOWN, message or f"Pod reports an unknown phase: {phase!r}")


def _is_stuck(reason: str) -> bool:
    """Whether a container waiting for ``reason`` needs a person rather than time."""
    return (
        reason.startswith("Err")
        or reason.endswith(("Error", "BackOff"))
        or reason in _STUCK_REASONS
    )


def _stuck_messages(status: Object) -> list[str]:
    """One message per (init) container waiting for a reason that will not fix itself."""
    messages = []
    for ctr in _all_container_statuses(status):
        waiting = (ctr.get("state") or {}).get("waiting") or {}
        reason = str(waiting.get("reason") or "")
        if _is_stuck(reason):
            default = f'Container "{ctr.get("name")}" is waiting: {reason}'
            messages.append(str(waiting.get("message") or default))
    return messages


def _pending_message(status: Object) -> str:
    """Why a Pod is pending: the scheduler's word, else what its containers wait for."""
    for cond in status.get("conditions") or []:
        if cond.get("type") == "PodScheduled" and cond.get("status") == "False":
            return str(cond.get("message") or "Pod is waiting to be scheduled")
    waiting = []
    for ctr in _all_container_statuses(status):
        reason = ((ctr.get("state") or {}).get("waiting") or {}).get("reason")
        if reason:
            waiting.append(f"{ctr.get('name')} ({reason})")
    if waiting:
        return f"Waiting for containers to start: {', '.join(waiting)}"
    return "Pod is waiting for its containers to start"


def _failure_message(status: Object) -> str:
    """The first container (init containers first) that says why the Pod failed."""
    for ctr in _all_container_statuses(status):
        terminated = (ctr.get("state") or {}).get("terminated") or {}
        if not terminated:
            continue
        if terminated.get("message"):
            return str(terminated["message"])
        if terminated.get("reason") == "OOMKilled":
            return f'Container "{ctr.get("name")}" was killed: out of memory (OOMKilled)'
        exit_code = int(terminated.get("exitCode") or 0)
        if exit_code != 0:
            return f'Container "{ctr.get("name")}" failed with exit code {exit_code}'
    return "Pod failed"


def _running_health(status: Object, message: str) -> Health:
    """A running long-lived Pod: healthy when Ready, degraded if a container has died."""
    for cond in status.get("conditions") or []:
        if cond.get("type") == "Ready" and cond.get("status") == "True":
            return Health(HealthStatus.HEALTHY, message)
    containers = status.get("containerStatuses") or []
    for ctr in containers:
        terminated = (ctr.get("lastState") or {}).get("terminated")
        if terminated:
            default = (
                f'Container "{ctr.get("name")}" is not ready and last exited with code '
                f"{terminated.get('exitCode', '?')} ({terminated.get('reason') or 'no reason'})"
            )
            return Health(HealthStatus.DEGRADED, message or default)
    unready = [str(ctr.get("name")) for ctr in containers if not ctr.get("ready")]
    default = f"Waiting for containers to become ready: {', '.join(unready)}"
    return Health(
        HealthStatus.PROGRESSING,
        message or (default if unready else "Waiting for the pod to become ready"),
    )


def _all_container_statuses(status: Object) -> list[Object]:
    """Init container statuses first, then the app containers', as Kubernetes runs them."""
    init = status.get("initContainerStatuses") or []
    return [*init, *(status.get("containerStatuses") or [])]
