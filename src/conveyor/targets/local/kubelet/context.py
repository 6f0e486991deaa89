"""What every container of a Pod shares: the Pod, the runtime's services, and how to report.

The Pod worker builds one ``PodContext`` and hands it to each container runner, so that a
runner can resolve images and env, emit events and ask for a status update without knowing
the worker itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conveyor.clock import Clock, rfc3339
from conveyor.model.objects import Object, ObjectKey
from conveyor.targets.local.kubelet.api import ImageResolver, KubeletOptions, ObjectLookup
from conveyor.targets.local.kubelet.env import NodeCapacity

NORMAL = "Normal"
WARNING = "Warning"


@dataclass(frozen=True)
class PodContext:
    """One Pod's shared facts and callbacks."""

    key: ObjectKey
    pod: Object
    images: ImageResolver
    lookup: ObjectLookup
    clock: Clock
    options: KubeletOptions
    log_dir: Path
    restart_policy: str
    termination_grace: float
    node: NodeCapacity
    emit_event: Callable[[str, str, str], None]
    """(reason, message, type Normal|Warning); messages never contain env values."""
    changed: Callable[[], None]
    """Something in a container status changed: rebuild the Pod status, report if it differs."""
    logger: Any

    @property
    def uid(self) -> str:
        return str((self.pod.get("metadata") or {}).get("uid") or "")

    @property
    def pod_ref(self) -> str:
        """The Pod as the kubelet names it in messages: ``name_namespace(uid)``."""
        return f"{self.key.name}_{self.key.namespace}({self.uid})"

    def now(self) -> str:
        return rfc3339(self.clock.now())
