"""CI (layer 6): a commit becomes a vetted, SHA-tagged artifact.

``runner`` is the pipeline (``run_pipeline``, the stage list, the ``after_publish`` hook where
``writeback_stage`` plugs write-back in); ``checks`` (secrets, lint, types, tests), ``scans``
(SAST, dependency audit, SBOM) and ``image`` (OCI image, image scan) are its stages;
``config`` reads ``.conveyor/pipeline.yaml``; ``results`` holds what a run records; ``scrub``
keeps secrets and scanned code out of it; ``workflow`` prints the same stages as a GitHub
Actions workflow.
In a config repository the pipeline is ``configstages`` (preview and policy of what a commit
changes); ``promotion`` moves a running tag through gates, ``leadtime`` measures it.
"""

from conveyor.ci.context import StageContext
from conveyor.ci.results import CiRun, StageResult, Status
from conveyor.ci.runner import STAGE_NAMES, Stage, run_pipeline

__all__ = ["STAGE_NAMES", "CiRun", "Stage", "StageContext", "StageResult", "Status", "run_pipeline"]
