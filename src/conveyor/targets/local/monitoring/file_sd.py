"""Prometheus file_sd targets for every Ready Pod of the local runtime.

On Kubernetes, Prometheus finds Pods through the API server (kubernetes_sd) and relabels
them; here Conveyor writes the result directly, as a file Prometheus re-reads on change
(``file_sd_configs``). Each Ready Pod whose ``prometheus.io/scrape`` annotation is not
``"false"`` becomes one target group per Service selecting it (label ``service``), or one
without ``service`` when none does, at the host port its metrics port is remapped to
(``prometheus.io/port``, else the Pod's first declared port), on ``prometheus.io/path``
(default ``/metrics``). Labels: namespace, pod, service, replicaset (the pod-template-hash),
role (the Pod's ``role`` label, as Argo Rollouts' ephemeral metadata sets it, when present),
and the Pod's own labels with their names made valid (``pod-template-hash`` ->
``pod_template_hash``).

The file is replaced atomically (written beside, then renamed), so Prometheus never reads
half of it; changes are debounced so that a burst of Pod updates costs one write, off the
runtime's worker.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from conveyor.logging import get_logger
from conveyor.model.objects import Object, ObjectKey
from conveyor.targets.local.network.services import pod_is_ready, replicaset_of
from conveyor.targets.local.objects import ObjectStore, labels_match
from conveyor.targets.protocol import WatchEvent

log = get_logger(component="file-sd")

HostPort = Callable[[ObjectKey, int | str], int | None]
SCRAPE = "prometheus.io/scrape"
PORT = "prometheus.io/port"
PATH = "prometheus.io/path"
SCHEME = "prometheus.io/scheme"
_INVALID = re.compile(r"[^a-zA-Z0-9_]")
_RESERVED = ("namespace", "pod", "service", "replicaset", "role")


def label_name(name: str) -> str:
    """A Kubernetes label key as a Prometheus label name (as kubernetes_sd's labelmap does)."""
    clean = _INVALID.sub("_", name)
    return clean if not clean[:1].isdigit() else "_" + clean


def _metrics_port(pod: Object) -> int | str | None:
    notes = pod["metadata"].get("annotations") or {}
    if notes.get(PORT):
        text = str(notes[PORT])
        return int(text) if text.isdigit() else text
    for container in (pod.get("spec") or {}).get("containers") or []:
        for port in container.get("ports") or []:
            if port.get("containerPort"):
                return int(port["containerPort"])
    return None


def pod_target_groups(store: ObjectStore, host_port: HostPort) -> list[dict[str, Any]]:
    """The file_sd content: target groups for every Ready, scrapable Pod, sorted."""
    services = store.list(kind="Service")
    groups: list[dict[str, Any]] = []
    for pod in store.list(kind="Pod"):
        meta = pod["metadata"]
        notes = meta.get("annotations") or {}
        if not pod_is_ready(pod) or str(notes.get(SCRAPE, "true")).lower() == "false":
            continue
        port = _metrics_port(pod)
        local = host_port(ObjectKey.of(pod), port) if port is not None else None
        if local is None:
            continue
        namespace = meta.get("namespace", "default")
        pod_labels = meta.get("labels") or {}
        labels = {label_name(k): str(v) for k, v in pod_labels.items()}
        labels = {k: v for k, v in labels.items() if k not in _RESERVED and not k.startswith("__")}
        labels.update(namespace=namespace, pod=meta["name"])
        if replicaset_of(pod):
            labels["replicaset"] = replicaset_of(pod)
        if pod_labels.get("role"):
            labels["role"] = str(pod_labels["role"])
        labels["__metrics_path__"] = str(notes.get(PATH) or "/metrics")
        if notes.get(SCHEME) in ("http", "https"):
            labels["__scheme__"] = str(notes[SCHEME])
        selecting = [
            s["metadata"]["name"]
            for s in services
            if s["metadata"].get("namespace", "default") == namespace
            and (s.get("spec") or {}).get("selector")
            and labels_match(pod_labels, s["spec"]["selector"])
        ]
        for service in selecting or [None]:
            group_labels = dict(labels, service=service) if service else dict(labels)
            groups.append({"targets": [f"127.0.0.1:{local}"], "labels": group_labels})
    return groups


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` in one rename: readers see the old or the new file.

    The file stays private to Conveyor's user (mkstemp's 0600), like the rest of
    CONVEYOR_HOME: the Prometheus that reads it runs as the same user.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


class FileSDWriter:
    """Keeps ``path`` equal to the store's Pod targets, debounced by ``delay`` seconds."""

    def __init__(
        self, store: ObjectStore, host_port: HostPort, path: Path, delay: float = 0.2
    ) -> None:
        self.path = path
        self._store = store
        self._host_port = host_port
        self._delay = delay
        self._written: str | None = None
        self._pending: asyncio.TimerHandle | None = None
        self._unlisten: Callable[[], None] | None = None

    def start(self) -> None:
        """Write the current targets and follow the store's changes."""
        self._unlisten = self._store.add_listener(self._on_change)
        self.flush()

    def stop(self) -> None:
        """Stop following; the file keeps its last content."""
        if self._unlisten is not None:
            self._unlisten()
            self._unlisten = None
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None

    def _on_change(self, event: WatchEvent) -> None:
        if event.object.get("kind") not in ("Pod", "Service") or self._pending is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # a change made outside the event loop: no debouncing
            self.flush()
            return
        self._pending = loop.call_later(self._delay, self.flush)

    def flush(self) -> None:
        """Write the targets now if they changed (a failure is logged, retried next change)."""
        self._pending = None
        text = json.dumps(pod_target_groups(self._store, self._host_port), indent=1) + "\n"
        if text == self._written:
            return
        try:
            write_atomically(self.path, text)
        except OSError as err:
            log.warning("cannot write Prometheus targets", path=str(self.path), error=str(err))
            return
        self._written = text
