"""``/api/v1/repositories``: repositories and their credentials (``argocd repo add|list|rm``).

Credentials are stored encrypted (``store.repocreds``) and used by the mirrors for every fetch
of a matching repoURL; no answer ever carries a password.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from conveyor.api.context import Ctx
from conveyor.api.errors import ERROR_RESPONSES
from conveyor.api.schemas import URL_MAX, RepositoryBody
from conveyor.errors import ValidationError
from conveyor.source.validate import validate_repo_url
from conveyor.store.repocreds import RepoCredentialStore, Repository

router = APIRouter(prefix="/api/v1/repositories", tags=["repositories"], responses=ERROR_RESPONSES)


def _store(ctx: Ctx) -> RepoCredentialStore:
    return RepoCredentialStore(ctx.settings.home)


@router.get("", summary="List repositories (never their passwords)")
async def list_repositories(ctx: Ctx) -> dict[str, Any]:
    return {"items": [r.public() for r in _store(ctx).list()]}


@router.post("", summary="Add a repository and its credentials")
async def add_repository(
    ctx: Ctx,
    body: RepositoryBody,
    upsert: Annotated[bool, Query(description="Replace an existing entry.")] = False,
) -> dict[str, Any]:
    validate_repo_url(body.repo)
    if body.project:
        raise ValidationError(
            "project: project-scoped repositories are not supported yet; the credentials of "
            "a repository are used by every app that deploys from it"
        )
    repo = Repository(
        repo=body.repo, username=body.username, password=body.password, type=body.type,
        name=body.name, project=body.project,
    )  # fmt: skip
    result = _store(ctx).add(repo, upsert=upsert)
    for name in ctx.controller.names():
        ctx.controller.refresh(name)  # apps of this repo may have failed for want of them
    return {"repository": repo.public(), "result": result}


@router.delete("", summary="Remove a repository and its credentials")
async def remove_repository(
    ctx: Ctx, repo: Annotated[str, Query(min_length=1, max_length=URL_MAX)]
) -> dict[str, Any]:
    _store(ctx).remove(repo)
    return {}
