"""Repository credentials (``conveyor repo add``), encrypted at rest, never shown.

They are kept in CONVEYOR_HOME/repositories.enc, one Fernet token (AES-128-CBC with an
HMAC-SHA256, from the ``cryptography`` package) holding the JSON list, readable by Conveyor's
user only; the key is CONVEYOR_HOME/repositories.key (0600), made on first use. A copy of the
database or of the home without the key reveals nothing.

The mirrors look credentials up by repository identity (``source.urls.repo_key``: scheme and
host lowercased, ``.git`` and a trailing ``/`` dropped), so ``https://Git.example.com/org/app``
and ``https://git.example.com/org/app.git`` share one entry. Views (``public``) carry the URL,
user name and type, never the password. The file is read again only when it changed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conveyor.errors import ConveyorError, NotFoundError, ValidationError
from conveyor.gitrun import HttpCredentials
from conveyor.source.urls import repo_key, strip_credentials
from conveyor.store.sealedfile import SealedList

DATA_FILE = "repositories.enc"
KEY_FILE = "repositories.key"


@dataclass(frozen=True)
class Repository:
    """One stored repository and its credentials."""

    repo: str
    username: str = ""
    password: str = field(default="", repr=False)
    type: str = "git"
    name: str = ""
    project: str = ""

    def public(self) -> dict[str, Any]:
        """What the API and CLI show: no password."""
        return {
            "repo": self.repo, "username": self.username, "type": self.type, "name": self.name,
            "project": self.project, "hasCredentials": bool(self.password),
        }  # fmt: skip


class RepoCredentialStore:
    """The encrypted repository list under ``home``; safe to use from several threads."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self._file = SealedList(
            home, DATA_FILE, KEY_FILE,
            decode=lambda item: Repository(**item), encode=lambda repo: dict(repo.__dict__),
        )  # fmt: skip
        self._lock = self._file.lock

    def list(self) -> list[Repository]:
        with self._lock:
            return list(self._file.load())

    def add(self, repo: Repository, *, upsert: bool = False) -> str:
        """Store ``repo``; ``created`` or ``configured``. Credentials in the URL are refused."""
        if strip_credentials(repo.repo) != repo.repo:
            raise ValidationError(
                "repo: put the user name and password in --username/--password, not in the URL"
            )
        if not repo.repo.startswith(("https://", "http://")) and repo.password:
            raise ValidationError("repo: credentials are supported for http(s) repositories only")
        try:
            json.dumps(repo.__dict__).encode()
        except UnicodeEncodeError as err:
            raise ValidationError("repository fields must be valid Unicode text") from err
        key = repo_key(repo.repo)
        with self._lock:
            repos = list(self._file.load())
            existing = [r for r in repos if repo_key(r.repo) == key]
            if existing and not upsert and existing[0] != repo:
                raise ValidationError(
                    f"repository {repo.repo} is already added with other settings: use --upsert"
                )
            repos = [r for r in repos if repo_key(r.repo) != key] + [repo]
            self._file.save(repos)
        return "configured" if existing else "created"

    def remove(self, url: str) -> None:
        key = repo_key(url)
        with self._lock:
            repos = self._file.load()
            kept = [r for r in repos if repo_key(r.repo) != key]
            if len(kept) == len(repos):
                raise NotFoundError(f"repository {url} is not added")
            self._file.save(kept)

    def lookup(self, url: str) -> HttpCredentials | None:
        """The credentials stored for ``url``'s repository (what the mirrors call)."""
        try:
            key = repo_key(url)
        except ConveyorError:
            return None
        with self._lock:
            for repo in self._file.load():
                if repo.password and repo_key(repo.repo) == key:
                    # scoped to the URL git is given, which may be spelled unlike the stored one
                    return HttpCredentials(url=url, username=repo.username,
                                           password=repo.password)  # fmt: skip
        return None
