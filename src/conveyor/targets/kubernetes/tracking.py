"""Argo CD's annotation tracking, read as Conveyor's label tracking.

Argo CD 3 tracks an application's objects by the annotation ``argocd.argoproj.io/tracking-id:
<app>:<group>/<kind>:<namespace>/<name>`` (by default), older versions by the
``app.kubernetes.io/instance`` label that Conveyor uses. So that an app moved from Argo CD
keeps its objects (prune, self-heal and health see them from the first look), a live object
carrying only the annotation is seen with the label of the app it names. As Argo CD does, the
annotation counts only when it names the object it is on: one copied onto another object (a
Helm chart's template, ``kubectl get -o yaml | kubectl apply``) does not make it the app's.
The next sync writes the label for real (server-side apply of the app's manifests).
"""

from __future__ import annotations

from conveyor.model.objects import Object, ObjectKey
from conveyor.targets.protocol import TRACKING_LABEL

TRACKING_ANNOTATION = "argocd.argoproj.io/tracking-id"


def tracking_id(app: str, key: ObjectKey) -> str:
    """The annotation's value for ``key`` in ``app``, as Argo CD writes it."""
    return f"{app}:{key.group}/{key.kind}:{key.namespace}/{key.name}"


def app_of_annotation(obj: Object, key: ObjectKey) -> str | None:
    """The app the annotation names, when it names this very object."""
    value = ((obj.get("metadata") or {}).get("annotations") or {}).get(TRACKING_ANNOTATION)
    if not isinstance(value, str) or ":" not in value:
        return None
    app = value.split(":", 1)[0]
    return app if app and value == tracking_id(app, key) else None


def with_tracking_label(obj: Object, key: ObjectKey) -> Object:
    """``obj`` (changed in place) with the label of the app its annotation names, when it
    has no label of its own."""
    meta = obj.setdefault("metadata", {})
    labels = meta.get("labels") or {}
    if TRACKING_LABEL in labels:
        return obj
    app = app_of_annotation(obj, key)
    if app is not None:
        meta["labels"] = {**labels, TRACKING_LABEL: app}
    return obj
