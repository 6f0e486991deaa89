"""The one YAML loader for text from outside: Kubernetes' reading, with budgets.

Manifests reach Conveyor from repositories (the renderer), from ``conveyor apply -f`` and from
files; all of them are read here, the way Kubernetes reads YAML. It converts YAML to JSON
before reading an object, so the loader yields JSON types only: timestamps stay strings
(``2024-01-01`` in a ConfigMap is text, not a date), ``!!binary`` stays its base64 text (as
Secret ``data`` expects), ``!!set`` becomes a mapping to nulls, and mapping keys that YAML
reads as numbers or booleans become strings. The loader is PyYAML's safe loader (the C parser
when libyaml is present): no tag can build a Python object.

Budgets: anchors and aliases are expanded into independent copies, so that changing one object
never changes another and JSON encoding cannot blow up, and a document that expands to more
than ``MAX_NODES_PER_DOCUMENT`` values ("billion laughs") is refused before it eats the
memory; a stream longer than ``MAX_STREAM_CHARS`` is refused before it is parsed.

Two ways to read a stream: ``load_stream`` (every document must parse, the first error stops;
for a tool's output or a file in a repository) and ``split_documents`` (each document parsed on
its own, so one broken document is reported with its index and line while the others load;
for ``apply -f``). Errors never quote the offending text, which could be part of a Secret.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import yaml

from conveyor.errors import ValidationError

MAX_NODES_PER_DOCUMENT = 1_000_000
"""Values one document may expand to through aliases; far above any real manifest."""

MAX_STREAM_CHARS = 64 * 1024 * 1024
"""Longest YAML text (in characters) read at once: apply -f, a rendered stream."""

_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_SEPARATOR = re.compile(r"^---(?:[ \t].*)?$|^\.\.\.[ \t]*$")


class KubeLoader(_BaseLoader):  # type: ignore[valid-type,misc]
    """Safe loader that builds JSON types only (see the module docstring)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        mapping: dict[Any, Any] = super().construct_mapping(node, deep=deep)
        if all(type(key) is str for key in mapping):
            return mapping
        return {_json_key(key): value for key, value in mapping.items()}

    def construct_yaml_binary_text(self, node: yaml.ScalarNode) -> str:
        return "".join(str(self.construct_scalar(node)).split())

    def construct_yaml_set_as_map(self, node: yaml.MappingNode) -> Iterator[dict[Any, Any]]:
        data: dict[Any, Any] = {}
        yield data
        data.update(self.construct_mapping(node))


# Kubernetes reads timestamps as strings, and '=' alone would resolve to the "value" tag, which
# no safe constructor builds.
_DROPPED_RESOLVERS = frozenset({"tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:value"})
KubeLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in _DROPPED_RESOLVERS]
    for first, resolvers in _BaseLoader.yaml_implicit_resolvers.items()
}
KubeLoader.add_constructor("tag:yaml.org,2002:timestamp", KubeLoader.construct_yaml_str)
KubeLoader.add_constructor("tag:yaml.org,2002:binary", KubeLoader.construct_yaml_binary_text)
KubeLoader.add_constructor("tag:yaml.org,2002:set", KubeLoader.construct_yaml_set_as_map)


def _json_key(key: Any) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    return "null" if key is None else str(key)


class YamlError(ValidationError):
    """YAML that cannot be read; ``line`` is 1-based when known. The text is never quoted."""

    def __init__(self, message: str, *, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


def _check_size(text: str) -> None:
    if len(text) > MAX_STREAM_CHARS:
        raise YamlError(
            f"the YAML is longer than {MAX_STREAM_CHARS // (1024 * 1024)} MiB: split it"
        )


def _may_alias(text: str) -> bool:
    return "&" in text and "*" in text


def expand_aliases(document: Any) -> Any:
    """A copy of ``document`` in which no value is shared; YamlError past the budget."""
    budget = MAX_NODES_PER_DOCUMENT

    def copy(value: Any) -> Any:
        nonlocal budget
        budget -= 1
        if budget < 0:
            raise YamlError(
                f"a document expands to more than {MAX_NODES_PER_DOCUMENT:,} values through "
                "YAML aliases: remove the alias chain"
            )
        if type(value) is dict:
            return {key: copy(item) for key, item in value.items()}
        if type(value) is list:
            return [copy(item) for item in value]
        return value

    return copy(document)


def load_stream(text: str) -> Iterator[Any]:
    """Each document of ``text``, in order; YamlError (with the line) at the first bad one."""
    _check_size(text)
    aliases = _may_alias(text)
    try:
        for document in yaml.load_all(text, Loader=KubeLoader):  # a safe loader (see above)
            yield expand_aliases(document) if aliases else document
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        problem = err.problem or err.context or "is not valid YAML"
        context = f" ({err.context})" if err.context and err.problem else ""
        raise YamlError(
            f"YAML syntax error: {problem}{context}",
            line=mark.line + 1 if mark is not None else None,
        ) from err
    except yaml.YAMLError as err:
        raise YamlError(f"YAML error: {err}") from err


@dataclass(frozen=True)
class RawDocument:
    """One document of a stream: where it starts, and its data or why it did not parse."""

    index: int  # 0-based position among the non-empty documents
    line: int  # 1-based line of the document's first line
    data: Any
    error: str | None = None


def split_documents(text: str) -> list[RawDocument]:
    """Parse every non-empty document of ``text``; a YAML error is kept with its document.

    Raises YamlError only when the whole text is over ``MAX_STREAM_CHARS``.
    """
    _check_size(text)
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
            if _may_alias(body):
                data = expand_aliases(data)
        except yaml.YAMLError as err:
            out.append(RawDocument(index, start + offset, None, _describe(err, start)))
            continue
        except YamlError as err:
            out.append(RawDocument(index, start + offset, None, err.message))
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
