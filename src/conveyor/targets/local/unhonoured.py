"""Which accepted Pod-spec and container fields the local runtime does not honour, and why.

The runtime accepts every field of the Pod spec (``schema``), but host processes cannot do
everything a container runtime does: there is no scheduler, no volume, no user namespace, no
capability set. The project's rule is that nothing is accepted and silently ignored, so this
module lists, as pure functions of a pod template, each set field the runtime will not apply
as Kubernetes documents it, with the reason in a sentence. The runtime turns each into a
``FieldNotHonoured`` Warning event (``fieldwarnings``).

A field is honoured when the runtime does what Kubernetes would for the value written, even if
by accident of the host: ``hostPID: true`` (processes see the host's), ``tolerations`` (the one
node has no taints), ``runAsNonRoot: true`` when Conveyor itself runs as a non-root user (every
container runs as Conveyor's user), ``allowPrivilegeEscalation: false`` (the kubelet sets
``no_new_privs`` on Linux). ``resources.limits`` cpu and memory are not listed here:
the kubelet applies them where the machine allows and says how in a ``ResourceLimits`` event.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from conveyor.model.objects import Object, group_of
from conveyor.targets.local.kubelet.container import no_new_privs_supported

REASON = "FieldNotHonoured"
"""The reason of the Warning event about a field the runtime does not honour."""

POD_TEMPLATE_KINDS = frozenset(
    {("apps", "Deployment"), ("apps", "ReplicaSet"), ("batch", "Job"), ("argoproj.io", "Rollout")}
)
"""Kinds (API group, kind) whose ``spec.template`` the runtime turns into Pods."""


@dataclass(frozen=True)
class HostUser:
    """Who every container process runs as: Conveyor's own user."""

    uid: int
    gid: int

    @classmethod
    def current(cls) -> HostUser:
        getuid = getattr(os, "getuid", None)
        getgid = getattr(os, "getgid", None)
        return cls(getuid() if getuid else -1, getgid() if getgid else -1)

    @property
    def label(self) -> str:
        return "root (uid 0)" if self.uid == 0 else f"uid {self.uid}"


@dataclass(frozen=True)
class Unhonoured:
    """One set field the runtime does not apply, at its path in the manifest."""

    path: str
    why: str

    @property
    def message(self) -> str:
        """The event message: ``spec.template.spec.volumes: volumes are not mounted ...``."""
        return f"{self.path}: {self.why}"


_NO_SCHEDULER = "the local runtime has one node and no scheduler; it is not applied"
_NO_ISOLATION = (
    "containers are host processes without namespaces of their own; the isolation asked for "
    "is not provided"
)
_NO_VOLUMES = (
    "the local runtime mounts no volumes: the process sees the host's filesystem, with its "
    "working directory in the artifact's source tree"
)
_HOSTNAME = "the process's HOSTNAME is the Pod's name; the host's name is unchanged"

# Pod-spec fields never applied, whatever their value (empty values are not reported).
_POD_ALWAYS = {
    "volumes": _NO_VOLUMES,
    "ephemeralContainers": "ephemeral containers are not run by the local runtime",
    "activeDeadlineSeconds": "the local runtime does not end a Pod after a deadline",
    "dnsConfig": "processes use the host's resolver; dnsConfig is not applied",
    "nodeSelector": _NO_SCHEDULER,
    "affinity": _NO_SCHEDULER,
    "topologySpreadConstraints": _NO_SCHEDULER,
    "priorityClassName": _NO_SCHEDULER + " (no priority or preemption)",
    "priority": _NO_SCHEDULER + " (no priority or preemption)",
    "preemptionPolicy": _NO_SCHEDULER + " (no priority or preemption)",
    "schedulingGates": _NO_SCHEDULER + "; the Pod starts at once",
    "nodeName": "the local runtime runs every Pod on its one node, whatever nodeName says",
    "runtimeClassName": "containers are host processes; no runtime class is applied",
    "overhead": "the local runtime does not account Pod overhead",
    "resources": "Pod-level resources are not enforced by the local runtime",
    "resourceClaims": "the local runtime allocates no dynamic resources",
    "imagePullSecrets": "images come from the local artifact store; nothing is pulled",
    "hostname": _HOSTNAME,
    "subdomain": _HOSTNAME,
    "setHostnameAsFQDN": _HOSTNAME,
    "hostAliases": "processes use the host's /etc/hosts; hostAliases are not added",
    "readinessGates": "the local runtime does not wait for readiness gates",
    "hostNetwork": (
        "every container shares the host's network, and its declared ports are remapped to "
        "free ones (PORT), never bound as declared"
    ),
}
_CONTAINER_ALWAYS = {
    "volumeMounts": _NO_VOLUMES,
    "volumeDevices": _NO_VOLUMES,
    "lifecycle": "postStart and preStop hooks are not run by the local runtime",
    "terminationMessagePath": "the local runtime does not read a termination message",
    "terminationMessagePolicy": "the local runtime does not read a termination message",
    "resizePolicy": "the local runtime does not resize containers in place",
}
_SECURITY_ALWAYS = {
    "capabilities": "processes keep the capabilities of Conveyor's user; none are added or dropped",
    "seccompProfile": "the local runtime applies no seccomp profile",
    "seLinuxOptions": "the local runtime applies no SELinux label",
    "appArmorProfile": "the local runtime applies no AppArmor profile",
    "procMount": "processes see the host's /proc",
    "fsGroup": "the local runtime mounts no volumes and changes no group ownership",
    "fsGroupChangePolicy": "the local runtime mounts no volumes and changes no group ownership",
    "supplementalGroups": "processes keep the groups of Conveyor's user",
    "supplementalGroupsPolicy": "processes keep the groups of Conveyor's user",
    "sysctls": "the local runtime sets no sysctls",
    "seLinuxChangePolicy": "the local runtime applies no SELinux label",
}


def _set(value: Any) -> bool:
    return value is not None and value != {} and value != []


def _isolation(spec: Mapping[str, Any], where: str) -> Iterator[Unhonoured]:
    """hostPID, hostIPC, shareProcessNamespace, hostUsers: sharing is what a process gets."""
    for field in ("hostPID", "hostIPC", "shareProcessNamespace"):
        if spec.get(field) is False:
            yield Unhonoured(f"{where}{field}", _NO_ISOLATION)
    if spec.get("hostUsers") is False:
        yield Unhonoured(f"{where}hostUsers", _NO_ISOLATION)


def pod_spec_fields(spec: Mapping[str, Any], where: str, user: HostUser) -> list[Unhonoured]:
    """The un-honoured fields of a Pod spec at path ``where`` (``spec.template.spec.``)."""
    found: list[Unhonoured] = []
    for field, why in _POD_ALWAYS.items():
        if _set(spec.get(field)):
            found.append(Unhonoured(f"{where}{field}", why))
    found.extend(_isolation(spec, where))
    dns = spec.get("dnsPolicy")
    if dns is not None and dns != "Default":
        found.append(
            Unhonoured(
                f"{where}dnsPolicy",
                f"processes use the host's resolver (dnsPolicy Default), not {dns}",
            )
        )
    scheduler = spec.get("schedulerName")
    if scheduler is not None and scheduler != "default-scheduler":
        found.append(Unhonoured(f"{where}schedulerName", _NO_SCHEDULER))
    if spec.get("enableServiceLinks") is True:
        found.append(
            Unhonoured(
                f"{where}enableServiceLinks",
                "the local runtime sets no <SERVICE>_SERVICE_HOST variables",
            )
        )
    account = spec.get("serviceAccountName") or spec.get("serviceAccount")
    automount = spec.get("automountServiceAccountToken")
    if automount is True or (account and automount is not False):
        field = "automountServiceAccountToken" if automount is True else (
            "serviceAccountName" if spec.get("serviceAccountName") else "serviceAccount"
        )  # fmt: skip
        found.append(
            Unhonoured(
                f"{where}{field}",
                "no service account token is mounted: the process has no API credentials "
                "(the name only feeds fieldRef spec.serviceAccountName)",
            )
        )
    os_name = (spec.get("os") or {}).get("name") if isinstance(spec.get("os"), dict) else None
    if os_name and not sys.platform.startswith(str(os_name)):
        found.append(Unhonoured(f"{where}os.name", f"this machine runs {sys.platform}"))
    found.extend(
        _security(spec.get("securityContext"), f"{where}securityContext.", user, container=False)
    )
    for group in ("initContainers", "containers"):
        for i, container in enumerate(spec.get(group) or []):
            if isinstance(container, Mapping):
                init = group == "initContainers"
                found.extend(container_fields(container, f"{where}{group}[{i}].", user, init))
    return found


def container_fields(
    container: Mapping[str, Any], where: str, user: HostUser, init: bool = False
) -> list[Unhonoured]:
    """The un-honoured fields of one container at path ``where`` (``...containers[0].``)."""
    found = [
        Unhonoured(f"{where}{field}", why)
        for field, why in _CONTAINER_ALWAYS.items()
        if _set(container.get(field))
    ]
    if init and container.get("restartPolicy") == "Always":
        found.append(
            Unhonoured(
                f"{where}restartPolicy",
                "sidecar init containers are not supported: it runs as an ordinary init "
                "container, and the Pod's containers start only once it has exited",
            )
        )
    if container.get("imagePullPolicy") == "Always":
        found.append(
            Unhonoured(
                f"{where}imagePullPolicy",
                "images come from the local artifact store; nothing is pulled",
            )
        )
    for field in ("stdin", "stdinOnce", "tty"):
        if container.get(field) is True:
            found.append(Unhonoured(f"{where}{field}", "a container's stdin is /dev/null, no tty"))
    found.extend(_resources(container.get("resources"), f"{where}resources."))
    for i, port in enumerate(container.get("ports") or []):
        if not isinstance(port, Mapping):
            continue
        for field in ("hostPort", "hostIP"):
            if _set(port.get(field)):
                found.append(
                    Unhonoured(
                        f"{where}ports[{i}].{field}",
                        "ports are remapped to free ones on 127.0.0.1 (PORT); no host port "
                        "is bound as declared",
                    )
                )
        protocol = port.get("protocol")
        if protocol not in (None, "TCP"):
            found.append(
                Unhonoured(f"{where}ports[{i}].protocol", "only TCP ports are remapped and served")
            )
    context = container.get("securityContext")
    found.extend(_security(context, f"{where}securityContext.", user, container=True))
    return found


def _resources(resources: Any, where: str) -> Iterator[Unhonoured]:
    if not isinstance(resources, Mapping):
        return
    if _set(resources.get("requests")):
        yield Unhonoured(
            f"{where}requests",
            "the local runtime has no scheduler and reserves nothing for requests (they only "
            "feed resourceFieldRef)",
        )
    if _set(resources.get("claims")):
        yield Unhonoured(f"{where}claims", "the local runtime allocates no dynamic resources")
    limits = resources.get("limits")
    if isinstance(limits, Mapping):
        for name in sorted(limits):
            if name not in ("cpu", "memory"):
                yield Unhonoured(f"{where}limits.{name}", "only cpu and memory limits are applied")


def _security(context: Any, where: str, user: HostUser, *, container: bool) -> Iterator[Unhonoured]:
    """A Pod's or a container's securityContext against Conveyor's own user."""
    if not isinstance(context, Mapping):
        return
    for field, why in _SECURITY_ALWAYS.items():
        if _set(context.get(field)):
            yield Unhonoured(f"{where}{field}", why)
    runs_as = f"every container runs as Conveyor's user, {user.label}"
    if context.get("runAsNonRoot") is True:
        if context.get("runAsUser") == 0:
            yield Unhonoured(
                f"{where}runAsNonRoot",
                "Kubernetes would refuse to start it with runAsUser 0; the local runtime "
                f"starts it ({runs_as})",
            )
        elif user.uid == 0:
            yield Unhonoured(
                f"{where}runAsNonRoot",
                f"{runs_as}; Kubernetes would refuse to start a container that runs as "
                "root, the local runtime starts it (run Conveyor as a non-root user to "
                "honour runAsNonRoot)",
            )
    for field, have in (("runAsUser", user.uid), ("runAsGroup", user.gid)):
        wanted = context.get(field)
        if wanted is not None and wanted != have:
            yield Unhonoured(f"{where}{field}", f"{runs_as}; {field} {wanted} is not applied")
    if context.get("privileged") is True and user.uid != 0:
        yield Unhonoured(f"{where}privileged", f"{runs_as}, without privileges")
    if context.get("privileged") is False and user.uid == 0:
        yield Unhonoured(f"{where}privileged", f"{runs_as}, with all its privileges")
    if context.get("allowPrivilegeEscalation") is False and not (
        container and no_new_privs_supported()
    ):
        yield Unhonoured(
            f"{where}allowPrivilegeEscalation",
            "no_new_privs cannot be set here (it is a container's field, applied on Linux); "
            "a process may gain privileges",
        )
    if context.get("readOnlyRootFilesystem") is True:
        yield Unhonoured(
            f"{where}readOnlyRootFilesystem",
            "processes write to the host's filesystem as Conveyor's user",
        )


def pod_template_of(obj: Object) -> tuple[Mapping[str, Any], str] | None:
    """The Pod spec the runtime would run from ``obj`` and its path, or None."""
    group = group_of(str(obj.get("apiVersion") or ""))
    kind = str(obj.get("kind") or "")
    spec = obj.get("spec")
    if not isinstance(spec, Mapping):
        return None
    if (group, kind) == ("", "Pod"):
        return spec, "spec."
    if (group, kind) in POD_TEMPLATE_KINDS:
        template = spec.get("template")
        if isinstance(template, Mapping) and isinstance(template.get("spec"), Mapping):
            return template["spec"], "spec.template.spec."
    return None


def unhonoured_fields(obj: Object, user: HostUser | None = None) -> list[Unhonoured]:
    """The set fields of ``obj``'s Pod spec (a Pod, or a workload's template) not honoured."""
    found = pod_template_of(obj)
    if found is None:
        return []
    spec, where = found
    return pod_spec_fields(spec, where, user or HostUser.current())
