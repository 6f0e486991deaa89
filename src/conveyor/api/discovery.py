"""How a local CLI finds a local server: two files under CONVEYOR_HOME.

``server.json`` holds the URL the running server listens on (and its pid, so that a stale
file left by a killed server can be told apart); ``admin.token`` holds the admin token the
server created on its first start, readable by the owner only (0600). Whoever can read
CONVEYOR_HOME can read the database and the runtime's Secrets anyway, so the file grants
nothing new. Kept free of FastAPI imports: the CLI reads these on every command.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

SERVER_FILE = "server.json"
ADMIN_TOKEN_FILE = "admin.token"  # noqa: S105 (a file name)
WEBHOOK_SECRET_FILE = "webhook.secret"  # noqa: S105 (a file name)
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8600


@dataclass(frozen=True)
class ServerInfo:
    """What ``server.json`` says."""

    url: str
    pid: int


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` with mode 0600 from the start (never briefly readable)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    os.chmod(tmp, 0o600)  # in case the file existed with wider bits
    os.replace(tmp, path)


def write_server_info(home: Path, url: str) -> None:
    write_private(home / SERVER_FILE, json.dumps({"url": url, "pid": os.getpid()}) + "\n")


def remove_server_info(home: Path) -> None:
    """Remove ``server.json`` if it is this process's (a newer server may have replaced it)."""
    info = read_server_info(home)
    if info is not None and info.pid == os.getpid():
        with contextlib.suppress(FileNotFoundError):
            (home / SERVER_FILE).unlink()


def read_server_info(home: Path) -> ServerInfo | None:
    try:
        data = json.loads((home / SERVER_FILE).read_text())
        return ServerInfo(url=str(data["url"]), pid=int(data["pid"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def read_admin_token(home: Path) -> str | None:
    try:
        return (home / ADMIN_TOKEN_FILE).read_text().strip() or None
    except OSError:
        return None


def write_admin_token(home: Path, token: str) -> None:
    write_private(home / ADMIN_TOKEN_FILE, token + "\n")
