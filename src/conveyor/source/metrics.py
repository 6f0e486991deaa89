"""What the source stage reports about its network calls, for /metrics and for tests.

The server exports these as Argo CD's ``argocd_git_request_total`` and
``argocd_git_request_duration_seconds`` (labels ``repo`` and ``request_type``); this layer
only calls an observer, so it needs no metrics library and tests can count real git calls.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol


class RequestKind(StrEnum):
    """Argo CD's ``request_type`` label values."""

    FETCH = "fetch"
    LS_REMOTE = "ls-remote"


@dataclass(frozen=True)
class GitRequest:
    """One network call to a repository: a clone or fetch, or an ls-remote."""

    kind: RequestKind
    repo: str
    """The repository URL with credentials stripped."""
    duration: float
    """Seconds, from the injected clock."""
    ok: bool


class GitRequestObserver(Protocol):
    """Called once per finished network call, successful or not."""

    def __call__(self, request: GitRequest) -> None: ...


@dataclass
class GitRequestLog:
    """An observer that keeps every request; enough for tests and small installations."""

    requests: list[GitRequest] = field(default_factory=list)

    def __call__(self, request: GitRequest) -> None:
        self.requests.append(request)

    def count(self, kind: RequestKind, repo: str | None = None) -> int:
        """How many requests of ``kind`` (to ``repo``, if given) were made."""
        return sum(1 for r in self.requests if r.kind is kind and repo in (None, r.repo))

    def totals(self) -> Counter[tuple[str, RequestKind]]:
        """Request counts by (repo, kind), the shape of ``argocd_git_request_total``."""
        return Counter((r.repo, r.kind) for r in self.requests)
