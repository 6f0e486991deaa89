"""``conveyor policy test DIR``: run a Rego bundle against fixture manifests, offline.

A policy is code, so it gets tests: the fixtures under ``DIR/fixtures`` say what the bundle
must let through (``pass/*.yaml``) and what it must refuse (``deny/*.yaml``); a deny fixture
may name the message it expects in a first-line comment ``# expect: <text>``. The bundle is
``DIR``'s own ``*.rego`` files, or Conveyor's default one with ``--bundle default``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from conveyor.cli.client import CliError
from conveyor.cli.output import handle_errors
from conveyor.errors import ValidationError
from conveyor.policy.rego import DEFAULT_BUNDLE, Bundle, evaluate, load_bundle

app = typer.Typer(
    name="policy",
    help="Policy as code: Rego rules over rendered manifests.",
    no_args_is_help=True,
    add_completion=False,
)


def _objects(path: Path) -> list[dict[str, Any]]:
    try:
        return [d for d in yaml.safe_load_all(path.read_text()) if isinstance(d, dict)]
    except yaml.YAMLError as err:
        raise CliError(f"{path}: not valid YAML: {err}") from err


def _expectation(path: Path) -> str:
    first = path.read_text().split("\n", 1)[0].strip()
    return first.removeprefix("# expect:").strip() if first.startswith("# expect:") else ""


def run_fixtures(bundle: Bundle, fixtures: Path, environment: str) -> list[str]:
    """One line per fixture, ``ok`` or ``FAIL``; raises CliError when any failed."""
    lines: list[str] = []
    failed = 0
    cases = sorted(fixtures.glob("pass/*.y*ml")) + sorted(fixtures.glob("deny/*.y*ml"))
    if not cases:
        raise CliError(f"{fixtures} has no pass/*.yaml or deny/*.yaml fixtures")
    for path in cases:
        denied = [v for v in evaluate(bundle, _objects(path), environment=environment) if v.deny]
        name = path.relative_to(fixtures).as_posix()
        if path.parent.name == "pass":
            ok, why = not denied, "; ".join(v.message for v in denied)
        else:
            expected = _expectation(path)
            hit = [v for v in denied if expected in v.message]
            ok = bool(hit)
            why = f"no deny rule matched {expected!r}" if expected else "nothing was denied"
            why = why if not ok else hit[0].message
        lines.append(f"{'ok  ' if ok else 'FAIL'} {name}: {why or 'allowed'}")
        failed += not ok
    if failed:
        raise CliError("\n".join([*lines, f"{failed} of {len(cases)} fixtures failed"]))
    return [*lines, f"{len(cases)} fixtures passed"]


@app.command("test")
@handle_errors
def test(
    directory: Annotated[Path, typer.Argument(help="Bundle directory (with fixtures/).")],
    bundle: Annotated[
        str | None,
        typer.Option("--bundle", help="`default` for Conveyor's bundle instead of DIR's .rego."),
    ] = None,
    environment: Annotated[
        str, typer.Option("--environment", "-e", help="input.environment (e.g. prod).")
    ] = "",
) -> None:
    """Run the bundle against DIR/fixtures/pass (must allow) and deny (must refuse)."""
    try:
        loaded = load_bundle(DEFAULT_BUNDLE if bundle == DEFAULT_BUNDLE else bundle or directory)
        lines = run_fixtures(loaded, directory / "fixtures", environment)
    except ValidationError as err:  # a bundle that does not compile
        raise CliError(str(err)) from err
    for line in lines:
        typer.echo(line)
