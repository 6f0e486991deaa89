"""How the CLI prints: tables for people, JSON and YAML for scripts, errors on stderr.

Data goes to stdout and nothing else does: progress, warnings and errors go to stderr, so
that ``conveyor app get NAME -o json | jq`` always parses. Tables follow argocd's plain
style (upper-case headers, no borders); when stdout is not a terminal they are never
wrapped, so one row stays one line for grep.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from enum import StrEnum
from functools import wraps
from typing import Annotated, Any, ParamSpec, TypeVar

import typer
import yaml
from rich.console import Console
from rich.table import Table
from rich.text import Text

from conveyor.cli.client import CliError

P = ParamSpec("P")
R = TypeVar("R")


class Output(StrEnum):
    """``-o``: the output formats."""

    table = "table"
    wide = "wide"
    json = "json"
    yaml = "yaml"


OUTPUT_HELP = "Output format: table, wide, json or yaml."
OutputOpt = Annotated[Output, typer.Option("--output", "-o", help=OUTPUT_HELP)]


def stdout() -> Console:
    console = Console(highlight=False, soft_wrap=False)
    if not console.is_terminal:
        console = Console(highlight=False, width=100_000)
    return console


def stderr() -> Console:
    return Console(stderr=True, highlight=False)


def dump(data: Any, output: Output) -> bool:
    """Print ``data`` as JSON or YAML when ``output`` asks for it; True if printed."""
    if output is Output.json:
        typer.echo(json.dumps(data, indent=2, default=str))
        return True
    if output is Output.yaml:
        typer.echo(yaml.safe_dump(data, sort_keys=False, default_flow_style=False), nl=False)
        return True
    return False


def table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> Table:
    out = Table(box=None, pad_edge=False, header_style="bold", show_edge=False)
    for column in columns:
        out.add_column(column, overflow="fold")
    for row in rows:
        out.add_row(*(Text("" if cell is None else str(cell)) for cell in row))
    return out


def print_table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    stdout().print(table(columns, rows))


def fields(pairs: Sequence[tuple[str, Any]]) -> None:
    """``Key:   value`` lines, aligned, as ``argocd app get`` prints them."""
    width = max((len(k) for k, _ in pairs), default=0) + 2
    for key, value in pairs:
        typer.echo(f"{key + ':':<{width}}{'' if value is None else value}")


def warn(message: str) -> None:
    typer.echo(f"warning: {message}", err=True)


@contextmanager
def progress(message: str) -> Iterator[Callable[[str], None]]:
    """A spinner on stderr while waiting; yields a function that updates its text."""
    console = stderr()
    if not console.is_terminal:
        yield lambda _: None
        return
    with console.status(message) as status:
        yield lambda text: status.update(text)


def handle_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn a CliError into ``error: ...`` on stderr and its exit code."""

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except CliError as err:
            typer.echo(f"error: {err.message}", err=True)
            raise typer.Exit(code=err.code) from err

    return wrapper
