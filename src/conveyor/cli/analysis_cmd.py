"""``conveyor analysis run -f TEMPLATE.yaml [--arg k=v]``: try a template against live data.

Each metric of the AnalysisTemplate (or ClusterAnalysisTemplate, or AnalysisRun) is measured
once and printed with its value and verdict, so a person sees what a release would be judged
by before one depends on it. Exit status: 0 when every metric that decides (not dry-run) is
Successful, 1 otherwise or on an invalid template.

Unlike the other commands this one does not go through a Conveyor server: the template is a
local file and nothing is stored, so the CLI measures with the providers itself. The
requests then leave with the user's own network identity (a server would make them with its
own, an open door for a template author to reach what only the server can), and the
command works with no server running. Addresses written for a cluster can be mapped with
``--map-address http://prometheus:9090=http://127.0.0.1:9090``.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from conveyor.analysis.oneshot import MetricVerdict, evaluate_once
from conveyor.analysis.providers import default_providers
from conveyor.cli import output
from conveyor.cli.client import CliError
from conveyor.cli.output import Output, OutputOpt, handle_errors
from conveyor.clock import SystemClock
from conveyor.model.analysis.args import ArgumentError, resolve_args
from conveyor.model.analysis.kinds import ANALYSIS_KINDS
from conveyor.model.analysis.loading import analysis_from_dict
from conveyor.model.analysis.status import AnalysisPhase
from conveyor.model.loading import ManifestError
from conveyor.model.yamldocs import split_documents

app = typer.Typer(
    name="analysis",
    help="Argo Rollouts analysis: try templates against live data.",
    no_args_is_help=True,
    add_completion=False,
)


def _pairs(values: list[str], flag: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CliError(f"{flag} {item!r}: write it as NAME=VALUE")
        out[key] = value
    return out


def _template(name: str) -> Any:
    try:
        text = sys.stdin.read() if name == "-" else Path(name).read_text()
    except OSError as err:
        raise CliError(f"cannot read {name}: {err.strerror}") from err
    found = []
    for doc in split_documents(text):
        if doc.error:
            raise CliError(f"{name}: document {doc.index + 1} (line {doc.line}): {doc.error}")
        if isinstance(doc.data, dict) and doc.data.get("kind") in ANALYSIS_KINDS:
            found.append(doc.data)
    if len(found) != 1:
        kinds = ", ".join(ANALYSIS_KINDS)
        raise CliError(f"{name}: expected exactly one of {kinds}, found {len(found)}")
    try:
        loaded = analysis_from_dict(found[0])
    except ManifestError as err:
        raise CliError(str(err)) from err
    for warning in loaded.warnings:
        output.warn(warning)
    return loaded.value


def _mapper(mapping: dict[str, str]) -> Any:
    def resolve(url: str) -> str:
        for prefix, target in mapping.items():
            if url == prefix or url.startswith(prefix.rstrip("/") + "/"):
                return target.rstrip("/") + url[len(prefix.rstrip("/")) :]
        return url

    return resolve


def _row(verdict: MetricVerdict) -> list[str]:
    m = verdict.measurement
    phase = f"{m.phase} (dry-run)" if verdict.dry_run else str(m.phase)
    return [
        verdict.name,
        verdict.provider,
        m.value if m.value is not None else "",
        phase,
        m.message,
    ]


@app.command("run")
@handle_errors
def run(
    filename: Annotated[
        str, typer.Option("--filename", "-f", help="The template's YAML file, or - for stdin.")
    ],
    arg: Annotated[
        list[str] | None, typer.Option("--arg", help="An argument, NAME=VALUE (repeatable).")
    ] = None,
    map_address: Annotated[
        list[str] | None,
        typer.Option(
            "--map-address",
            help="Reach an address written in the template at another one, FROM=TO.",
        ),
    ] = None,
    output_format: OutputOpt = Output.table,
) -> None:
    """Measure every metric of a template once and print its value and verdict."""
    template = _template(filename)
    if template.spec.templates:
        output.warn(
            "spec.templates: the templates it names are not in this file and are not measured"
            " (a Rollout's AnalysisRun takes them in); run each one's file"
        )
        if not template.spec.metrics:
            raise CliError(f"{template.kind}/{template.name} has no metrics of its own")
    try:
        args = resolve_args(template.spec.args, _pairs(arg or [], "--arg"))
    except ArgumentError as err:
        raise CliError(str(err)) from err
    providers = default_providers(_mapper(_pairs(map_address or [], "--map-address")))
    try:
        verdicts = asyncio.run(evaluate_once(template.spec, args, providers, SystemClock()))
    except (ArgumentError, ValueError) as err:
        raise CliError(f"{template.kind}/{template.name}: {err}") from err
    data = [
        {"name": v.name, "provider": v.provider, "dryRun": v.dry_run, **v.measurement.to_dict()}
        for v in verdicts
    ]
    if not output.dump(data, output_format):
        output.print_table(
            ["METRIC", "PROVIDER", "VALUE", "VERDICT", "MESSAGE"], [_row(v) for v in verdicts]
        )
    deciding = [v for v in verdicts if not v.dry_run]
    if any(v.measurement.phase is not AnalysisPhase.SUCCESSFUL for v in deciding):
        raise typer.Exit(1)
