"""Compare: is what runs what Git says? Per resource and per application, with the reason.

The pipeline's compare stage: normalize both sides (server-set fields and runtime defaults
are not differences), apply the application's ignoreDifferences, mask Secret values, and say
Synced / OutOfSync / Unknown with a one-line reason; a unified YAML diff is built on demand.
"""

from conveyor.diff.annotations import (
    COMPARE_OPTIONS,
    HELM_HOOK,
    HOOK,
    IGNORE_EXTRANEOUS,
    has_compare_option,
    is_hook,
)
from conveyor.diff.app import AppDiff, diff_app
from conveyor.diff.ignore import IgnoreRule, compile_ignore_rules, keep_ignored
from conveyor.diff.normalize import Normalizer, normalize, strip_server_fields
from conveyor.diff.report import Difference
from conveyor.diff.resource import (
    IN_SYNC,
    MISSING_FROM_TARGET,
    NOT_IN_GIT,
    ResourceDiff,
    diff_object,
)
from conveyor.diff.scope import CLUSTER_SCOPED_KINDS, resource_key
from conveyor.diff.secrets import MASK, fold_string_data, mask_secret, mask_secrets

__all__ = [
    "CLUSTER_SCOPED_KINDS",
    "COMPARE_OPTIONS",
    "HELM_HOOK",
    "HOOK",
    "IGNORE_EXTRANEOUS",
    "IN_SYNC",
    "MASK",
    "MISSING_FROM_TARGET",
    "NOT_IN_GIT",
    "AppDiff",
    "Difference",
    "IgnoreRule",
    "Normalizer",
    "ResourceDiff",
    "compile_ignore_rules",
    "diff_app",
    "diff_object",
    "fold_string_data",
    "has_compare_option",
    "is_hook",
    "keep_ignored",
    "mask_secret",
    "mask_secrets",
    "normalize",
    "resource_key",
    "strip_server_fields",
]
