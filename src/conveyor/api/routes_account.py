"""``/api/v1/account``: API tokens. A new token is shown once, in the answer that makes it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path

from conveyor.api import rbac
from conveyor.api.auth import Caller
from conveyor.api.context import Ctx
from conveyor.api.errors import ERROR_RESPONSES
from conveyor.api.schemas import TokenBody
from conveyor.errors import NotFoundError, ValidationError
from conveyor.logging import get_logger


def token_role(body: TokenBody) -> tuple[str, str]:
    """The role and policy CSV a new token gets; ValidationError for a policy that is wrong."""
    custom = bool(body.projects) or body.policy is not None
    if body.role in (None, "admin", "readonly") and not custom:
        return (rbac.READONLY if body.role == "readonly" else rbac.ADMIN), ""
    if body.role in ("admin", "readonly"):
        raise ValidationError(
            f"role {body.role!r} is built in: projects and policy need a role of its own"
            " (--role NAME)"
        )
    role = f"role:{body.role or 'projects'}"
    policy = "\n".join(
        part for part in (rbac.project_policy(role, body.projects or []), body.policy) if part
    )
    rbac.parse_policy(role, policy)  # refuse a policy that would not parse, naming the line
    return role, policy


router = APIRouter(prefix="/api/v1/account", tags=["account"], responses=ERROR_RESPONSES)
log = get_logger(component="auth")


@router.post("/token", summary="Generate a new API token (shown once)")
async def generate_token(
    ctx: Ctx, caller: Caller, body: Annotated[TokenBody | None, Body()] = None
) -> dict[str, Any]:
    body = body or TokenBody()
    role, policy = token_role(body)
    token, info = await ctx.tokens.create(body.name, role=role, policy=policy)
    log.info("token created", id=info.id, name=info.name, role=role, by=caller.name)
    return {**info.to_dict(), "token": token}


@router.get("/tokens", summary="List API tokens (never the tokens themselves)")
async def list_tokens(ctx: Ctx) -> dict[str, Any]:
    return {"items": [t.to_dict() for t in await ctx.tokens.list()]}


@router.delete("/tokens/{token_id}", summary="Revoke an API token")
async def revoke_token(
    ctx: Ctx,
    caller: Caller,
    token_id: Annotated[str, Path(max_length=64, pattern=r"^[a-z0-9]+$")],
) -> dict[str, Any]:
    if not await ctx.tokens.revoke(token_id):
        raise NotFoundError(f"no token with id {token_id!r}")
    log.info("token revoked", id=token_id, by=caller.name)
    return {}
