"""``conveyor ci run|runs|logs|workflow`` without a server: the run is kept in the local store."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conveyor.ci.config import PipelineConfig, load
from conveyor.ci.workflow import github_workflow
from conveyor.errors import ValidationError
from support.ci_repos import GOOD_APP, conveyor, make_repo, pipeline

pytestmark = [pytest.mark.processes, pytest.mark.timeout(600)]
AWS_KEY = "AKIA" + "QX7RZP2MWN4KD9LT"


def _cli(*args: str) -> tuple[int, str, str]:
    return conveyor(*args, env={"CONVEYOR_SERVER": ""})


def test_a_local_run_is_listed_and_its_logs_show_where_not_what(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path / "shop",
        {
            **GOOD_APP,
            "keys.py": f'KEY = "{AWS_KEY}"\n',
            ".conveyor/pipeline.yaml": pipeline("secrets"),
        },
    )

    code, out, err = _cli("ci", "run", str(repo), "-o", "json")

    assert code == 1
    run = json.loads(out)
    assert run["status"] == "failed" and run["artifact"] is None
    assert "secrets     failed" in err
    code, out, _ = _cli("ci", "runs", "-o", "json")
    assert code == 0
    assert [r["id"] for r in json.loads(out)] == [run["id"]]
    code, out, _ = _cli("ci", "logs", run["id"], "--stage", "secrets")
    assert code == 0
    assert "file=keys.py  line=1  type=AWS Access Key" in out
    assert AWS_KEY not in out
    code, _, err = _cli("ci", "logs", run["id"], "--stage", "nope")
    assert code == 1 and "has no stage 'nope'" in err


def test_the_github_workflow_validates_against_the_published_schema(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path / "gated",
        {
            **GOOD_APP,
            ".conveyor/pipeline.yaml": "tests:\n  coverage: 90\nsast:\n  onFinding: warn\n",
        },
    )
    code, out, _ = _cli("ci", "workflow", "github", "--path", str(repo))
    assert code == 0
    assert "--cov-fail-under=90" in out
    target = tmp_path / "ci.yaml"
    target.write_text(out)
    check = subprocess.run(
        [str(Path(sys.executable).parent / "check-jsonschema"), "--builtin-schema",
         "vendor.github-workflows", str(target)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert check.returncode == 0, check.stdout + check.stderr
    broken = tmp_path / "broken.yaml"
    broken.write_text(github_workflow(PipelineConfig()).replace("runs-on", "runs-at"))
    refused = subprocess.run(
        [str(Path(sys.executable).parent / "check-jsonschema"), "--builtin-schema",
         "vendor.github-workflows", str(broken)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert refused.returncode != 0  # the check can fail


def test_an_unknown_key_in_the_pipeline_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / ".conveyor").mkdir()
    (tmp_path / ".conveyor/pipeline.yaml").write_text("tests:\n  covrage: 90\n")
    with pytest.raises(ValidationError, match="covrage"):
        load(tmp_path)
