"""`conveyor repo add`: a private http(s) repository works with stored credentials, and the
password appears nowhere: not in the answers, the files on disk, the mirrors or the log."""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import conveyor, ok, wait_json

from engine.engine_helpers import ConfigRepo, configmap
from support.git_http import GitHttpServer
from support.server_helpers import ServerProcess

pytestmark = pytest.mark.slow

PASSWORD = "s3cret-Pa55word"


def conditions(app: dict[str, Any]) -> str:
    return " ".join(c.get("message", "") for c in app["status"].get("conditions") or [])


def files_containing(root: Path, needles: list[bytes]) -> list[str]:
    found = []
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            if any(n in data for n in needles):
                found.append(str(path))
    return found


def test_a_private_repository_works_with_stored_credentials_that_are_never_shown(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    repo = ConfigRepo(tmp_path / "config")
    repo.write("web/cm.yaml", configmap("settings", {"mode": "blue"}))
    repo.commit()
    served = tmp_path / "served"
    served.mkdir()
    subprocess.run(["git", "clone", "-q", "--bare", str(repo.path), str(served / "config.git")],
                   check=True)  # fmt: skip
    token = base64.b64encode(f"alice:{PASSWORD}".encode())
    secrets = [PASSWORD.encode(), token]
    with (
        GitHttpServer(served, "alice", PASSWORD) as git_server,
        ServerProcess(home, "--poll-interval", "300") as server,
    ):
        url = f"{git_server.url}/config.git"
        ok(conveyor(
            home, "app", "create", "web", "--repo", url, "--path", "web",
            "--dest-namespace", "demo", "--sync-option", "CreateNamespace=true",
        ))  # fmt: skip
        refused = wait_json(home, "web", lambda a: "could not fetch" in conditions(a),
                            what="a refused fetch", timeout=60)  # fmt: skip
        assert "ComparisonError" in json.dumps(refused["status"]["conditions"])
        assert git_server.refused > 0 and git_server.served == 0

        inline = conveyor(home, "repo", "add", f"http://alice:{PASSWORD}@127.0.0.1:1/x.git")
        assert inline.returncode == 1 and "not in the URL" in inline.stderr
        assert PASSWORD not in inline.stderr

        added = ok(conveyor(home, "repo", "add", url, "--username", "alice", "--password-stdin",
                            input=PASSWORD + "\n"))  # fmt: skip
        assert added.strip() == f"Repository '{url}' added"
        wait_json(home, "web", lambda a: a["status"]["sync"]["status"] == "OutOfSync",
                  what="compared with credentials", timeout=60)  # fmt: skip
        ok(conveyor(home, "app", "sync", "web", "--timeout", "60"))
        ok(conveyor(home, "app", "wait", "web", "--sync", "--health", "--timeout", "60"))
        assert git_server.served > 0

        listed = ok(conveyor(home, "repo", "list"))
        assert url in listed and "alice" in listed
        as_json = json.loads(ok(conveyor(home, "repo", "list", "-o", "json")))
        assert as_json == [{"repo": url, "username": "alice", "type": "git", "name": "",
                            "project": "", "hasCredentials": True}]  # fmt: skip
        app = ok(conveyor(home, "app", "get", "web", "-o", "json"))
        for shown in (listed, app, json.dumps(as_json)):
            assert PASSWORD not in shown and token.decode() not in shown

        assert (home / "repositories.key").stat().st_mode & 0o777 == 0o600
        assert (home / "repositories.enc").stat().st_mode & 0o777 == 0o600
        assert files_containing(home, secrets) == []  # encrypted store, mirrors, database
        assert PASSWORD not in server.log.read_text()

        ok(conveyor(home, "repo", "rm", url))
        assert json.loads(ok(conveyor(home, "repo", "list", "-o", "json"))) == []
        missing = conveyor(home, "repo", "rm", url)
        assert missing.returncode == 1 and "is not added" in missing.stderr
