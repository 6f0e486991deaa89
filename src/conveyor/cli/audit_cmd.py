"""``conveyor audit``, ``conveyor report compliance`` and ``conveyor dora``: who did what, and
how delivery went, read from the server.

``conveyor audit`` lists the audit trail (``-o json|jsonl|csv`` exports it as the API gives
it); ``conveyor report compliance`` shows deployments, success rate, scans and policy
violations per app and environment; ``conveyor dora`` shows DORA's four keys with their 2023
State of DevOps bands.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import typer

from conveyor.cli import output
from conveyor.cli.client import Client
from conveyor.cli.output import Output, OutputOpt, handle_errors


class AuditOutput(StrEnum):
    table = "table"
    wide = "wide"
    json = "json"
    yaml = "yaml"
    jsonl = "jsonl"
    csv = "csv"


AUDIT_COLUMNS = ["TIME", "USER", "ACTION", "TARGET", "OUTCOME", "FROM"]
AUDIT_WIDE = ["PROJECT", "BEFORE", "AFTER", "DETAIL"]

AppOpt = Annotated[str | None, typer.Option("--app", help="Only this application.")]
WindowOpt = Annotated[str, typer.Option("--window", help="How far back: 30d, 2w, 12h.")]


@handle_errors
def audit(
    app_name: AppOpt = None,
    user: Annotated[str | None, typer.Option("--user", help="Only this user's actions.")] = None,
    action: Annotated[
        str | None, typer.Option("--action", help="Only this action (applications.sync).")
    ] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="At or after this RFC 3339 time.")
    ] = None,
    until: Annotated[str | None, typer.Option("--until", help="Before this RFC 3339 time.")] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many, the newest.")] = 1000,
    output_format: Annotated[
        AuditOutput,
        typer.Option("--output", "-o", help="table, wide, json, yaml, jsonl or csv."),
    ] = AuditOutput.table,
) -> None:
    """The audit trail: every change through the API and the controller's own, oldest first."""
    params: dict[str, Any] = {
        "app": app_name, "user": user, "action": action, "since": since, "until": until,
        "limit": limit,
    }  # fmt: skip
    with Client() as client:
        if output_format in (AuditOutput.jsonl, AuditOutput.csv):
            text = client.get_text("/api/v1/audit", format=str(output_format), **params)
            typer.echo(text, nl=False)
            return
        items = client.get("/api/v1/audit", **params)["items"]
    if output.dump(items, Output(output_format)):
        return
    wide = output_format is AuditOutput.wide
    rows = []
    for item in items:
        row = [
            item["at"], item["user"], item["action"],
            f"{item['targetKind']}/{item['target']}" if item["target"] else item["targetKind"],
            item["outcome"], item["source"],
        ]  # fmt: skip
        if wide:
            row += [item["project"], item["revisionBefore"][:7], item["revisionAfter"][:7],
                    item["detail"]]  # fmt: skip
        rows.append(row)
    output.print_table(AUDIT_COLUMNS + (AUDIT_WIDE if wide else []), rows)


report = typer.Typer(name="report", help="Reports over a window.", no_args_is_help=True)


@report.command("compliance")
@handle_errors
def compliance(
    app_name: AppOpt = None, window: WindowOpt = "30d", output_format: OutputOpt = Output.table
) -> None:
    """Deployments, success rate, scans passed and policy violations per app and environment."""
    with Client() as client:
        answer = client.get("/api/v1/reports/compliance", app=app_name, window=window)
    if output.dump(answer, output_format):
        return
    columns = ["APP", "ENV", "DEPLOYMENTS", "SUCCESS", "CI RUNS", "SCANS PASSED", "POLICY"]
    rows = [
        [i["app"], i["env"], i["deployments"], _percent(i["successRate"]), i["ciRuns"],
         i["scansPassed"], i["policyViolations"]]
        for i in answer["items"]
    ]  # fmt: skip
    total = answer["total"]
    rows.append(
        ["(all)", "", total["deployments"], _percent(total["successRate"]), total["ciRuns"],
         total["scansPassed"], total["policyViolations"]]
    )  # fmt: skip
    output.stderr().print(f"from {answer['from']} until {answer['until']} ({answer['window']})")
    output.print_table(columns, rows)


@handle_errors
def dora(
    app_name: AppOpt = None,
    env: Annotated[str | None, typer.Option("--env", help="Only this environment.")] = None,
    window: WindowOpt = "30d",
    output_format: OutputOpt = Output.table,
) -> None:
    """DORA's four keys per app and environment, with the 2023 State of DevOps bands."""
    with Client() as client:
        answer = client.get("/api/v1/dora", app=app_name, env=env, window=window)
    if output.dump(answer, output_format):
        return
    columns = ["APP", "ENV", "DEPLOYMENTS", "FREQUENCY", "LEAD TIME", "FAILURE RATE", "RESTORE"]
    groups = [*answer["items"]]
    if len(groups) != 1:
        groups.append({**answer["total"], "app": "(all)", "env": ""})
    rows = []
    for g in groups:
        bands = g["bands"]
        rows.append([
            g["app"], g["env"], g["deployments"],
            _band(f"{g['deploymentFrequency']:.2f}/day", bands["deploymentFrequency"]),
            _band(_duration(g["leadTimeSeconds"]), bands["leadTime"]),
            _band(_percent(g["changeFailureRate"]), bands["changeFailureRate"]),
            _band(_duration(g["timeToRestoreSeconds"]), bands["timeToRestore"]),
        ])  # fmt: skip
    output.stderr().print(f"from {answer['from']} until {answer['until']} ({answer['window']})")
    output.print_table(columns, rows)


def _band(value: str, band: str | None) -> str:
    return f"{value} ({band})" if band else value


def _percent(rate: float | None) -> str:
    return "-" if rate is None else f"{rate * 100:.1f}%"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    whole = round(seconds)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d{hours}h"
    if hours:
        return f"{hours}h{minutes}m"
    return f"{minutes}m{secs}s" if minutes else f"{secs}s"
