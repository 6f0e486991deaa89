"""spec.source.kustomize parameters, applied as ``kustomize edit`` would apply them.

Argo CD runs ``kustomize edit set image``, ``set nameprefix``, ``add label`` … in the app
directory before ``kustomize build``. Conveyor has ``kubectl kustomize`` (the build) but not
the ``kustomize edit`` CLI, so this module makes the same edits to the parsed kustomization
(ruamel round-trip, so every other value keeps its exact YAML meaning), always on a copy.

The meanings follow kustomize's own edit commands: an image argument replaces the entry of the
same name (``*`` keeps a field's current value) and the list is sorted by name; prefix,
suffix and namespace replace the kustomization's; a label or annotation the kustomization
already sets is an error unless forced (Argo CD's forceCommonLabels/forceCommonAnnotations).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, MutableMapping
from typing import Any

from ruamel.yaml.comments import CommentedMap

from conveyor.render.errors import RenderError
from conveyor.render.request import KustomizeOptions

_TAG = re.compile(r"^(.*):([a-zA-Z0-9._-]*|\*)$")
_PRESERVE = "*"
_IMAGE_FORMATS = (
    "use one of <image>=<newimage>:<newtag>, <image>=<newimage>@<digest>, <image>=<newimage>,"
    " <image>:<newtag>, <image>@<digest>"
)


def apply_edits(kustomization: CommentedMap, options: KustomizeOptions, *, file: str) -> None:
    """Edit ``kustomization`` in place (the caller's copy) as Argo CD's edits would."""
    if options.name_prefix:
        kustomization["namePrefix"] = options.name_prefix
    if options.name_suffix:
        kustomization["nameSuffix"] = options.name_suffix
    if options.images:
        set_images(kustomization, options.images, file=file)
    if options.replicas:
        _set_replicas(kustomization, options.replicas, file=file)
    if options.common_labels:
        if options.label_without_selector:
            labels = _list_field(kustomization, "labels", file)
            labels.append({"pairs": dict(options.common_labels), "includeSelectors": False})
        else:
            _add_to_map(
                kustomization, "commonLabels", options.common_labels,
                force=options.force_common_labels, what="label", file=file,
            )  # fmt: skip
    if options.common_annotations:
        _add_to_map(
            kustomization, "commonAnnotations", options.common_annotations,
            force=options.force_common_annotations, what="annotation", file=file,
        )  # fmt: skip
    if options.namespace:
        kustomization["namespace"] = options.namespace


def parse_image(argument: str) -> dict[str, str]:
    """One ``kustomize edit set image`` argument as an images entry (empty fields left out)."""
    parts = argument.split("=")
    if len(parts) == 2:
        name = parts[0]
        new_name, tag, digest = _overwrite(argument, parts[1], name_alone=True)
    else:
        name, tag, digest = _overwrite(argument, argument, name_alone=False)
        new_name = ""
    if not name:
        raise RenderError(
            f"spec.source.kustomize.images: {argument!r} names no image: {_IMAGE_FORMATS}"
        )
    image = {"name": name, "newName": new_name, "newTag": tag, "digest": digest}
    return {key: value for key, value in image.items() if value}


def _overwrite(argument: str, text: str, *, name_alone: bool) -> tuple[str, str, str]:
    """(name, tag, digest) of ``name@digest``, ``name:tag`` or (if allowed) ``name``."""
    if "@" in text:
        name, digest = text.split("@")[:2]
        return name, "", digest
    if match := _TAG.match(text):
        return match[1], match[2], ""
    if text and name_alone:
        return text, "", ""
    raise RenderError(f"spec.source.kustomize.images: {argument!r} is not valid: {_IMAGE_FORMATS}")


def set_images(kustomization: CommentedMap, arguments: tuple[str, ...], *, file: str) -> None:
    """kustomize's ``edit set image``: replace same-named entries, keep others, sort by name.

    An argument replaces the whole entry of its name, except fields given as ``*``, which
    keep the entry's current value.
    """
    wanted = {image["name"]: image for image in map(parse_image, arguments)}
    merged: dict[str, Any] = {}
    for entry in _list_field(kustomization, "images", file):
        if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str):
            raise RenderError("every images entry needs a name", file=file)
        image = wanted.pop(entry["name"], None)
        if image is None:
            merged[entry["name"]] = entry
            continue
        preserved = {k: entry.get(k, "") if v == _PRESERVE else v for k, v in image.items()}
        merged[entry["name"]] = _without_empty(preserved)
    merged.update((name, _without_empty(image)) for name, image in wanted.items())
    kustomization["images"] = [merged[name] for name in sorted(merged)]


def _without_empty(image: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in image.items() if value and value != _PRESERVE}


def _set_replicas(
    kustomization: CommentedMap, replicas: tuple[tuple[str, int], ...], *, file: str
) -> None:
    """kustomize's ``edit set replicas``: update the count of a named entry, else append."""
    entries = _list_field(kustomization, "replicas", file)
    for name, count in replicas:
        for entry in entries:
            if isinstance(entry, MutableMapping) and entry.get("name") == name:
                entry["count"] = count
                break
        else:
            entries.append({"name": name, "count": count})


def _add_to_map(
    kustomization: CommentedMap,
    key: str,
    additions: Mapping[str, str],
    *,
    force: bool,
    what: str,
    file: str,
) -> None:
    """kustomize's ``edit add label|annotation``, refusing to overwrite unless forced."""
    current = kustomization.get(key)
    if current is None:
        current = kustomization[key] = CommentedMap()
    if not isinstance(current, MutableMapping):
        raise RenderError(f"{key} must be a mapping", file=file)
    for name, value in additions.items():
        if name in current and not force:
            option = "forceCommonLabels" if what == "label" else "forceCommonAnnotations"
            raise RenderError(
                f"spec.source.kustomize sets {what} {name!r}, which the kustomization already "
                f"sets: remove one, or set spec.source.kustomize.{option}: true",
                file=file,
            )
        current[name] = value


def _list_field(kustomization: CommentedMap, key: str, file: str) -> list[Any]:
    current = kustomization.get(key)
    if current is None:
        current = kustomization[key] = []
    if not isinstance(current, list):
        raise RenderError(f"{key} must be a list", file=file)
    return current
