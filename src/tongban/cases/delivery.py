"""送达: how the result of a case reaches the applicant.

The applicant chooses when applying (``delivery_choice_clean``):

* 电子送达 (``electronic``, the default) — the signed documents the case issues
  (documents app) are the delivery: the case counts as 已送达 once it is concluded
  by a decision (准予, 不予许可, 不予受理), see ``delivery_status_of``;
* 邮寄送达 (``post``) — recipient, mobile number and address (JSON, SM4-GCM at rest);
  the handling authority or the receiving window records the carrier and waybill
  number (已寄出) and, optionally, that it arrived (已送达);
* 窗口自取 (``pickup``) — a window of the receiving node; a clerk of that window
  confirms the pickup (已领取) after checking the 身份证号 against the applicant's.

Each change is announced to the other node of the case by a ``case.delivery``
envelope (docs/exchange-protocol.md §10.6). The address and phone never go to a log;
pages and the API show them masked to anyone but the applicant and the staff who
post the result (``delivery_view``).
"""

from __future__ import annotations

import json
import re

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from tongban.cases.models import Case, CaseStatus
from tongban.directory.models import Window
from tongban.errors import DomainError, NotFound, PermissionDenied
from tongban.exchange.envelopes import iso
from tongban.exchange.services import outbox_enqueue
from tongban.identity.masking import mask_name, mask_phone
from tongban.identity.pii import blind_index, decrypt_at_rest, encrypt_at_rest
from tongban.identity.security_log import security_event
from tongban.identity.selectors import Access, access_for

METHODS = ("electronic", "post", "pickup")
STATES = ("pending", "sent", "delivered", "picked_up")
# a case whose result (or refusal) has been issued: there is something to deliver
CONCLUDED = (CaseStatus.APPROVED, CaseStatus.DENIED, CaseStatus.REFUSED)
MOBILE_RE = re.compile(r"^1[3-9]\d{9}$")
WAYBILL_RE = re.compile(r"^[0-9A-Za-z-]{6,40}$")
METHOD_LABELS = {
    "electronic": gettext_lazy("电子送达"),
    "post": gettext_lazy("邮寄送达"),
    "pickup": gettext_lazy("窗口自取"),
}
STATE_LABELS = {
    "pending": gettext_lazy("待送达"),
    "sent": gettext_lazy("已寄出"),
    "delivered": gettext_lazy("已送达"),
    "picked_up": gettext_lazy("已领取"),
}


# --- the applicant's choice ------------------------------------------------------------


def _text(raw: dict, key: str) -> str:
    value = raw.get(key)
    return value.strip() if isinstance(value, str) else ""


def delivery_choice_clean(raw: dict | None, *, receiving_node: str) -> dict:
    """The applicant's choice as it is stored and sent: ``{"method", "window", "address"}``
    — ``window`` ``{"code", "name"}`` for 自取, ``address`` ``{"recipient", "phone",
    "address"}`` for 邮寄, otherwise ``None``. ``raw`` is flat: ``method``, ``recipient``,
    ``phone``, ``address``, ``window`` (a window code of ``receiving_node``); ``None`` is
    电子送达. Every wrong field in one DomainError (``details.fields["delivery.<name>"]``)."""
    if raw is None:
        return {"method": "electronic", "window": None, "address": None}
    errors: dict[str, str] = {}
    if not isinstance(raw, dict):
        raw, errors["delivery.method"] = {}, _("送达方式格式不正确")
    method = _text(raw, "method") or "electronic"
    cleaned: dict = {"method": method, "window": None, "address": None}
    if method not in METHODS and not errors:
        errors["delivery.method"] = _("请选择送达方式：电子送达、邮寄送达或窗口自取")
    elif method == "post":
        recipient, phone, address = (_text(raw, k) for k in ("recipient", "phone", "address"))
        if not recipient or len(recipient) > 64:
            errors["delivery.recipient"] = _("请填写收件人姓名（不超过64字）")
        if not MOBILE_RE.match(phone):
            errors["delivery.phone"] = _("请填写收件人的手机号码（11位）")
        if len(address) < 6 or len(address) > 200:
            errors["delivery.address"] = _("请填写详细的邮寄地址（省市区、街道门牌，6–200字）")
        cleaned["address"] = {"recipient": recipient, "phone": phone, "address": address}
    elif method == "pickup":
        code = _text(raw, "window")
        window = (
            Window.objects.filter(code=code, node__node_id=receiving_node, active=True).first()
            if code and len(code) <= 32
            else None
        )
        if window is None:
            errors["delivery.window"] = (
                _("所选领取窗口不存在或已停用") if code else _("请选择领取结果的窗口")
            )
        else:
            cleaned["window"] = {"code": window.code, "name": window.name}
    if errors:
        raise DomainError("invalid_delivery", _("结果送达方式填写有误"), details={"fields": errors})
    return cleaned


def delivery_case_fields(delivery: dict | None) -> dict:
    """The Case fields for a cleaned choice (``{}`` for none: the model's defaults)."""
    if not delivery:
        return {}
    window = delivery.get("window") or {}
    address = delivery.get("address")
    return {
        "delivery_method": delivery["method"],
        "delivery_window_code": window.get("code", ""),
        "delivery_window_name": window.get("name", ""),
        "delivery_address_encrypted": (
            encrypt_at_rest(json.dumps(address, ensure_ascii=False)) if address else ""
        ),
        "delivery_status": "pending",
    }


def delivery_from_peer(raw: object) -> dict:
    """The Case fields for the ``delivery`` of a peer's ``case.submit`` (absent: 电子送达);
    ValueError for a malformed one (the handler refuses the message)."""
    if raw is None:
        return {}
    if not isinstance(raw, dict) or raw.get("method") not in METHODS:
        raise ValueError("'delivery' must be an object with a known method")
    window, address = raw.get("window"), raw.get("address")
    if raw["method"] == "pickup" and not (isinstance(window, dict) and window.get("code")):
        raise ValueError("a pickup delivery names its window")
    if raw["method"] == "post":
        if not isinstance(address, dict) or not all(
            isinstance(address.get(k), str) and address.get(k)
            for k in ("recipient", "phone", "address")
        ):
            raise ValueError("a postal delivery carries recipient, phone and address")
        address = {k: address[k][:200] for k in ("recipient", "phone", "address")}
    return delivery_case_fields(
        {
            "method": raw["method"],
            "window": (
                {"code": str(window["code"])[:32], "name": str(window.get("name", ""))[:128]}
                if raw["method"] == "pickup"
                else None
            ),
            "address": address if raw["method"] == "post" else None,
        }
    )


def delivery_wire(delivery: dict | None) -> dict:
    """The ``delivery`` member of a ``case.submit`` body."""
    return delivery or {"method": "electronic", "window": None, "address": None}


# --- reading ---------------------------------------------------------------------------


def delivery_address(case: Case) -> dict | None:
    if not case.delivery_address_encrypted:
        return None
    return json.loads(decrypt_at_rest(case.delivery_address_encrypted))


def mask_address(text: str) -> str:
    """浙江省嘉兴市嘉善县罗星街道… → 浙江省嘉兴市****: the region, not the door."""
    if not text:
        return ""
    return text[: min(6, max(1, len(text) // 3))] + "****"


def delivery_status_of(case: Case) -> str:
    """The delivery status: stored for 邮寄/自取; for 电子送达, 已送达 once the case is
    concluded by a decision — its signed documents are then issued and available."""
    if case.delivery_method == "electronic":
        return "delivered" if case.status in CONCLUDED else "pending"
    return case.delivery_status


def may_see_address(access: Access, case: Case) -> bool:
    """The applicant, and the staff who post the result, see the full address."""
    return bool(
        (access.person_account is not None and case.applicant_account_id == access.person_account)
        or (access.person_index and access.person_index == case.applicant_id_index)
        or _may_post(access, case)
    )


def delivery_view(case: Case, access: Access | None = None) -> dict:
    """The ``delivery`` object of the case detail: the address masked unless ``access``
    is the applicant's or a poster's."""
    address = delivery_address(case)
    status = delivery_status_of(case)
    if address is not None and not (access is not None and may_see_address(access, case)):
        address = {
            "recipient": mask_name(address.get("recipient", "")),
            "phone": mask_phone(address.get("phone", "")),
            "address": mask_address(address.get("address", "")),
        }
    return {
        "method": case.delivery_method,
        "method_label": str(METHOD_LABELS.get(case.delivery_method, case.delivery_method)),
        "status": status,
        "status_label": str(STATE_LABELS.get(status, status)),
        "carrier": case.delivery_carrier,
        "waybill": case.delivery_waybill,
        "window": (
            {"code": case.delivery_window_code, "name": case.delivery_window_name}
            if case.delivery_window_code
            else None
        ),
        "address": address,
        "updated_at": case.delivery_updated_at,
    }


def _may_post(access: Access, case: Case) -> bool:
    """The handling authority's officials, or the receiving window's clerks."""
    official = (
        case.perspective in ("handling", "local")
        and case.handling_organization_id in access.decide_orgs
    )
    window = (
        case.perspective in ("origin", "local")
        and case.receiving_window_id is not None
        and case.receiving_window_id in access.clerk_windows
    )
    return official or window


def _pickup_window(access: Access, case: Case) -> Window | None:
    if case.perspective not in ("origin", "local") or not case.delivery_window_code:
        return None
    return Window.objects.filter(
        pk__in=access.clerk_windows,
        code=case.delivery_window_code,
        node__node_id=settings.TONGBAN_NODE,
    ).first()


def delivery_actions(access: Access, case: Case) -> list[str]:
    """What ``access`` may record now: ``waybill``, ``delivered``, ``pickup``."""
    if case.status not in CONCLUDED:
        return []
    if case.delivery_method == "post" and _may_post(access, case):
        return {"pending": ["waybill"], "sent": ["waybill", "delivered"]}.get(
            case.delivery_status, []
        )
    if (
        case.delivery_method == "pickup"
        and case.delivery_status == "pending"
        and _pickup_window(access, case) is not None
    ):
        return ["pickup"]
    return []


def pickup_windows_q(access: Access) -> Q:
    """Cases to be picked up at one of ``access``'s windows (for the case scope)."""
    if not access.clerk_windows:
        return Q(pk__in=[])
    codes = Window.objects.filter(pk__in=access.clerk_windows).values("code")
    return Q(
        delivery_method="pickup",
        delivery_window_code__in=codes,
        perspective__in=("origin", "local"),
    )


# --- writing ---------------------------------------------------------------------------


def _lock(user, number: str) -> tuple[Case, Access]:
    from tongban.cases.selectors import cases_visible_to

    access = access_for(user)
    case = (
        cases_visible_to(access)
        .select_for_update(of=("self",))
        .select_related("handling_organization", "receiving_window")
        .filter(number=number)
        .first()
    )
    if case is None:
        raise NotFound(_("办件不存在"))
    return case, access


def _require_concluded(case: Case) -> None:
    if case.status not in CONCLUDED:
        raise DomainError(
            "not_concluded",
            _("办件尚未办结（当前为“%(status)s”），还没有可送达的结果")
            % {"status": case.get_status_display()},
            status=409,
        )


def _require_method(case: Case, method: str) -> None:
    if case.delivery_method != method:
        raise DomainError(
            "wrong_delivery_method",
            _("申请人选择的送达方式是“%(method)s”")
            % {"method": METHOD_LABELS.get(case.delivery_method, case.delivery_method)},
            status=409,
        )


def _announce(case: Case, *, actor: dict, at) -> None:
    """Tell the other node of the case (none for a case received and decided here)."""
    if case.perspective == "local":
        return
    outbox_enqueue(
        type="case.delivery",
        recipient=case.receiving_node if case.perspective == "handling" else case.handling_node,
        correlation=case.number,
        body={
            "number": case.number,
            "method": case.delivery_method,
            "status": case.delivery_status,
            "carrier": case.delivery_carrier,
            "waybill": case.delivery_waybill,
            "window": (
                {"code": case.delivery_window_code, "name": case.delivery_window_name}
                if case.delivery_window_code
                else None
            ),
            "occurred_at": iso(at),
            "actor": actor,
        },
    )


def _actor(access: Access, place: str) -> dict:
    return {"name": access.display_name, "place": place, "node": settings.TONGBAN_NODE}


def _poster_place(access: Access, case: Case) -> str:
    if (
        case.perspective in ("handling", "local")
        and case.handling_organization_id in access.decide_orgs
    ):
        return case.handling_organization.name
    return case.receiving_window_name


def _save(case: Case, *, status: str, at) -> None:
    case.delivery_status = status
    case.delivery_updated_at = at
    case.save(
        update_fields=[
            "delivery_status",
            "delivery_carrier",
            "delivery_waybill",
            "delivery_updated_at",
        ]
    )


def case_delivery_record_waybill(*, user, number: str, carrier: str, waybill: str) -> Case:
    """邮寄: the handling authority or the receiving window posts the result and records
    the carrier and waybill number (已寄出; recording again corrects them)."""
    carrier = (carrier or "").strip()
    waybill = (waybill or "").strip().upper()
    errors = {}
    if not carrier or len(carrier) > 32:
        errors["carrier"] = _("请填写快递公司（不超过32字）")
    if not WAYBILL_RE.match(waybill):
        errors["waybill"] = _("运单号为6–40位字母、数字或“-”")
    with transaction.atomic():
        case, access = _lock(user, number)
        if not _may_post(access, case):
            raise PermissionDenied(_("只有办理机构或收件窗口可以登记寄出"))
        _require_method(case, "post")
        _require_concluded(case)
        if case.delivery_status not in ("pending", "sent"):
            raise DomainError("already_delivered", _("结果已送达，不能再登记运单"), status=409)
        if errors:
            raise DomainError("invalid_waybill", _("运单信息有误"), details={"fields": errors})
        now = timezone.now()
        case.delivery_carrier, case.delivery_waybill = carrier, waybill
        _save(case, status="sent", at=now)
        _announce(case, actor=_actor(access, _poster_place(access, case)), at=now)
    return case


def case_delivery_mark_delivered(*, user, number: str) -> Case:
    """邮寄: the result has arrived (签收) — recorded by whoever may record the waybill."""
    with transaction.atomic():
        case, access = _lock(user, number)
        if not _may_post(access, case):
            raise PermissionDenied(_("只有办理机构或收件窗口可以登记送达"))
        _require_method(case, "post")
        if case.delivery_status != "sent":
            raise DomainError("not_sent", _("结果尚未寄出，或已登记送达"), status=409)
        now = timezone.now()
        _save(case, status="delivered", at=now)
        _announce(case, actor=_actor(access, _poster_place(access, case)), at=now)
    return case


def case_delivery_confirm_pickup(*, user, number: str, id_number: str) -> Case:
    """自取: a clerk of the chosen window hands over the result after checking that the
    身份证号 presented is the applicant's (compared by blind index; a mismatch is a
    security event and changes nothing)."""
    presented = (id_number or "").strip().upper()
    mismatch = False
    with transaction.atomic():
        case, access = _lock(user, number)
        window = _pickup_window(access, case)
        if window is None:
            raise PermissionDenied(_("只有申请人选择的领取窗口可以确认领取"))
        _require_method(case, "pickup")
        _require_concluded(case)
        if case.delivery_status == "picked_up":
            raise DomainError("already_picked_up", _("结果已领取"), status=409)
        if not presented:
            raise DomainError(
                "id_number_required",
                _("请核对领取人的身份证原件并填写身份证号"),
                details={"fields": {"id_number": _("请填写领取人的身份证号")}},
            )
        if blind_index(presented) != case.applicant_id_index:
            mismatch = True
        else:
            now = timezone.now()
            _save(case, status="picked_up", at=now)
            _announce(case, actor=_actor(access, window.name), at=now)
    if mismatch:
        # recorded outside the (unchanged) case's transaction, so it stays
        security_event("pickup_identity_mismatch", user=user, case=number, window=window.code)
        raise DomainError(
            "identity_mismatch",
            _("身份证号与申请人不一致，不能领取"),
            status=403,
            details={"fields": {"id_number": _("与申请人的身份证号不一致")}},
        )
    return case


def delivery_received(case: Case, body: dict, *, sender: str) -> None:
    """Apply a peer's ``case.delivery`` to the (locked) case; ValueError when it does not
    fit the case (the handler refuses the message)."""
    status = body.get("status")
    if body.get("method") != case.delivery_method or status not in STATES:
        raise ValueError("delivery method or status does not match the case")
    from tongban.exchange.envelopes import parse_time

    case.delivery_carrier = str(body.get("carrier") or "")[:32]
    case.delivery_waybill = str(body.get("waybill") or "")[:40]
    _save(case, status=status, at=parse_time(body.get("occurred_at")))
