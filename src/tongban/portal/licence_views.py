"""电子证照 pages: the holder's 证照夹 and 亮证, public 核验, and the issuing authority.

Thin views over ``tongban.licences`` (selectors for reads, services for writes).
What a caller may not see does not exist (404); a role that may never use a
page gets 403; a service's refusal is shown on the page and nothing changes.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext, pgettext_lazy
from django.views.decorators.cache import never_cache

from tongban.directory.models import Node, Organization
from tongban.errors import DomainError
from tongban.errors import NotFound as DomainNotFound
from tongban.errors import PermissionDenied as DomainPermissionDenied
from tongban.identity.masking import mask_id_number
from tongban.identity.selectors import access_for
from tongban.licences import formats, selectors, services
from tongban.licences.documents import licence_pdf
from tongban.licences.models import Licence, LicenceStatus, LicenceType, WalletEntry
from tongban.licences.qr_images import qr_svg_data_uri
from tongban.licences.verification import presentation_verify
from tongban.portal.context import node_app_name, node_name
from tongban.portal.licence_forms import (
    IssueChooseForm,
    IssueForm,
    PresentationForm,
    ReinstateForm,
    RenewForm,
    RevokeForm,
    StatusReasonForm,
    field_labels,
)

PAGE_SIZE = 30

PURPOSES = {
    "government_service": gettext_lazy("政务服务"),
    "on_site_check": gettext_lazy("现场核验"),
    "social_use": gettext_lazy("社会化应用"),
}
STATUS_SOURCES = {
    "issuer": gettext_lazy("发证节点的证照登记（实时）"),
    "online": gettext_lazy("联网获取的发证节点状态列表"),
    "cache": gettext_lazy("本节点缓存的发证节点状态列表（离线核验）"),
}


# --- helpers ------------------------------------------------------------------------


def _raise_for(error: DomainError) -> None:
    """A service's not-found / not-allowed become the 404 / 403 pages."""
    if isinstance(error, DomainNotFound) or error.status == 404:
        raise Http404(error.message) from error
    if isinstance(error, DomainPermissionDenied) or error.status == 403:
        raise PermissionDenied(error.message) from error


def _error_status(error: DomainError) -> int:
    return error.status if 400 <= error.status < 500 else 400


def _require(condition: bool, message: str = "") -> None:
    if not condition:
        raise PermissionDenied(message or _("您没有访问此页面的权限"))


def _require_person(user) -> None:
    _require(
        getattr(user, "kind", "") == "person" and access_for(user).is_person,
        _("证照夹只对个人用户开放"),
    )


def _state(licence: Licence | WalletEntry) -> tuple[str, str]:
    """(css state, label) of a licence: its status, or 已过期 when valid but out of date."""
    if licence.status == LicenceStatus.VALID:
        today = timezone.localdate()
        if licence.valid_to and licence.valid_to < today:
            return "expired", _("已过期")
        if licence.valid_from and licence.valid_from > today:
            return "pending", _("未生效")
    return licence.status, str(licence.get_status_display())


def _pdf_response(content: bytes, identifier: str) -> HttpResponse:
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = content_disposition_header(False, f"licence-{identifier}.pdf")
    response["Cache-Control"] = "private, no-store"
    return response


def _face_rows(
    values: dict, licence_type: LicenceType | None, holder_type: str, *, mask: bool = True
) -> list[dict]:
    """Face data in the type's order, labelled; the 身份证号 masked wherever it is
    (``LicenceType.identifier_fields``: the holder's ID and e.g. a 驾驶证's 证号)."""
    labels = field_labels(licence_type, holder_type)
    identifier_keys = set(licence_type.identifier_fields) if licence_type else {"holder_id"}
    if holder_type != "person":
        identifier_keys.discard("holder_id")
    rows = []
    for key in list(labels) + [k for k in values if k not in labels]:
        if key not in values:
            continue
        value = str(values[key])
        if key in identifier_keys and mask:
            value = mask_id_number(value)
        rows.append({"key": key, "label": labels.get(key, key), "value": value})
    return rows


def _type_of(code: str) -> LicenceType | None:
    return LicenceType.objects.filter(code=code).first()


# --- the holder: 证照夹 -------------------------------------------------------------


@login_required
def wallet(request):
    user = request.user
    _require_person(user)
    entries = list(selectors.wallet_entries_for(user))
    rows = []
    for entry in entries:
        state, label = _state(entry)
        rows.append(
            {
                "e": entry,
                "state": state,
                "label": label,
                "holder_name": services.licence_values(entry).get("holder_name", "")
                if entry.holder_type == "enterprise"
                else "",
                "showable": state == "valid",
            }
        )
    current = [r for r in rows if r["e"].status != LicenceStatus.SUPERSEDED]
    history = [r for r in rows if r["e"].status == LicenceStatus.SUPERSEDED]
    home_node = user.person.home_node if user.person_id else ""
    home = None
    if home_node and home_node != settings.TONGBAN_NODE:
        node = Node.objects.filter(node_id=home_node, role="node", active=True).first()
        if node is not None:
            home = {
                "url": f"{node.base_url.rstrip('/')}/me/licences/",
                "app": node_app_name(home_node),
            }
    return render(
        request,
        "portal/licences/wallet.html",
        {
            "rows": current,
            "history": history,
            "total": len(rows),
            "home": home,
            "identity_unproven": not access_for(user).identity_proven,
        },
    )


def _wallet_entry(request, identifier: str) -> WalletEntry:
    _require_person(request.user)
    try:
        return selectors.wallet_entry_for(request.user, identifier)
    except DomainError as error:
        _raise_for(error)
        raise


@login_required
def wallet_entry(request, identifier: str):
    entry = _wallet_entry(request, identifier)
    licence_type = _type_of(entry.type_code)
    values = services.licence_values(entry)
    state, label = _state(entry)
    uses = [
        {"u": u, "purpose": str(PURPOSES.get(u.purpose, u.purpose))}
        for u in selectors.licence_uses_for(request.user, identifier)[:200]
    ]
    newer = (
        selectors.wallet_entries_for(request.user)
        .filter(family=entry.family, version__gt=entry.version)
        .order_by("-version")
        .first()
    )
    return render(
        request,
        "portal/licences/wallet_entry.html",
        {
            "e": entry,
            "state": state,
            "label": label,
            "rows": _face_rows(values, licence_type, entry.holder_type),
            "uses": uses,
            "newer": newer,
            "showable": state == "valid",
        },
    )


@login_required
def wallet_pdf(request, identifier: str):
    entry = _wallet_entry(request, identifier)
    return _pdf_response(licence_pdf(entry, services.licence_values(entry)), identifier)


@never_cache
@login_required
def wallet_show(request, identifier: str):
    """亮证: choose what to disclose and for how long, then show the QR code."""
    entry = _wallet_entry(request, identifier)
    values = services.licence_values(entry)
    licence_type = _type_of(entry.type_code)
    labels = {k: v for k, v in field_labels(licence_type, entry.holder_type).items() if k in values}
    state, label = _state(entry)
    form = PresentationForm(
        request.POST if request.method == "POST" else None,
        labels=labels,
        identifier_keys=licence_type.identifier_fields if licence_type else (),
    )
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                presentation = services.presentation_create(
                    user=request.user,
                    identifier=identifier,
                    fields=list(form.cleaned_data["fields_shown"]),
                    ttl_seconds=form.cleaned_data["ttl"],
                    masked=form.masked(),
                )
            except DomainError as error:
                _raise_for(error)
                form.apply_domain_error(error)
                status = _error_status(error)
            else:
                return _render_presentation(request, entry, presentation, values, labels)
        else:
            status = 400
    return render(
        request,
        "portal/licences/show.html",
        {
            "e": entry,
            "form": form,
            "state": state,
            "label": label,
            "showable": state == "valid",
        },
        status=status,
    )


def _render_presentation(request, entry, presentation: dict, values: dict, labels: dict):
    expires_at = parse_datetime(presentation["expires_at"])
    remaining = max(0, int((expires_at - timezone.now()).total_seconds())) if expires_at else 0
    disclosed = [
        {"label": labels.get(k, k), "value": values.get(k, ""), "masked": False}
        if k in presentation["disclosed"]
        else {"label": labels.get(k, k), "value": mask_id_number(str(values[k])), "masked": True}
        for k in labels
        if k in presentation["disclosed"] or k in presentation.get("masked", ())
    ]
    response = render(
        request,
        "portal/licences/show_code.html",
        {
            "e": entry,
            "qr_text": presentation["qr_text"],
            "qr_image": qr_svg_data_uri(presentation["qr_text"]),
            "expires_at": expires_at,
            "remaining": remaining,
            "disclosed": disclosed,
        },
    )
    response["Cache-Control"] = "private, no-store"
    return response


# --- 核验 (public, every node) ---------------------------------------------------------


def _peer_status_link(text: str) -> dict | None:
    """The QR code printed on a licence PDF holds a link to the issuing node's
    status page: offer that link when it is one of the directory's nodes."""
    try:
        parts = urlsplit(text.strip())
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or "/verify/licence/" not in parts.path:
        return None
    identifier = parts.path.rstrip("/").rsplit("/", 1)[-1]
    for node in Node.objects.filter(role="node", active=True):
        base = urlsplit(node.base_url)
        if (base.scheme, base.netloc) == (parts.scheme, parts.netloc):
            path = f"/verify/licence/{identifier}/"
            url = (
                path if node.node_id == settings.TONGBAN_NODE else node.base_url.rstrip("/") + path
            )
            return {"url": url, "node": node.node_id}
    return None


def status_age_text(seconds: int | None) -> str:
    """“状态更新于 40 秒前”: how old the status list a verdict relied on was."""
    if seconds is None:
        return ""
    if seconds < 60:
        return ngettext("状态更新于 %(n)d 秒前", "状态更新于 %(n)d 秒前", seconds) % {"n": seconds}
    if seconds < 3600:
        n = seconds // 60
        return ngettext("状态更新于 %(n)d 分钟前", "状态更新于 %(n)d 分钟前", n) % {"n": n}
    if seconds < 86400:
        n = seconds // 3600
        return ngettext("状态更新于 %(n)d 小时前", "状态更新于 %(n)d 小时前", n) % {"n": n}
    n = seconds // 86400
    return ngettext("状态更新于 %(n)d 天前", "状态更新于 %(n)d 天前", n) % {"n": n}


def _verdict_view(verdict) -> dict:
    return {
        "status_age": _("发证节点实时登记")
        if verdict.status_source == "issuer"
        else status_age_text(verdict.status_age_seconds),
        "v": verdict,
        "presentation_expires_at": parse_datetime(verdict.presentation_expires_at or ""),
        "status_checked_at": parse_datetime(verdict.status_checked_at or ""),
        "status_source": str(STATUS_SOURCES.get(verdict.status_source, "")),
        "valid_from": parse_date(verdict.valid_from or ""),
        "valid_to": parse_date(verdict.valid_to or ""),
        "issuer_node_name": node_name(verdict.issuer_node),
        "holder_node_name": node_name(verdict.holder_node),
        "trusted": verdict.verdict not in ("tampered", "unknown_issuer"),
    }


def licence_code_result(request, text: str, *, online: bool):
    """A 亮证 code already read from what the person brought (the /verify/ page reads
    scans, pictures, PDFs and pasted text once): the verdict page — or, when the text is
    not a 亮证 code, ``(message, link)`` for the form: ``link`` is the issuing node's
    status page when the text is the status link printed on a licence file."""
    if not text.strip().startswith(formats.QR_PREFIX):
        link = _peer_status_link(text)
        message = (
            _("该二维码是证照文件上的状态查询码，请点击下方链接查询证照状态")
            if link
            else _("无法识别：这不是电子证照亮证码（应以 TB1: 开头）")
        )
        return None, (message, link)
    verdict = presentation_verify(text, online=online)
    services.verification_record(verdict=verdict, channel="page", online=online, user=request.user)
    page = render(
        request,
        "portal/licences/verify_result.html",
        {**_verdict_view(verdict), "online": online},
    )
    return page, None


def licence_status_page(request, identifier: str):
    """The public status of a licence issued at this node (target of the PDF's QR
    code): type, issuer, validity, version, status; no personal data."""
    licence = (
        Licence.objects.select_related("licence_type", "organization")
        .filter(identifier=identifier)
        .first()
    )
    if licence is None:
        raise Http404(_("证照不存在"))
    state, label = _state(licence)
    newer = (
        Licence.objects.filter(family=licence.family, version__gt=licence.version)
        .order_by("-version")
        .first()
    )
    return render(
        request,
        "portal/licences/status.html",
        {
            "licence": licence,
            "state": state,
            "label": label,
            "newer": newer,
            "checked_at": timezone.now(),
        },
    )


# --- the issuing authority --------------------------------------------------------------


def _paged(request, rows):
    return Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))


@login_required
def issued_list(request):
    access = access_for(request.user)
    _require(bool(access.view_orgs))
    rows = selectors.licences_issued_visible_to(request.user)
    status = request.GET.get("status", "")
    status = status if status in LicenceStatus.values else ""
    if status:
        rows = rows.filter(status=status)
    page = _paged(request, rows)
    return render(
        request,
        "portal/licences/issued_list.html",
        {
            "page_obj": page,
            "rows": [
                {"l": lic, **dict(zip(("state", "label"), _state(lic), strict=True))}
                for lic in page
            ],
            "status": status,
            "statuses": LicenceStatus.choices,
            "may_issue": bool(access.decide_orgs),
        },
    )


def _issuing_orgs(access) -> list[Organization]:
    return list(
        Organization.objects.filter(
            code__in=access.decide_orgs, node__node_id=settings.TONGBAN_NODE, active=True
        ).order_by("name")
    )


@login_required
def licence_issue(request):
    """颁发: step 1 chooses type and organization (GET), step 2 fills in the licence."""
    access = access_for(request.user)
    _require(bool(access.decide_orgs), _("仅发证机构的审批人员可以颁发证照"))
    orgs = _issuing_orgs(access)
    _require(bool(orgs), _("您所在的机构不属于本节点，不能在此颁发证照"))
    source = request.POST if request.method == "POST" else request.GET
    choose = IssueChooseForm(source if "type" in source else None, organizations=orgs)
    if not choose.is_bound or not choose.is_valid():
        status = 400 if choose.is_bound else 200
        return render(request, "portal/licences/issue_choose.html", {"form": choose}, status=status)
    licence_type = LicenceType.objects.get(code=choose.cleaned_data["type"], active=True)
    org = next(o for o in orgs if o.code == choose.cleaned_data["organization"])
    nodes = list(Node.objects.filter(role="node", active=True).values_list("node_id", flat=True))
    form = IssueForm(
        request.POST if request.method == "POST" else None,
        licence_type=licence_type,
        nodes=nodes,
        initial={"type": licence_type.code, "organization": org.code},
    )
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                licence = services.licence_issue(
                    user=request.user,
                    type_code=licence_type.code,
                    organization_code=org.code,
                    holder={"name": data["holder_name"], "id_number": data["holder_id"]},
                    holder_home_node=data["home_node"],
                    fields=form.face_data(),
                    valid_from=data["valid_from"],
                    valid_to=data["valid_to"],
                )
            except DomainError as error:
                _raise_for(error)
                form.apply_domain_error(error)
                status = _error_status(error)
            else:
                messages.success(
                    request,
                    _("已颁发%(type)s（第 %(version)s 版），已送达持证主体的证照夹")
                    % {"type": licence_type.name, "version": licence.version}
                    if licence.holder_home_node == settings.TONGBAN_NODE
                    else _("已颁发%(type)s（第 %(version)s 版），正送往%(node)s的证照夹")
                    % {
                        "type": licence_type.name,
                        "version": licence.version,
                        "node": node_name(licence.holder_home_node),
                    },
                )
                return redirect("portal:issued_licence", identifier=licence.identifier)
        else:
            status = 400
    return render(
        request,
        "portal/licences/issue.html",
        {"form": form, "licence_type": licence_type, "org": org},
        status=status,
    )


LICENCE_ACTIONS = {
    "suspend": (StatusReasonForm, pgettext_lazy("licence action", "暂扣")),
    "reinstate": (ReinstateForm, pgettext_lazy("licence action", "恢复")),
    "revoke": (RevokeForm, pgettext_lazy("licence action", "吊销/注销")),
    "renew": (RenewForm, pgettext_lazy("licence action", "换发")),
}
ACTION_ALLOWED = {
    "suspend": {LicenceStatus.VALID},
    "reinstate": {LicenceStatus.SUSPENDED},
    "revoke": {LicenceStatus.VALID, LicenceStatus.SUSPENDED},
    "renew": {LicenceStatus.VALID, LicenceStatus.SUSPENDED},
}
ACTION_DONE = {
    "suspend": gettext_lazy("证照已暂扣，核验时将显示“已暂扣”"),
    "reinstate": gettext_lazy("证照已恢复有效"),
    "revoke": gettext_lazy("证照已吊销/注销"),
    "renew": gettext_lazy("已换发第 %(version)s 版，旧版本已失效"),
}


def _issued(request, identifier: str) -> Licence:
    _require(bool(access_for(request.user).view_orgs))
    try:
        return selectors.licence_issued(request.user, identifier)
    except DomainError as error:
        _raise_for(error)
        raise


def _action_form(action: str, licence: Licence, values: dict, data=None):
    form_class = LICENCE_ACTIONS[action][0]
    if form_class is RenewForm:
        initial = {f"f_{k}": v for k, v in values.items()}
        return RenewForm(data, licence_type=licence.licence_type, prefix=action, initial=initial)
    return form_class(data, prefix=action)


def _render_issued(request, licence: Licence, *, bound: dict | None = None, status: int = 200):
    access = access_for(request.user)
    values = services.licence_values(licence)
    bound = bound or {}
    actions = []
    if licence.organization_id in access.decide_orgs:
        actions = [
            {
                "name": a,
                "label": LICENCE_ACTIONS[a][1],
                "form": bound.get(a) or _action_form(a, licence, values),
            }
            for a in LICENCE_ACTIONS
            if licence.status in ACTION_ALLOWED[a]
        ]
    state, label = _state(licence)
    versions = selectors.licences_issued_visible_to(request.user).filter(family=licence.family)
    return render(
        request,
        "portal/licences/issued_detail.html",
        {
            "l": licence,
            "state": state,
            "label": label,
            "rows": _face_rows(values, licence.licence_type, licence.licence_type.holder_type),
            "actions": actions,
            "versions": versions.order_by("-version"),
            "home_node_name": node_name(licence.holder_home_node),
        },
        status=status,
    )


@login_required
def issued_detail(request, identifier: str):
    return _render_issued(request, _issued(request, identifier))


@login_required
def issued_pdf(request, identifier: str):
    licence = _issued(request, identifier)
    return _pdf_response(licence_pdf(licence, services.licence_values(licence)), identifier)


@login_required
def issued_action(request, identifier: str, action: str):
    if action not in LICENCE_ACTIONS:
        raise Http404(_("没有这种操作"))
    licence = _issued(request, identifier)
    if request.method != "POST":  # a refresh after posting: the licence's page, not a 405
        return redirect("portal:issued_licence", identifier=identifier)
    values = services.licence_values(licence)
    form = _action_form(action, licence, values, request.POST)
    if form.is_valid():
        try:
            if action == "renew":
                new = services.licence_renew(
                    user=request.user,
                    identifier=identifier,
                    fields=form.face_data(),
                    valid_to=form.cleaned_data["valid_to"],
                )
            else:
                services.licence_status_change(
                    user=request.user,
                    identifier=identifier,
                    action=action,
                    reason=form.cleaned_data["reason"],
                )
        except DomainError as error:
            _raise_for(error)
            form.apply_domain_error(error)
            messages.error(request, error.message)
            status = _error_status(error)
        else:
            if action == "renew":
                messages.success(request, ACTION_DONE[action] % {"version": new.version})
                return redirect("portal:issued_licence", identifier=new.identifier)
            messages.success(request, str(ACTION_DONE[action]))
            return redirect("portal:issued_licence", identifier=identifier)
    else:
        messages.error(request, _("请检查填写的内容"))
        status = 400
    licence = _issued(request, identifier)
    return _render_issued(request, licence, bound={action: form}, status=status)
