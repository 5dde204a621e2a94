"""Signing in: password (throttled by django-axes), then for residents a one-time code
sent by SMS. Used by the login page and by the API token endpoint.

Sign-in forgives without loosening a limit: a code already sent and still valid is
taken again when the person comes back to the login page (no new SMS, nothing
blocked), and when no new code may be sent yet the pages say for how long.
The limits themselves (``otp_issue``: one code a minute, five an hour per
account and purpose; five wrong tries per code; axes' lockout) are unchanged.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import authenticate, login
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from tongban.errors import DomainError
from tongban.identity.models import OneTimeCode, User
from tongban.identity.security_log import security_event
from tongban.identity.services import otp_issue, otp_verify
from tongban.log_safety import has_unsafe_characters

PENDING = "tongban_pending_login"
SENT = "tongban_sms_sent"  # {purpose: epoch seconds}: when this session last had a code sent
PAGE_RESEND_SECONDS = 60  # the pages: a new code at most once a minute per purpose and session
USERNAME_MAX = 150  # User.username
HOUR = dt.timedelta(hours=1)


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


# --- the state of an account's codes -----------------------------------------------------


@dataclass(frozen=True)
class CodeState:
    """What the code page can say about one account's codes of one purpose, now."""

    now: dt.datetime
    valid_until: dt.datetime | None  # a sent code can still be entered until then
    sent_at: dt.datetime | None  # when that code was sent
    next_send_at: dt.datetime | None  # no new code before then (None: one may be sent now)
    hourly_limit: bool  # next_send_at comes from the hourly limit

    @property
    def has_valid_code(self) -> bool:
        return self.valid_until is not None

    @property
    def wait_seconds(self) -> int:
        """Seconds until a new code may be sent (0: now), rounded up."""
        if self.next_send_at is None:
            return 0
        return max(0, int(-(-(self.next_send_at - self.now).total_seconds() // 1)))

    @property
    def valid_minutes(self) -> int:
        """Whole minutes the valid code still has, rounded up (0: none)."""
        if self.valid_until is None:
            return 0
        return max(1, int(-(-(self.valid_until - self.now).total_seconds() // 60)))

    @property
    def next_send_local(self) -> str:
        """When a new code may be sent, as Beijing time "11:42" ("" when now)."""
        if self.next_send_at is None:
            return ""
        return timezone.localtime(self.next_send_at).strftime("%H:%M")

    def refusal(self) -> DomainError:
        """Why no code may be sent now, saying until when."""
        if self.hourly_limit:
            return DomainError(
                "otp_too_frequent",
                _("验证码发送次数已达上限（每小时 %(n)s 次），请于 %(t)s 后再试。")
                % {"n": settings.TONGBAN_OTP_MAX_PER_HOUR, "t": self.next_send_local},
                status=429,
                details={"retry_after": self.wait_seconds, "retry_at": self.next_send_local},
            )
        return DomainError(
            "otp_too_frequent",
            _("请 %(s)s 秒后再重新发送验证码") % {"s": self.wait_seconds},
            status=429,
            details={"retry_after": self.wait_seconds},
        )


def code_state(
    user: User,
    purpose: str = "login",
    *,
    now: dt.datetime | None = None,
    not_before: dt.datetime | None = None,
) -> CodeState:
    """The same limits ``otp_issue`` enforces, read without sending anything; plus
    ``not_before``, a page's own limit for this session."""
    now = now or timezone.now()
    codes = list(
        OneTimeCode.objects.filter(user=user, purpose=purpose, created_at__gt=now - HOUR)
        .order_by("created_at")
        .values("created_at", "expires_at", "attempts", "used_at")
    )
    waits = [not_before] if not_before is not None and not_before > now else []
    hourly = False
    if codes:
        interval = dt.timedelta(seconds=settings.TONGBAN_OTP_MIN_INTERVAL_SECONDS)
        if codes[-1]["created_at"] + interval > now:
            waits.append(codes[-1]["created_at"] + interval)
        limit = settings.TONGBAN_OTP_MAX_PER_HOUR
        if len(codes) >= limit:
            # a new code once enough of the last hour's codes are an hour old
            waits.append(codes[len(codes) - limit]["created_at"] + HOUR)
            hourly = True
    # the code otp_verify checks: the newest unused one
    latest = (
        OneTimeCode.objects.filter(user=user, purpose=purpose, used_at__isnull=True)
        .order_by("-created_at")
        .values("created_at", "expires_at", "attempts")
        .first()
    )
    valid = (
        latest is not None
        and latest["expires_at"] > now
        and latest["attempts"] < settings.TONGBAN_OTP_MAX_ATTEMPTS
    )
    return CodeState(
        now=now,
        valid_until=latest["expires_at"] if valid else None,
        sent_at=latest["created_at"] if valid else None,
        next_send_at=max(waits) if waits else None,
        hourly_limit=hourly and max(waits) == waits[-1],
    )


# --- the page flow -------------------------------------------------------------------------


def _session_sent_at(request, purpose: str) -> dt.datetime | None:
    sent = (request.session.get(SENT) or {}).get(purpose)
    try:
        return dt.datetime.fromtimestamp(float(sent), tz=dt.UTC) if sent else None
    except (TypeError, ValueError, OverflowError):
        return None


def _mark_sent(request, purpose: str) -> None:
    sent = dict(request.session.get(SENT) or {})
    sent[purpose] = timezone.now().timestamp()
    request.session[SENT] = sent


def page_code_state(request, user: User) -> CodeState:
    """The account's login codes as this session's pages see them: the account's
    limits, and at most one code a minute sent from this session."""
    sent = _session_sent_at(request, "login")
    not_before = sent + dt.timedelta(seconds=PAGE_RESEND_SECONDS) if sent else None
    return code_state(user, "login", not_before=not_before)


def login_begin(request, *, username: str, password: str) -> User | None:
    """Page login, step 1. Returns the user if signed in now, None if the code page is next.

    A resident goes on to the code page when a code is sent now, when one sent
    earlier can still be entered, or when a new one may be sent within the minute
    (the page shows the wait). Only when no code can be entered and the hourly limit
    holds does the sign-in stop here, saying until when."""
    user = password_check(request, username=username, password=password)
    if not needs_second_factor(user):
        login_complete(request, user, method="password")
        return user
    started = timezone.now()  # a code sent from now on is this sign-in's own
    state = page_code_state(request, user)
    if not state.has_valid_code:
        if state.next_send_at is None:
            otp_issue(user=user, purpose="login")
            _mark_sent(request, "login")
        elif state.hourly_limit:
            security_event("otp_limited", request=request, user=user, purpose="login")
            raise state.refusal()
    request.session[PENDING] = {"user": user.pk, "at": started.isoformat()}
    return None


def login_pending_user(request) -> User | None:
    pending = request.session.get(PENDING)
    return User.objects.filter(pk=pending["user"], is_active=True).first() if pending else None


def login_pending_since(request) -> dt.datetime | None:
    pending = request.session.get(PENDING) or {}
    return parse_datetime(pending.get("at") or "")


def login_resend(request) -> None:
    """A new code from the code page, when the limits allow one (else DomainError 429)."""
    user = login_pending_user(request)
    if user is None:
        raise DomainError("no_pending_login", _("请先输入用户名和密码"), status=400)
    state = page_code_state(request, user)
    if state.next_send_at is not None:
        raise state.refusal()
    otp_issue(user=user, purpose="login")
    _mark_sent(request, "login")


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
