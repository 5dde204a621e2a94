"""What a locked-out login attempt gets (django-axes), and the security log entry."""

from __future__ import annotations

from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from tongban.identity.security_log import security_event


def lockout_response(request, original_response=None, credentials=None):
    credentials = credentials or getattr(request, "axes_credentials", None) or {}
    username = credentials.get("username", "") if isinstance(credentials, dict) else ""
    security_event("login_locked_out", request=request, username=username)
    minutes = int(settings.AXES_COOLOFF_TIME * 60)
    message = _("登录失败次数过多，账号已暂时锁定，请 %(m)s 分钟后再试。") % {"m": minutes}
    if request.path.startswith("/api/"):
        return JsonResponse(
            {"error": {"code": "locked_out", "message": message, "details": {}}}, status=429
        )
    return render(request, "portal/locked_out.html", {"message": message}, status=429)
