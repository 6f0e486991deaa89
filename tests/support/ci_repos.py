"""Small app repositories written by the tests: a git repo, a hand-made wheel, an OSV fixture."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import subprocess
import threading
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

GOOD_APP = {
    "calc.py": 'def add(a: int, b: int) -> int:\n    """Sum."""\n    return a + b\n',
    "tests/test_calc.py": "from calc import add\n\n\ndef test_add() -> None:\n"
    "    assert add(1, 2) == 3\n",
}


def pipeline(*enabled: str, extra: str = "") -> str:
    """A pipeline file that disables the source stages except ``enabled`` (for speed)."""
    lines = [
        f"{s}:\n  enabled: false"
        for s in ("secrets", "lint", "types", "tests", "sast", "image")
        if s not in enabled
    ]
    return "\n".join(lines) + "\n" + extra


def make_repo(root: Path, files: dict[str, str | bytes]) -> Path:
    """A git repository with ``files`` committed on its default branch."""
    root.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "app"]):
        subprocess.run(["git", *args], cwd=root, check=True)
    return root


def wheel(name: str, version: str) -> tuple[str, bytes]:
    """A minimal pure-Python wheel (file name, bytes) that pip installs offline."""
    dist = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": b"VALUE = 1\n",
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{dist}/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
        b"Tag: py3-none-any\n",
    }
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(f"{dist}/RECORD,,")
    files[f"{dist}/RECORD"] = ("\n".join(record) + "\n").encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path, data in files.items():
            archive.writestr(path, data)
    return f"{name}-{version}-py3-none-any.whl", buffer.getvalue()


def _advisory(name: str) -> dict[str, Any]:
    return {
        "id": "OSV-TEST-0001",
        "summary": f"{name} does something unsafe",
        "aliases": ["CVE-2099-0001"],
        "affected": [
            {
                "package": {"name": name, "ecosystem": "PyPI"},
                "ranges": [
                    {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.0.1"}]}
                ],
            }
        ],
    }


@contextmanager
def osv_server(vulnerable: str) -> Iterator[str]:
    """An OSV API on 127.0.0.1 (``/v1/query`` and ``/v1/querybatch``) that knows one advisory,
    for the package ``vulnerable``; yields the query URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            if self.path == "/v1/querybatch":
                answer: dict[str, Any] = {
                    "results": [
                        {"vulns": [{"id": "OSV-TEST-0001"}]}
                        if q.get("package", {}).get("name") == vulnerable
                        else {}
                        for q in body.get("queries", [])
                    ]
                }
            else:
                hit = body.get("package", {}).get("name") == vulnerable
                answer = {"vulns": [_advisory(vulnerable)]} if hit else {}
            data = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1/query"
    finally:
        server.shutdown()
        server.server_close()


def conveyor(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """The real console script, as a process (exit code, stdout, stderr)."""
    import os
    import sys

    script = Path(sys.executable).parent / "conveyor"
    result = subprocess.run(
        [str(script), *args],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    return result.returncode, result.stdout, result.stderr
