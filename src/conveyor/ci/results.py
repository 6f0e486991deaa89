"""What a pipeline run records: one result per stage, and the run they add up to.

Values, not behaviour: the runner fills them, the store keeps them as JSON (``to_dict``), the
API and CLI show them. A stage's log and findings are already scrubbed when they get here
(``conveyor.ci.scrub``): nothing in a result may echo a secret or a line of scanned code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

LOG_LIMIT = 64 * 1024
"""The most of a stage's log that is kept (its end: that is where failures are)."""


class Status(StrEnum):
    """A stage's result; a run's status is its worst stage (``running`` meanwhile)."""

    passed = "passed"
    warned = "warned"
    """The stage found something, and the pipeline file says to warn, not fail."""
    failed = "failed"
    skipped = "skipped"
    """Not applicable here (no container builder, disabled); the message says why."""
    unavailable = "unavailable"
    """The tool could not do its job (no data, not installed): never read as clean."""
    not_run = "not run"
    """An earlier stage failed (fail fast)."""
    running = "running"
    pending = "pending"


@dataclass
class StageResult:
    """One stage of one run."""

    name: str
    status: Status = Status.pending
    message: str = ""
    """One sentence for a person: what was found, or why it did not run."""
    duration: float = 0.0
    """Seconds."""
    counts: dict[str, int] = field(default_factory=dict)
    """What the stage counted: findings by severity, tests, coverage percent, packages."""
    findings: list[dict[str, Any]] = field(default_factory=list)
    """Scrubbed findings (file, line, type / rule; never the matched text or code)."""
    log: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": str(self.status),
            "message": self.message,
            "duration": round(self.duration, 3),
            "counts": dict(self.counts),
            "findings": list(self.findings),
            "log": self.log[-LOG_LIMIT:],
        }


@dataclass
class CiRun:
    """One run of the pipeline on one commit of one app repository."""

    id: str
    name: str
    """The artifact name (the app)."""
    repo: str
    commit: str
    started_at: str
    status: Status = Status.running
    finished_at: str | None = None
    artifact: str | None = None
    """``name:full-sha`` once published; None when a stage before ``publish`` failed."""
    stages: list[StageResult] = field(default_factory=list)

    def stage(self, name: str) -> StageResult:
        for stage in self.stages:
            if stage.name == name:
                return stage
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "repo": self.repo,
            "commit": self.commit,
            "status": str(self.status),
            "startedAt": self.started_at,
            "finishedAt": self.finished_at,
            "artifact": self.artifact,
            "stages": [s.to_dict() for s in self.stages],
        }


def overall(stages: list[StageResult]) -> Status:
    """The run's status: failed if any stage failed, else warned if any warned or could not
    look (unavailable), else passed."""
    statuses = {s.status for s in stages}
    if Status.failed in statuses:
        return Status.failed
    if Status.warned in statuses or Status.unavailable in statuses:
        return Status.warned
    return Status.passed
