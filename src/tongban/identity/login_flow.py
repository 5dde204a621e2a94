"""Signing in: password (throttled by django-axes), then for residents a one-time code
sent by SMS. Used by the login page and by the API token endpoint."""

from __future__ import annotations

from django.contrib.auth import authenticate, login
from django.utils import timezone
from django.utils.translation import gettext as _

from tongban.errors import DomainError
from tongban.identity.models import User
from tongban.identity.security_log import security_event
from tongban.identity.services import otp_issue, otp_verify
from tongban.log_safety import has_unsafe_characters

PENDING = "tongban_pending_login"
USERNAME_MAX = 150  # User.username


def password_check(request, *, username: str, password: str) -> User:
    """First factor. Raises DomainError on a wrong password (axes counts it)."""
    if len(username) > USERNAME_MAX or has_unsafe_characters(username):
        # no account can have such a name: refused before it reaches the
        # database (PostgreSQL rejects NUL bytes) or the lockout records
        security_event("login_failed", request=request, username=username)
        raise DomainError("invalid_credentials", _("用户名或密码错误"), status=401)
    user = authenticate(request, username=username, password=password)
    if getattr(request, "axes_locked_out", False):
        raise DomainError(
            "locked_out", _("登录失败次数过多，账号已暂时锁定，请稍后再试。"), status=429
        )
    if user is None:
        security_event("login_failed", request=request, username=username)
        raise DomainError("invalid_credentials", _("用户名或密码错误"), status=401)
    return user


def needs_second_factor(user: User) -> bool:
    return user.kind == "person" and user.person_id is not None


def login_begin(request, *, username: str, password: str) -> User | None:
    """Page login, step 1. Returns the user if signed in now, None if a code was sent."""
    user = password_check(request, username=username, password=password)
    if not needs_second_factor(user):
        login_complete(request, user, method="password")
        return user
    otp_issue(user=user, purpose="login")
    request.session[PENDING] = {"user": user.pk, "at": timezone.now().isoformat()}
    return None


def login_pending_user(request) -> User | None:
    pending = request.session.get(PENDING)
    return User.objects.filter(pk=pending["user"], is_active=True).first() if pending else None


def login_finish(request, *, code: str) -> User:
    """Page login, step 2: the SMS code."""
    user = login_pending_user(request)
    if user is None:
        raise DomainError("no_pending_login", _("请先输入用户名和密码"), status=400)
    otp_verify(user=user, purpose="login", code=code, request=request)
    request.session.pop(PENDING, None)
    login_complete(request, user, method="password+sms_otp")
    return user


def login_complete(request, user: User, *, method: str) -> None:
    """Sign the user in: session, when and how they authenticated, security log."""
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    request.session["authenticated_at"] = timezone.now().isoformat()
    request.session["auth_method"] = method
    security_event("login", request=request, user=user, method=method)
