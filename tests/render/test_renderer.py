"""The render front: detection, the cache (a hit runs nothing), errors, timing and hooks."""

from __future__ import annotations

import asyncio
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
from render_support import TreeWriter, config_map, names

import conveyor.render as render
from conveyor.errors import ValidationError
from conveyor.model.source import Source
from conveyor.render import (
    CacheKey,
    KustomizeOptions,
    RenderCache,
    Renderer,
    RenderError,
    RenderRequest,
    SourceType,
    detect,
)

SHA = "0123456789abcdef0123456789abcdef01234567"
REPO = "https://example.com/config.git"


class Recorder:
    """A RenderObserver that keeps every call."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def __call__(
        self, *, source_type: SourceType, duration: float, cached: bool, failed: bool
    ) -> None:
        self.calls.append(
            {"type": source_type, "duration": duration, "cached": cached, "failed": failed}
        )


def key(request: RenderRequest, revision: str = SHA) -> CacheKey:
    return CacheKey.of(request, repo_url=REPO, revision=revision)


KUSTOMIZE_APP = {
    "app/kustomization.yaml": "resources:\n- cm.yaml\n",
    "app/cm.yaml": config_map("settings"),
}


@pytest.mark.processes
async def test_cache_hit_runs_no_subprocess_and_reads_no_file(tree: TreeWriter) -> None:
    root = tree(KUSTOMIZE_APP)
    recorder = Recorder()
    renderer = Renderer(observer=recorder)
    request = RenderRequest(root=root, path="app", kustomize=KustomizeOptions(name_prefix="p-"))

    first = await renderer.render(request, key(request))
    shutil.rmtree(root)  # the checkout is gone: only the cache can answer now
    second = await renderer.render(request, key(request))

    assert (first.cached, second.cached) == (False, True)
    assert first.source_type is second.source_type is SourceType.KUSTOMIZE
    assert names(second.manifests) == names(first.manifests) == ["p-settings"]
    assert (renderer.stats.renders, renderer.stats.hits) == (1, 1)
    assert [call["cached"] for call in recorder.calls] == [False, True]
    assert all(call["duration"] >= 0 for call in recorder.calls)


async def test_hits_hand_out_independent_copies(tree: TreeWriter) -> None:
    root = tree({"app/cm.yaml": config_map("a")})
    renderer = Renderer()
    request = RenderRequest(root=root, path="app")
    first = await renderer.render(request, key(request))
    first.manifests[0]["metadata"]["name"] = "changed"
    second = await renderer.render(request, key(request))
    second.manifests.clear()
    third = await renderer.render(request, key(request))
    assert names(third.manifests) == ["a"]


@pytest.mark.processes
async def test_other_commit_or_parameters_miss(tree: TreeWriter) -> None:
    root = tree(KUSTOMIZE_APP)
    renderer = Renderer()
    plain = RenderRequest(root=root, path="app")
    prefixed = RenderRequest(root=root, path="app", kustomize=KustomizeOptions(name_prefix="x-"))
    await renderer.render(plain, key(plain))
    await renderer.render(plain, key(plain, revision="f" * 40))
    result = await renderer.render(prefixed, key(prefixed))
    assert names(result.manifests) == ["x-settings"]
    assert renderer.stats.renders == 3
    assert renderer.stats.hits == 0


async def test_without_a_key_nothing_is_cached(tree: TreeWriter) -> None:
    root = tree({"app/cm.yaml": config_map("a")})
    renderer = Renderer()
    request = RenderRequest(root=root, path="app")
    await renderer.render(request)
    await renderer.render(request)
    assert (renderer.stats.renders, renderer.stats.hits, len(renderer.cache)) == (2, 0, 0)


async def test_errors_of_a_commit_are_cached(tree: TreeWriter) -> None:
    root = tree(
        {"app/bad.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n bad: 1\n"}
    )
    recorder = Recorder()
    renderer = Renderer(observer=recorder)
    request = RenderRequest(root=root, path="app")
    for _ in range(2):
        with pytest.raises(RenderError) as caught:
            await renderer.render(request, key(request))
        assert (caught.value.file, caught.value.line) == ("bad.yaml", 5)
    assert (renderer.stats.renders, renderer.stats.hits, renderer.stats.failures) == (1, 1, 1)
    assert [(c["cached"], c["failed"]) for c in recorder.calls] == [(False, True), (True, True)]


async def test_errors_that_may_pass_are_not_cached(
    tree: TreeWriter, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    root = tree({"chart/Chart.yaml": "apiVersion: v2\nname: c\nversion: 0.1.0\n"})
    renderer = Renderer()
    request = RenderRequest(root=root, path="chart")
    for _ in range(2):
        with pytest.raises(RenderError, match="helm is not installed"):
            await renderer.render(request, key(request))
    assert (renderer.stats.renders, renderer.stats.hits, len(renderer.cache)) == (2, 0, 0)


async def test_missing_checkout_is_an_error_that_is_not_cached(tmp_path: Path) -> None:
    renderer = Renderer()
    request = RenderRequest(root=tmp_path / "gone", path="app")
    with pytest.raises(RenderError, match="does not exist") as caught:
        await renderer.render(request, key(request))
    assert caught.value.cacheable is False
    assert len(renderer.cache) == 0


@pytest.mark.processes
async def test_time_limit_kills_the_tool_and_is_not_cached(
    tree: TreeWriter, tmp_path: Path
) -> None:
    slow = tmp_path / "slow-helm"
    slow.write_text(f"#!{sys.executable}\nimport time\ntime.sleep(30)\n")
    slow.chmod(0o755)
    root = tree({"chart/Chart.yaml": "apiVersion: v2\nname: c\nversion: 0.1.0\n"})
    renderer = Renderer(helm=str(slow), time_limit=0.5)
    request = RenderRequest(root=root, path="chart")
    started = asyncio.get_running_loop().time()
    with pytest.raises(RenderError, match=r"did not finish within 0\.5 seconds") as caught:
        await renderer.render(request, key(request))
    assert asyncio.get_running_loop().time() - started < 10
    assert caught.value.cacheable is False
    assert len(renderer.cache) == 0


def test_cache_evicts_the_least_recently_used(tree: TreeWriter) -> None:
    root = tree({})
    cache = RenderCache(max_entries=2)
    keys = [key(RenderRequest(root=root, path=f"app{i}")) for i in range(3)]
    cache.put(keys[0], SourceType.DIRECTORY, [])
    cache.put(keys[1], SourceType.DIRECTORY, [])
    assert cache.get(keys[0]) is not None  # now the most recent
    cache.put(keys[2], SourceType.DIRECTORY, [])
    assert [cache.get(k) is not None for k in keys] == [True, False, True]


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"kustomization.yaml": ""}, SourceType.KUSTOMIZE),
        ({"kustomization.yml": ""}, SourceType.KUSTOMIZE),
        ({"Kustomization": ""}, SourceType.KUSTOMIZE),
        ({"Chart.yaml": ""}, SourceType.HELM),
        ({"Chart.yaml": "", "kustomization.yaml": ""}, SourceType.KUSTOMIZE),
        ({"deploy.yaml": ""}, SourceType.DIRECTORY),
        ({"sub/kustomization.yaml": ""}, SourceType.DIRECTORY),
    ],
    ids=["yaml", "yml", "Kustomization", "chart", "both", "plain", "nested-only"],
)
def test_detect(tree: TreeWriter, files: dict[str, str], expected: SourceType) -> None:
    root = tree({f"app/{name}": text for name, text in files.items()})
    assert detect(root / "app") is expected


async def test_explicit_type_wins_over_detection(tree: TreeWriter) -> None:
    root = tree(KUSTOMIZE_APP)
    source = Source.model_validate({"repoURL": REPO, "path": "app", "directory": {}})
    request = RenderRequest.from_source(root, source)
    result = await Renderer().render(request)
    assert result.source_type is SourceType.DIRECTORY
    assert names(result.manifests) == ["settings"]  # kustomization.yaml is not a manifest


def test_request_from_model_and_from_dict_agree(tree: TreeWriter) -> None:
    root = tree({})
    spec = {
        "repoURL": REPO,
        "path": "apps/web",
        "kustomize": {
            "images": ["nginx:1.27"],
            "namePrefix": "dev-",
            "commonLabels": {"team": "a"},
        },
    }
    from_dict = RenderRequest.from_source(root, spec, app_name="web", namespace="dev")
    from_model = RenderRequest.from_source(
        root, Source.model_validate(spec), app_name="web", namespace="dev"
    )
    assert from_dict == from_model
    assert from_dict.source_type is SourceType.KUSTOMIZE
    assert from_dict.kustomize.images == ("nginx:1.27",)
    assert from_dict.canonical() == from_model.canonical()


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"kustomize": {"images": "nginx:1"}}, "spec.source.kustomize.images: must be a list"),
        ({"helm": {"parameters": [{"value": "1"}]}}, r"parameters\[0\]: needs a name"),
        ({"directory": {"recurse": "yes"}}, "recurse: must be true or false"),
        ({"kustomize": {}, "helm": {}}, "set only one of kustomize, helm"),
        ({"chart": "nginx"}, "charts from a Helm repository are not rendered"),
    ],
    ids=["images-not-list", "parameter-without-name", "recurse-not-bool", "two-types", "chart"],
)
def test_request_from_dict_rejects_bad_specs(
    tree: TreeWriter, spec: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        RenderRequest.from_source(tree({}), spec)


def test_public_names_are_sorted_and_exported() -> None:
    assert render.__all__ == sorted(render.__all__)
    assert all(hasattr(render, name) for name in render.__all__)
