"""The security stages: SAST (bandit, semgrep), the dependency audit (pip-audit against OSV)
and the SBOM (CycloneDX), the last two on the staged environment that will ship.

A scanner that cannot reach its data is "unavailable", never clean: pip-audit prints a clean
result when its service answers nothing, so its JSON is read and skipped packages are counted
as unaudited.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from conveyor.ci import scrub
from conveyor.ci.checks import log_of, missing, verdict
from conveyor.ci.config import OnFinding, StageConfig
from conveyor.ci.context import StageContext
from conveyor.ci.results import StageResult, Status
from conveyor.ci.tools import find_tool, run_tool

SBOM_FILE = "sbom.cdx.json"
"""The CycloneDX JSON kept inside the artifact, beside ``artifact.json``."""
_SEVERITIES = ("low", "medium", "high")


async def sast(ctx: StageContext) -> StageResult:
    """bandit over the tree (and semgrep when installed); code lines never stored."""
    result = StageResult("sast")
    config = ctx.config.sast
    bandit = find_tool("bandit")
    if bandit is None:
        return missing(result, "bandit", config)
    output = await run_tool(
        [bandit, "-r", ".", "-f", "json", "-q", "-x", "./.git,./.venv,./venv"],
        cwd=ctx.tree,
        timeout=ctx.timeout,
    )
    try:
        report = json.loads(output.stdout)
    except ValueError:
        result.status, result.message = (
            Status.unavailable,
            f"bandit gave no report (exit {output.code})",
        )
        return result
    for item in report.get("results") or []:
        clean = scrub.finding(item)
        result.findings.append(
            {
                "file": str(clean.get("filename", "")).removeprefix("./"),
                "line": clean.get("line_number"),
                "rule": clean.get("test_id"),
                "severity": str(clean.get("issue_severity", "")).lower(),
                "confidence": str(clean.get("issue_confidence", "")).lower(),
                "message": clean.get("issue_text"),
                "tool": "bandit",
            }
        )
    semgrep = find_tool("semgrep")
    if semgrep is not None:
        sem = await run_tool(
            [semgrep, "scan", "--config", "auto", "--json", "--quiet", "--metrics", "off", "."],
            cwd=ctx.tree,
            timeout=ctx.timeout,
        )
        try:
            for item in json.loads(sem.stdout).get("results") or []:
                extra = scrub.finding(item.get("extra") or {})
                severity = {"ERROR": "high", "WARNING": "medium"}.get(
                    str(extra.get("severity")), "low"
                )
                result.findings.append(
                    {
                        "file": item.get("path"),
                        "line": (item.get("start") or {}).get("line"),
                        "rule": item.get("check_id"),
                        "severity": severity,
                        "message": extra.get("message"),
                        "tool": "semgrep",
                    }
                )
        except ValueError:
            result.log += "semgrep gave no report\n"
    else:
        result.log += "semgrep: not installed, skipped\n"
    gate = _SEVERITIES.index(config.severity)
    counts = {s: 0 for s in _SEVERITIES}
    for f in result.findings:
        if f["severity"] in counts:
            counts[f["severity"]] += 1
    result.counts = counts
    serious = [f for f in result.findings if f["severity"] in _SEVERITIES[gate:]]
    result.log += "\n".join(
        f"{f['file']}:{f['line']}: {f['severity'].upper()} {f['rule']} {f['message']}"
        for f in result.findings
    )
    result.status = verdict(config, bool(serious))
    result.message = (
        f"{len(serious)} finding(s) at {config.severity} severity or above: "
        + ", ".join(f"{f['file']}:{f['line']} {f['rule']}" for f in serious[:5])
        if serious
        else f"nothing at {config.severity} severity or above ({len(result.findings)} lower)"
    )
    return result


def site_packages(venv: Path) -> list[Path]:
    return sorted(venv.glob("lib/python*/site-packages"))


async def audit(ctx: StageContext) -> StageResult:
    """pip-audit of the staged venv's packages against the configured OSV endpoint."""
    result = StageResult("audit")
    config = ctx.config.audit
    tool = find_tool("pip-audit")
    if tool is None:
        return missing(result, "pip-audit", config)
    if ctx.staged is None:
        result.status, result.message = Status.skipped, "nothing was staged"
        return result
    paths = [arg for p in site_packages(ctx.staged.venv_dir) for arg in ("--path", str(p))]
    output = await run_tool(
        [
            tool,
            "-f",
            "json",
            "--progress-spinner",
            "off",
            "-s",
            "osv",
            "--osv-url",
            config.osv_url,
            "--timeout",
            str(config.timeout),
            "--cache-dir",
            str(ctx.work / "pip-audit-cache"),
            "--desc",
            "off",
            *paths,
        ],
        cwd=ctx.work,
        timeout=ctx.timeout,
    )
    return judge_audit(result, config, output.stdout, log_of(output))


def judge_audit(result: StageResult, config: StageConfig, report: str, log: str) -> StageResult:
    """The audit's status from pip-audit's JSON: vulnerable, unaudited, or clean."""
    result.log = log
    try:
        data: Any = json.loads(report)
        dependencies = data["dependencies"]
    except (ValueError, KeyError, TypeError):
        last = log.strip().splitlines()[-1] if log.strip() else "no output"
        return _unavailable(result, config, f"pip-audit could not audit: {last}")
    audited = [d for d in dependencies if "skip_reason" not in d]
    unaudited = [d for d in dependencies if "skip_reason" in d]
    for dep in audited:
        for vuln in dep.get("vulns") or []:
            result.findings.append(
                {
                    "package": dep.get("name"),
                    "version": dep.get("version"),
                    "id": vuln.get("id"),
                    "aliases": vuln.get("aliases") or [],
                    "fix": vuln.get("fix_versions") or [],
                }
            )
    result.counts = {
        "packages": len(dependencies),
        "audited": len(audited),
        "unaudited": len(unaudited),
        "vulnerabilities": len(result.findings),
    }
    if result.findings:
        result.status = verdict(config, True)
        result.message = f"{len(result.findings)} known vulnerabilit(y/ies): " + ", ".join(
            f"{f['package']} {f['version']} ({f['id']})" for f in result.findings[:5]
        )
        return result
    if unaudited:
        return _unavailable(
            result,
            config,
            f"{len(unaudited)} of {len(dependencies)} package(s) could not be "
            "audited: " + ", ".join(str(d.get("name")) for d in unaudited[:5]),
        )
    result.status = Status.passed
    result.message = f"{len(audited)} package(s) audited, no known vulnerabilities"
    return result


def _unavailable(result: StageResult, config: StageConfig, message: str) -> StageResult:
    result.status = Status.failed if config.unavailable is OnFinding.fail else Status.unavailable
    result.message = message
    return result


async def sbom(ctx: StageContext) -> StageResult:
    """CycloneDX JSON of the staged venv, kept inside the artifact."""
    result = StageResult("sbom")
    config = ctx.config.sbom
    tool = find_tool("cyclonedx-py")
    if tool is None:
        return missing(result, "cyclonedx-py", config)
    if ctx.staged is None:
        result.status, result.message = Status.skipped, "nothing was staged"
        return result
    target = ctx.work / SBOM_FILE
    output = await run_tool(
        [
            tool,
            "environment",
            "--of",
            "JSON",
            "-o",
            str(target),
            "--output-reproducible",
            str(ctx.staged.venv_dir / "bin" / "python"),
        ],
        cwd=ctx.work,
        timeout=ctx.timeout,
    )
    result.log = log_of(output)
    try:
        document = json.loads(target.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        result.status, result.message = (
            Status.failed,
            f"cyclonedx-py made no SBOM (exit {output.code})",
        )
        return result
    ctx.staged.add_file(SBOM_FILE, target.read_bytes())
    components = len(document.get("components") or [])
    result.counts = {"components": components}
    result.status = Status.passed
    result.message = f"CycloneDX {document.get('specVersion')} SBOM, {components} component(s)"
    return result
