"""API authentication: bearer tokens (scoped, revocable) for API clients, the session for pages."""

from __future__ import annotations

from functools import wraps

from django.utils.translation import gettext as _
from ninja.security import HttpBearer, SessionAuth

from tongban.errors import DomainError
from tongban.identity.services import api_token_authenticate


class BearerToken(HttpBearer):
    def authenticate(self, request, token):
        api_token = api_token_authenticate(token)
        if api_token is None:
            return None
        request.user = api_token.user
        request.api_token = api_token
        return api_token.user


api_auth = [BearerToken(), SessionAuth()]


def requires_scope(scope: str):
    """A bearer token must carry ``scope``; a signed-in page session has its user's rights."""

    def decorate(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            token = getattr(request, "api_token", None)
            if token is not None and scope not in token.scopes:
                raise DomainError(
                    "insufficient_scope", _("API 令牌没有“%(s)s”权限") % {"s": scope}, status=403
                )
            return view(request, *args, **kwargs)

        return wrapper

    return decorate
