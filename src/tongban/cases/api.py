"""/api/v1/cases — intake at the receiving node, decisions at the handling node."""

import base64
import binascii
import datetime as dt

from django.http import HttpResponse
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from ninja import Path, Query, Router, Schema, Status

from tongban.api_errors import (
    MAX_ID,
    MAX_LIMIT,
    MAX_OFFSET,
    READ_ERRORS,
    UPLOAD_ERRORS,
    binary_response,
    errors,
)
from tongban.cases import composites, delivery, documents, selectors, services
from tongban.cases.composite_presenters import composite_dict
from tongban.cases.composite_schemas import CompositeDetail
from tongban.cases.materials import IncomingFile, material_read
from tongban.cases.models import Case
from tongban.cases.presenters import case_detail_dict, case_summary_dict
from tongban.errors import DomainError, NotFound, PermissionDenied
from tongban.identity.authentication import api_auth, requires_scope
from tongban.identity.selectors import access_for

router = Router(tags=["cases"], auth=api_auth)


class ApplicantIn(Schema):
    name: str
    id_number: str
    phone: str


class MaterialIn(Schema):
    material_code: str
    filename: str = ""
    content_base64: str


class LicenceUseIn(Schema):
    """免证办: a material replaced by an e-licence — from the wallet here (identifier)
    or, at a window, from the 亮证 QR code the applicant shows (qr_text)."""

    material_code: str
    identifier: str = ""
    qr_text: str = ""


class DeliveryIn(Schema):
    """结果送达方式: ``electronic`` 电子送达 (default), ``post`` 邮寄送达 (recipient, phone,
    address) or ``pickup`` 窗口自取 (window: a window code of this node)."""

    method: str = "electronic"
    recipient: str = ""
    phone: str = ""
    address: str = ""
    window: str = ""


class CaseCreateIn(Schema):
    window: str
    item: str
    organization: str
    applicant: ApplicantIn
    form: dict
    materials: list[MaterialIn] = []
    licences: list[LicenceUseIn] = []
    licence_consent: bool = False
    delivery: DeliveryIn | None = None
    # 本人授权同意: dataset codes of the item's consent-required authorizations at the
    # organization that the applicant consents to (docs/data-sharing.md §5)
    data_consents: list[str] = []


class OnlineCaseIn(Schema):
    item: str
    organization: str
    form: dict
    materials: list[MaterialIn] = []
    enterprise: str = ""
    licences: list[LicenceUseIn] = []
    licence_consent: bool = False
    delivery: DeliveryIn | None = None
    # 本人授权同意: dataset codes of the item's consent-required authorizations at the
    # organization that the applicant consents to (docs/data-sharing.md §5)
    data_consents: list[str] = []


class NoteIn(Schema):
    note: str = ""


class ReasonIn(Schema):
    reason: str


class ApproveIn(Schema):
    """准予: ``result`` holds what the official enters or confirms for the result, keyed by
    the item's ``result.official_inputs`` (GET /items/{code}); an input left out takes its
    declared default."""

    note: str = ""
    result: dict[str, str] = {}


class WithdrawIn(Schema):
    """撤回: why, optionally (kept in the case's history and told to the deciding node)."""

    reason: str = ""


class MissingEntry(Schema):
    material_code: str = ""
    note: str = ""


class SupplementRequestIn(Schema):
    missing: list[MissingEntry]
    note: str = ""


class SupplyIn(Schema):
    materials: list[MaterialIn]
    note: str = ""


class TimelineEntry(Schema):
    from_status: str
    to_status: str
    to_status_label: str
    occurred_at: dt.datetime
    recorded_at: dt.datetime
    node: str
    actor: str
    place: str
    reason: str
    details: dict


class CaseMaterialOut(Schema):
    id: int
    material_code: str
    name: str
    filename: str
    media_type: str
    size: int
    sm3: str
    digest_verified: bool
    source: str
    uploaded_at: dt.datetime
    licence: dict | None = None


class CaseSummary(Schema):
    number: str
    enterprise_code: str = ""
    enterprise_name: str = ""
    item: str
    item_name: str
    status: str
    status_label: str
    perspective: str
    channel: str
    handling_node: str
    handling_organization: str
    handling_organization_name: str
    receiving_node: str
    receiving_window: str
    applicant_name: str
    applicant_id_masked: str
    submitted_at: dt.datetime
    received_at: dt.datetime | None
    deadline: dt.date | None
    deadline_provisional: bool
    # a stage (接续办) or part (集成办) of a 联办件: its number and role ("" when none)
    composite_number: str = ""
    member_role: str = ""


class CaseDocumentOut(Schema):
    id: str
    kind: str
    kind_label: str
    title: str
    doc_number: str
    issuer_node: str
    issuer_name: str
    issued_at: dt.datetime
    status: str
    pdf: str
    ofd: str


class DeliveryWindowOut(Schema):
    code: str
    name: str


class DeliveryAddressOut(Schema):
    recipient: str
    phone: str
    address: str


class DeliveryOut(Schema):
    """送达: the address is masked in the case detail (GET /cases/{n}/delivery shows it in
    full to the applicant and to the staff who post the result)."""

    method: str
    method_label: str
    status: str
    status_label: str
    carrier: str
    waybill: str
    window: DeliveryWindowOut | None
    address: DeliveryAddressOut | None
    updated_at: dt.datetime | None


class CaseDetail(CaseSummary):
    implementation_code: str
    applicant_phone_masked: str
    form: dict
    identity_assertion: dict
    accepted_at: dt.datetime | None
    concluded_at: dt.datetime | None
    legal_deadline: dt.date | None
    supplement_request: dict
    decision_reason: str
    materials: list[CaseMaterialOut]
    timeline: list[TimelineEntry]
    result: dict | None
    documents: list[CaseDocumentOut] = []
    # a stage (接续办) or part (集成办) of a 联办件: {number, key, role, inputs: [{stage,
    # role, organization, case_number, label, value}]} — what earlier members passed on
    composite: dict | None = None
    delivery: DeliveryOut | None = None


class CaseList(Schema):
    count: int
    results: list[CaseSummary]


# decisions and supplies: refused (400/403), hidden (404), wrong state (409), files (413/415)
ERRORS = UPLOAD_ERRORS
# creating a case or a result draws a number (case number, 统一社会信用代码): 503 when used up
NUMBERED = {**ERRORS, **errors(503)}


def _decode(materials: list[MaterialIn]) -> list[IncomingFile]:
    files = []
    for m in materials:
        try:
            content = base64.b64decode(m.content_base64, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise DomainError(
                "bad_encoding",
                _("材料 %(code)s 的内容不是有效的 Base64") % {"code": m.material_code},
            ) from exc
        files.append(
            IncomingFile(material_code=m.material_code, filename=m.filename, content=content)
        )
    return files


def _created(request, created) -> Status:
    """201 with the new case — or the new 联办件, for an item with stages or parts."""
    access = access_for(request.user)
    if isinstance(created, Case):
        return Status(201, case_detail_dict(selectors.case_detail(access, created.number)))
    return Status(201, composite_dict(selectors.composite_detail(access, created.number)))


@router.post(
    "",
    response={201: CaseDetail | CompositeDetail, **NUMBERED},
    summary="窗口收件：创建办件（联办事项为联办件）并转送办理地",
)
@requires_scope("cases:write")
def case_create(request, payload: CaseCreateIn):
    case = composites.application_submit_at_window(
        user=request.user,
        window_code=payload.window,
        item_code=payload.item,
        organization_code=payload.organization,
        applicant=payload.applicant.dict(),
        form_data=payload.form,
        files=_decode(payload.materials),
        licences=[lic.dict() for lic in payload.licences],
        licence_consent=payload.licence_consent,
        delivery=payload.delivery.dict() if payload.delivery else None,
        data_consents=payload.data_consents,
    )
    return _created(request, case)


@router.post(
    "/online",
    response={201: CaseDetail | CompositeDetail, **NUMBERED},
    summary="网上申请（个人或企业经办人，本地认证、异地办理）",
)
@requires_scope("cases:write")
def case_create_online(request, payload: OnlineCaseIn):
    token = getattr(request, "api_token", None)
    session_at = request.session.get("authenticated_at") if hasattr(request, "session") else None
    case = composites.application_submit_online(
        user=request.user,
        item_code=payload.item,
        organization_code=payload.organization,
        form_data=payload.form,
        files=_decode(payload.materials),
        enterprise_code=payload.enterprise,
        authenticated_at=token.created_at
        if token
        else (dt.datetime.fromisoformat(session_at) if session_at else None),
        authentication_method=token.auth_method
        if token
        else request.session.get("auth_method", "password"),
        licences=[lic.dict() for lic in payload.licences],
        licence_consent=payload.licence_consent,
        delivery=payload.delivery.dict() if payload.delivery else None,
        data_consents=payload.data_consents,
    )
    return _created(request, case)


@router.get("", response=CaseList, summary="办件列表（按调用者权限范围）")
@requires_scope("cases:read")
def case_list(
    request,
    status: str = "",
    perspective: str = "",
    q: str = "",
    worklist: bool = False,
    limit: int = Query(50, ge=1, le=MAX_LIMIT),
    offset: int = Query(0, ge=0, le=MAX_OFFSET),
):
    rows, total = selectors.case_list(
        access_for(request.user),
        status=status,
        perspective=perspective,
        query=q,
        worklist=worklist,
        limit=limit,
        offset=offset,
    )
    return {"count": total, "results": [case_summary_dict(c) for c in rows]}


@router.get(
    "/{number}",
    response={200: CaseDetail | CompositeDetail, **READ_ERRORS},
    summary="办件详情与时间线；联办件：各环节（stages）或各事项（parts）及派生状态",
)
@requires_scope("cases:read")
def case_get(request, number: str):
    access = access_for(request.user)
    try:
        return case_detail_dict(selectors.case_detail(access, number))
    except NotFound:  # a 联办件's number (numbers of cases and 联办件 never coincide)
        return composite_dict(selectors.composite_detail(access, number))


def _after(request, case) -> dict:
    return case_detail_dict(selectors.case_detail(access_for(request.user), case.number))


@router.post("/{number}/accept", response={200: CaseDetail, **ERRORS}, summary="受理")
@requires_scope("cases:write")
def case_accept(request, number: str, payload: NoteIn):
    return _after(
        request, services.case_accept(user=request.user, number=number, note=payload.note)
    )


@router.post("/{number}/refuse", response={200: CaseDetail, **ERRORS}, summary="不予受理")
@requires_scope("cases:write")
def case_refuse(request, number: str, payload: ReasonIn):
    return _after(
        request, services.case_refuse(user=request.user, number=number, reason=payload.reason)
    )


@router.post(
    "/{number}/request-supplements", response={200: CaseDetail, **ERRORS}, summary="一次性告知补正"
)
@requires_scope("cases:write")
def case_request_supplements(request, number: str, payload: SupplementRequestIn):
    return _after(
        request,
        services.case_request_supplements(
            user=request.user,
            number=number,
            missing=[m.dict() for m in payload.missing],
            note=payload.note,
        ),
    )


@router.post("/{number}/supply", response={200: CaseDetail, **ERRORS}, summary="提交补正材料")
@requires_scope("cases:write")
def case_supply(request, number: str, payload: SupplyIn):
    return _after(
        request,
        services.case_supply(
            user=request.user, number=number, files=_decode(payload.materials), note=payload.note
        ),
    )


@router.post(
    "/{number}/approve", response={200: CaseDetail, **NUMBERED}, summary="准予许可（出具结果）"
)
@requires_scope("cases:write")
def case_approve(request, number: str, payload: ApproveIn):
    return _after(
        request,
        services.case_approve(
            user=request.user, number=number, note=payload.note, result_inputs=payload.result
        ),
    )


@router.post("/{number}/deny", response={200: CaseDetail, **ERRORS}, summary="不予许可")
@requires_scope("cases:write")
def case_deny(request, number: str, payload: ReasonIn):
    return _after(
        request, services.case_deny(user=request.user, number=number, reason=payload.reason)
    )


@router.get(
    "/{number}/materials/{material_id}",
    response=READ_ERRORS,
    openapi_extra=binary_response("application/pdf", "image/jpeg", "image/png"),
    summary="下载材料",
)
@requires_scope("cases:read")
def case_material_download(request, number: str, material_id: int = Path(..., ge=1, le=MAX_ID)):
    material = selectors.case_material(access_for(request.user), number, material_id)
    response = HttpResponse(material_read(material.storage_path), content_type=material.media_type)
    response["Content-Disposition"] = (
        f'attachment; filename="{material.material_code}-{material.sm3[:8]}"'
    )
    return response


DOCUMENT_KINDS_HELP = (
    "文书类别：intake（收件凭证）、acceptance（受理回执）、supplement（补正告知书）、"
    "refusal（不予受理通知书）、denial（不予许可决定书）、result（证明/决定书/备案回执）、"
    "conclusion（办结通知书），或 tongban-document/1 的 kind。取该类别最新的一份；"
    "id 指定某一份。"
)


def _document_response(request, number: str, kind: str, extension: str, document_id: str):
    case = selectors.case_detail(access_for(request.user), number)
    content, filename = documents.file_for(case, kind, extension, document_id)
    media = "application/pdf" if extension == "pdf" else "application/ofd"
    response = HttpResponse(content, content_type=media)
    # RFC 6266 with an RFC 5987 filename* for the Chinese name
    response["Content-Disposition"] = content_disposition_header(False, filename)
    response["Cache-Control"] = "private, no-store"
    return response


@router.get(
    "/{number}/documents/{kind}.pdf",
    response=READ_ERRORS,
    openapi_extra=binary_response("application/pdf"),
    summary="办件文书 PDF（收件凭证、受理回执、补正告知书、决定书、证明、办结通知书）",
    description=DOCUMENT_KINDS_HELP,
)
@requires_scope("cases:read")
def case_document(request, number: str, kind: str, id: str = Query("", max_length=40)):
    return _document_response(request, number, kind, "pdf", id)


@router.get(
    "/{number}/documents/{kind}.ofd",
    response=READ_ERRORS,
    openapi_extra=binary_response("application/ofd"),
    summary="办件文书 OFD（GB/T 33190）",
    description=DOCUMENT_KINDS_HELP,
)
@requires_scope("cases:read")
def case_document_ofd(request, number: str, kind: str, id: str = Query("", max_length=40)):
    return _document_response(request, number, kind, "ofd", id)


# --- 送达 (cases.delivery) ------------------------------------------------------------


class WaybillIn(Schema):
    carrier: str
    waybill: str


class PickupIn(Schema):
    id_number: str


@router.get(
    "/{number}/delivery",
    response={200: DeliveryOut, **READ_ERRORS},
    summary="结果送达（申请人及寄送人员可见完整地址）",
)
@requires_scope("cases:read")
def case_delivery_get(request, number: str):
    access = access_for(request.user)
    return delivery.delivery_view(selectors.case_detail(access, number), access)


@router.post(
    "/{number}/delivery/waybill",
    response={200: CaseDetail, **ERRORS},
    summary="邮寄送达：登记快递公司和运单号（已寄出）",
)
@requires_scope("cases:write")
def case_delivery_waybill(request, number: str, payload: WaybillIn):
    return _after(
        request,
        delivery.case_delivery_record_waybill(
            user=request.user, number=number, carrier=payload.carrier, waybill=payload.waybill
        ),
    )


@router.post(
    "/{number}/delivery/delivered",
    response={200: CaseDetail, **ERRORS},
    summary="邮寄送达：登记已送达（签收）",
)
@requires_scope("cases:write")
def case_delivery_delivered(request, number: str):
    return _after(request, delivery.case_delivery_mark_delivered(user=request.user, number=number))


@router.post(
    "/{number}/delivery/pickup",
    response={200: CaseDetail, **ERRORS},
    summary="窗口自取：核对身份证后确认领取",
)
@requires_scope("cases:write")
def case_delivery_pickup(request, number: str, payload: PickupIn):
    return _after(
        request,
        delivery.case_delivery_confirm_pickup(
            user=request.user, number=number, id_number=payload.id_number
        ),
    )


@router.post(
    "/{number}/withdraw",
    response={200: CaseDetail | CompositeDetail, **ERRORS},
    summary="撤回（受理前：申请人本人或收件窗口）",
)
@requires_scope("cases:write")
def case_withdraw(request, number: str, payload: WithdrawIn):
    """Only while the case is 已提交 or 待补正 and not accepted (409 ``not_withdrawable``
    otherwise). A case decided at another node is withdrawn here at once and the
    deciding node is told (``case.withdraw``); if that node had accepted it meanwhile,
    its answer restores the true status and the timeline says the withdrawal failed."""
    if selectors.composite_exists(number):  # a 联办件: every member, before any is accepted
        composite = composites.composite_withdraw(
            user=request.user, number=number, reason=payload.reason
        )
        return composite_dict(
            selectors.composite_detail(access_for(request.user), composite.number)
        )
    return _after(
        request, services.case_withdraw(user=request.user, number=number, reason=payload.reason)
    )


# --- 时限监督 ----------------------------------------------------------------------------

oversight_router = Router(tags=["oversight"], auth=api_auth)


class DueCaseOut(Schema):
    number: str
    item: str
    item_name: str
    organization: str
    organization_name: str
    status: str
    status_label: str
    perspective: str
    receiving_node: str
    submitted_at: dt.datetime
    deadline: dt.date
    legal_deadline: dt.date | None
    deadline_provisional: bool
    overdue: bool
    days_overdue: int
    days_left: int
    composite_number: str
    member_role: str


class OversightOut(Schema):
    as_of: dt.date
    within_days: int
    overdue: list[DueCaseOut]
    approaching: list[DueCaseOut]


def _due_dict(row) -> dict:
    case = row.case
    return {
        "number": case.number,
        "item": case.item.basic_code,
        "item_name": case.item_name,
        "organization": case.handling_organization_id,
        "organization_name": case.handling_organization.name,
        "status": case.status,
        "status_label": str(case.get_status_display()),
        "perspective": case.perspective,
        "receiving_node": case.receiving_node,
        "submitted_at": case.submitted_at,
        "deadline": case.deadline,
        "legal_deadline": case.legal_deadline,
        "deadline_provisional": case.deadline_provisional,
        "overdue": row.overdue,
        "days_overdue": row.days_overdue,
        "days_left": row.days_left,
        "composite_number": case.composite_number,
        "member_role": case.member_role,
    }


@oversight_router.get(
    "/oversight/overdue",
    response={200: OversightOut, **errors(403)},
    summary="时限监督：超期与临近期限的办件（监督人员、审批人员、节点管理员）",
)
@requires_scope("cases:read")
def oversight_overdue(request, within_days: int = Query(3, ge=0, le=60)):
    """Cases decided by the caller's organizations (all of this node's for a node
    administrator) whose time limit runs: ``overdue`` — past the 承诺办结期限, most
    overdue first, ``days_overdue`` in working days; ``approaching`` — due within
    ``within_days`` working days. The clock stops during 补正 and at conclusion, so
    such cases are in neither list. No personal data."""
    from django.utils import timezone

    access = access_for(request.user)
    if not (access.view_orgs or access.node_admin):
        raise PermissionDenied(_("仅监督人员、审批人员或节点管理员可查看时限监督"))
    today = timezone.localdate()
    return {
        "as_of": today,
        "within_days": within_days,
        "overdue": [_due_dict(r) for r in selectors.cases_overdue(access=access, today=today)],
        "approaching": [
            _due_dict(r)
            for r in selectors.cases_due(access=access, within_days=within_days, today=today)
        ],
    }
