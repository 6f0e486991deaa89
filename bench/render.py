"""Benchmark of the render stage: what one app costs uncached, and what a cache hit costs.

Prints, for a directory app of N small manifests (Deployment + Service pairs in files of ten
documents) and for a kustomize overlay of the same objects built on a base:
  - uncached render time (median of several runs; kustomize includes the kubectl process);
  - cache-hit time (lookup plus the copy the caller owns), and the hit/render counts;
  - the cached entry's size.

Figures only, no assertions.

    .venv/bin/python bench/render.py [--objects 1000] [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from conveyor.render import CacheKey, KustomizeOptions, Renderer, RenderRequest

SHA = "0" * 40


def deployment(index: int) -> str:
    return f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: web-{index}
  labels: {{app: web-{index}}}
spec:
  replicas: 2
  selector:
    matchLabels: {{app: web-{index}}}
  template:
    metadata:
      labels: {{app: web-{index}}}
    spec:
      containers:
      - name: web
        image: nginx:1.27
        ports:
        - containerPort: 80
        env:
        - {{name: MODE, value: production}}
"""


def service(index: int) -> str:
    return f"""apiVersion: v1
kind: Service
metadata:
  name: web-{index}
spec:
  selector: {{app: web-{index}}}
  ports:
  - port: 80
"""


def write_repo(root: Path, objects: int) -> None:
    """apps/plain: N manifests in files of 10; apps/base + apps/overlay: the same via kustomize."""
    pairs = objects // 2
    for name in ("plain", "base"):
        directory = root / "apps" / name
        directory.mkdir(parents=True)
        files = []
        for start in range(0, pairs, 5):
            indexes = range(start, min(start + 5, pairs))
            docs = [make(i) for i in indexes for make in (deployment, service)]
            file = directory / f"part-{start:05d}.yaml"
            file.write_text("---\n".join(docs))
            files.append(file.name)
        if name == "base":
            listing = "".join(f"- {f}\n" for f in files)
            (directory / "kustomization.yaml").write_text(f"resources:\n{listing}")
    overlay = root / "apps" / "overlay"
    overlay.mkdir()
    (overlay / "kustomization.yaml").write_text("resources:\n- ../base\nnamePrefix: prod-\n")


async def measure(
    renderer: Renderer, request: RenderRequest, runs: int
) -> tuple[float, float, CacheKey]:
    """(median uncached seconds, median hit seconds, the cache key)."""
    uncached = []
    for _ in range(runs):
        started = time.perf_counter()
        await renderer.render(request)  # no key: always renders
        uncached.append(time.perf_counter() - started)
    key = CacheKey.of(request, repo_url="https://example.com/repo.git", revision=SHA)
    await renderer.render(request, key)
    hits = []
    for _ in range(runs):
        started = time.perf_counter()
        result = await renderer.render(request, key)
        hits.append(time.perf_counter() - started)
        assert result.cached
    return statistics.median(uncached), statistics.median(hits), key


async def main(objects: int, runs: int) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        write_repo(root, objects)
        cases = [
            ("directory", RenderRequest(root=root, path="apps/plain")),
            ("kustomize", RenderRequest(root=root, path="apps/overlay")),
            (
                "kustomize + params",
                RenderRequest(
                    root=root,
                    path="apps/overlay",
                    kustomize=KustomizeOptions(images=("nginx:1.28",), common_labels={"t": "a"}),
                ),
            ),
        ]
        print(f"{objects} objects per app, median of {runs} runs")
        print(f"{'app':<20}{'uncached':>12}{'cache hit':>12}{'speed-up':>10}{'entry':>10}")
        for label, request in cases:
            renderer = Renderer()
            uncached, hit, key = await measure(renderer, request, runs)
            entry = renderer.cache.get(key)
            size = len(entry.payload or b"") if entry is not None else 0
            print(
                f"{label:<20}{uncached * 1000:>10.1f}ms{hit * 1000:>10.1f}ms"
                f"{uncached / hit:>9.0f}x{size / 1024:>8.0f}KiB"
                f"   (renders={renderer.stats.renders}, hits={renderer.stats.hits})"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main(args.objects, args.runs))
