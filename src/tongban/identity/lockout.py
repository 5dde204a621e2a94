"""What a locked-out login attempt gets (django-axes), and the security log entry.

The answer says until when (Beijing time): the lock ends once the wrong passwords
counted within the cool-off period fall below the limit (axes keeps one record
per name, address and browser, each with its latest failure)."""

from __future__ import annotations

import datetime as dt

from axes.models import AccessAttempt
from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _

from tongban.identity.security_log import security_event


def lockout_until(username: str, *, now: dt.datetime | None = None) -> dt.datetime | None:
    """When the lock on ``username`` ends if nobody tries again, or None if not locked."""
    if not username:
        return None
    now = now or timezone.now()
    cooloff = dt.timedelta(hours=settings.AXES_COOLOFF_TIME)
    records = list(
        AccessAttempt.objects.filter(username=username, attempt_time__gte=now - cooloff)
        .order_by("attempt_time")
        .values_list("attempt_time", "failures_since_start")
    )
    remaining = sum(failures for _, failures in records)
    until = None
    for attempt_time, failures in records:  # the oldest records expire first
        if remaining < settings.AXES_FAILURE_LIMIT:
            break
        remaining -= failures
        until = attempt_time + cooloff
    return until


def lockout_response(request, original_response=None, credentials=None):
    credentials = credentials or getattr(request, "axes_credentials", None) or {}
    username = credentials.get("username", "") if isinstance(credentials, dict) else ""
    security_event("login_locked_out", request=request, username=username)
    minutes = int(settings.AXES_COOLOFF_TIME * 60)
    until = lockout_until(str(username or ""))
    if until is not None:
        left = max(1, -(-int((until - timezone.now()).total_seconds()) // 60))
        message = _(
            "登录失败次数过多，账号已暂时锁定，请 %(m)s 分钟后再试（北京时间 %(t)s 以后）。"
            "锁定期间再次尝试会重新计时。"
        ) % {"m": left, "t": timezone.localtime(until).strftime("%H:%M")}
        retry_after = max(1, int((until - timezone.now()).total_seconds()) + 1)
    else:
        message = _("登录失败次数过多，账号已暂时锁定，请 %(m)s 分钟后再试。") % {"m": minutes}
        retry_after = minutes * 60
    if request.path.startswith("/api/"):
        response = JsonResponse(
            {"error": {"code": "locked_out", "message": message, "details": {}}}, status=429
        )
    else:
        response = render(request, "portal/locked_out.html", {"message": message}, status=429)
    response["Retry-After"] = str(retry_after)
    return response
