"""The OCI image, when a container builder is present, and its scan (trivy or grype).

The image is built from the staged tree with a multi-stage Dockerfile (dependencies installed
in a builder stage, copied into a slim runtime stage that runs as a non-root user). Without
docker, buildah or podman that can reach its engine the stage is "skipped" with the reason.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sys

from conveyor.ci.checks import log_of
from conveyor.ci.context import StageContext
from conveyor.ci.results import StageResult, Status
from conveyor.ci.tools import find_tool, run_tool

BUILDERS = ("docker", "podman", "buildah")
DOCKERFILE = """\
# syntax=docker/dockerfile:1
FROM python:{py}-slim AS build
WORKDIR /app
COPY . /app
RUN python -m venv /venv && \\
    if [ -f requirements.txt ]; then /venv/bin/pip install --no-cache-dir -r requirements.txt; \\
    elif [ -f pyproject.toml ]; then /venv/bin/pip install --no-cache-dir .; fi

FROM python:{py}-slim
RUN useradd --system --uid 10001 --no-create-home app
COPY --from=build /venv /venv
COPY --from=build --chown=10001:10001 /app /app
WORKDIR /app
ENV PATH=/venv/bin:$PATH PYTHONUNBUFFERED=1
USER 10001
"""


def dockerfile() -> str:
    return DOCKERFILE.format(py=f"{sys.version_info.major}.{sys.version_info.minor}")


async def _usable_builder(ctx: StageContext) -> tuple[str | None, str]:
    """The first builder that can reach its engine, and why none could."""
    reasons: list[str] = []
    for name in BUILDERS:
        tool = find_tool(name)
        if tool is None:
            continue
        probe = ["version"] if name == "buildah" else ["info"]
        output = await run_tool([tool, *probe], cwd=ctx.work, timeout=30)
        if output.code == 0:
            return tool, ""
        reasons.append(f"{name} cannot reach its engine")
    return None, "; ".join(reasons) or "no docker, podman or buildah on PATH"


async def image(ctx: StageContext) -> StageResult:
    result = StageResult("image")
    if ctx.staged is None:
        result.status, result.message = Status.skipped, "nothing was staged"
        return result
    tool, reason = await _usable_builder(ctx)
    if tool is None:
        result.status, result.message = Status.skipped, f"no image built: {reason}"
        return result
    context = ctx.work / "image"
    await asyncio.to_thread(shutil.copytree, ctx.staged.source_dir, context, symlinks=True)
    (context / "Dockerfile.conveyor").write_text(dockerfile(), encoding="utf-8")
    reference = f"{ctx.name}:{ctx.commit}"
    verb = ["bud"] if tool.endswith("buildah") else ["build"]
    output = await run_tool(
        [tool, *verb, "-f", "Dockerfile.conveyor", "-t", reference, "."],
        cwd=context,
        timeout=ctx.timeout,
    )
    result.log = log_of(output)
    if output.code != 0:
        result.status, result.message = (
            Status.failed,
            f"the image build failed (exit {output.code})",
        )
        return result
    ctx.image = reference
    result.status, result.message = Status.passed, f"built {reference} (non-root, multi-stage)"
    return result


async def image_scan(ctx: StageContext) -> StageResult:
    result = StageResult("image-scan")
    config = ctx.config.image_scan
    if ctx.image is None:
        result.status, result.message = Status.skipped, "no image was built"
        return result
    trivy, grype = find_tool("trivy"), find_tool("grype")
    if trivy is not None:
        args = [trivy, "image", "--quiet", "--format", "json", "--scanners", "vuln", ctx.image]
    elif grype is not None:
        args = [grype, ctx.image, "-o", "json", "-q"]
    else:
        result.status, result.message = Status.skipped, "no trivy or grype on PATH"
        return result
    output = await run_tool(args, cwd=ctx.work, timeout=ctx.timeout)
    try:
        report = json.loads(output.stdout)
    except ValueError:
        result.status = Status.unavailable
        result.message = f"the image scanner gave no report (exit {output.code})"
        result.log = log_of(output)
        return result
    if trivy is not None:
        vulns = [v for r in report.get("Results") or [] for v in r.get("Vulnerabilities") or []]
        ids = [(str(v.get("VulnerabilityID")), str(v.get("Severity", "")).lower()) for v in vulns]
    else:
        matches = report.get("matches") or []
        ids = [
            (str(m["vulnerability"].get("id")), str(m["vulnerability"].get("severity", "")).lower())
            for m in matches
        ]
    serious = [i for i in ids if i[1] in ("high", "critical")]
    result.counts = {"vulnerabilities": len(ids), "high": len(serious)}
    result.findings = [{"id": i, "severity": s} for i, s in ids[:200]]
    result.status = (
        Status.failed
        if serious and config.on_finding == "fail"
        else (Status.warned if serious else Status.passed)
    )
    result.message = f"{len(ids)} vulnerabilit(y/ies), {len(serious)} high or critical"
    return result
