"""Render: an app's directory at one commit, plus its parameters, into Kubernetes objects.

Three renderers, one per source type, each a function of the request alone:
``render_directory`` (plain YAML and JSON), ``render_kustomize`` (``kubectl kustomize``) and
``render_helm`` (``helm template``). ``Renderer`` is the stage's front: it picks the renderer
(``detect`` when spec.source does not say), caches results by (repo URL, commit SHA, path,
parameters) and reports timings. Every failure is a RenderError naming the file and, where
there is one, the line: the engine shows it as a ComparisonError on that one app.

The stage reads only below the exported tree it is given: paths, symlinks and kustomize
references that lead outside it are refused.
"""

from __future__ import annotations

from conveyor.model.globs import path_match as glob_match
from conveyor.render.cache import CacheEntry, CacheKey, RenderCache
from conveyor.render.directory import render_directory
from conveyor.render.errors import RenderError
from conveyor.render.helm import render_helm
from conveyor.render.kustomize import render_kustomize
from conveyor.render.renderer import Renderer, RenderObserver, RenderResult, RenderStats
from conveyor.render.request import (
    DirectoryOptions,
    HelmFileParameter,
    HelmOptions,
    HelmParameter,
    KustomizeOptions,
    RenderRequest,
    SourceType,
    detect,
)

__all__ = [
    "CacheEntry",
    "CacheKey",
    "DirectoryOptions",
    "HelmFileParameter",
    "HelmOptions",
    "HelmParameter",
    "KustomizeOptions",
    "RenderCache",
    "RenderError",
    "RenderObserver",
    "RenderRequest",
    "RenderResult",
    "RenderStats",
    "Renderer",
    "SourceType",
    "detect",
    "glob_match",
    "render_directory",
    "render_helm",
    "render_kustomize",
]
