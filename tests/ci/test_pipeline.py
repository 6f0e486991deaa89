"""``conveyor ci run``'s pipeline with the real scanners on small repositories."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from conveyor.artifacts import ArtifactStore
from conveyor.ci import Stage, StageContext, StageResult
from conveyor.ci.config import AuditConfig
from conveyor.ci.results import Status
from conveyor.ci.runner import run_pipeline
from conveyor.ci.scans import judge_audit
from support.ci_repos import GOOD_APP, make_repo, osv_server, pipeline, wheel

pytestmark = [pytest.mark.processes, pytest.mark.timeout(600)]

AWS_KEY = "AKIA" + "Z3MSJV4WWNKWW5FA"  # split, so that this file is no finding itself


def statuses(run: object) -> dict[str, str]:
    return {s["name"]: s["status"] for s in run.to_dict()["stages"]}  # type: ignore[attr-defined]


async def test_a_planted_aws_key_fails_the_run_and_no_artifact_appears(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path / "leaky",
        {**GOOD_APP, "settings.py": f'REGION = "eu-west-1"\nAWS_ACCESS_KEY_ID = "{AWS_KEY}"\n'},
    )
    store = ArtifactStore(tmp_path / "artifacts")

    run = await run_pipeline(repo, store=store)

    assert run.status is Status.failed
    stage = run.stage("secrets")
    assert stage.status is Status.failed
    assert {"file": "settings.py", "line": 2, "type": "AWS Access Key"} in stage.findings
    after = statuses(run)
    assert [after[s] for s in ("lint", "tests", "stage", "publish")] == ["not run"] * 4
    assert store.list() == []
    assert run.artifact is None
    assert AWS_KEY not in json.dumps(run.to_dict())


async def test_an_app_at_60_percent_coverage_fails_the_gate_with_the_figure(
    tmp_path: Path,
) -> None:
    repo = make_repo(
        tmp_path / "thin",
        {
            "calc.py": "def used(x: int) -> int:\n    return x + 1\n\n\n"
            "def unused(x: int) -> int:\n    y = x * 2\n    return y\n",
            "tests/test_calc.py": "from calc import used\n\n\ndef test_used() -> None:\n"
            "    assert used(1) == 2\n",
        },
    )
    store = ArtifactStore(tmp_path / "artifacts")

    run = await run_pipeline(repo, store=store)

    tests = run.stage("tests")
    assert tests.status is Status.failed, tests.log
    assert "coverage 60.0% is below the 80% gate" in tests.message
    assert tests.counts["coverage"] == 60
    assert statuses(run)["lint"] == statuses(run)["types"] == "passed"
    assert statuses(run)["publish"] == "not run"
    assert store.list() == []


def _vulnerable_app(root: Path, osv_url: str) -> Path:
    filename, data = wheel("vulnpkg", "1.0.0")
    return make_repo(
        root,
        {
            **GOOD_APP,
            f"wheels/{filename}": data,
            "requirements.txt": f"./wheels/{filename}\n",
            ".conveyor/pipeline.yaml": pipeline(extra=f"audit:\n  osvUrl: {osv_url}\n"),
        },
    )


async def test_an_advisory_from_the_osv_endpoint_fails_the_audit(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "artifacts")
    with osv_server("vulnpkg") as url:
        repo = _vulnerable_app(tmp_path / "vulnerable", url)
        run = await run_pipeline(repo, store=store)

    audit = run.stage("audit")
    assert audit.status is Status.failed, audit.log
    assert audit.findings[0]["package"] == "vulnpkg"
    assert "OSV-TEST-0001" in [audit.findings[0]["id"], *audit.findings[0]["aliases"]]
    assert audit.counts["vulnerabilities"] == 1
    assert statuses(run)["stage"] == "passed"
    assert statuses(run)["publish"] == "not run"
    assert store.list() == []  # the staged build was never tagged


async def test_an_unreachable_osv_is_unavailable_never_clean(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port that nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    store = ArtifactStore(tmp_path / "artifacts")
    repo = _vulnerable_app(tmp_path / "offline", f"http://127.0.0.1:{port}/v1/query")

    run = await run_pipeline(repo, store=store)

    audit = run.stage("audit")
    assert audit.status is Status.unavailable, audit.log
    assert "vulnerabilities" not in audit.message.replace("no known vulnerabilities", "")
    assert "no known vulnerabilities" not in audit.message
    assert run.status is Status.warned  # the default: unavailable warns
    # The SBOM describes the environment that shipped, inside the artifact.
    [artifact] = store.list()
    assert artifact.tag == run.commit and run.artifact == artifact.image
    sbom = json.loads((artifact.path / "sbom.cdx.json").read_text())
    assert sbom["bomFormat"] == "CycloneDX"
    assert "vulnpkg" in {c["name"] for c in sbom["components"]}


async def test_a_high_bandit_finding_fails_without_storing_the_code(tmp_path: Path) -> None:
    marker = "CODE_LINE_MARKER_7731"
    repo = make_repo(
        tmp_path / "unsafe",
        {
            **GOOD_APP,
            "runner.py": "import subprocess\n\n\ndef go(arg: str) -> None:\n"
            f'    subprocess.Popen("echo {marker} " + arg, shell=True)\n',
            ".conveyor/pipeline.yaml": pipeline("secrets", "sast"),
        },
    )
    store = ArtifactStore(tmp_path / "artifacts")

    run = await run_pipeline(repo, store=store)

    sast = run.stage("sast")
    assert sast.status is Status.failed
    high = [f for f in sast.findings if f["severity"] == "high"]
    assert high and high[0]["file"] == "runner.py" and high[0]["line"] == 5
    assert high[0]["rule"] == "B602"
    assert marker not in json.dumps(run.to_dict())
    assert store.list() == []


async def test_write_back_plugs_in_after_publish_and_a_rerun_rebuilds_nothing(
    tmp_path: Path,
) -> None:
    repo = make_repo(tmp_path / "hooked", {**GOOD_APP, ".conveyor/pipeline.yaml": pipeline()})
    store = ArtifactStore(tmp_path / "artifacts")
    seen: list[str] = []

    async def write_back(ctx: StageContext) -> StageResult:
        assert ctx.artifact is not None
        seen.append(ctx.artifact.image)
        return StageResult("write-back", Status.failed, "the config repo refused the push")

    run = await run_pipeline(repo, store=store, after_publish=[Stage("write-back", write_back)])

    assert seen == [f"hooked:{run.commit}"]
    assert statuses(run)["publish"] == "passed"
    assert statuses(run)["write-back"] == "failed"
    assert run.status is Status.failed and run.artifact == seen[0]
    again = await run_pipeline(repo, store=store)
    assert statuses(again)["stage"] == "skipped"
    assert "already exists" in again.stage("stage").message
    assert again.artifact == seen[0] and len(store.list()) == 1


def test_packages_pip_audit_skipped_are_unaudited_not_clean() -> None:
    report = json.dumps(
        {
            "dependencies": [
                {"name": "requests", "version": "2.32.0", "vulns": []},
                {"name": "private-lib", "skip_reason": "Dependency not found on PyPI"},
            ],
            "fixes": [],
        }
    )
    result = judge_audit(StageResult("audit"), AuditConfig(), report, "")
    assert result.status is Status.unavailable
    assert result.counts == {"packages": 2, "audited": 1, "unaudited": 1, "vulnerabilities": 0}
    assert "private-lib" in result.message
