"""The kubelet of the local runtime: Pods as host processes, status in Kubernetes' shape.

Public front: the ``Kubelet`` and what it needs from the rest of the runtime (an
``ImageResolver`` giving ``ResolvedImage``s, an ``ObjectLookup`` for ConfigMaps and Secrets,
``KubeletOptions``), plus the pure helpers other parts reuse (quantity parsing, ``$(VAR)``
expansion).

A container gets its own free port on 127.0.0.1 as ``PORT`` (the first declared
containerPort is remapped to it; further declared ports come as ``PORT_<containerPort>``).
The runtime's PORT wins over a PORT set in the Pod spec: here, apps read PORT.
"""

from conveyor.model.quantity import cpu_millis, memory_bytes, parse_quantity
from conveyor.targets.local.kubelet.api import (
    ImageResolver,
    KubeletOptions,
    ObjectLookup,
    ResolvedImage,
)
from conveyor.targets.local.kubelet.env import EnvConfigError, expand
from conveyor.targets.local.kubelet.kubelet import Kubelet

__all__ = [
    "EnvConfigError",
    "ImageResolver",
    "Kubelet",
    "KubeletOptions",
    "ObjectLookup",
    "ResolvedImage",
    "cpu_millis",
    "expand",
    "memory_bytes",
    "parse_quantity",
]
