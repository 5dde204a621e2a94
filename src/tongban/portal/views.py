"""Pages: thin views over the services and selectors.

Reads go through the selectors, which scope everything by the caller's
access (what a caller may not see does not exist: 404). Writes go through
the services; a ``DomainError`` is shown on the page and nothing changes.
"""

from __future__ import annotations

import dataclasses

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.dateparse import parse_datetime
from django.utils.http import content_disposition_header, urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from tongban.cases import composites, documents, drafts, selectors, services
from tongban.cases.application_form import answer_shown
from tongban.cases.materials import material_read
from tongban.cases.models import CaseStatus, Composite
from tongban.cases.presenters import (
    case_result,
    licence_material_view,
    masked_assertion,
    masked_form,
    material_digest_ok,
)
from tongban.catalog.models import AUDIENCE_CHOICES, MODE_CHOICES, ServiceItem
from tongban.catalog.selectors import item_detail, item_search
from tongban.directory.models import Node, Window
from tongban.errors import DomainError
from tongban.errors import NotFound as DomainNotFound
from tongban.errors import PermissionDenied as DomainPermissionDenied
from tongban.identity import services as identity_services
from tongban.identity.assurance import assurance_meaning
from tongban.identity.models import ASSURANCE_CHOICES
from tongban.identity.selectors import Access, access_for
from tongban.portal.composite_views import (
    composite_submitted_text,
    composites_paged,
    without_licences,
)
from tongban.portal.context import node_app_name
from tongban.portal.data_check_views import data_checks_context
from tongban.portal.delivery_views import delivery_context
from tongban.portal.forms import (
    ApplyForm,
    ApproveForm,
    DenyForm,
    InPersonCheckForm,
    ItemSearchForm,
    NoteForm,
    RefuseForm,
    SupplementRequestForm,
    SupplyForm,
    WithdrawForm,
)

PAGE_SIZE = 30
ITEMS_PER_PAGE = 20


# --- helpers ----------------------------------------------------------------------


def _scoped(
    access: Access, *, windows: bool = False, orgs: bool = False, person: bool = False
) -> Access:
    """The caller's access narrowed to one role (a clerk's windows, an official's
    organizations, a person's own cases), so each page lists only its own cases."""
    return dataclasses.replace(
        access,
        node_admin=False,
        clerk_windows=access.clerk_windows if windows else frozenset(),
        view_orgs=access.view_orgs if orgs else frozenset(),
        decide_orgs=access.decide_orgs if orgs else frozenset(),
        person_index=access.person_index if person else "",
        person_account=access.person_account if person else None,
        vouched_as=access.vouched_as if person else "",
    )


def _page_number(request) -> int:
    try:
        return min(max(1, int(request.GET.get("page", "1"))), 10_000)
    except ValueError:
        return 1


def _case_page(request, access: Access, **filters) -> dict:
    page = _page_number(request)
    rows, total = selectors.case_list(
        access, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE, **filters
    )
    pages = max(1, -(-total // PAGE_SIZE))
    return {
        "cases": rows,
        "total": total,
        "page": page,
        "pages": pages,
        "has_previous": page > 1,
        "has_next": page < pages,
    }


def _status_filter(request) -> str:
    status = request.GET.get("status", "")
    return status if status in CaseStatus.values else ""


def _raise_for(error: DomainError) -> None:
    """A service's not-found / not-allowed become the 404 / 403 pages."""
    if isinstance(error, DomainNotFound):
        raise Http404(error.message) from error
    if isinstance(error, DomainPermissionDenied):
        raise PermissionDenied(error.message) from error


def _error_status(error: DomainError) -> int:
    return error.status if 400 <= error.status < 500 else 400


def _require(condition: bool) -> None:
    if not condition:
        raise PermissionDenied(_("您没有访问此页面的权限"))


# --- public pages --------------------------------------------------------------------


def home(request):
    return render(
        request,
        "portal/home.html",
        {
            "search_form": ItemSearchForm(),
            "enterprise_items": item_search(audience="enterprise")[:4],
            "personal_items": item_search(audience="personal")[:4],
        },
    )


def item_list(request, *, apply: bool = False):
    form = ItemSearchForm(request.GET or None)
    query = form.cleaned_data["q"] if form.is_valid() else ""
    audience = request.GET.get("audience", "")
    audience = audience if audience in dict(AUDIENCE_CHOICES) else ""
    mode = request.GET.get("mode", "")
    mode = mode if mode in dict(MODE_CHOICES) else ""
    paginator = Paginator(item_search(query=query, audience=audience, mode=mode), ITEMS_PER_PAGE)
    page = paginator.get_page(request.GET.get("page"))
    return render(
        request,
        "portal/items.html",
        {
            "search_form": form,
            "query": query,
            "page_obj": page,
            "audience": audience,
            "mode": mode,
            "audiences": AUDIENCE_CHOICES,
            "modes": MODE_CHOICES,
            "apply": apply,
        },
    )


def item_page(request, basic_code: str):
    item = item_detail(basic_code=basic_code)
    if item is None:
        raise Http404(_("事项不存在"))
    implementations = [
        {
            "organization": impl.organization,
            "region": impl.region,
            "code": impl.code,
            "node": impl.organization.node.node_id,
        }
        for impl in item.implementations.all()
    ]
    user = request.user
    is_person = getattr(user, "kind", "") == "person" and bool(getattr(user, "person_id", None))
    return render(
        request,
        "portal/item_detail.html",
        {
            "item": item,
            "materials": item.materials.all(),
            "implementations": implementations,
            # before the form, not after submitting: whether this account may apply online
            "assurance_ok": not is_person
            or identity_services.assurance_at_least(user.assurance, item.min_assurance),
            "drafts": drafts.drafts_saved(user=user, item=item) if is_person else [],
        },
    )


# --- the window ------------------------------------------------------------------------


def _my_windows(access: Access) -> list[Window]:
    return list(
        Window.objects.filter(
            pk__in=access.clerk_windows, active=True, node__node_id=settings.TONGBAN_NODE
        )
        .select_related("organization")
        .order_by("code")
    )


@login_required
def window_console(request):
    access = access_for(request.user)
    _require(bool(access.clerk_windows))
    status = _status_filter(request)
    return render(
        request,
        "portal/window.html",
        {
            "windows": _my_windows(access),
            "status": status,
            "statuses": CaseStatus.choices,
            **_case_page(request, _scoped(access, windows=True), status=status),
            **composites_paged(request, _scoped(access, windows=True)),
        },
    )


@login_required
def window_identity_check(request):
    """当面核验: raise a resident's account to L3 after checking their ID card."""
    access = access_for(request.user)
    windows = _my_windows(access)
    _require(bool(windows))
    form = InPersonCheckForm(request.POST or None, windows=windows)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                account = identity_services.account_verify_in_person(
                    clerk=request.user,
                    window_code=form.cleaned_data["window"],
                    id_number=form.cleaned_data["id_number"],
                    phone=form.cleaned_data["phone"],
                    request=request,
                )
            except DomainError as error:
                form.apply_domain_error(error)
                status = _error_status(error)
            else:
                messages.success(
                    request,
                    _("已当面核验：账号 %(name)s 的实名等级为“%(level)s”")
                    % {"name": account.display_name, "level": assurance_meaning("L3")},
                )
                return redirect("portal:window_identity")
        else:
            status = 400
    return render(request, "portal/window_identity.html", {"form": form}, status=status)


@login_required
def window_apply_choose(request):
    """新建收件: find the item to apply for (the catalog search with apply buttons)."""
    _require(bool(access_for(request.user).clerk_windows))
    return item_list(request, apply=True)


def keep_accepted_files(form, draft) -> None:
    """Put every file that passed its checks on the draft, valid form or not."""
    for checked in getattr(form, "accepted", {}).values():
        drafts.draft_file_put(draft=draft, checked=checked)
    form.draft_files = drafts.draft_file_views(draft)


@login_required
def window_apply(request, basic_code: str):
    access = access_for(request.user)
    _require(bool(access.clerk_windows))
    item = item_detail(basic_code=basic_code)
    if item is None:
        raise Http404(_("事项不存在"))
    windows = _my_windows(access)
    _require(bool(windows))
    if request.method != "POST":
        form = ApplyForm(item=item, windows=windows)
        without_licences(form, item)
        return render(request, "portal/window_apply.html", {"item": item, "form": form})
    draft = drafts.draft_open(
        user=request.user, item=item, channel="window", token=request.POST.get("draft", "")
    )
    drafts.draft_files_drop(
        draft=draft, data=request.POST, files=request.FILES, materials=item.materials.all()
    )
    data = request.POST.copy()
    data["draft"] = draft.token
    form = ApplyForm(
        data,
        request.FILES,
        item=item,
        windows=windows,
        draft_files=drafts.draft_file_views(draft),
    )
    without_licences(form, item)
    valid = form.is_valid()
    keep_accepted_files(form, draft)
    status = 400
    if valid:
        try:
            case = composites.application_submit_at_window(
                user=request.user,
                window_code=form.cleaned_data["window"],
                item_code=item.basic_code,
                organization_code=form.cleaned_data["organization"],
                applicant=form.applicant(),
                form_data=form.form_data(),
                files=drafts.draft_incoming(draft),
                licences=form.licences(),
                licence_consent=form.licence_consent,
                delivery=form.delivery(),
                data_consents=form.data_consents(),
            )
        except DomainError as error:
            _raise_for(error)
            form.apply_domain_error(error, form.field_map())
            status = _error_status(error)
        else:
            drafts.draft_discard(draft=draft, keep_files=True)
            if isinstance(case, Composite):
                messages.success(request, composite_submitted_text(case, window=True))
                return redirect("portal:composite", number=case.number)
            organization = case.handling_organization.name
            if case.perspective == "origin":
                text = _("办件 %(number)s 已收件。已转送 %(organization)s") % {
                    "number": case.number,
                    "organization": organization,
                }
            else:
                text = _("办件 %(number)s 已收件，由 %(organization)s 办理") % {
                    "number": case.number,
                    "organization": organization,
                }
            messages.success(request, text)
            return redirect("portal:case", number=case.number)
    return render(request, "portal/window_apply.html", {"item": item, "form": form}, status=status)


# --- the deciding authority ------------------------------------------------------------


@login_required
def worklist(request):
    access = access_for(request.user)
    _require(bool(access.view_orgs))
    tab = "all" if request.GET.get("tab") == "all" else "todo"
    status = _status_filter(request) if tab == "all" else ""
    filters = {"worklist": True} if tab == "todo" else {"status": status}
    return render(
        request,
        "portal/work.html",
        {
            "tab": tab,
            "status": status,
            "statuses": CaseStatus.choices,
            **_case_page(request, _scoped(access, orgs=True), **filters),
        },
    )


# --- applicants ----------------------------------------------------------------------


@login_required
def my_cases(request):
    access = access_for(request.user)
    _require(access.is_person)
    context = _case_page(request, _scoped(access, person=True))
    context["identity_unproven"] = not access.identity_proven
    context["rows"] = [{"case": c, "result": case_result(c)} for c in context["cases"]]
    context.update(composites_paged(request, _scoped(access, person=True)))
    return render(request, "portal/my_cases.html", context)


# --- the case -------------------------------------------------------------------------


ACTIONS = {
    "accept": (NoteForm, pgettext_lazy("case action", "受理")),
    "refuse": (RefuseForm, pgettext_lazy("case action", "不予受理")),
    "request_supplements": (SupplementRequestForm, pgettext_lazy("case action", "一次性告知补正")),
    "approve": (ApproveForm, pgettext_lazy("case action", "准予许可")),
    "deny": (DenyForm, pgettext_lazy("case action", "不予许可")),
    "supply": (SupplyForm, pgettext_lazy("case action", "提交补正材料")),
    "withdraw": (WithdrawForm, pgettext_lazy("case action", "撤回申请")),
}


def _available_actions(access: Access, case) -> list[str]:
    actions = []
    if (
        case.perspective in ("handling", "local")
        and case.handling_organization_id in access.decide_orgs
    ):
        if case.status == CaseStatus.SUBMITTED:
            actions += ["accept", "request_supplements", "refuse"]
        elif case.status == CaseStatus.ACCEPTED:
            actions += ["approve", "deny"]
    if (
        case.perspective in ("origin", "local")
        and case.receiving_window_id in access.clerk_windows
        and case.status == CaseStatus.SUPPLEMENT_REQUESTED
    ):
        actions.append("supply")
    if _may_withdraw(access, case):
        actions.append("withdraw")
    return actions


def _may_withdraw(access: Access, case) -> bool:
    """撤回: before acceptance, by the receiving window or the online applicant's account."""
    if case.perspective not in ("origin", "local") or case.accepted_at is not None:
        return False
    if case.status not in services.WITHDRAWABLE:
        return False
    by_window = case.receiving_window_id is not None and (
        case.receiving_window_id in access.clerk_windows
    )
    by_applicant = case.channel == "online" and (
        case.applicant_account_id is not None and case.applicant_account_id == access.person_account
    )
    return by_window or by_applicant


def _action_form(action: str, case, data=None, files=None):
    form_class = ACTIONS[action][0]
    kwargs = {"prefix": action}
    if form_class is SupplementRequestForm:
        kwargs["materials"] = case.item.materials.all()
    elif form_class is SupplyForm:
        missing = (case.supplement_request or {}).get("missing", [])
        kwargs["item_materials"] = list(case.item.materials.all())
        kwargs["requested_codes"] = {
            m.get("material_code") for m in missing if m.get("material_code")
        }
    return form_class(data, files, **kwargs)


def method_label(method: str) -> str:
    """How the applicant was authenticated, readably ("password+sms_otp" → 密码+短信验证码)."""
    method = method or ""
    if method.startswith("sso:"):
        provider = method[4:]
        if provider == "upstream":
            app = settings.TONGBAN_UPSTREAM_OIDC.get("name") or provider
        else:
            app = node_app_name(provider)
        return _("经%(app)s单点登录") % {"app": app}
    labels = {
        "in_person": _("窗口当面核验"),
        "password+sms_otp": _("密码+短信验证码"),
        "password": _("密码"),
        "sms_otp": _("短信验证码"),
    }
    return str(labels.get(method, method))


ASSURANCE_LABELS = dict(ASSURANCE_CHOICES)
ROLE_LABELS = {
    "legal_representative": pgettext_lazy("enterprise role", "法定代表人"),
    "agent": pgettext_lazy("enterprise role", "经办人"),
}


def _acting_for_view(acting_for) -> dict | None:
    if not isinstance(acting_for, dict) or not acting_for.get("code"):
        return None
    authorization = acting_for.get("authorization") or {}
    codes = [str(c) for c in authorization.get("items") or []]
    names = dict(ServiceItem.objects.filter(basic_code__in=codes).values_list("basic_code", "name"))
    return {
        "code": acting_for.get("code", ""),
        "name": acting_for.get("name", ""),
        "role": str(ROLE_LABELS.get(acting_for.get("role"), acting_for.get("role", ""))),
        "expires_at": parse_datetime(authorization.get("expires_at") or ""),
        "items": [names.get(c, c) for c in codes],
        "authorized": bool(authorization),
    }


def _assertion_view(case) -> dict:
    assertion = masked_assertion(case.identity_assertion)
    by = assertion.get("authenticated_by") or {}
    window = by.get("window") or {}
    # the window's name travels in the assertion; older peers only send its code
    place = (
        window.get("name")
        or (case.receiving_window_name if by.get("node") == case.receiving_node else "")
        or window.get("code", "")
    )
    assurance = assertion.get("assurance", "")
    return {
        "subject": assertion.get("subject") or {},
        "assurance": assurance,
        "assurance_label": str(ASSURANCE_LABELS.get(assurance, assurance)),
        "method": assertion.get("method", ""),
        "method_label": method_label(assertion.get("method", "")),
        "in_person": assertion.get("method") == "in_person",
        "place": place,
        "node": by.get("node", ""),
        "home_node": by.get("home_node", ""),
        "officer": by.get("officer", ""),
        "at": parse_datetime(assertion.get("authenticated_at") or ""),
        "acting_for": _acting_for_view(assertion.get("acting_for")),
        "present": bool(assertion),
    }


def _view_at_handling_node(request, access: Access, case) -> dict | None:
    """A resident's own online case, decided elsewhere: follow it at the handling node,
    signed in there through this (their home) node."""
    user = request.user
    if (
        case.perspective != "origin"
        or case.channel != "online"
        or case.enterprise_code
        or case.applicant_account_id != user.pk
        or not getattr(user, "person_id", None)
        or user.person.home_node != settings.TONGBAN_NODE
    ):
        return None
    node = Node.objects.filter(node_id=case.handling_node, role="node", active=True).first()
    if node is None or node.node_id == settings.TONGBAN_NODE:
        return None
    query = urlencode({"next": reverse("portal:case", args=[case.number])})
    return {
        "url": f"{node.base_url.rstrip('/')}/sso/{settings.TONGBAN_NODE}/start/?{query}",
        "app": node_app_name(node.node_id),
    }


def _form_rows(case) -> list[dict]:
    """The application form in the item's field order, labelled; identifiers masked."""
    data = masked_form(case)
    schema = {spec["name"]: spec for spec in case.item.form_schema}
    names = [n for n in schema if n in data] + [n for n in data if n not in schema]
    return [
        {
            "label": schema.get(name, {}).get("label", name),
            "value": answer_shown(schema.get(name), data[name]),
            "long": schema.get(name, {}).get("type") == "textarea",
        }
        for name in names
    ]


def _timeline(case) -> list[dict]:
    names = dict(case.item.materials.values_list("code", "name"))
    entries = []
    for change in case.history.all():
        details = change.details or {}
        entries.append(
            {
                "change": change,
                "missing": details.get("missing") or [],
                "supplied": [
                    {**m, "name": m.get("name") or names.get(m.get("material_code"), "")}
                    for m in details.get("supplied") or []
                ],
            }
        )
    return entries


def _documents(case) -> list[tuple[str, str]]:
    docs = []
    if case.accepted_at:
        docs.append(("acceptance", _("受理回执")))
    if case.is_terminal:
        docs.append(("conclusion", _("办结通知")))
    if case_result(case) is not None:
        docs.append(("result", _("办理结果")))
    return docs


def _render_case(request, case, *, bound: dict | None = None, status: int = 200):
    access = access_for(request.user)
    actions = _available_actions(access, case)
    bound = bound or {}
    forms = [
        {
            "name": a,
            "label": ACTIONS[a][1],
            "form": bound[a] if a in bound else _action_form(a, case),
        }
        for a in actions
    ]
    missing = (case.supplement_request or {}).get("missing", [])
    return render(
        request,
        "portal/case_detail.html",
        {
            "case": case,
            "item": case.item,
            "result": case_result(case),
            "materials": [
                {"m": m, "ok": material_digest_ok(m), "licence": licence_material_view(m)}
                for m in case.materials.all()
            ],
            "timeline": _timeline(case),
            "form_rows": _form_rows(case),
            "assertion": _assertion_view(case),
            "elsewhere": _view_at_handling_node(request, access, case),
            "documents": _documents(case),
            "actions": forms,
            "supplement_request": case.supplement_request or {},
            "supplement_missing": missing,
            "delivery": delivery_context(request, case, bound),  # 送达
            "data_checks": data_checks_context(request, case),  # 数据核验
        },
        status=status,
    )


def _load_case(request, number: str):
    try:
        return selectors.case_detail(access_for(request.user), number)
    except DomainError as error:
        _raise_for(error)
        raise


@login_required
def case_page(request, number: str):
    return _render_case(request, _load_case(request, number))


SUCCESS = {
    "accept": gettext_lazy("办件 %(number)s 已受理"),
    "refuse": gettext_lazy("办件 %(number)s 已决定不予受理"),
    "request_supplements": gettext_lazy("已一次性告知补正，办件 %(number)s 待补正"),
    "approve": gettext_lazy("办件 %(number)s 已准予许可并出具结果"),
    "deny": gettext_lazy("办件 %(number)s 已决定不予许可"),
    "supply": gettext_lazy("补正材料已提交，办件 %(number)s 重新进入审查"),
    "withdraw": gettext_lazy("办件 %(number)s 已撤回"),
}


def _call(action: str, user, number: str, form):
    data = form.cleaned_data
    if action == "accept":
        return services.case_accept(user=user, number=number, note=data["note"])
    if action == "refuse":
        return services.case_refuse(user=user, number=number, reason=data["reason"])
    if action == "request_supplements":
        return services.case_request_supplements(
            user=user, number=number, missing=form.missing(), note=data["note"]
        )
    if action == "approve":
        # the result's official inputs (portal/includes/decision_result_fields.html)
        inputs = {
            k.removeprefix("approve-result-"): v
            for k, v in form.data.items()
            if k.startswith("approve-result-")
        }
        return services.case_approve(
            user=user, number=number, note=data["note"], result_inputs=inputs
        )
    if action == "deny":
        return services.case_deny(user=user, number=number, reason=data["reason"])
    if action == "withdraw":
        return services.case_withdraw(user=user, number=number, reason=data["reason"])
    return services.case_supply(user=user, number=number, files=form.uploads(), note=data["note"])


@login_required
def case_action(request, number: str, action: str):
    if action not in ACTIONS:
        raise Http404(_("没有这种操作"))
    case = _load_case(request, number)
    if request.method != "POST":
        # a refresh or a bookmark of the action's address: the case page, not a 405
        return redirect(f"{reverse('portal:case', args=[number])}#action-{action}")
    form = _action_form(action, case, request.POST, request.FILES)
    if form.is_valid():
        try:
            _call(action, request.user, number, form)
        except DomainError as error:
            _raise_for(error)
            form.apply_domain_error(error, top=False)
            messages.error(request, error.message)
            status = _error_status(error)
        else:
            messages.success(request, SUCCESS[action] % {"number": number})
            return redirect("portal:case", number=number)
    else:
        messages.error(request, _("请检查填写的内容"))
        status = 400
    # re-read: the case is unchanged, but show it as it is now
    case = _load_case(request, number)
    if action not in _available_actions(access_for(request.user), case):
        return redirect("portal:case", number=number)
    return _render_case(request, case, bound={action: form}, status=status)


@login_required
def material_download(request, number: str, material_id: int):
    try:
        material = selectors.case_material(access_for(request.user), number, material_id)
    except DomainError as error:
        _raise_for(error)
        raise
    try:
        content = material_read(material.storage_path)
    except OSError as exc:
        raise Http404(_("材料文件不存在")) from exc
    response = HttpResponse(content, content_type=material.media_type or "application/octet-stream")
    response["Content-Disposition"] = content_disposition_header(True, material.filename)
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
def case_document(request, number: str, kind: str):
    case = _load_case(request, number)
    try:
        pdf = documents.render(case, kind)
    except DomainError as error:
        _raise_for(error)
        raise
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = content_disposition_header(False, f"{number}-{kind}.pdf")
    response["Cache-Control"] = "private, no-store"
    return response
