"""The annotations that change how an object is compared, from the one sync vocabulary.

Argo CD users set these on their manifests; Conveyor reads them with the same meaning. The
keys and the hook rule live in ``conveyor.model.synccommon`` (shared with the sync plan and
health); this module names the ones the differ uses.
"""

from __future__ import annotations

from conveyor.model.merge import LAST_APPLIED
from conveyor.model.synccommon import (
    ANNOTATION_COMPARE_OPTIONS,
    ANNOTATION_HELM_HOOK,
    ANNOTATION_HOOK,
    COMPARE_OPTION_IGNORE_EXTRANEOUS,
    annotation,
    has_compare_option,
    is_hook,
)

# Marks a hook: applied during a sync phase, never compared (see synccommon.is_hook).
HOOK = ANNOTATION_HOOK
# Helm's hook annotation; Helm hooks are hooks too (but crd-install).
HELM_HOOK = ANNOTATION_HELM_HOOK
# Comma-separated compare options, e.g. IgnoreExtraneous.
COMPARE_OPTIONS = ANNOTATION_COMPARE_OPTIONS
# A live object not in Git that carries this option does not make the application OutOfSync.
IGNORE_EXTRANEOUS = COMPARE_OPTION_IGNORE_EXTRANEOUS
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
