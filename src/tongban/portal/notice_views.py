"""消息中心: the notices of the signed-in person (thin views over tongban.notices)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from tongban.errors import DomainError
from tongban.identity.selectors import access_for
from tongban.notices import selectors, services

PAGE_SIZE = 30


def _person(request):
    access = access_for(request.user)
    if not access.is_person:
        raise PermissionDenied(_("您没有访问此页面的权限"))
    return access


def _page_number(request) -> int:
    try:
        return min(max(1, int(request.GET.get("page", "1"))), 10_000)
    except ValueError:
        return 1


@login_required
def notice_list(request):
    access = _person(request)
    page = _page_number(request)
    rows, total = selectors.notice_list(access, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    pages = max(1, -(-total // PAGE_SIZE))
    return render(
        request,
        "portal/messages.html",
        {
            "notices": rows,
            "total": total,
            "unread": selectors.notices_unread_count(access),
            "identity_unproven": not access.identity_proven,
            "page": page,
            "pages": pages,
            "has_previous": page > 1,
            "has_next": page < pages,
        },
    )


@login_required
@require_POST
def notice_read(request, notice_id: int):
    _person(request)
    try:
        services.notice_mark_read(user=request.user, notice_id=notice_id)
    except DomainError as error:
        raise Http404(error.message) from error
    return redirect("portal:messages")


@login_required
@require_POST
def notices_read_all(request):
    _person(request)
    count = services.notices_mark_all_read(user=request.user)
    if count:
        messages.success(request, _("已将 %(n)s 条消息标为已读") % {"n": count})
    return redirect("portal:messages")
