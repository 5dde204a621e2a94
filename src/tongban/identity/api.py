"""/api/v1/auth — API tokens for integrating systems and scripts."""

from __future__ import annotations

from django.contrib.auth import authenticate
from django.utils.translation import gettext as _
from ninja import Router, Schema, Status

from tongban.errors import DomainError
from tongban.identity.authentication import api_auth
from tongban.identity.services import api_token_create, api_token_revoke

router = Router(tags=["auth"])


class TokenIn(Schema):
    username: str
    password: str
    name: str = "api"


class TokenOut(Schema):
    id: int
    token: str
    expires_at: str | None


@router.post("/auth/tokens", response={201: TokenOut}, summary="用户名密码换取 API 令牌")
def token_create(request, payload: TokenIn):
    user = authenticate(request, username=payload.username, password=payload.password)
    if user is None:
        raise DomainError("invalid_credentials", _("用户名或密码错误"), status=401)
    token, secret = api_token_create(user=user, name=payload.name)
    return Status(
        201,
        {
            "id": token.pk,
            "token": secret,
            "expires_at": token.expires_at.isoformat() if token.expires_at else None,
        },
    )


@router.delete(
    "/auth/tokens/{token_id}", auth=api_auth, response={204: None}, summary="撤销 API 令牌"
)
def token_revoke(request, token_id: int):
    api_token_revoke(user=request.user, token_id=token_id)
    return Status(204, None)
