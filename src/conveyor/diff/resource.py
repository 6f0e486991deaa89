"""Comparing one resource: desired (from Git) against live (from the target).

``diff_object`` returns a ``ResourceDiff`` value that the engine, the API, the CLI and the UI
all read: the sync status, a one-line reason, the normalized objects and, built only when
asked, a unified YAML diff. Secret values are masked before the value is made, so nothing it
holds or shows can reveal one.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from functools import cached_property

from conveyor.diff.normalize import Normalizer, normalize, strip_server_fields
from conveyor.diff.report import Difference, differences, summarize, unified_yaml
from conveyor.diff.scope import CLUSTER_SCOPED_KINDS, resource_key
from conveyor.diff.secrets import fold_string_data, is_secret, mask_secrets
from conveyor.model.objects import Object, ObjectKey
from conveyor.model.status import SyncStatus

MISSING_FROM_TARGET = "missing from the target"
NOT_IN_GIT = "not in Git; will be pruned"
IN_SYNC = "matches Git"


@dataclass(frozen=True)
class ResourceDiff:
    """The comparison of one resource; the normalized objects hold masked Secret values."""

    key: ObjectKey
    status: SyncStatus
    reason: str
    requires_pruning: bool = False  # live but not in Git
    affects_app_status: bool = True  # False for extraneous objects marked IgnoreExtraneous
    api_version: str = ""
    normalized_desired: Object | None = field(default=None, repr=False, compare=False)
    normalized_live: Object | None = field(default=None, repr=False, compare=False)

    @property
    def synced(self) -> bool:
        """Whether live matches Git."""
        return self.status is SyncStatus.SYNCED

    @cached_property
    def differences(self) -> tuple[Difference, ...]:
        """Every differing field, live value → desired value."""
        if self.normalized_desired is None or self.normalized_live is None:
            return ()
        return tuple(differences(self.normalized_live, self.normalized_desired))

    @cached_property
    def unified_diff(self) -> str:
        """A unified diff from live to desired, in YAML; empty when in sync."""
        if self.status is SyncStatus.SYNCED:
            return ""
        return unified_yaml(str(self.key), self.normalized_live, self.normalized_desired)


def diff_object(
    desired: Object | None,
    live: Object | None,
    *,
    namespace: str = "default",
    ignore_rules: Sequence[Normalizer] = (),
    key: ObjectKey | None = None,
    cluster_scoped: Collection[str] = CLUSTER_SCOPED_KINDS,
) -> ResourceDiff:
    """Compare ``desired`` with ``live``; either may be None (not in Git / not live).

    ``namespace`` is where a namespaced desired object without one goes (the app's
    destination); ``ignore_rules`` are compiled ignoreDifferences (or other normalizers).
    """
    subject = live if live is not None else desired  # live knows its real namespace
    if subject is None:
        raise ValueError("diff_object needs a desired or a live object")
    key = key or resource_key(subject, namespace, cluster_scoped)
    api_version = str(subject.get("apiVersion", ""))
    if live is None:
        assert desired is not None
        shown, _ = mask_secrets(strip_server_fields(fold_string_data(desired)), None)
        return ResourceDiff(
            key, SyncStatus.OUT_OF_SYNC, MISSING_FROM_TARGET, False, True, api_version, shown
        )
    if desired is None:
        _, shown = mask_secrets(None, strip_server_fields(live))
        return ResourceDiff(
            key, SyncStatus.OUT_OF_SYNC, NOT_IN_GIT, True, True, api_version, None, shown
        )
    compared: tuple[Object | None, Object | None] = normalize(
        desired, live, key=key, normalizers=ignore_rules
    )
    if is_secret(compared[0]):
        compared = mask_secrets(*compared)  # equal values keep equal masks: same verdict
    nd, nl = compared
    if nd == nl:
        return ResourceDiff(key, SyncStatus.SYNCED, IN_SYNC, False, True, api_version, nd, nl)
    reason = summarize(list(differences(nl, nd)))
    return ResourceDiff(key, SyncStatus.OUT_OF_SYNC, reason, False, True, api_version, nd, nl)
