"""Residents online: 全程网办 applications and their enterprises (法人, 经办人授权).

The home node vouches for the signed-in person in what it sends
(``cases.services.case_submit_online``); the enterprise and agent rules are in
``identity.services``. A refusal is shown on the page it came from.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from tongban.cases import composites, drafts
from tongban.cases.models import Composite
from tongban.catalog.models import ServiceItem
from tongban.catalog.selectors import item_detail
from tongban.errors import DomainError
from tongban.errors import NotFound as DomainNotFound
from tongban.identity import services as identity_services
from tongban.identity.models import AgentAuthorization
from tongban.identity.selectors import access_for, enterprises_of
from tongban.licences.selectors import wallet_entries_for
from tongban.portal.composite_views import composite_submitted_text, without_licences
from tongban.portal.context import node_name
from tongban.portal.forms import AgentAuthorizeForm, EnterpriseRegisterForm, OnlineApplyForm
from tongban.sharing.enterprise_registry import enterprise_claim_start, enterprise_claims_of


def _require_person(user) -> None:
    if getattr(user, "kind", "") != "person" or not user.person_id:
        raise PermissionDenied(_("网上申请和企业管理只对个人用户开放"))


def _status(error: DomainError) -> int:
    return error.status if 400 <= error.status < 500 else 400


def _is_home(user) -> bool:
    return user.person.home_node == settings.TONGBAN_NODE


# --- online application ---------------------------------------------------------------


def enterprise_choices(user, item) -> list[tuple[str, str, str]]:
    """(code, name, label) of the enterprises the person may apply for with this item."""
    if item.audience != "enterprise":
        return []
    now = timezone.now()
    mine = enterprises_of(user)
    rows: dict[str, tuple[str, str, str]] = {}
    for enterprise in mine["represented"]:
        label = _("%(name)s（法定代表人）") % {"name": enterprise.name}
        rows[enterprise.code] = (enterprise.code, enterprise.name, label)
    for authorization in mine["agent_for"]:
        enterprise = authorization.enterprise
        if enterprise.code in rows or not authorization.covers(item.basic_code, now):
            continue
        label = _("%(name)s（经办人，授权至 %(date)s）") % {
            "name": enterprise.name,
            "date": timezone.localtime(authorization.expires_at).strftime("%Y-%m-%d"),
        }
        rows[enterprise.code] = (enterprise.code, enterprise.name, label)
    return list(rows.values())


def _authenticated_at(request):
    return parse_datetime(request.session.get("authenticated_at") or "")


def _online_form(request, user, item, person, data=None, files=None, *, draft=None, initial=None):
    form = OnlineApplyForm(
        data,
        files,
        item=item,
        person=person,
        enterprises=enterprise_choices(user, item),
        wallet=[
            e
            for e in wallet_entries_for(user).filter(status="valid")
            if not e.valid_to or e.valid_to >= timezone.localdate()
        ],
        draft_files=drafts.draft_file_views(draft),
        initial=initial,
    )
    without_licences(form, item)
    return form


@login_required
def online_apply(request, basic_code: str):
    user = request.user
    _require_person(user)
    item = item_detail(basic_code=basic_code)
    if item is None:
        raise Http404(_("事项不存在"))
    person = user.person
    home = _is_home(user)
    assurance_ok = identity_services.assurance_at_least(user.assurance, item.min_assurance)
    context = {
        "item": item,
        "person": person,
        "home": home,
        "home_node": person.home_node,
        "assurance_ok": assurance_ok,
        "drafts": drafts.drafts_saved(user=user, item=item),
    }
    if request.method != "POST":
        draft = drafts.draft_find(
            user=user, item=item, channel="online", token=request.GET.get("draft", "")
        )
        initial = {"enterprise": request.GET.get("enterprise", "")}
        if draft is not None:
            initial = {**drafts.draft_data(draft), "draft": draft.token}
        form = _online_form(request, user, item, person, draft=draft, initial=initial)
        return render(
            request, "portal/online_apply.html", {**context, "form": form, "draft": draft}
        )
    if not home or not assurance_ok:
        form = _online_form(request, user, item, person)
        status = 403
        return render(request, "portal/online_apply.html", {**context, "form": form}, status=status)
    if request.POST.get("action") == "discard_draft":
        old = drafts.draft_find(
            user=user, item=item, channel="online", token=request.POST.get("draft", "")
        )
        if old is not None:
            drafts.draft_discard(draft=old)
            messages.success(request, _("草稿已删除"))
        return redirect("portal:online_apply", basic_code=item.basic_code)
    draft = drafts.draft_open(
        user=user, item=item, channel="online", token=request.POST.get("draft", "")
    )
    drafts.draft_files_drop(
        draft=draft, data=request.POST, files=request.FILES, materials=item.materials.all()
    )
    data = request.POST.copy()
    data["draft"] = draft.token
    form = _online_form(request, user, item, person, data, request.FILES, draft=draft)
    valid = form.is_valid()
    for checked in form.accepted.values():
        drafts.draft_file_put(draft=draft, checked=checked)
    form.draft_files = drafts.draft_file_views(draft)
    if request.POST.get("action") == "save_draft":
        drafts.draft_save(draft=draft, data=form.draft_data())
        messages.success(
            request,
            _("草稿已保存（含已上传的材料），%(days)s 天内可在本页或事项页“我的草稿”继续填写")
            % {"days": drafts.ONLINE_DRAFT_LIFETIME.days},
        )
        url = reverse("portal:online_apply", args=[item.basic_code])
        return redirect(f"{url}?{urlencode({'draft': draft.token})}")
    status = 400
    if valid:
        try:
            case = composites.application_submit_online(
                user=user,
                item_code=item.basic_code,
                organization_code=form.cleaned_data["organization"],
                form_data=form.form_data(),
                files=drafts.draft_incoming(draft),
                enterprise_code=form.enterprise_code,
                authenticated_at=_authenticated_at(request),
                authentication_method=request.session.get("auth_method", "password"),
                licences=form.licences(),
                licence_consent=form.licence_consent,
                delivery=form.delivery(),
                data_consents=form.data_consents(),
            )
        except DomainError as error:
            if isinstance(error, DomainNotFound):
                raise Http404(error.message) from error
            form.apply_domain_error(error, form.field_map())
            status = _status(error)
        else:
            drafts.draft_discard(draft=draft, keep_files=True)
            if isinstance(case, Composite):
                messages.success(request, composite_submitted_text(case, window=False))
                return redirect("portal:composite", number=case.number)
            organization = case.handling_organization.name
            if case.perspective == "origin":
                text = _("办件 %(number)s 已提交。已转送 %(organization)s")
            else:
                text = _("办件 %(number)s 已提交，由 %(organization)s 办理")
            messages.success(request, text % {"number": case.number, "organization": organization})
            return redirect("portal:case", number=case.number)
    return render(
        request,
        "portal/online_apply.html",
        {**context, "form": form, "draft": draft},
        status=status,
    )


# --- enterprises ---------------------------------------------------------------------------


def _enterprise_items():
    return list(
        ServiceItem.objects.filter(audience="enterprise", active=True).order_by("basic_code")
    )


def _authorization_row(authorization: AgentAuthorization, names: dict[str, str], now) -> dict:
    if authorization.revoked_at:
        state, label = "revoked", _("已撤销")
    elif authorization.expires_at <= now:
        state, label = "expired", _("已过期")
    else:
        state, label = "active", _("有效")
    return {
        "a": authorization,
        "items": [names.get(code, code) for code in authorization.item_codes],
        "state": state,
        "state_label": label,
    }


def _enterprises_page(request, *, register_form=None, bound: dict | None = None, status=200):
    user = request.user
    items = _enterprise_items()
    names = {i.basic_code: i.name for i in items}
    now = timezone.now()
    mine = enterprises_of(user)
    bound = bound or {}
    default_expiry = (timezone.localdate() + dt.timedelta(days=365)).isoformat()
    represented = []
    for enterprise in mine["represented"]:
        authorizations = sorted(
            enterprise.authorizations.all(), key=lambda a: a.granted_at, reverse=True
        )
        represented.append(
            {
                "e": enterprise,
                "authorizations": [_authorization_row(a, names, now) for a in authorizations],
                "form": bound.get(enterprise.code)
                or AgentAuthorizeForm(
                    items=items, prefix=f"a{enterprise.pk}", initial={"expires_on": default_expiry}
                ),
            }
        )
    agent_for = [
        {
            "a": a,
            "items": [(code, names.get(code, code)) for code in a.item_codes],
        }
        for a in sorted(mine["agent_for"], key=lambda a: (a.enterprise.name, a.pk))
    ]
    return render(
        request,
        "portal/enterprises.html",
        {
            "represented": represented,
            "agent_for": agent_for,
            "register_form": register_form or EnterpriseRegisterForm(prefix="reg"),
            "claims": enterprise_claims_of(user),
            "home": _is_home(user),
            "home_node_name": node_name(user.person.home_node),
            "identity_unproven": not access_for(user).identity_proven,
        },
        status=status,
    )


@login_required
def my_enterprises(request):
    _require_person(request.user)
    return _enterprises_page(request)


@login_required
def enterprise_register(request):
    _require_person(request.user)
    if request.method != "POST":
        return redirect("portal:enterprises")  # a refresh after posting: the page, not a 405
    form = EnterpriseRegisterForm(request.POST, prefix="reg")
    if not form.is_valid():
        return _enterprises_page(request, register_form=form, status=400)
    try:  # confirmed only by the registering authority's 企业登记信息 (data-sharing.md §7)
        claim = enterprise_claim_start(
            user=request.user, uscc=form.cleaned_data["code"], request=request
        )
    except DomainError as error:
        form.apply_register_error(error)
        return _enterprises_page(request, register_form=form, status=_status(error))
    if claim.status == claim.Status.CONFIRMED:
        messages.success(request, _("登记机关已核验：您是该企业的法定代表人，企业已登记"))
    elif claim.status == claim.Status.REFUSED:
        messages.error(request, _("未通过登记机关核验：%(reason)s") % {"reason": claim.reason})
    else:
        messages.info(request, _("已向登记机关查询企业登记信息，核验结果将显示在本页"))
    return redirect("portal:enterprises")


@login_required
def agent_authorize(request, code: str):
    _require_person(request.user)
    if request.method != "POST":
        return redirect("portal:enterprises")  # a refresh after posting: the page, not a 405
    enterprise = next(
        (e for e in enterprises_of(request.user)["represented"] if e.code == code), None
    )
    if enterprise is None:
        raise Http404(_("企业不存在"))
    form = AgentAuthorizeForm(request.POST, items=_enterprise_items(), prefix=f"a{enterprise.pk}")
    if not form.is_valid():
        return _enterprises_page(request, bound={code: form}, status=400)
    try:
        authorization = identity_services.agent_authorize(
            user=request.user,
            enterprise_code=code,
            agent_name=form.cleaned_data["agent_name"],
            agent_id_number=form.cleaned_data["agent_id_number"],
            item_codes=form.item_codes(),
            expires_at=form.expires_at(),
            request=request,
        )
    except DomainError as error:
        form.apply_authorize_error(error)
        return _enterprises_page(request, bound={code: form}, status=_status(error))
    messages.success(
        request,
        _("已授权 %(agent)s 代表 %(enterprise)s 办理，有效期至 %(date)s")
        % {
            "agent": authorization.agent.name,
            "enterprise": enterprise.name,
            "date": timezone.localtime(authorization.expires_at).strftime("%Y-%m-%d"),
        },
    )
    return redirect("portal:enterprises")


@login_required
def agent_revoke(request, authorization_id: int):
    _require_person(request.user)
    if request.method != "POST":
        return redirect("portal:enterprises")  # a refresh after posting: the page, not a 405
    try:
        identity_services.agent_authorization_revoke(
            user=request.user, authorization_id=authorization_id, request=request
        )
    except DomainError as error:
        if error.status == 404:
            raise Http404(error.message) from error
        raise PermissionDenied(error.message) from error
    messages.success(request, _("授权已撤销，经办人不能再代表企业办理"))
    return redirect("portal:enterprises")
