"""Loading the analysis kinds from manifests: the same validation and warnings as Applications.

``analysis_from_dict`` picks the kind (AnalysisTemplate, ClusterAnalysisTemplate,
AnalysisRun), validates it with ``conveyor.model.loading`` (every problem named by field,
unknown and unsupported fields kept with a warning) and raises ManifestError otherwise.
``analysis_problem`` is the one-line form the local runtime's admission uses.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from conveyor.model.analysis.kinds import (
    ANALYSIS_KINDS,
    AnalysisRun,
    AnalysisTemplate,
    ClusterAnalysisTemplate,
)
from conveyor.model.loading import Loaded, ManifestError, load_as
from conveyor.model.manifest import API_VERSION
from conveyor.model.messages import type_name

AnalysisKind = AnalysisTemplate | ClusterAnalysisTemplate | AnalysisRun


def is_analysis_kind(obj: Mapping[str, Any]) -> bool:
    """An argoproj.io AnalysisTemplate, ClusterAnalysisTemplate or AnalysisRun."""
    api = str(obj.get("apiVersion") or "")
    return obj.get("kind") in ANALYSIS_KINDS and api.split("/")[0] == API_VERSION.split("/")[0]


def analysis_from_dict(obj: Mapping[str, Any]) -> Loaded[Any]:
    """Validate an analysis manifest, chosen by ``kind``; raises ManifestError."""
    if not isinstance(obj, Mapping):
        raise ManifestError([f"expected a mapping (a YAML document), got {type_name(obj)}"])
    model = ANALYSIS_KINDS.get(str(obj.get("kind")))
    if model is None:
        kinds = ", ".join(ANALYSIS_KINDS)
        raise ManifestError([f"kind: '{obj.get('kind')}' is not one of {kinds}"])
    return load_as(obj, model)


def analysis_problem(obj: Mapping[str, Any]) -> str | None:
    """Why an analysis manifest would be refused, as one message; None when it loads."""
    try:
        analysis_from_dict(obj)
    except ManifestError as err:
        return str(err)
    return None
