"""/api/v1/licences — registry, issuance, wallet, 亮证, 核验, status lists."""

import datetime as dt
import json

from django.conf import settings
from django.http import HttpResponse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from ninja import Field, File, Query, Router, Schema, Status
from ninja.files import UploadedFile

from tongban.api_errors import (
    ACTION_ERRORS,
    MAX_LIMIT,
    MAX_OFFSET,
    READ_ERRORS,
    binary_response,
    errors,
)
from tongban.documents.ofd import document_ofd
from tongban.documents.rendering import document_filename
from tongban.errors import DomainError
from tongban.identity.authentication import api_auth, requires_scope
from tongban.identity.selectors import access_for
from tongban.licences import selectors, services
from tongban.licences.documents import licence_file_document, licence_pdf
from tongban.licences.models import Licence, LicenceType, WalletEntry
from tongban.licences.qr_images import qr_text_from_image
from tongban.licences.verification import presentation_verify

router = Router(tags=["licences"])


ERRORS = ACTION_ERRORS


class LicenceHolderIn(Schema):
    name: str
    id_number: str
    home_node: str = ""


class LicenceIssueIn(Schema):
    type: str
    organization: str
    holder: LicenceHolderIn
    fields: dict
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None


class LicenceStatusActionIn(Schema):
    reason: str = ""


class LicenceRenewIn(Schema):
    fields: dict = {}
    valid_to: dt.date | None = None


class LicencePresentationIn(Schema):
    fields: list[str] = Field(
        description="claims disclosed in full; an identifier field (the 身份证号) only if named"
    )
    ttl_seconds: int | None = Field(None, ge=10, le=3600)
    masked: list[str] | None = Field(
        None,
        description="identifier fields shown masked (3304**********1236); "
        "default: every identifier field not in `fields`",
    )


class LicenceVerifyIn(Schema):
    qr_text: str
    online: bool = Field(
        True,
        description="联网查询: fetch the issuer's status list first (falls back to the cache, "
        "saying so in status.online_failed)",
    )


def _status(licence: Licence | WalletEntry) -> dict:
    expired = bool(licence.valid_to and licence.valid_to < timezone.localdate())
    return {
        "status": licence.status,
        "status_label": str(licence.get_status_display()),
        "expired": expired,
    }


def _issued_dict(licence: Licence, *, with_values: bool = False) -> dict:
    data = {
        "identifier": licence.identifier,
        "type": {"code": licence.licence_type.code, "name": licence.licence_type.name},
        "organization": {"code": licence.organization.code, "name": licence.organization.name},
        "version": licence.version,
        "holder_name": licence.holder_name,
        "holder_home_node": licence.holder_home_node,
        "issued_on": licence.issued_on,
        "valid_from": licence.valid_from,
        "valid_to": licence.valid_to,
        "status_reason": licence.status_reason,
        "case_number": licence.case_number,
        **_status(licence),
    }
    if with_values:
        values = services.licence_values(licence)
        data["fields"] = {k: v for k, v in values.items() if k not in ("holder_name", "holder_id")}
        data["payload"] = licence.payload
        data["signature"] = licence.signature
    return data


def _wallet_dict(entry: WalletEntry, *, with_values: bool = False) -> dict:
    data = {
        "identifier": entry.identifier,
        "type": {"code": entry.type_code, "name": entry.type_name},
        "holder_type": entry.holder_type,
        "issuer": {"node": entry.issuer_node, "code": entry.issuer_code, "name": entry.issuer_name},
        "version": entry.version,
        "valid_from": entry.valid_from,
        "valid_to": entry.valid_to,
        **_status(entry),
    }
    if with_values:
        licence_type = LicenceType.objects.filter(code=entry.type_code).first()
        labels = licence_type.claim_labels() if licence_type else {}
        data["fields"] = [
            {"key": k, "label": str(labels.get(k, k)), "value": v}
            for k, v in services.licence_values(entry).items()
        ]
    return data


# --- public: registry, status lists, verification ---------------------------------


@router.get("/licence-types", response={200: dict}, summary="电子证照类型目录与互认范围", auth=None)
def licence_types(request):
    return {"types": services.licence_types_document()}


@router.get(
    "/licences/status-lists/{node_id}",
    response={200: dict, **errors(404)},
    summary="本节点的签名状态列表（Token Status List，每证 2 位）",
    auth=None,
)
def status_list(request, node_id: str):
    if node_id != settings.TONGBAN_NODE:
        raise DomainError("not_found", _("本节点只提供自己的状态列表"), status=404)
    return json.loads(services.status_list_current().document)


@router.post(
    "/licences/verifications",
    response={200: dict},
    summary="核验亮证码（二维码文本）",
    auth=None,
)
def verify(request, payload: LicenceVerifyIn):
    verdict = presentation_verify(payload.qr_text, online=payload.online)
    services.verification_record(verdict=verdict, channel="api", online=payload.online)
    return verdict.as_dict()


@router.post(
    "/licences/verifications/image",
    response={200: dict, **errors(400, 413)},
    summary="核验亮证码（上传二维码图片）",
    auth=None,
)
def verify_image(request, image: File[UploadedFile], online: bool = True):
    text = qr_text_from_image(image.read(settings.TONGBAN_MATERIAL_MAX_BYTES + 1))
    verdict = presentation_verify(text, online=online)
    services.verification_record(verdict=verdict, channel="api", online=online)
    return verdict.as_dict()


# --- issuing authority ---------------------------------------------------------------


@router.post("/licences", response={201: dict, **ERRORS}, summary="颁发电子证照", auth=api_auth)
@requires_scope("licences:write")
def licence_issue(request, payload: LicenceIssueIn):
    licence = services.licence_issue(
        user=request.user,
        type_code=payload.type,
        organization_code=payload.organization,
        holder={"name": payload.holder.name, "id_number": payload.holder.id_number},
        holder_home_node=payload.holder.home_node,
        fields=payload.fields,
        valid_from=payload.valid_from,
        valid_to=payload.valid_to,
    )
    return Status(201, _issued_dict(licence, with_values=True))


@router.get("/licences", response={200: dict}, summary="本机构颁发的证照", auth=api_auth)
@requires_scope("licences:read")
def licences_issued(
    request,
    limit: int = Query(50, ge=1, le=MAX_LIMIT),
    offset: int = Query(0, ge=0, le=MAX_OFFSET),
):
    rows = selectors.licences_issued_visible_to(request.user)
    return {
        "count": rows.count(),
        "results": [_issued_dict(r) for r in rows[offset : offset + limit]],
    }


@router.get(
    "/licences/issued/{identifier}",
    response={200: dict, **READ_ERRORS},
    summary="颁发的证照详情",
    auth=api_auth,
)
@requires_scope("licences:read")
def licence_issued_detail(request, identifier: str):
    return _issued_dict(selectors.licence_issued(request.user, identifier), with_values=True)


@router.post(
    "/licences/issued/{identifier}/renewals",
    response={201: dict, **ERRORS},
    summary="换发（新版本，旧版本失效）",
    auth=api_auth,
)
@requires_scope("licences:write")
def licence_renew(request, identifier: str, payload: LicenceRenewIn):
    licence = services.licence_renew(
        user=request.user, identifier=identifier, fields=payload.fields, valid_to=payload.valid_to
    )
    return Status(201, _issued_dict(licence, with_values=True))


@router.get(
    "/licences/issued/{identifier}/pdf",
    response=READ_ERRORS,
    openapi_extra=binary_response("application/pdf"),
    summary="证照 PDF（发证机构）",
    auth=api_auth,
)
@requires_scope("licences:read")
def licence_issued_pdf(request, identifier: str):
    licence = selectors.licence_issued(request.user, identifier)
    return _pdf(licence_pdf(licence, services.licence_values(licence)), identifier)


@router.get(
    "/licences/issued/{identifier}/ofd",
    response=READ_ERRORS,
    openapi_extra=binary_response("application/ofd"),
    summary="证照 OFD（发证机构，GB/T 33190）",
    auth=api_auth,
)
@requires_scope("licences:read")
def licence_issued_ofd(request, identifier: str):
    licence = selectors.licence_issued(request.user, identifier)
    return _ofd(licence_file_document(licence, services.licence_values(licence)))


@router.post(
    "/licences/issued/{identifier}/{action}",
    response={200: dict, **ERRORS},
    summary="暂扣（suspend）/ 恢复（reinstate）/ 吊销（revoke）",
    auth=api_auth,
)
@requires_scope("licences:write")
def licence_status_action(request, identifier: str, action: str, payload: LicenceStatusActionIn):
    licence = services.licence_status_change(
        user=request.user, identifier=identifier, action=action, reason=payload.reason
    )
    return _issued_dict(licence)


def _pdf(content: bytes, identifier: str) -> HttpResponse:
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="licence-{identifier}.pdf"'
    return response


def _ofd(document) -> HttpResponse:
    response = HttpResponse(document_ofd(document), content_type="application/ofd")
    response["Content-Disposition"] = content_disposition_header(
        True, document_filename(document, "ofd")
    )
    return response


# --- the holder's wallet -----------------------------------------------------------------


@router.get(
    "/wallet", response={200: dict}, summary="我的证照夹（含所办企业的证照）", auth=api_auth
)
@requires_scope("licences:read")
def wallet(request):
    entries = selectors.wallet_entries_for(request.user)
    return {"results": [_wallet_dict(e) for e in entries]}


@router.get("/wallet/uses", response={200: dict}, summary="我的用证记录", auth=api_auth)
@requires_scope("licences:read")
def wallet_uses(request):
    return {"results": [_use_dict(u) for u in selectors.licence_uses_for(request.user)[:200]]}


def _use_dict(use) -> dict:
    return {
        "identifier": use.identifier,
        "type_name": use.type_name,
        "requester_node": use.requester_node,
        "requester_name": use.requester_name,
        "case_number": use.case_number,
        "item_name": use.item_name,
        "purpose": use.purpose,
        "used_at": use.used_at,
    }


@router.get(
    "/wallet/{identifier}", response={200: dict, **READ_ERRORS}, summary="证照详情", auth=api_auth
)
@requires_scope("licences:read")
def wallet_entry(request, identifier: str):
    entry = selectors.wallet_entry_for(request.user, identifier)
    data = _wallet_dict(entry, with_values=True)
    data["uses"] = [_use_dict(u) for u in selectors.licence_uses_for(request.user, identifier)]
    return data


@router.get(
    "/wallet/{identifier}/pdf",
    response=READ_ERRORS,
    openapi_extra=binary_response("application/pdf"),
    summary="证照 PDF",
    auth=api_auth,
)
@requires_scope("licences:read")
def wallet_entry_pdf(request, identifier: str):
    entry = selectors.wallet_entry_for(request.user, identifier)
    return _pdf(licence_pdf(entry, services.licence_values(entry)), identifier)


@router.get(
    "/wallet/{identifier}/ofd",
    response=READ_ERRORS,
    openapi_extra=binary_response("application/ofd"),
    summary="证照 OFD（GB/T 33190）",
    auth=api_auth,
)
@requires_scope("licences:read")
def wallet_entry_ofd(request, identifier: str):
    entry = selectors.wallet_entry_for(request.user, identifier)
    return _ofd(licence_file_document(entry, services.licence_values(entry)))


@router.post(
    "/wallet/{identifier}/presentations",
    response={201: dict, **ERRORS},
    summary="亮证：选择出示的信息项，生成限时二维码",
    auth=api_auth,
)
@requires_scope("licences:write")
def presentation_create(request, identifier: str, payload: LicencePresentationIn):
    presentation = services.presentation_create(
        user=request.user,
        identifier=identifier,
        fields=payload.fields,
        ttl_seconds=payload.ttl_seconds,
        masked=payload.masked,
    )
    return Status(201, presentation)


@router.get(
    "/licences/counters", response={200: dict, **errors(403)}, summary="证照计数", auth=api_auth
)
@requires_scope("licences:read")
def counters(request):
    access = access_for(request.user)
    if not (access.node_admin or access.view_orgs):
        raise DomainError("forbidden", _("仅限本节点工作人员"), status=403)
    return {"node": settings.TONGBAN_NODE, "counters": selectors.counters_summary()}
