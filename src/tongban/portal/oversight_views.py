"""时限监督 (supervisors: deadlines approaching or past, per organization) and, on the hub,
where every 联办件 of the region stands (its operators; no personal data is there)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import render
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from tongban.cases import selectors
from tongban.cases.models import MEMBER_ENDED, CompositeStatus, MemberStatus
from tongban.cases.oversight import trace_overdue
from tongban.identity.selectors import access_for

WITHIN_CHOICES = (1, 3, 5, 10)
MEMBER_LABELS = dict(MemberStatus.choices)


def _within(request) -> int:
    try:
        value = int(request.GET.get("within", "3"))
    except ValueError:
        return 3
    return value if value in WITHIN_CHOICES else 3


@login_required
def oversight(request):
    access = access_for(request.user)
    if not (access.view_orgs or access.node_admin):
        raise PermissionDenied(_("您没有访问此页面的权限"))
    within = _within(request)
    today = timezone.localdate()
    groups = selectors.oversight_by_organization(access=access, within_days=within, today=today)
    return render(
        request,
        "portal/oversight.html",
        {
            "groups": groups,
            "within": within,
            "within_choices": WITHIN_CHOICES,
            "today": today,
            "overdue_total": sum(len(g["overdue"]) for g in groups),
            "approaching_total": sum(len(g["approaching"]) for g in groups),
        },
    )


def _member_rows(trace, today) -> list[dict]:
    rows = []
    for m in trace.members:
        deadline = m.get("deadline")
        rows.append(
            {
                **m,
                "status_label": MEMBER_LABELS.get(m.get("status"), m.get("status")),
                "concluded": parse_datetime(m.get("concluded_at") or ""),
                "overdue": bool(
                    deadline
                    and m.get("status") not in MEMBER_ENDED
                    and deadline < today.isoformat()
                ),
            }
        )
    return rows


@login_required
def region_composites(request):
    if not selectors.hub_operator(request.user):
        # on a node the page does not exist; on the hub it is for its operators
        if not _on_hub():
            raise Http404(_("页面不存在"))
        raise PermissionDenied(_("您没有访问此页面的权限"))
    status = request.GET.get("status", "")
    status = status if status in CompositeStatus.values else ""
    overdue_only = request.GET.get("overdue") == "1"
    today = timezone.localdate()
    traces = selectors.composite_traces(status=status, overdue=overdue_only, today=today)
    page = Paginator(traces, 30).get_page(request.GET.get("page"))
    rows = [
        {"trace": t, "overdue": trace_overdue(t, today), "members": _member_rows(t, today)}
        for t in page.object_list
    ]
    return render(
        request,
        "portal/region_composites.html",
        {
            "rows": rows,
            "page_obj": page,
            "status": status,
            "statuses": CompositeStatus.choices,
            "overdue_only": overdue_only,
            "total": page.paginator.count,
            "today": today,
            "page": page.number,
            "pages": page.paginator.num_pages,
            "has_previous": page.has_previous(),
            "has_next": page.has_next(),
        },
    )


def _on_hub() -> bool:
    from django.conf import settings

    return settings.TONGBAN_ROLE == "hub"
