"""Helm charts, rendered by the real ``helm template`` (the helm next to Conveyor, or on PATH).

Arguments follow Argo CD: the release name defaults to the app's name and the namespace to the
destination's; CRDs are included unless skipCrds; value files come first, then the inline
values, then ``--set``/``--set-string``/``--set-file`` (helm lets later ones win). Every file
handed to helm is confined to the repository: value file paths are relative to the app path (an
absolute one to the repository root), and remote value files are refused rather than fetched
by the server. Without helm the error says how to install it and is not cached.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import tempfile
from pathlib import Path, PurePosixPath

from conveyor.model.objects import Object
from conveyor.render import documents
from conveyor.render.errors import RenderError
from conveyor.render.paths import display, is_inside, resolve_app_dir
from conveyor.render.process import helm_binary, run_tool
from conveyor.render.request import HelmOptions, RenderRequest

DEFAULT_RELEASE_NAME = "release-name"
"""helm's own default when neither releaseName nor the app's name is known."""

# helm's rule for release names; it also keeps a name from being read as a flag.
_RELEASE_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_MAX_RELEASE_NAME = 53


async def render_helm(request: RenderRequest, *, helm: str | None = None) -> list[Object]:
    """The objects ``helm template`` renders for the chart at the app path.

    The caller bounds the time (``asyncio.timeout``); cancelling kills helm.
    """
    root, app_dir = await asyncio.to_thread(resolve_app_dir, request.root, request.path)
    binary = helm if helm is not None else await asyncio.to_thread(helm_binary)
    scratch = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix="conveyor-helm-"))
    try:
        argv = await asyncio.to_thread(_prepare, request, root, app_dir, scratch)
        output = await run_tool([binary, *argv], cwd=app_dir)
    finally:
        await asyncio.to_thread(shutil.rmtree, scratch, ignore_errors=True)
    if output.returncode != 0:
        raise helm_error(output.stderr, root, app_dir)
    return await asyncio.to_thread(documents.parse_stream, output.stdout, "helm template output")


def _prepare(request: RenderRequest, root: Path, app_dir: Path, scratch: Path) -> list[str]:
    """Write the inline values (helm reads values from files only) and build the arguments."""
    inline = None
    if request.helm.values.strip():
        inline = scratch / "values.yaml"
        inline.write_text(request.helm.values, encoding="utf-8")
    return helm_arguments(request, root, app_dir, inline)


def helm_arguments(
    request: RenderRequest, root: Path, app_dir: Path, inline_values: Path | None
) -> list[str]:
    """The ``helm template`` arguments for the request, every path checked."""
    options = request.helm
    release = options.release_name or request.app_name or DEFAULT_RELEASE_NAME
    if len(release) > _MAX_RELEASE_NAME or not _RELEASE_NAME.match(release):
        raise RenderError(
            f"spec.source.helm.releaseName: {release!r} is not a valid Helm release name: use at "
            f"most {_MAX_RELEASE_NAME} lower-case letters, digits, '-' and '.'"
        )
    argv = ["template", release, str(app_dir)]
    namespace = options.namespace or request.namespace
    if namespace:
        argv += ["--namespace", namespace]
    if not options.skip_crds:
        argv.append("--include-crds")
    if options.kube_version:
        argv += ["--kube-version", options.kube_version]
    for api_version in options.api_versions:
        argv += ["--api-versions", api_version]
    for value_file in options.value_files:
        path = _repo_file(value_file, root, app_dir, "valueFiles", options)
        if path is not None:
            argv += ["--values", str(path)]
    if inline_values is not None:
        argv += ["--values", str(inline_values)]
    for parameter in options.parameters:
        flag = "--set-string" if parameter.force_string else "--set"
        argv += [flag, f"{parameter.name}={_escape_set(parameter.value)}"]
    for file_parameter in options.file_parameters:
        path = _repo_file(file_parameter.path, root, app_dir, "fileParameters", None)
        argv += ["--set-file", f"{file_parameter.name}={path}"]
    return argv


def _repo_file(
    name: str, root: Path, app_dir: Path, field: str, options: HelmOptions | None
) -> Path | None:
    """The real path of a file named in spec.source.helm; None for a missing optional one."""
    where = f"spec.source.helm.{field}"
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", name):
        raise RenderError(
            f"{where}: {name!r} is a URL; Conveyor reads value files from the repository only, "
            "so commit the file next to the chart"
        )
    relative = PurePosixPath(name)
    candidate = root / relative.relative_to("/") if relative.is_absolute() else app_dir / name
    path = candidate.resolve()
    if not is_inside(path, root):
        raise RenderError(f"{where}: {name!r} is outside the repository")
    if not path.is_file():
        if options is not None and options.ignore_missing_value_files:
            return None
        raise RenderError(
            f"{where}: {name!r} does not exist at this revision", file=display(path, app_dir)
        )
    return path


def _escape_set(value: str) -> str:
    """Escape unescaped commas as Argo CD does, except in a ``{a,b}`` list value."""
    if value.startswith("{") and value.endswith("}"):
        return value
    return re.sub(r"(?<!\\),", r"\\,", value)


_PARSE_AT = re.compile(r"\(([^():\s]+):(\d+)(?::\d+)?\)")
_YAML_ON = re.compile(r"YAML parse error on ([^\s:]+)")


def helm_error(stderr: str, root: Path, app_dir: Path) -> RenderError:
    """helm's error with the template file (relative to the chart) and line it names."""
    text = " ".join(line for line in stderr.strip().splitlines() if line.strip())
    text = re.sub(r"^Error: ", "", text).replace(str(app_dir) + "/", "").replace(str(root), ".")
    file = line = None
    if match := _PARSE_AT.search(text):
        file, line = match.group(1), int(match.group(2))
    elif match := _YAML_ON.search(text):
        file = match.group(1)
    if file is not None and "/" in file:
        file = file.split("/", 1)[1]  # helm names files "<chart name>/templates/x.yaml"
    return RenderError(
        f"helm template: {text or 'failed without saying why'}", file=file, line=line
    )
