"""API authentication: bearer tokens (scoped, revocable) for API clients, the session for pages.

A request that carries ``Authorization: Bearer …`` is judged by its token alone: a
bad, expired or revoked token answers 401 (``WWW-Authenticate: Bearer …,
error="invalid_token"``, see tongban.api), never falls back to a session cookie and
is never CSRF-checked (a page cannot make a browser send that header cross-site).
Only a request that a signed-in session would authenticate is CSRF-checked; when
the check fails it answers 403 ``csrf_failed`` with the project's error body. A
request with neither answers 401.
"""

from __future__ import annotations

from functools import wraps

from django.utils.translation import gettext as _
from ninja.security import HttpBearer, SessionAuth
from ninja.utils import check_csrf

from tongban.errors import DomainError
from tongban.identity.services import api_token_authenticate

# set on the request when a bearer token was presented and refused (for WWW-Authenticate)
BEARER_REFUSED_ATTR = "_tongban_invalid_token"


def has_bearer_header(request) -> bool:
    scheme = request.headers.get("Authorization", "").split(" ", 1)[0]
    return scheme.lower() == "bearer"


class BearerToken(HttpBearer):
    def authenticate(self, request, token):
        api_token = api_token_authenticate(token) if token else None
        if api_token is None:
            setattr(request, BEARER_REFUSED_ATTR, True)
            return None
        request.user = api_token.user
        request.api_token = api_token
        return api_token.user


class SessionCookie(SessionAuth):
    """The page session — CSRF-checked only when it would authenticate the request."""

    def __init__(self) -> None:
        super().__init__(csrf=False)  # checked below, only for a signed-in session

    def __call__(self, request):
        if has_bearer_header(request):
            return None
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        if not getattr(request, "_ninja_csrf_exempt", False) and check_csrf(request):
            raise DomainError(
                "csrf_failed",
                _("CSRF 校验失败：请刷新页面后重试（会话请求须带 X-CSRFToken 头）"),
                status=403,
            )
        return user


api_auth = [BearerToken(), SessionCookie()]


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
