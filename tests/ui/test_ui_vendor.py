"""The vendored htmx files are exactly the pinned ones, and ship in the wheel.

Each file under ``static/vendor`` must be listed in ``vendor.json`` with its SHA-256, and
match it; the pages send the same hash to browsers as Subresource Integrity, so a file that
changed would not even run.
"""

from __future__ import annotations

import base64
import hashlib
import json
import tomllib
from pathlib import Path

from conveyor.api.ui import templating

ROOT = Path(__file__).resolve().parents[2]
UI = ROOT / "src" / "conveyor" / "api" / "ui"
VENDOR = UI / "static" / "vendor"


def manifest() -> dict[str, dict[str, str]]:
    doc = json.loads((VENDOR / "vendor.json").read_text())
    return {
        name: {**entry, "package": package, "version": spec["version"]}
        for package, spec in doc["packages"].items()
        for name, entry in spec["files"].items()
    }


def test_every_vendored_file_matches_its_pinned_hash() -> None:
    pinned = manifest()
    on_disk = {p.name for p in VENDOR.iterdir() if p.name != "vendor.json"}
    assert on_disk == set(pinned), "every vendored file is pinned, and every pinned one is there"
    for name, entry in pinned.items():
        digest = hashlib.sha256((VENDOR / name).read_bytes()).hexdigest()
        assert digest == entry["sha256"], f"{name} is not {entry['package']}@{entry['version']}"
    assert {e["package"]: e["version"] for e in pinned.values()} == {
        "htmx.org": "2.0.11",
        "htmx-ext-sse": "2.2.4",
    }


def test_pages_load_the_vendored_scripts_with_their_integrity() -> None:
    html = templating.render(
        "login.html", request=None, caller=None, nav=[], current="/ui/login", next="", error=""
    )
    for name in ("htmx-2.0.11.min.js", "htmx-ext-sse-2.2.4.min.js"):
        digest = hashlib.sha256((VENDOR / name).read_bytes()).digest()
        sri = "sha256-" + base64.b64encode(digest).decode()
        assert f'src="/ui/static/vendor/{name}" integrity="{sri}"' in html
    assert html.index("htmx-2.0.11") < html.index("htmx-ext-sse")  # the extension needs htmx


def test_the_templates_and_static_files_are_package_data() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["conveyor"]
    package = ROOT / "src" / "conveyor"
    shipped = {p for pattern in patterns for p in package.glob(pattern) if p.is_file()}
    needed = {
        p
        for p in UI.rglob("*")
        if p.is_file() and p.suffix != ".py" and "__pycache__" not in p.parts
    }
    assert needed, "the UI has templates and static files"
    assert needed <= shipped, sorted(str(p.relative_to(UI)) for p in needed - shipped)
