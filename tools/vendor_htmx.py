"""Vendor htmx and its SSE extension into the web UI, pinned by version and SHA-256.

Run by hand when moving to a new version (never by `make`: the UI needs no node toolchain):

    python tools/vendor_htmx.py 2.0.11 2.2.4

For each package it runs `npm pack NAME@VERSION` in a temporary directory, checks the
tarball against the registry's integrity (`npm view NAME@VERSION dist.integrity`), copies the
minified script (under a versioned name) and the licence into
`src/conveyor/api/ui/static/vendor/`, and writes `vendor.json` with each file's SHA-256.
Then update the versions `tests/ui/test_ui_vendor.py` expects and the files' names, and
remove the old files.
"""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

VENDOR = Path(__file__).resolve().parents[1] / "src/conveyor/api/ui/static/vendor"
COMMENT = (
    "Pinned third-party files, fetched with `npm pack NAME@VERSION` (tools/vendor_htmx.py). "
    "The tarball's integrity is the npm registry's; each file's sha256 is checked by "
    "tests/ui/test_ui_vendor.py and sent to browsers as Subresource Integrity."
)


def _npm(*args: str, cwd: Path) -> str:
    return subprocess.run(
        ["npm", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


def _vendor(package: str, version: str, files: dict[str, str], work: Path) -> dict[str, object]:
    """Fetch ``package@version``; ``files`` maps a member of the tarball to its vendored name."""
    spec = f"{package}@{version}"
    expected = _npm("view", spec, "dist.integrity", cwd=work)
    tarball = work / _npm("pack", spec, cwd=work).splitlines()[-1]
    actual = "sha512-" + base64.b64encode(hashlib.sha512(tarball.read_bytes()).digest()).decode()
    if actual != expected:
        raise SystemExit(f"{spec}: the tarball's integrity {actual} is not the registry's")
    entries: dict[str, dict[str, str]] = {}
    with tarfile.open(tarball) as archive:
        for member, name in files.items():
            extracted = archive.extractfile(member)
            if extracted is None:
                raise SystemExit(f"{spec} has no file {member}")
            data = extracted.read()
            (VENDOR / name).write_bytes(data)
            entries[name] = {"from": member, "sha256": hashlib.sha256(data).hexdigest()}
    return {"version": version, "integrity": expected, "files": entries}


def main(htmx: str, sse: str) -> None:
    VENDOR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        packages = {
            "htmx.org": _vendor(
                "htmx.org",
                htmx,
                {"package/dist/htmx.min.js": f"htmx-{htmx}.min.js",
                 "package/LICENSE": "htmx.LICENSE"},
                work,
            ),
            "htmx-ext-sse": _vendor(
                "htmx-ext-sse",
                sse,
                {"package/dist/sse.min.js": f"htmx-ext-sse-{sse}.min.js",
                 "package/LICENSE": "htmx-ext-sse.LICENSE"},
                work,
            ),
        }  # fmt: skip
    manifest = {"_comment": COMMENT, "packages": packages}
    (VENDOR / "vendor.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"vendored htmx.org@{htmx} and htmx-ext-sse@{sse} into {VENDOR}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit("usage: python tools/vendor_htmx.py HTMX_VERSION SSE_VERSION")
    main(sys.argv[1], sys.argv[2])
