"""The source stages: secret scan, lint, types and tests, each on the exported tree.

Each is a function from the stage's context to its result; the runner times them and decides
what runs next. A missing tool is "unavailable" (it did not look), never "passed".
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from typing import Any

from conveyor.ci import scrub
from conveyor.ci.config import OnFinding, StageConfig
from conveyor.ci.context import StageContext
from conveyor.ci.results import StageResult, Status
from conveyor.ci.tools import ToolOutput, find_tool, run_tool, tool_env

EXCLUDED_DIRS = (".git", ".venv", "venv", "node_modules", "__pycache__")


def verdict(config: StageConfig, found: bool) -> Status:
    """passed, or what the pipeline file says findings do (fail or warn)."""
    if not found:
        return Status.passed
    return Status.failed if config.on_finding is OnFinding.fail else Status.warned


def missing(result: StageResult, tool: str, config: StageConfig) -> StageResult:
    result.status = Status.failed if config.unavailable is OnFinding.fail else Status.unavailable
    result.message = f"{tool} is not installed, so this stage did not look"
    return result


def log_of(output: ToolOutput) -> str:
    return scrub.mask_text((output.stdout + output.stderr).strip())


async def secrets(ctx: StageContext) -> StageResult:
    """detect-secrets over every file; gitleaks too when it is on PATH."""
    result = StageResult("secrets")
    config = ctx.config.secrets
    tool = find_tool("detect-secrets")
    if tool is None:
        return missing(result, "detect-secrets", config)
    exclude = "|".join(re.escape(d) for d in EXCLUDED_DIRS)
    output = await run_tool(
        [tool, "scan", "--all-files", "--exclude-files", rf"(^|/)({exclude})/", "."],
        cwd=ctx.tree,
        timeout=ctx.timeout,
    )
    try:
        report = json.loads(output.stdout)
    except ValueError:
        result.status = Status.unavailable
        result.message = "detect-secrets gave no report"
        result.log = log_of(output)
        return result
    for path, items in sorted((report.get("results") or {}).items()):
        for item in items:
            result.findings.append(
                {"file": path, "line": item.get("line_number"), "type": item.get("type")}
            )
    result.log = f"detect-secrets: {len(result.findings)} finding(s)\n"
    gitleaks = find_tool("gitleaks")
    if gitleaks is not None:
        report_path = ctx.work / "gitleaks.json"
        leaks = await run_tool(
            [
                gitleaks,
                "detect",
                "--no-git",
                "--redact",
                "--no-banner",
                "--exit-code",
                "0",
                "--source",
                ".",
                "--report-format",
                "json",
                "--report-path",
                str(report_path),
            ],
            cwd=ctx.tree,
            timeout=ctx.timeout,
        )
        found = _read_json(report_path)
        for item in found if isinstance(found, list) else []:
            result.findings.append(
                {
                    "file": item.get("File"),
                    "line": item.get("StartLine"),
                    "type": item.get("RuleID"),
                    "tool": "gitleaks",
                }
            )
        result.log += f"gitleaks: exit {leaks.code}\n"
    else:
        result.log += "gitleaks: not on PATH, skipped\n"
    result.counts = {"findings": len(result.findings)}
    result.status = verdict(config, bool(result.findings))
    result.message = (
        f"{len(result.findings)} possible secret(s): "
        + ", ".join(f"{f['file']}:{f['line']} ({f['type']})" for f in result.findings[:5])
        if result.findings
        else "no secrets found"
    )
    return result


async def lint(ctx: StageContext) -> StageResult:
    """ruff check, its concise output (which never quotes the code)."""
    result = StageResult("lint")
    config = ctx.config.lint
    tool = find_tool("ruff")
    if tool is None:
        return missing(result, "ruff", config)
    output = await run_tool(
        [tool, "check", "--output-format", "json", "--no-cache", "."],
        cwd=ctx.tree,
        timeout=ctx.timeout,
    )
    try:
        items = json.loads(output.stdout)
    except ValueError:
        result.status, result.message, result.log = Status.failed, "ruff failed", log_of(output)
        return result
    for item in items:
        location = item.get("location") or {}
        result.findings.append(
            {
                "file": _relative(item.get("filename", ""), ctx.tree),
                "line": location.get("row"),
                "rule": item.get("code"),
                "message": item.get("message"),
            }
        )
    result.log = "\n".join(
        f"{f['file']}:{f['line']}: {f['rule']} {f['message']}" for f in result.findings
    )
    result.log = scrub.mask_text(result.log)
    result.counts = {"findings": len(result.findings)}
    result.status = verdict(config, bool(result.findings))
    result.message = f"{len(result.findings)} lint finding(s)" if result.findings else "clean"
    return result


async def types(ctx: StageContext) -> StageResult:
    """mypy on the configured paths, the app's own mypy settings applying."""
    result = StageResult("types")
    config = ctx.config.types
    tool = find_tool("mypy")
    if tool is None:
        return missing(result, "mypy", config)
    output = await run_tool(
        [
            tool,
            "--no-color-output",
            "--no-error-summary",
            "--cache-dir",
            str(ctx.work / "mypy"),
            *config.paths,
        ],
        cwd=ctx.tree,
        timeout=ctx.timeout,
    )
    errors = [line for line in output.stdout.splitlines() if ": error:" in line]
    result.log = log_of(output)
    result.counts = {"errors": len(errors)}
    if output.code not in (0, 1) or (output.code == 1 and not errors):
        result.status, result.message = Status.failed, f"mypy could not run (exit {output.code})"
        return result
    result.status = verdict(config, bool(errors))
    result.message = f"{len(errors)} type error(s)" if errors else "no type errors"
    return result


async def tests(ctx: StageContext) -> StageResult:
    """pytest with coverage of the app's code (tests excluded), gated at the configured percent."""
    result = StageResult("tests")
    config = ctx.config.tests
    python = find_tool("python") or "python3"
    if importlib.util.find_spec("pytest") is None or importlib.util.find_spec("pytest_cov") is None:
        return missing(result, "pytest with pytest-cov", config)
    source = config.source or ("src" if (ctx.tree / "src").is_dir() else ".")
    rc = ctx.work / "coveragerc"
    rc.write_text(
        "[run]\nomit =\n    tests/*\n    */tests/*\n    test_*.py\n    */test_*.py\n"
        "    conftest.py\n    */conftest.py\n",
        encoding="utf-8",
    )
    report = ctx.work / "coverage.json"
    pythonpath = [str(ctx.tree), *([str(ctx.tree / "src")] if (ctx.tree / "src").is_dir() else [])]
    output = await run_tool(
        [
            python,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            f"--cov={source}",
            f"--cov-config={rc}",
            f"--cov-report=json:{report}",
            "--cov-report=term",
        ],
        cwd=ctx.tree,
        timeout=ctx.timeout,
        env=tool_env({"PYTHONPATH": ":".join(pythonpath), "COVERAGE_FILE": str(ctx.work / ".cov")}),
    )
    result.log = log_of(output)
    counts = _pytest_counts(output.stdout)
    data = _read_json(report)
    percent = None
    if isinstance(data, dict):
        totals = data.get("totals") or {}
        if isinstance(totals.get("percent_covered"), int | float):
            percent = float(totals["percent_covered"])
    if percent is not None:
        counts["coverage"] = round(percent)
    result.counts = counts
    if output.code == 5:
        result.status = verdict(config, True)
        result.message = "no tests were collected"
        return result
    if output.code != 0:
        result.status = Status.failed
        result.message = (
            f"tests failed: {counts.get('failed', 0)} failed, {counts.get('passed', 0)} passed"
        )
        return result
    if percent is None:
        result.status, result.message = Status.failed, "coverage was not measured"
        return result
    below = percent < config.coverage
    result.status = verdict(config, below)
    result.message = f"{counts.get('passed', 0)} passed; coverage {percent:.1f}% " + (
        f"is below the {config.coverage:g}% gate" if below else f"(gate {config.coverage:g}%)"
    )
    return result


def _pytest_counts(stdout: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for number, word in re.findall(r"(\d+) (passed|failed|errors?|skipped)", stdout):
        counts[word.rstrip("s") if word.startswith("error") else word] = int(number)
    return counts


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _relative(filename: str, tree: Path) -> str:
    try:
        return str(Path(filename).relative_to(tree))
    except ValueError:
        return filename
