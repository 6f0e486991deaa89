"""A real git smart-HTTP server that wants Basic credentials, for the tests of `repo add`.

`git http-backend` (git's own CGI program) serves the repositories under a root; a small WSGI
front on 127.0.0.1 refuses requests without the expected Authorization header with 401, as a
Git host does for a private repository, and records which requests were authorized.
"""

from __future__ import annotations

import base64
import subprocess
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class _ThreadingServer(WSGIServer):
    daemon_threads = True


class GitHttpServer:
    """``http://127.0.0.1:PORT/<name>`` serves ``root/<name>``, with Basic auth required."""

    def __init__(self, root: Path, username: str, password: str) -> None:
        self.root = root
        token = base64.b64encode(f"{username}:{password}".encode()).decode()
        self.expected = f"Basic {token}"
        self.refused = 0
        self.served = 0
        self.server = make_server("127.0.0.1", 0, self._app, handler_class=_Quiet)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> GitHttpServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _app(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if environ.get("HTTP_AUTHORIZATION") != self.expected:
            self.refused += 1
            start_response("401 Unauthorized", [("WWW-Authenticate", 'Basic realm="git"')])
            return [b"authentication required\n"]
        self.served += 1
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        cgi_env = {
            "GIT_PROJECT_ROOT": str(self.root), "GIT_HTTP_EXPORT_ALL": "1",
            "PATH_INFO": environ.get("PATH_INFO", ""),
            "REQUEST_METHOD": environ["REQUEST_METHOD"],
            "QUERY_STRING": environ.get("QUERY_STRING", ""),
            "CONTENT_TYPE": environ.get("CONTENT_TYPE", ""),
            "CONTENT_LENGTH": str(len(body)), "REMOTE_USER": "test", "REMOTE_ADDR": "127.0.0.1",
            "GIT_PROTOCOL": environ.get("HTTP_GIT_PROTOCOL", ""),
        }  # fmt: skip
        done = subprocess.run(
            ["git", "http-backend"], input=body, env=cgi_env, capture_output=True, check=False
        )
        head, _, payload = done.stdout.partition(b"\r\n\r\n")
        headers = []
        status = "200 OK"
        for line in head.decode("latin-1").split("\r\n"):
            key, _, value = line.partition(":")
            if key.lower() == "status":
                status = value.strip()
            elif key:
                headers.append((key, value.strip()))
        start_response(status, headers)
        return [payload]
