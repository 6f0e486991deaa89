"""Multi-document YAML read the way Kubernetes reads it, one document at a time.

Each document is parsed on its own, so one broken document is reported with its index and
line and the others still load. Timestamps stay strings (as with kubectl: the API sees the
text, not a date), and the C parser is used when PyYAML has it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml

_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_SEPARATOR = re.compile(r"^---(?:[ \t].*)?$|^\.\.\.[ \t]*$")


class KubeLoader(_Base):  # type: ignore[misc]
    """A safe loader that leaves timestamps as strings."""


KubeLoader.yaml_implicit_resolvers = {
    first: [(tag, regex) for tag, regex in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


@dataclass(frozen=True)
class RawDocument:
    """One document of a stream: where it starts, and its data or why it did not parse."""

    index: int  # 0-based position among the non-empty documents
    line: int  # 1-based line of the document's first line
    data: Any
    error: str | None = None


def split_documents(text: str) -> list[RawDocument]:
    """Parse every non-empty document of ``text``; a YAML error is kept with its document."""
    chunks: list[tuple[int, list[str]]] = [(1, [])]
    for number, line in enumerate(text.splitlines(), start=1):
        if _SEPARATOR.match(line):
            rest = line[3:].strip() if line.startswith("---") else ""
            if rest and not rest.startswith("#"):
                chunks.append((number, [rest]))  # "--- |" and the like: content on this line
            else:
                chunks.append((number + 1, []))
        else:
            chunks[-1][1].append(line)
    out: list[RawDocument] = []
    for start, lines in chunks:
        body = "\n".join(lines)
        offset = _first_content_line(lines)
        if offset is None:
            continue
        index = len(out)
        try:
            data = yaml.load(body, Loader=KubeLoader)  # noqa: S506 - KubeLoader is a SafeLoader
        except yaml.YAMLError as err:
            out.append(RawDocument(index, start + offset, None, _describe(err, start)))
            continue
        if data is not None:
            out.append(RawDocument(index, start + offset, data))
    return out


def _first_content_line(lines: list[str]) -> int | None:
    for i, line in enumerate(lines):
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            return i
    return None


def _describe(err: yaml.YAMLError, start: int) -> str:
    mark = getattr(err, "problem_mark", None)
    problem = getattr(err, "problem", None) or str(err).splitlines()[0]
    if mark is None:
        return f"not valid YAML: {problem}"
    return f"not valid YAML at line {start + mark.line}, column {mark.column + 1}: {problem}"
