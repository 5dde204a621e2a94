"""数据核验 on the official's case page: the case's data queries (source, fields with
values, times, signature, or the refusal) and a form per authorization of the case's
item at the handling organization to ask one. The rules are in
``tongban.cases.data_checks`` and ``tongban.sharing.query``."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from tongban.cases import data_checks
from tongban.errors import DomainError
from tongban.errors import NotFound as DomainNotFound
from tongban.errors import PermissionDenied as DomainPermissionDenied
from tongban.identity.selectors import access_for


def data_checks_context(request, case) -> dict | None:
    """The panel's content for staff of the handling organization, else None."""
    if case.perspective not in ("handling", "local"):
        return None
    if case.handling_organization_id not in access_for(request.user).view_orgs:
        return None
    listing = data_checks.case_data_checks_list(user=request.user, number=case.number)
    if not (listing["checks"] or listing["options"] or listing["materials"]):
        return None
    return listing


@login_required
@require_POST
def case_data_check(request, number: str):
    """发起数据核验 from the case page: one authorization, the fields ticked."""
    anchor = f"{reverse('portal:case', args=[number])}#data-checks"
    fields = request.POST.getlist("fields")
    try:
        query = data_checks.case_data_check_start(
            user=request.user,
            number=number,
            dataset=request.POST.get("dataset", "")[:64],
            fields=[f[:64] for f in fields[:50]],
            purpose=request.POST.get("purpose", "")[:200],
        )
    except DomainNotFound as error:
        raise Http404(error.message) from error
    except DomainPermissionDenied as error:
        raise PermissionDenied(error.message) from error
    except DomainError as error:
        messages.error(request, error.message)
        return redirect(anchor)
    query.refresh_from_db()
    if query.status == "pending":
        messages.success(
            request,
            _("已向数源节点发起“%(name)s”核验，答复后显示在数据核验中")
            % {"name": query.dataset_name},
        )
    else:
        messages.success(
            request,
            _("“%(name)s”核验结果：%(status)s")
            % {"name": query.dataset_name, "status": query.get_status_display()},
        )
    return redirect(anchor)
