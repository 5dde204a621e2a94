"""送达 on the case page: what was chosen and where it stands, the waybill form for the
handling authority or the receiving window (邮寄), and the pickup confirmation at the
chosen window (自取). The rules are in ``tongban.cases.delivery``."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from tongban.cases import delivery
from tongban.errors import DomainError
from tongban.identity.selectors import access_for
from tongban.portal.forms import PortalForm


class WaybillForm(PortalForm):
    carrier = forms.CharField(
        label=gettext_lazy("快递公司"),
        max_length=32,
        help_text=gettext_lazy("如：中国邮政EMS、顺丰速运"),
        error_messages={"required": gettext_lazy("请填写快递公司")},
    )
    waybill = forms.CharField(
        label=gettext_lazy("运单号"),
        max_length=40,
        widget=forms.TextInput(attrs={"autocomplete": "off", "class": "mono"}),
        error_messages={"required": gettext_lazy("请填写运单号")},
    )


class DeliveredForm(PortalForm):
    confirm = forms.BooleanField(
        label=gettext_lazy("已核实收件人签收"),
        error_messages={"required": gettext_lazy("请先核实收件人已签收")},
    )


class PickupForm(PortalForm):
    id_number = forms.CharField(
        label=gettext_lazy("领取人身份证号"),
        max_length=18,
        help_text=gettext_lazy("核对领取人的居民身份证原件，须为申请人本人"),
        widget=forms.TextInput(attrs={"autocomplete": "off", "class": "mono", "maxlength": "18"}),
        error_messages={"required": gettext_lazy("请填写领取人的身份证号")},
    )
    checked = forms.BooleanField(
        label=gettext_lazy("已核对身份证原件与本人一致"),
        error_messages={"required": gettext_lazy("请先当面核对身份证原件")},
    )


ACTIONS = {
    "waybill": (WaybillForm, gettext_lazy("登记寄出")),
    "delivered": (DeliveredForm, gettext_lazy("登记已送达")),
    "pickup": (PickupForm, gettext_lazy("确认领取")),
}
SUCCESS = {
    "waybill": gettext_lazy("已登记寄出：%(carrier)s %(waybill)s"),
    "delivered": gettext_lazy("已登记送达"),
    "pickup": gettext_lazy("结果已由申请人领取"),
}


def delivery_context(request, case, bound: dict | None = None) -> dict:
    """For portal/includes/case_delivery.html: the delivery (address masked unless the
    viewer is the applicant or posts the result) and the forms the viewer may use."""
    access = access_for(request.user)
    bound = bound or {}
    actions = []
    for name in delivery.delivery_actions(access, case):
        form_class, label = ACTIONS[name]
        form = bound.get(f"delivery_{name}") or form_class(prefix=f"delivery-{name}")
        if name == "waybill" and not form.is_bound and case.delivery_waybill:
            form.initial = {"carrier": case.delivery_carrier, "waybill": case.delivery_waybill}
            label = gettext_lazy("更正运单")
        actions.append({"name": name, "label": label, "form": form})
    return {"view": delivery.delivery_view(case, access), "actions": actions}


def _call(name: str, user, number: str, data: dict):
    if name == "waybill":
        return delivery.case_delivery_record_waybill(
            user=user, number=number, carrier=data["carrier"], waybill=data["waybill"]
        )
    if name == "delivered":
        return delivery.case_delivery_mark_delivered(user=user, number=number)
    return delivery.case_delivery_confirm_pickup(
        user=user, number=number, id_number=data["id_number"]
    )


@login_required
def case_delivery_action(request, number: str, action: str):
    from tongban.portal import views

    if action not in ACTIONS:
        raise Http404(_("没有这种操作"))
    case = views._load_case(request, number)
    if request.method != "POST":
        return redirect(f"{reverse('portal:case', args=[number])}#delivery")
    form = ACTIONS[action][0](request.POST, prefix=f"delivery-{action}")
    status = 400
    if form.is_valid():
        try:
            case = _call(action, request.user, number, form.cleaned_data)
        except DomainError as error:
            views._raise_for(error)
            form.apply_domain_error(error, top=not (error.details or {}).get("fields"))
            messages.error(request, error.message)
            status = views._error_status(error)
        else:
            data = {"carrier": case.delivery_carrier, "waybill": case.delivery_waybill}
            messages.success(request, SUCCESS[action] % data)
            return redirect(f"{reverse('portal:case', args=[number])}#delivery")
    else:
        messages.error(request, _("请检查填写的内容"))
    case = views._load_case(request, number)
    return views._render_case(request, case, bound={f"delivery_{action}": form}, status=status)
