"""用证: a case uses an e-licence instead of a paper material.

1. Where the application is made (the holder's home node online, or a window
   with the holder present) the holder picks the licence and consents; that
   node signs a consent bound to the case, the material, the purpose and the
   requesting (handling) node.
2. The handling node asks the issuing node for the licence with
   ``licence.fetch``, carrying the consent.
3. The issuing node checks the consent and the recognition matrix, answers
   with ``licence.deliver`` (the signed licence and all its disclosures, with
   its current status) and tells the holder's home node (``licence.used``).
4. The handling node verifies the issuer's signature, the digests, the status,
   the validity and that the holder is the applicant, and records the
   material as 免交（电子证照）.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from uuid6 import uuid7

from tongban.directory.signing import peer_public_key, sign_detached
from tongban.errors import DomainError
from tongban.exchange.envelopes import iso, parse_time
from tongban.exchange.handlers import HandlerRefusal
from tongban.exchange.services import outbox_enqueue
from tongban.gm import sm2
from tongban.gm.canonical import canonical_json
from tongban.identity.pii import blind_index, decrypt_identifier, encrypt_at_rest
from tongban.licences import formats
from tongban.licences.models import (
    CaseLicenceStatus,
    Licence,
    LicenceStatus,
    LicenceType,
    LicenceUse,
    WalletEntry,
)
from tongban.licences.services import counter_add, licence_disclosures
from tongban.sharing.data_use import data_use_report

PURPOSE = "government_service"


def recognition_check(licence_type: LicenceType, node_id: str, purpose: str = PURPOSE) -> None:
    if not licence_type.recognized(node_id, purpose):
        from tongban.directory.models import Node

        node = Node.objects.filter(node_id=node_id).first()
        raise DomainError(
            "licence_not_recognized",
            _(
                "《%(type)s》不在%(place)s的电子证照互认范围内（用途：政务服务办事），请上传纸质材料的扫描件"
            )
            % {"type": licence_type.name, "place": node.name if node else node_id},
        )


@dataclass
class LicenceChoice:
    """A material the applicant replaces with a licence, checked at the applying node."""

    material_code: str
    material_name: str
    identifier: str
    issuer_node: str
    licence_type: LicenceType
    holder_id: str


def licence_choices_resolve(
    *,
    item,
    handling_node: str,
    applicant_id: str,
    enterprise_code: str,
    choices: list[dict],
    consent: bool,
) -> list[LicenceChoice]:
    """Check each chosen licence before the case is created: the material accepts
    that type, the licence is the holder's and valid, the handling province
    recognizes it for government service, and the holder consented."""
    if not choices:
        return []
    if not consent:
        raise DomainError("consent_required", _("使用电子证照须由持证人同意授权办理机构调取该证照"))
    materials = {m.code: m for m in item.materials.all()}
    resolved: list[LicenceChoice] = []
    for choice in choices:
        if not isinstance(choice, dict):
            raise DomainError("invalid_licence_choice", _("电子证照选择格式不正确"))
        code = str(choice.get("material_code", ""))
        material = materials.get(code)
        licence_type = (
            LicenceType.objects.filter(name=material.licence_type, active=True).first()
            if material is not None and material.licence_type
            else None
        )
        if licence_type is None:
            raise DomainError(
                "licence_not_accepted",
                _("材料 %(code)s 不能以电子证照代替") % {"code": code},
            )
        if any(r.material_code == code for r in resolved):
            raise DomainError("invalid_licence_choice", _("同一材料只能选择一个电子证照"))
        holder_id = enterprise_code if licence_type.holder_type == "enterprise" else applicant_id
        identifier, issuer_node, type_code = _chosen_licence(choice, holder_id)
        if type_code != licence_type.code:
            raise DomainError(
                "licence_wrong_type",
                _("“%(material)s”需要《%(type)s》")
                % {"material": material.name, "type": licence_type.name},
            )
        recognition_check(licence_type, handling_node)
        resolved.append(
            LicenceChoice(
                material_code=code,
                material_name=material.name,
                identifier=identifier,
                issuer_node=issuer_node,
                licence_type=licence_type,
                holder_id=holder_id,
            )
        )
    return resolved


def _chosen_licence(choice: dict, holder_id: str) -> tuple[str, str, str]:
    """(identifier, issuer node, type code) from the holder's wallet here, or from a
    亮证 QR code the holder shows at the window."""
    if choice.get("qr_text"):
        from tongban.licences.services import verification_record
        from tongban.licences.verification import presentation_verify

        verdict = presentation_verify(str(choice["qr_text"]))
        verification_record(verdict=verdict, channel="window")
        if not verdict.ok:
            raise DomainError(
                "licence_presentation_invalid",
                _("亮证码核验未通过：%(label)s") % {"label": verdict.label},
            )
        disclosed = {d["key"]: d["value"] for d in verdict.disclosed if not d.get("masked")}
        if str(disclosed.get("holder_id", "")).upper() != holder_id.upper():
            raise DomainError(
                "licence_not_holders",
                _("亮证码须出示持证人证件号码，且持证人须为申请人（或申请企业）"),
            )
        return verdict.identifier, verdict.issuer_node, verdict.type_code
    entry = WalletEntry.objects.filter(
        identifier=str(choice.get("identifier", "")), holder_id_index=blind_index(holder_id)
    ).first()
    if entry is None:
        raise DomainError("licence_not_found", _("证照夹中没有该证照"))
    if entry.status != LicenceStatus.VALID or (
        entry.valid_to and entry.valid_to < timezone.localdate()
    ):
        raise DomainError(
            "licence_not_valid",
            _("《%(type)s》当前不可用（已失效或已过期）") % {"type": entry.type_name},
        )
    return entry.identifier, entry.issuer_node, entry.type_code


def consent_sign(
    *,
    identifier: str,
    issuer_node: str,
    holder_type: str,
    holder_id: str,
    case_number: str,
    item: dict,
    material: dict,
    requester: dict,
    channel: str,
    window: dict | None,
    officer: str,
) -> dict:
    """The consent this node vouches for: this holder lets ``requester`` use this
    licence for this case's material, now, for government service."""
    now = timezone.now()
    document = {
        "format": formats.CONSENT_FORMAT,
        "id": str(uuid7()),
        "licence": identifier,
        "issuer_node": issuer_node,
        "holder": {"id_type": formats.HOLDER_ID_TYPES[holder_type], "id_number": holder_id},
        "case": case_number,
        "item": item,
        "material": material,
        "purpose": PURPOSE,
        "requester": requester,
        "granted_by": {
            "node": settings.TONGBAN_NODE,
            "channel": channel,
            "window": window,
            "officer": officer,
        },
        "granted_at": iso(now),
        "expires_at": iso(now + dt.timedelta(days=settings.TONGBAN_CONSENT_VALIDITY_DAYS)),
    }
    return {"document": document, "signature": sign_detached(canonical_json(document))}


def fetch_request(*, case_number: str, material_code: str, consent: dict) -> None:
    """Handling node: ask the issuing node for the licence (inside the case's transaction)."""
    document = consent["document"]
    body = {
        "case": case_number,
        "material_code": material_code,
        "identifier": document["licence"],
        "consent": consent,
    }
    if document["issuer_node"] == settings.TONGBAN_NODE:
        try:
            with transaction.atomic():
                delivery = fetch_serve(requester=settings.TONGBAN_NODE, body=body)
        except HandlerRefusal as refusal:
            fetch_refused(case_number=case_number, material_code=material_code, code=refusal.code)
            return
        deliver_receive(body=delivery, sender=settings.TONGBAN_NODE)
        return
    outbox_enqueue(
        type="licence.fetch",
        recipient=document["issuer_node"],
        correlation=case_number,
        subject={"holder": document["holder"]["id_type"]},
        purpose={"code": PURPOSE, "case": case_number, "consent": document["id"]},
        body=body,
    )
    from tongban.cases.models import CaseMaterial

    CaseMaterial.objects.filter(
        case__number=case_number, material_code=material_code, licence_state="consented"
    ).update(licence_state="requested")


def _consent_check(consent: object, *, requester: str, body: dict, licence: Licence) -> dict:
    if not isinstance(consent, dict):
        raise HandlerRefusal("no consent", code="consent_invalid")
    try:
        document = formats.signed_part(consent, "document")
    except formats.FormatError as exc:
        raise HandlerRefusal(str(exc), code="consent_invalid") from exc
    signature = consent.get("signature") if isinstance(consent.get("signature"), dict) else {}
    granted_by = document.get("granted_by") if isinstance(document.get("granted_by"), dict) else {}
    node_id = granted_by.get("node")
    public_key = (
        peer_public_key(node_id, str(signature.get("kid", "")))
        if isinstance(node_id, str)
        else None
    )
    if public_key is None or not sm2.verify_b64(
        public_key, canonical_json(document), str(signature.get("value", ""))
    ):
        raise HandlerRefusal("consent signature does not verify", code="consent_invalid")
    requester_doc = document.get("requester") if isinstance(document.get("requester"), dict) else {}
    holder = document.get("holder") if isinstance(document.get("holder"), dict) else {}
    try:
        expires_at = parse_time(document.get("expires_at"))
    except ValueError as exc:
        raise HandlerRefusal("consent has no expiry", code="consent_invalid") from exc
    problems = [
        (document.get("format") != formats.CONSENT_FORMAT, "unknown consent format"),
        (document.get("licence") != licence.identifier, "consent is for another licence"),
        (document.get("case") != body.get("case"), "consent is for another case"),
        (requester_doc.get("node") != requester, "consent names another requester"),
        (document.get("purpose") != PURPOSE, "consent is for another purpose"),
        (expires_at <= timezone.now(), "consent has expired"),
        (
            blind_index(str(holder.get("id_number", ""))) != licence.holder_id_index,
            "consent was not given by the licence's holder",
        ),
        (
            granted_by.get("channel") == "online" and node_id != licence.holder_home_node,
            "online consent must come from the holder's home node",
        ),
        (granted_by.get("channel") not in ("online", "window"), "unknown consent channel"),
    ]
    for failed, reason in problems:
        if failed:
            raise HandlerRefusal(reason, code="consent_invalid")
    if granted_by.get("channel") == "window":
        from tongban.directory.models import Window

        window = granted_by.get("window") if isinstance(granted_by.get("window"), dict) else {}
        if not Window.objects.filter(
            code=str(window.get("code", "")), node__node_id=node_id, active=True
        ).exists():
            raise HandlerRefusal(
                "a window consent must name one of the signing node's windows",
                code="consent_invalid",
            )
    return document


def fetch_serve(*, requester: str, body: dict) -> dict:
    """Issuing node: check the consent and recognition, record the use, hand the licence out."""
    licence = (
        Licence.objects.select_related("licence_type", "organization")
        .filter(identifier=str(body.get("identifier", "")))
        .first()
    )
    if licence is None:
        raise HandlerRefusal("no such licence was issued here", code="unknown_licence")
    document = _consent_check(body.get("consent"), requester=requester, body=body, licence=licence)
    if not licence.licence_type.recognized(requester, PURPOSE):
        raise HandlerRefusal(
            f"{licence.licence_type.name} is not recognized at {requester} for {PURPOSE}",
            code="not_recognized",
        )
    now = timezone.now()
    if LicenceUse.objects.filter(consent_id=document["id"]).exists():
        raise HandlerRefusal("this consent was already used", code="consent_invalid")
    requester_doc = document["requester"]
    use = {
        "identifier": licence.identifier,
        "consent_id": document["id"],
        "requester_node": requester,
        "requester_code": str(requester_doc.get("organization", ""))[:18],
        "requester_name": str(requester_doc.get("organization_name", ""))[:128],
        "case_number": str(body.get("case"))[:64],
        "item_name": str((document.get("item") or {}).get("name", ""))[:128],
        "purpose": PURPOSE,
        "used_at": iso(now),
    }
    LicenceUse.objects.create(
        identifier=licence.identifier,
        holder_id_index=licence.holder_id_index,
        type_name=licence.licence_type.name,
        requester_node=requester,
        requester_code=use["requester_code"],
        requester_name=use["requester_name"],
        case_number=use["case_number"],
        item_name=use["item_name"],
        purpose=PURPOSE,
        used_at=now,
        consent_id=document["id"],
    )
    if licence.licence_type.holder_type == "person":  # 我的数据使用记录, beside the 用证记录
        data_use_report(
            kind="licence_fetch",
            subject_id_number=decrypt_identifier(licence.holder_id_encrypted),
            used_at=now,
            user_node=requester,
            user_organization_code=use["requester_code"],
            user_organization_name=use["requester_name"] or requester,
            dataset_code=licence.licence_type.code,
            dataset_name=licence.licence_type.name,
            fields=list(licence.licence_type.claim_labels().values()),
            case_number=use["case_number"],
            item_name=use["item_name"],
            purpose=f"办理{use['item_name']}" if use["item_name"] else "政务服务用证",
            consent_id=document["id"],
        )
    if licence.holder_home_node != settings.TONGBAN_NODE:
        outbox_enqueue(
            type="licence.used",
            recipient=licence.holder_home_node,
            correlation=f"licence-{licence.family}",
            purpose={"code": "use_history", "name": "用证记录"},
            body=use,
        )
    counter_add(type_code=licence.licence_type.code, event="share")
    delivery = {
        "case": body.get("case"),
        "material_code": body.get("material_code"),
        "identifier": licence.identifier,
        "licence": {"payload": licence.payload, "signature": licence.signature},
        "disclosures": licence_disclosures(licence),
        "status": licence.status,
        "status_changed_at": iso(licence.status_changed_at),
        "consent_id": document["id"],
    }
    if requester != settings.TONGBAN_NODE:
        outbox_enqueue(
            type="licence.deliver",
            recipient=requester,
            correlation=str(body.get("case"))[:64],
            purpose={"code": PURPOSE, "case": body.get("case"), "consent": document["id"]},
            body=delivery,
        )
    return delivery


def _material_for(case_number: str, material_code: str, identifier: str):
    from tongban.cases.models import CaseMaterial

    return (
        CaseMaterial.objects.select_for_update()
        .select_related("case")
        .filter(
            case__number=case_number,
            case__perspective__in=("handling", "local"),
            material_code=str(material_code)[:8],
            licence_identifier=identifier,
        )
        .first()
    )


def deliver_receive(*, body: dict, sender: str) -> None:
    """Handling node: verify the delivered licence and record the material."""
    from tongban.licences.verification import Verdict, _Stop, licence_check

    identifier = str(body.get("identifier", ""))
    material = _material_for(
        str(body.get("case", "")), str(body.get("material_code", "")), identifier
    )
    if material is None or material.licence_state not in ("requested", "consented"):
        raise HandlerRefusal("no material is waiting for this licence")
    result = Verdict(verdict="tampered")
    note, state = "", "verified"
    try:
        payload, values = licence_check(body.get("licence"), body.get("disclosures"), result)
        if result.identifier != identifier or result.issuer_node != sender:
            raise _Stop("tampered", "licence does not match the request")
    except _Stop as stop:
        state, note = "invalid", f"{stop.verdict}: {stop.reason}"
        values, payload = {}, {}
    case = material.case
    if state == "verified":
        holder_id = str(values.get("holder_id", ""))
        enterprise_licence = result.licence_type and result.licence_type.holder_type == "enterprise"
        expected = case.enterprise_code if enterprise_licence else case.applicant_id_number
        valid_to = payload.get("valid_to")
        if body.get("status") != LicenceStatus.VALID:
            state, note = (
                "invalid",
                _("证照状态：%(s)s")
                % {
                    "s": LicenceStatus(body.get("status")).label
                    if body.get("status") in LicenceStatus.values
                    else "?"
                },
            )
        elif valid_to and dt.date.fromisoformat(valid_to) < timezone.localdate():
            state, note = "invalid", _("证照已过有效期")
        elif holder_id.upper() != expected.upper():
            state, note = "invalid", _("证照持有人与申请人不一致")
    material.licence_state = state
    material.licence_note = str(note)[:300]
    material.uploaded_at = timezone.now()
    if state == "verified":
        material.licence_disclosures_encrypted = encrypt_at_rest(json.dumps(body["disclosures"]))
        counter_add(type_code=result.type_code, event="use")
    material.save()
    if payload:
        _used_status_record(material, result, payload, str(body.get("status", "")))


def _used_status_record(material, result, payload: dict, status: str) -> None:
    """Remember where the used licence's status lives, to check it again later."""
    status_ref = payload.get("status") if isinstance(payload.get("status"), dict) else {}
    index = status_ref.get("idx")
    now = timezone.now()
    CaseLicenceStatus.objects.update_or_create(
        case_number=material.case.number,
        material_code=material.material_code,
        defaults={
            "identifier": result.identifier,
            "type_code": result.type_code,
            "type_name": result.type_name,
            "issuer_node": result.issuer_node,
            "status_index": index if isinstance(index, int) and index >= 0 else None,
            "status_at_use": status if status in LicenceStatus.values else "",
            "status": status if status in LicenceStatus.values else "",
            "status_time": now,
            "checked_at": now,
            "source": "delivery",
            "error": "",
        },
    )


# --- the status of used licences, checked again when the official acts ---------------


def _used_status_update(row: CaseLicenceStatus, *, now, fetched: bool | None) -> None:
    """Read the row's status from the issuer's list as this node has it now.
    ``fetched``: True/False after an online attempt, None for a cache-only read."""
    from tongban.licences.trust_snapshot import trust_snapshot
    from tongban.licences.verification import status_of

    licence_type = trust_snapshot().licence_types.get(row.type_code)
    if licence_type is None or row.status_index is None:
        return
    status, cached = status_of(row.issuer_node, row.status_index, licence_type, now=now)
    if row.issuer_node == settings.TONGBAN_NODE:
        row.status, row.status_time, row.source = status or "", now, "issuer"
    elif cached is not None and status is not None:
        if fetched is None and cached.issued_at <= row.status_time:
            return  # nothing newer than what the row already says
        row.status, row.status_time = status, cached.issued_at
        row.source = "online" if fetched else "cache"
    elif fetched is None:
        return
    else:
        row.status = ""  # no list young enough: unknown
    row.checked_at = now
    row.error = (
        "" if fetched is not False else _("联网查询发证节点失败，使用本节点缓存的状态列表")[:300]
    )
    row.save()


def case_licences_recheck(*, number: str) -> list[CaseLicenceStatus]:
    """免证办: before the official acts on a case, ask each issuing node of the
    licences the case used for its current status list (online, outside any
    transaction) and record each licence's status now. Never raises for a peer
    that does not answer: the cached list is used and the row says so."""
    from tongban.licences.verification import status_list_fetch_online

    rows = list(CaseLicenceStatus.objects.filter(case_number=number))
    now = timezone.now()
    fetched = {node: status_list_fetch_online(node) for node in {r.issuer_node for r in rows}}
    for row in rows:
        _used_status_update(row, now=now, fetched=fetched[row.issuer_node])
    return rows


def case_licences_block(*, case, action: str) -> None:
    """Refuse 准予 while a licence the case used is revoked or suspended at its
    issuer (as last checked); the other decisions go on, the case page warns."""
    if action != "approve":
        return
    for row in CaseLicenceStatus.objects.filter(case_number=case.number).order_by("material_code"):
        if row.blocks_approval:
            raise DomainError(
                "licence_no_longer_valid",
                _(
                    "申请使用的《%(type)s》在发证机构的状态为“%(status)s”（核验于 %(at)s），"
                    "不能准予许可；请一次性告知补正（改交其他材料）或作出不予许可决定"
                )
                % {
                    "type": row.type_name,
                    "status": LicenceStatus(row.status).label,
                    "at": timezone.localtime(row.status_time).strftime("%Y-%m-%d %H:%M"),
                },
                status=409,
            )


def case_licence_statuses(case) -> list[CaseLicenceStatus]:
    """For the case page: each used licence's status, refreshed from this node's
    cached status lists when they are newer (no network)."""
    if case.perspective not in ("handling", "local"):
        return []
    rows = list(CaseLicenceStatus.objects.filter(case_number=case.number).order_by("material_code"))
    now = timezone.now()
    for row in rows:
        _used_status_update(row, now=now, fetched=None)
    return rows


def fetch_refused(*, case_number: str, material_code: str, code: str) -> None:
    """Handling node: the issuing node would not give the licence."""
    from tongban.cases.models import CaseMaterial

    labels = {
        "not_recognized": _("发证节点答复：该证照不在本地互认范围"),
        "consent_invalid": _("发证节点答复：用证授权无效"),
        "unknown_licence": _("发证节点答复：证照不存在"),
    }
    CaseMaterial.objects.filter(
        case__number=case_number,
        material_code=material_code,
        licence_state__in=("requested", "consented"),
    ).update(licence_state="refused", licence_note=str(labels.get(code, code))[:300])
