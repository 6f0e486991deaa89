"""``.conveyor/pipeline.yaml``: which stages run, and whether what they find warns or fails.

Every key has a default that fits a Python app, so a repository without the file gets the
whole pipeline. Unknown keys are refused (pydantic ``extra="forbid"``): an option we took and
ignored would be a lie. The file is read from the exported tree, so it is the commit's own.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError

from conveyor.errors import ValidationError as ConveyorValidationError
from conveyor.model import yamldocs

PIPELINE_FILE = ".conveyor/pipeline.yaml"
DEFAULT_OSV_URL = "https://api.osv.dev/v1/query"


class OnFinding(StrEnum):
    """What a stage's findings do to the run."""

    fail = "fail"
    warn = "warn"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class StageConfig(_Strict):
    enabled: bool = True
    on_finding: OnFinding = Field(
        default=OnFinding.fail, validation_alias=AliasChoices("onFinding", "on_finding")
    )
    """``fail`` stops the run; ``warn`` records the findings and goes on."""
    unavailable: OnFinding = Field(default=OnFinding.warn)
    """What a tool that could not look (no data, not installed) does: warn by default."""


class TestsConfig(StageConfig):
    coverage: float = Field(default=80.0, ge=0, le=100)
    """The coverage gate, in percent of the app's statements (tests excluded)."""
    source: str | None = None
    """What coverage measures; default ``src`` when it exists, else the whole tree."""


class TypesConfig(StageConfig):
    paths: list[str] = Field(default_factory=lambda: ["."])


class SastConfig(StageConfig):
    severity: Literal["low", "medium", "high"] = "high"
    """The lowest bandit/semgrep severity that counts as a finding; lower ones are listed."""


class AuditConfig(StageConfig):
    osv_url: str = Field(
        default=DEFAULT_OSV_URL, validation_alias=AliasChoices("osvUrl", "osv_url")
    )
    """OSV's query endpoint (a mirror, or a fixture in tests)."""
    timeout: int = Field(default=15, ge=1, le=600)


class PipelineConfig(_Strict):
    """The whole file."""

    name: str | None = None
    """The artifact name; default the repository directory's name."""
    secrets: StageConfig = Field(default_factory=StageConfig)
    lint: StageConfig = Field(default_factory=StageConfig)
    types: TypesConfig = Field(default_factory=TypesConfig)
    tests: TestsConfig = Field(default_factory=TestsConfig)
    sast: SastConfig = Field(default_factory=SastConfig)
    audit: AuditConfig = Field(default_factory=AuditConfig)
    sbom: StageConfig = Field(default_factory=StageConfig)
    image: StageConfig = Field(default_factory=StageConfig)
    image_scan: StageConfig = Field(
        default_factory=StageConfig, validation_alias=AliasChoices("imageScan", "image_scan")
    )
    timeout: int = Field(default=900, ge=10, le=6 * 3600)
    """Seconds one tool may run."""

    def stage(self, name: str) -> StageConfig:
        """The options of stage ``name``; stages without options get the defaults."""
        value = getattr(self, name.replace("-", "_"), None)
        return value if isinstance(value, StageConfig) else StageConfig.model_validate({})


def load(tree: Path) -> PipelineConfig:
    """The pipeline file of an exported tree, or the defaults when it has none."""
    path = tree / PIPELINE_FILE
    if not path.is_file():
        return PipelineConfig()
    try:
        documents = list(yamldocs.load_stream(path.read_text(encoding="utf-8")))
        return PipelineConfig.model_validate(documents[0] if documents and documents[0] else {})
    except (yamldocs.YamlError, ValidationError, UnicodeDecodeError) as err:
        raise ConveyorValidationError(f"{PIPELINE_FILE} is not valid: {err}") from err
