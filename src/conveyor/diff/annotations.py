"""The annotations that change how an object is compared; each key is one constant.

Argo CD users set these on their manifests; Conveyor reads them with the same meaning.
"""

from __future__ import annotations

from conveyor.model.merge import LAST_APPLIED
from conveyor.model.objects import Object

# Marks a hook: applied during a sync phase (PreSync, Sync, PostSync, SyncFail, Skip), never
# compared, so it never makes an application OutOfSync.
HOOK = "argocd.argoproj.io/hook"
# Helm's hook annotation; Argo CD treats Helm hooks as hooks too.
HELM_HOOK = "helm.sh/hook"
# Comma-separated compare options, e.g. IgnoreExtraneous.
COMPARE_OPTIONS = "argocd.argoproj.io/compare-options"
# A live object not in Git that carries this option does not make the application OutOfSync.
IGNORE_EXTRANEOUS = "IgnoreExtraneous"
# What was applied last; its fields count as Conveyor's, so removing one from Git shows.
LAST_APPLIED_CONFIGURATION = LAST_APPLIED

__all__ = [
    "COMPARE_OPTIONS",
    "HELM_HOOK",
    "HOOK",
    "IGNORE_EXTRANEOUS",
    "LAST_APPLIED_CONFIGURATION",
    "annotation",
    "has_compare_option",
    "is_hook",
]


def annotation(obj: Object | None, key: str) -> str | None:
    """The value of annotation ``key`` on ``obj``, or None."""
    if obj is None:
        return None
    meta = obj.get("metadata")
    annotations = meta.get("annotations") if isinstance(meta, dict) else None
    value = annotations.get(key) if isinstance(annotations, dict) else None
    return value if isinstance(value, str) else None


def is_hook(obj: Object | None) -> bool:
    """Whether ``obj`` is a sync hook (Argo CD's or Helm's annotation)."""
    return bool(annotation(obj, HOOK) or annotation(obj, HELM_HOOK))


def has_compare_option(obj: Object | None, option: str) -> bool:
    """Whether ``obj``'s compare-options annotation lists ``option``."""
    value = annotation(obj, COMPARE_OPTIONS) or ""
    return option in (part.strip() for part in value.split(","))
