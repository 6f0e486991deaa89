"""Set one image tag in a YAML file and change nothing else, byte for byte.

Write-back commits to a repository people edit by hand: a re-dumped file (re-indented lists,
dropped blank lines, rewrapped strings) would bury the tag change in noise and fight the
next human edit. So ruamel.yaml parses the file only to find where the scalar to change sits
(line and column, kept by its round-trip loader), and the new value is spliced into the
original text there; every other byte stays.

Three places hold a tag: a kustomization's ``images[].newTag``, a container's ``image`` in a
plain manifest, and a dotted path in Helm values. A tag that YAML would read as something
other than that string (``1.20`` is a float, ``0123`` an int, ``true`` a bool) is quoted.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterator
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from conveyor.errors import ConveyorError


class EditError(ConveyorError):
    """The file does not hold the place to change (or is not YAML); says which and where."""


def _load_all(text: str, what: str) -> list[Any]:
    yaml = YAML(typ="rt")
    try:
        return [d for d in yaml.load_all(io.StringIO(text)) if d is not None]
    except YAMLError as err:
        raise EditError(f"{what} is not valid YAML: {err}") from err


def yaml_scalar(value: str) -> str:
    """``value`` as a YAML scalar that reads back as the same string (quoted when needed)."""
    plain_ok = value.strip() == value
    for version in ((1, 1), (1, 2)):  # Kubernetes tools read YAML 1.1 (``yes``, ``0777``)
        yaml = YAML(typ="safe")
        yaml.version = version
        try:
            with warnings.catch_warnings():  # ruamel warns about 1.1 floats without a dot
                warnings.simplefilter("ignore")
                plain_ok = plain_ok and yaml.load(io.StringIO(value)) == value
        except YAMLError:
            plain_ok = False
    if plain_ok and value and "\n" not in value:
        return value
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _splice(text: str, line: int, col: int, new_value: str, *, flow: bool = False) -> str:
    """Replace the scalar starting at (``line``, ``col``) with ``new_value``.

    ``flow``: the scalar sits in a flow collection (``{a: b}``), where ``,]}`` end it.
    """
    lines = text.splitlines(keepends=True)
    row = lines[line]
    start = col
    if row[start] in "'\"":
        quote = row[start]
        end = start + 1
        while end < len(row):
            if row[end] == quote:
                if quote == "'" and end + 1 < len(row) and row[end + 1] == "'":
                    end += 2
                    continue
                if quote == '"' and row[end - 1] == "\\":
                    end += 1
                    continue
                break
            end += 1
        end += 1
        if new_value.startswith('"') or quote == '"':
            rendered = new_value if new_value.startswith('"') else f'"{new_value}"'
        else:
            rendered = "'" + new_value.replace("'", "''") + "'"
    else:
        end = start
        body = row.rstrip("\r\n")
        while end < len(body) and not (body[end] == "#" and body[end - 1] in " \t"):
            if flow and body[end] in ",]}":
                break
            end += 1
        while end > start and body[end - 1] in " \t":
            end -= 1
        rendered = new_value
    lines[line] = row[:start] + rendered + row[end:]
    return "".join(lines)


def _value_position(node: CommentedMap, key: str) -> tuple[int, int, bool]:
    line, col = node.lc.value(key)
    return int(line), int(col), bool(node.fa.flow_style())


def set_kustomize_tag(text: str, image: str, tag: str, *, path: str = "kustomization") -> str:
    """Set ``newTag`` of the ``images`` entry named ``image`` in a kustomization."""
    docs = _load_all(text, path)
    if not docs or not isinstance(docs[0], CommentedMap):
        raise EditError(f"{path} is not a kustomization (a mapping)")
    images = docs[0].get("images")
    if isinstance(images, CommentedSeq):
        for entry in images:
            if isinstance(entry, CommentedMap) and entry.get("name") == image:
                if "newTag" not in entry:
                    raise EditError(
                        f"{path}: the images entry {image!r} has no newTag line; add "
                        f"`newTag: <current tag>` to it so write-back has a line to change"
                    )
                if isinstance(entry["newTag"], (CommentedMap, CommentedSeq)):
                    raise EditError(f"{path}: images[{image!r}].newTag is not a scalar")
                line, col, flow = _value_position(entry, "newTag")
                return _splice(text, line, col, yaml_scalar(tag), flow=flow)
    raise EditError(
        f"{path} has no images entry named {image!r}; add one "
        f"(`images: [{{name: {image}, newTag: <tag>}}]`) for write-back to update"
    )


def image_name(ref: str) -> str:
    """The repository part of an image reference (no tag, no digest)."""
    ref = ref.split("@", 1)[0]
    slash = ref.rfind("/")
    colon = ref.rfind(":")
    return ref[:colon] if colon > slash else ref


def _containers(node: Any) -> Iterator[CommentedMap]:
    if isinstance(node, CommentedMap):
        for key, value in node.items():
            if key in ("containers", "initContainers") and isinstance(value, CommentedSeq):
                yield from (c for c in value if isinstance(c, CommentedMap))
            else:
                yield from _containers(value)
    elif isinstance(node, CommentedSeq):
        for item in node:
            yield from _containers(item)


def set_manifest_image(text: str, image: str, tag: str, *, path: str = "manifest") -> str:
    """Set the tag of every container whose image is ``image`` in a (multi-document) manifest.

    A digest (``@sha256:…``) is dropped: the new tag names the new content.
    """
    hits: list[tuple[int, int, bool]] = []
    for doc in _load_all(text, path):
        for container in _containers(doc):
            ref = container.get("image")
            if isinstance(ref, str) and image_name(ref) == image:
                hits.append(_value_position(container, "image"))
    if not hits:
        raise EditError(f"{path} has no container whose image is {image!r}")
    for line, col, flow in sorted(hits, reverse=True):  # bottom up: positions stay valid
        text = _splice(text, line, col, yaml_scalar(f"{image}:{tag}"), flow=flow)
    return text


def set_helm_value(text: str, dotted: str, value: str, *, path: str = "values") -> str:
    """Set the scalar at ``dotted`` (``image.tag``) in a Helm values file."""
    docs = _load_all(text, path)
    node: Any = docs[0] if docs else None
    keys = dotted.split(".")
    for i, key in enumerate(keys):
        if not isinstance(node, CommentedMap) or key not in node:
            where = ".".join(keys[: i + 1])
            raise EditError(
                f"{path} has no {where!r}; add `{dotted}` to the values file "
                "so write-back has a line to change"
            )
        if i == len(keys) - 1:
            if isinstance(node[key], (CommentedMap, CommentedSeq)):
                raise EditError(f"{path}: {dotted!r} is not a scalar")
            line, col, flow = _value_position(node, key)
            return _splice(text, line, col, yaml_scalar(value), flow=flow)
        node = node[key]
    raise EditError(f"{path}: empty values path")  # pragma: no cover - keys is never empty
