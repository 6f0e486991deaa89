"""``.conveyor/pipeline.yaml``: which stages run, and whether what they find warns or fails.

Every key has a default that fits a Python app, so a repository without the file gets the
whole pipeline. Unknown keys are refused (pydantic ``extra="forbid"``): an option we took and
ignored would be a lie. The file is read from the exported tree, so it is the commit's own.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError, model_validator

from conveyor.errors import ValidationError as ConveyorValidationError
from conveyor.model import yamldocs

PIPELINE_FILE = ".conveyor/pipeline.yaml"
PROMOTION_FILE = ".conveyor/promotion.yaml"
"""Where a config repository declares its environments (``conveyor.ci.promotion``)."""
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


class PolicyConfig(StageConfig):
    bundle: str = "default"
    """``default`` (Conveyor's bundle: the seeds' rules) or a directory of ``*.rego`` files
    inside the repository."""


class PreviewConfig(StageConfig):
    base: str | None = None
    """The revision the commit is compared with; default its first parent."""


Kind = Literal["app", "config"]
APP: Kind = "app"
CONFIG: Kind = "config"
_CONFIG_ONLY = frozenset({"policy", "preview"})
_BOTH = frozenset({"name", "kind", "timeout"})


class PipelineConfig(_Strict):
    """The whole file."""

    name: str | None = None
    """The artifact name; default the repository directory's name."""
    kind: Kind = APP
    """``app``: build an artifact (the default); ``config``: a config repository's pipeline,
    policy and preview of what each commit changes (``conveyor.ci.configstages``). A file
    without ``kind`` in a tree that holds ``.conveyor/promotion.yaml`` is a config one."""
    policy: PolicyConfig = Field(default_factory=PolicyConfig)
    """Config pipelines: the policy bundle over every app the commit touches."""
    preview: PreviewConfig = Field(default_factory=PreviewConfig)
    """Config pipelines: the rendered diff of every app the commit touches."""
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

    @model_validator(mode="after")
    def _stages_of_its_kind(self) -> PipelineConfig:
        """A stage key of the other kind of pipeline would be taken and ignored: refused."""
        given = self.model_fields_set - _BOTH
        other = given - _CONFIG_ONLY if self.kind == CONFIG else given & _CONFIG_ONLY
        if other:
            raise ValueError(
                f"{', '.join(sorted(other))}: not a stage of a {self.kind} pipeline (kind: "
                f"{self.kind}; {'app' if self.kind == CONFIG else 'config'} pipelines have it)"
            )
        return self

    def stage(self, name: str) -> StageConfig:
        """The options of stage ``name``; stages without options get the defaults."""
        value = getattr(self, name.replace("-", "_"), None)
        return value if isinstance(value, StageConfig) else StageConfig.model_validate({})


def load(tree: Path) -> PipelineConfig:
    """The pipeline file of an exported tree, or the defaults when it has none (a config
    pipeline's when the tree holds ``.conveyor/promotion.yaml``)."""
    path = tree / PIPELINE_FILE
    default_kind = CONFIG if (tree / PROMOTION_FILE).is_file() else APP
    if not path.is_file():
        return PipelineConfig(kind=default_kind)
    try:
        documents = list(yamldocs.load_stream(path.read_text(encoding="utf-8")))
        data = documents[0] if documents and documents[0] else {}
        if isinstance(data, dict):
            data = {"kind": default_kind, **data}
        return PipelineConfig.model_validate(data)
    except (yamldocs.YamlError, ValidationError, UnicodeDecodeError) as err:
        raise ConveyorValidationError(f"{PIPELINE_FILE} is not valid: {err}") from err
