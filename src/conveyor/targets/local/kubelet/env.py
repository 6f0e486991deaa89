"""A container's environment, resolved the way the kubelet does it (pure: no I/O of its own).

Order, later wins: the host basics Conveyor passes on (PATH, HOME, locale...), ``envFrom``
(ConfigMaps/Secrets with an optional prefix), ``env`` (values and ``valueFrom``), and last the
runtime's own ``PORT`` / ``PORT_<containerPort>``: a Pod cannot pick its host port, it reads
PORT. ``$(VAR)`` references follow Kubernetes' rules: ``$$`` is a literal ``$``, a reference
to an undefined variable stays as written, and ``env`` values see variables defined before
them. A missing ConfigMap, Secret or key that is not ``optional`` raises ``EnvConfigError``,
whose message names what is missing and never contains a value.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections import ChainMap
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from conveyor.errors import ValidationError
from conveyor.model.objects import Object, ObjectKey
from conveyor.model.quantity import parse_quantity
from conveyor.targets.local.kubelet.api import ObjectLookup

POD_IP = "127.0.0.1"
NODE_NAME = "localhost"

_LABEL_PATH = re.compile(r"^metadata\.(labels|annotations)\['([^']*)'\]$")


class EnvConfigError(Exception):
    """One or more references could not be resolved (CreateContainerConfigError)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems
        self.message = "; ".join(problems)


@dataclass(frozen=True)
class NodeCapacity:
    """What ``resourceFieldRef`` reports for a limit the container does not set."""

    cpu_millis: int
    memory_bytes: int


def expand(text: str, env: Mapping[str, str]) -> str:
    """Expand ``$(VAR)`` references in ``text`` with Kubernetes' rules."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char != "$" or i + 1 >= n:
            out.append(char)
            i += 1
            continue
        nxt = text[i + 1]
        if nxt == "$":
            out.append("$")
            i += 2
        elif nxt == "(":
            close = text.find(")", i + 2)
            if close < 0:
                out.append("$(")
                i += 2
                continue
            name = text[i + 2 : close]
            value = env.get(name)
            out.append(value if value is not None else f"$({name})")
            i = close + 1
        else:
            out.append("$" + nxt)
            i += 2
    return "".join(out)


def resolve_env(
    container: Mapping[str, Any],
    pod: Object,
    lookup: ObjectLookup,
    *,
    base: Mapping[str, str],
    runtime: Mapping[str, str],
    node: NodeCapacity,
) -> dict[str, str]:
    """The full environment of ``container``; raises EnvConfigError naming what is missing."""
    meta = pod.get("metadata") or {}
    namespace = meta.get("namespace") or "default"
    problems: list[str] = []
    env: dict[str, str] = dict(base)
    visible = ChainMap(dict(runtime), env)

    for source in container.get("envFrom") or []:
        prefix = str(source.get("prefix") or "")
        if "configMapRef" in source:
            ref = source["configMapRef"] or {}
            data = _config_map_data(lookup, namespace, ref, problems)
        elif "secretRef" in source:
            ref = source["secretRef"] or {}
            data = _secret_data(lookup, namespace, ref, problems)
        else:
            continue
        for key, value in (data or {}).items():
            if key and "=" not in key:
                env[prefix + key] = value

    for item in container.get("env") or []:
        name = item.get("name")
        if not name:
            continue
        if "valueFrom" in item:
            found = _value_from(
                item["valueFrom"] or {}, container, pod, lookup, namespace, node, problems
            )
            if found is not None:
                env[name] = found
        else:
            env[name] = expand(str(item.get("value") or ""), visible)

    if problems:
        raise EnvConfigError(problems)
    env.update(runtime)
    return env


def _value_from(
    source: Mapping[str, Any],
    container: Mapping[str, Any],
    pod: Object,
    lookup: ObjectLookup,
    namespace: str,
    node: NodeCapacity,
    problems: list[str],
) -> str | None:
    if "configMapKeyRef" in source:
        ref = source["configMapKeyRef"] or {}
        data = _config_map_data(lookup, namespace, ref, problems)
        return _key(data, ref, "ConfigMap", namespace, problems)
    if "secretKeyRef" in source:
        ref = source["secretKeyRef"] or {}
        data = _secret_data(lookup, namespace, ref, problems)
        return _key(data, ref, "Secret", namespace, problems)
    if "fieldRef" in source:
        path = str((source["fieldRef"] or {}).get("fieldPath") or "")
        value = field_value(pod, path)
        if value is None:
            problems.append(f'unsupported fieldPath "{path}"')
        return value
    if "resourceFieldRef" in source:
        try:
            return _resource_value(source["resourceFieldRef"] or {}, container, pod, node, problems)
        except ValidationError as exc:
            problems.append(f"resourceFieldRef: {exc.message}")
            return None
    problems.append("valueFrom names no source (configMapKeyRef, secretKeyRef, fieldRef)")
    return None


def field_value(pod: Object, path: str) -> str | None:
    """The value of a downward-API ``fieldRef`` path, or None when the path is not supported."""
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    simple = {
        "metadata.name": meta.get("name") or "",
        "metadata.namespace": meta.get("namespace") or "default",
        "metadata.uid": meta.get("uid") or "",
        "status.podIP": POD_IP,
        "status.podIPs": POD_IP,
        "status.hostIP": POD_IP,
        "status.hostIPs": POD_IP,
        "spec.nodeName": spec.get("nodeName") or NODE_NAME,
        "spec.serviceAccountName": spec.get("serviceAccountName") or "default",
    }
    if path in simple:
        return str(simple[path])
    match = _LABEL_PATH.match(path)
    if match:
        return str((meta.get(match.group(1)) or {}).get(match.group(2), ""))
    return None


def _config_map_data(
    lookup: ObjectLookup, namespace: str, ref: Mapping[str, Any], problems: list[str]
) -> dict[str, str] | None:
    name = str(ref.get("name") or "")
    obj = lookup.get(ObjectKey("", "ConfigMap", namespace, name))
    if obj is None:
        if not ref.get("optional"):
            problems.append(f'configmap "{name}" not found')
        return None
    return {str(k): str(v) for k, v in (obj.get("data") or {}).items()}


def _secret_data(
    lookup: ObjectLookup, namespace: str, ref: Mapping[str, Any], problems: list[str]
) -> dict[str, str] | None:
    name = str(ref.get("name") or "")
    obj = lookup.get(ObjectKey("", "Secret", namespace, name))
    if obj is None:
        if not ref.get("optional"):
            problems.append(f'secret "{name}" not found')
        return None
    data: dict[str, str] = {}
    for key, encoded in (obj.get("data") or {}).items():
        try:
            raw = base64.b64decode(str(encoded), validate=True)
        except (binascii.Error, ValueError):
            problems.append(f"key {key} in Secret {namespace}/{name} is not valid base64")
            continue
        data[str(key)] = raw.decode("utf-8", "surrogateescape")
    data.update({str(k): str(v) for k, v in (obj.get("stringData") or {}).items()})
    return data


def _key(
    data: dict[str, str] | None,
    ref: Mapping[str, Any],
    kind: str,
    namespace: str,
    problems: list[str],
) -> str | None:
    if data is None:
        return None
    key = str(ref.get("key") or "")
    if key in data:
        return data[key]
    if not ref.get("optional"):
        problems.append(f"couldn't find key {key} in {kind} {namespace}/{ref.get('name') or ''}")
    return None


def _resource_value(
    ref: Mapping[str, Any],
    container: Mapping[str, Any],
    pod: Object,
    node: NodeCapacity,
    problems: list[str],
) -> str | None:
    target = container
    wanted = ref.get("containerName")
    if wanted and wanted != container.get("name"):
        spec = pod.get("spec") or {}
        found = [c for c in spec.get("containers") or [] if c.get("name") == wanted]
        if not found:
            problems.append(f'resourceFieldRef names unknown container "{wanted}"')
            return None
        target = found[0]
    resource = str(ref.get("resource") or "")
    section, _, kind = resource.partition(".")
    if section not in ("limits", "requests") or kind not in ("cpu", "memory"):
        problems.append(f'unsupported resource "{resource}" in resourceFieldRef')
        return None
    declared = ((target.get("resources") or {}).get(section) or {}).get(kind)
    if declared is None and section == "requests":
        declared = ((target.get("resources") or {}).get("limits") or {}).get(kind)
    if declared is not None:
        amount = parse_quantity(declared)
    elif kind == "cpu":
        amount = parse_quantity(f"{node.cpu_millis}m")
    else:
        amount = parse_quantity(node.memory_bytes)
    divisor = parse_quantity(ref.get("divisor") or "1")
    if divisor <= 0:
        problems.append("resourceFieldRef divisor must be positive")
        return None
    return str(
        max(1, math.ceil(amount / divisor)) if kind == "cpu" else math.ceil(amount / divisor)
    )
