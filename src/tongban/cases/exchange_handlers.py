"""Applying the peer's case envelopes to this node's cases."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from tongban.cases.data_checks import case_data_checks_start
from tongban.cases.delivery import delivery_from_peer, delivery_received
from tongban.cases.materials import CheckedFile, filename_normalize, sniff_media_type
from tongban.cases.models import Case, CaseResult, CaseStatus
from tongban.cases.oversight import composite_trace_store
from tongban.cases.services import (
    WITHDRAWABLE,
    Actor,
    case_event_announce,
    deadline_clock_start,
    enterprise_update_apply,
    licence_material_create,
    local_date,
    materials_attach,
    member_changed_send,
    status_record,
    withdrawn_record,
)
from tongban.cases.stages import inputs_dump
from tongban.cases.stored_pii import assertion_for_storage, form_for_storage
from tongban.catalog.models import Implementation
from tongban.directory.models import Window
from tongban.directory.signing import peer_public_key
from tongban.documents.services import DocumentRejected, document_copy_store
from tongban.errors import DomainError
from tongban.exchange.envelopes import VerifiedEnvelope, parse_time
from tongban.exchange.handlers import HandlerRefusal, inbox_handler, on_delivered
from tongban.gm import sm2
from tongban.gm.canonical import canonical_json
from tongban.identity.pii import blind_index, encrypt_identifier
from tongban.identity.residence import home_node_of
from tongban.identity.services import assurance_at_least, person_upsert
from tongban.licences.models import LicenceType
from tongban.licences.sharing import PURPOSE, fetch_request
from tongban.sharing.consent import data_consents_clean
from tongban.sharing.data_use import data_use_report
from tongban.sharing.enterprise_registry import AgentAuthorizationInvalid, agent_authorization_check


def _actor(raw: dict, sender: str) -> Actor:
    raw = raw if isinstance(raw, dict) else {}
    return Actor(
        name=str(raw.get("name", ""))[:64], place=str(raw.get("place", ""))[:128], node=sender
    )


def _files(refs: list[dict], blobs: dict[str, bytes]) -> list[CheckedFile]:
    files = []
    for ref in refs if isinstance(refs, list) else []:
        content = blobs.get(ref.get("sm3", "")) if isinstance(ref, dict) else None
        if content is None:
            raise HandlerRefusal("a material arrived without its content")
        if sniff_media_type(content) is None:
            raise HandlerRefusal(f"material {ref.get('material_code')} is not a PDF/JPEG/PNG file")
        files.append(
            CheckedFile(
                material_code=str(ref["material_code"])[:8],
                name=str(ref.get("name", ""))[:128],
                # a peer's names are normalized as local uploads are (materials.py)
                filename=filename_normalize(str(ref.get("filename", ""))),
                media_type=str(ref.get("media_type", ""))[:64],
                content=content,
                sm3=ref["sm3"],
            )
        )
    return files


def _documents_store(raw: object, *, number: str, sender: str) -> int:
    """Keep verified copies of the documents a peer issued for this case (收件凭证, 回执,
    决定书, 证明 …). A document that does not verify, is not the sender's or not this
    case's is refused like any bad peer input: the whole message is, nothing is half-applied,
    and the sender may retry (storing is idempotent)."""
    if raw is None:
        return 0
    if not isinstance(raw, list) or len(raw) > 20:
        raise HandlerRefusal("'documents' must be a list of at most 20 signed documents")
    for entry in raw:
        if not isinstance(entry, dict):
            raise HandlerRefusal("a document must be an object")
        record, signature = entry.get("record"), entry.get("signature")
        if not isinstance(record, dict) or not isinstance(signature, dict):
            raise HandlerRefusal("a document needs its record and signature")
        issuer = record.get("issuer") if isinstance(record.get("issuer"), dict) else {}
        if issuer.get("node") != sender or record.get("case_number") != number:
            raise HandlerRefusal("a document of another issuer or another case")
        try:
            document_copy_store(record=record, signature=signature)
        except (DocumentRejected, KeyError, TypeError, ValueError) as exc:
            raise HandlerRefusal(f"document refused: {exc}") from exc
    return len(raw)


def _refuse_assertion(reason: str, *, sender: str) -> None:
    # the inbox writes the security event once this handler's effects are rolled back
    raise HandlerRefusal(f"identity assertion refused: {reason}", code="forged_assertion")


def _check_assertion(
    assertion,
    *,
    sender: str,
    channel: str,
    item,
    window,
    applicant: dict,
    case_number: str = "",
    organization_code: str = "",
) -> None:
    """The sending node may only vouch for what it can know: its own residents online,
    or a person verified in person at one of its own windows."""
    if not isinstance(assertion, dict) or not isinstance(assertion.get("subject"), dict):
        _refuse_assertion("missing or malformed identity assertion", sender=sender)
    by = assertion.get("authenticated_by")
    if not isinstance(by, dict) or by.get("node") != sender:
        _refuse_assertion("asserted by another node than the sender", sender=sender)
    subject = assertion["subject"]
    if subject.get("id_number") != applicant.get("id_number"):
        _refuse_assertion("assertion subject is not the applicant", sender=sender)
    if not assurance_at_least(str(assertion.get("assurance")), item.min_assurance):
        raise HandlerRefusal("assurance below the item's minimum", code="assurance_too_low")
    if channel == "online":
        if by.get("home_node") != sender:
            _refuse_assertion("the sender is not the subject's home node", sender=sender)
        home = home_node_of(str(subject.get("id_number", "")))
        if home and home != sender:
            # one home node per person for the whole region (ADR 0010)
            _refuse_assertion("the subject's 身份证号 belongs to another node", sender=sender)
    elif channel == "window":
        code = (by.get("window") or {}).get("code") if isinstance(by.get("window"), dict) else None
        if not Window.objects.filter(code=code, node__node_id=sender).exists():
            _refuse_assertion("window is not one of the sender's windows", sender=sender)
    else:
        _refuse_assertion(f"unknown channel {channel}", sender=sender)
    try:  # an agent's signed authorization, checked against the registry (§10.1)
        agent_authorization_check(
            assertion.get("acting_for"),
            sender=sender,
            applicant_id_number=str(applicant.get("id_number", "")),
            item_code=item.basic_code,
            case_number=case_number,
            organization_code=organization_code,
        )
    except AgentAuthorizationInvalid as exc:
        raise HandlerRefusal(
            f"agent authorization refused: {exc}", code=AgentAuthorizationInvalid.code
        ) from exc


def _vouched_by(assertion: dict, sender: str) -> str:
    """ "<node>:<account>" when the sender vouched for one of its accounts online."""
    by = assertion.get("authenticated_by") if isinstance(assertion, dict) else None
    account = str((by or {}).get("account") or "") if isinstance(by, dict) else ""
    if assertion.get("method") == "in_person" or not account or len(account) > 64:
        return ""
    return f"{sender}:{account}"


CLOCK_EVENTS = {"received", "supply_received"}


def _announce_clock(case: Case, event: str) -> None:
    """Tell the receiving node when the time limit started and when it ends."""
    case_event_announce(
        case,
        event=event,
        from_status=case.status,
        actor=Actor(name="系统", place=case.handling_organization.name, node=settings.TONGBAN_NODE),
        occurred_at=timezone.now(),
    )


@inbox_handler("case.submit")
def case_submit_received(envelope: VerifiedEnvelope) -> None:
    sender = envelope.signed["sender"]
    try:
        data = envelope.signed["body"]["case"]
        number = data["number"]
        applicant = data["applicant"]
        submitted_at = parse_time(data["submitted_at"])
    except (KeyError, TypeError, ValueError) as exc:
        raise HandlerRefusal(f"malformed case: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(applicant, dict):
        raise HandlerRefusal("malformed case")
    if number != envelope.signed["correlation"]:
        raise HandlerRefusal("case number does not match the correlation")
    if Case.objects.filter(number=number).exists():
        raise HandlerRefusal("case already exists")
    implementation = (
        Implementation.objects.select_related("item", "organization__node")
        .filter(code=data.get("implementation_code"), organization_id=data.get("organization"))
        .first()
    )
    if implementation is None or implementation.organization.node.node_id != settings.TONGBAN_NODE:
        raise HandlerRefusal("no such implementation at this node")
    item = implementation.item
    assertion = envelope.signed.get("subject")
    _check_assertion(
        assertion,
        sender=sender,
        channel=str(data.get("channel")),
        item=item,
        window=data.get("window"),
        applicant=applicant,
        case_number=number,
        organization_code=implementation.organization_id,
    )
    enterprise = data.get("enterprise") if isinstance(data.get("enterprise"), dict) else {}
    form = data.get("form") if isinstance(data.get("form"), dict) else {}
    try:
        delivery = delivery_from_peer(data.get("delivery"))  # 送达 (cases.delivery)
    except ValueError as exc:
        raise HandlerRefusal(f"malformed delivery: {exc}") from exc
    member = _member_clean(data.get("composite"), item=item)
    now = timezone.now()
    case = Case(
        number=number,
        perspective="handling",
        channel=str(data.get("channel", "window"))[:8],
        item=item,
        item_name=item.name,
        implementation_code=implementation.code,
        handling_organization=implementation.organization,
        handling_node=settings.TONGBAN_NODE,
        receiving_node=sender,
        receiving_window_name=str((data.get("window") or {}).get("name", ""))[:128],
        applicant_name=str(applicant.get("name", ""))[:64],
        applicant_id_encrypted=encrypt_identifier(str(applicant.get("id_number", ""))),
        applicant_id_index=blind_index(str(applicant.get("id_number", ""))),
        applicant_phone_encrypted=encrypt_identifier(str(applicant.get("phone", ""))),
        enterprise_code=str(enterprise.get("code", ""))[:18],
        enterprise_name=str(enterprise.get("name", ""))[:128],
        identity_assertion=assertion_for_storage(assertion),
        applicant_vouched_by=_vouched_by(assertion, sender),
        form_data=form_for_storage(item.form_schema, form),
        status=CaseStatus.SUBMITTED,
        status_changed_at=now,
        submitted_at=submitted_at,
        received_at=now,
        **delivery,
        composite_number=member.get("number", ""),
        member_key=member.get("key", ""),
        member_role=member.get("role", ""),
        member_inputs_encrypted=inputs_dump(member.get("inputs") or {}),
    )
    deadline_clock_start(case, local_date(now))
    case.save()
    person_upsert(
        name=case.applicant_name,
        id_number=str(applicant.get("id_number", "")),
        phone=str(applicant.get("phone", "")),
    )
    materials_attach(
        case,
        _files(data.get("materials", []), envelope.blobs),
        source="submission",
        at=submitted_at,
    )
    licences = _licence_materials(case, data.get("licences") or [], at=submitted_at)
    try:  # 数据核验: the materials a data check replaces, the datasets consented to
        consents = data_consents_clean(data.get("data_consents"))
    except DomainError as exc:
        raise HandlerRefusal(f"malformed data_consents: {exc.message}") from exc
    case_data_checks_start(case, consents=consents)
    _documents_store(envelope.signed["body"].get("documents"), number=number, sender=sender)
    _input_documents_store(member, sender=sender)
    status_record(
        case,
        to_status=CaseStatus.SUBMITTED,
        actor=_actor(data.get("actor"), sender),
        occurred_at=submitted_at,
        from_status="",
        details={
            "received_from": sender,
            "materials": len(data.get("materials", [])),
            "licences": len(licences),
        },
    )
    _announce_clock(case, "received")
    if applicant.get("id_number"):  # 我的数据使用记录: the applicant's data, used to handle it
        data_use_report(
            kind="case",
            subject_id_number=str(applicant["id_number"]),
            used_at=now,
            user_node=settings.TONGBAN_NODE,
            user_organization_code=implementation.organization_id,
            user_organization_name=implementation.organization.name,
            dataset_code="",
            dataset_name="办件申请信息",
            fields=["姓名", "身份证号", "联系电话", "申请表", "申请材料"],
            case_number=number,
            item_name=item.name,
            purpose=f"办理{item.name}",
            legal_basis="本人申请",
        )


def _member_clean(raw: object, *, item) -> dict:
    """A 联办件 member's description in case.submit (exchange §15): a relay stage must
    name one of the item's stages; a part carries its own item, with any key."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise HandlerRefusal("'composite' must be an object")
    number, kind, key = raw.get("number"), raw.get("kind"), raw.get("key")
    if not (isinstance(number, str) and 0 < len(number) <= 64):
        raise HandlerRefusal("composite: bad number")
    if kind not in ("relay", "bundle") or not isinstance(key, str) or not 0 < len(key) <= 40:
        raise HandlerRefusal("composite: bad kind or key")
    if kind == "relay" and key not in {s.get("key") for s in item.stages or []}:
        raise HandlerRefusal(f"composite: the item has no stage {key!r}", code="unknown_stage")
    inputs = raw.get("inputs") or {}
    documents = raw.get("documents") or []
    if not isinstance(inputs, dict) or not isinstance(documents, list) or len(documents) > 20:
        raise HandlerRefusal("composite: bad inputs or documents")
    role = raw.get("role") if isinstance(raw.get("role"), str) else ""
    return {
        "number": number,
        "kind": kind,
        "key": key,
        "role": role[:40],
        "inputs": inputs,
        "documents": documents,
    }


def _input_documents_store(member: dict, *, sender: str) -> None:
    """Verified copies of what earlier members issued (联系函, 参保缴费凭证 …), so this
    node holds them as documents it can show and check, not as re-typed values. Each
    must verify under its issuer's key and belong to a case the inputs name."""
    numbers = {m.get("case_number") for m in (member.get("inputs") or {}).get("members") or []}
    for entry in member.get("documents") or []:
        record = entry.get("record") if isinstance(entry, dict) else None
        signature = entry.get("signature") if isinstance(entry, dict) else None
        if not isinstance(record, dict) or not isinstance(signature, dict):
            raise HandlerRefusal("composite: a document needs its record and signature")
        if record.get("case_number") not in numbers:
            raise HandlerRefusal("composite: a document of a case the inputs do not name")
        try:
            document_copy_store(record=record, signature=signature)
        except (DocumentRejected, KeyError, TypeError, ValueError) as exc:
            raise HandlerRefusal(f"composite: document refused: {exc}") from exc


def _licence_materials(case: Case, refs: object, *, at: dt.datetime) -> list[dict]:
    """免交（电子证照）: record each licence-backed material and ask its issuing node for it."""
    if not isinstance(refs, list):
        raise HandlerRefusal("'licences' must be a list")
    materials = {m.code: m for m in case.item.materials.all()}
    for ref in refs:
        try:
            consent = ref["consent"]
            document = consent["document"]
            material = materials[ref["material_code"]]
            identifier, issuer_node = str(ref["identifier"]), str(ref["issuer_node"])
        except (KeyError, TypeError) as exc:
            raise HandlerRefusal(f"malformed licence reference: {exc}") from exc
        licence_type = LicenceType.objects.filter(name=material.licence_type, active=True).first()
        if (
            licence_type is None
            or document.get("licence") != identifier
            or document.get("issuer_node") != issuer_node
            or document.get("case") != case.number
        ):
            raise HandlerRefusal("licence reference does not match its consent or material")
        if not licence_type.recognized(settings.TONGBAN_NODE, PURPOSE):
            raise HandlerRefusal(
                f"{licence_type.name} is not recognized here for {PURPOSE}", code="not_recognized"
            )
        licence_material_create(
            case,
            material_code=material.code,
            name=material.name,
            ref={**ref, "type_name": licence_type.name},
            state="requested",
            at=at,
        )
        fetch_request(case_number=case.number, material_code=material.code, consent=consent)
    return refs


def _handled_case(envelope: VerifiedEnvelope, *related: str) -> Case:
    """The case this node handles that the sender received (the message's correlation),
    locked; refused when there is none."""
    case = (
        Case.objects.select_for_update(of=("self",))
        .select_related(*related)
        .filter(
            number=envelope.signed["correlation"],
            perspective="handling",
            receiving_node=envelope.signed["sender"],
        )
        .first()
    )
    if case is None:
        raise HandlerRefusal("unknown case")
    return case


@inbox_handler("case.supplement")
def case_supplement_received(envelope: VerifiedEnvelope) -> None:
    body = envelope.signed["body"]
    sender = envelope.signed["sender"]
    case = _handled_case(envelope, "item")
    if case.status != CaseStatus.SUPPLEMENT_REQUESTED:
        raise HandlerRefusal(f"case is {case.status}, not waiting for supplements")
    occurred_at = parse_time(body.get("occurred_at"))
    files = _files(body.get("materials", []), envelope.blobs)
    materials_attach(case, files, source="supplement", at=occurred_at)
    status_record(
        case,
        to_status=CaseStatus.SUBMITTED,
        actor=_actor(body.get("actor"), sender),
        occurred_at=occurred_at,
        reason=str(body.get("note", ""))[:2000],
        details={"supplied": body.get("materials", [])},
    )
    case.status = CaseStatus.SUBMITTED
    case.status_changed_at = timezone.now()
    deadline_clock_start(case, local_date(timezone.now()))
    case.save()
    _announce_clock(case, "supply_received")


def _verified_result(result: dict, sender: str) -> dict:
    signature = result.get("signature") or {}
    public_key = peer_public_key(sender, signature.get("kid", ""))
    if public_key is None or not sm2.verify_b64(
        public_key, canonical_json(result.get("document")), signature.get("value", "")
    ):
        raise HandlerRefusal("result signature does not verify")
    return result


def _new_enterprise_register(case: Case, document: dict) -> None:
    """A company set up through this window: its legal representative, when it is the
    applicant, holds it here — so its 营业执照 appears in their 证照夹."""
    from tongban.identity.models import Enterprise, Person

    code = str(document.get("uscc", ""))
    if not code or document.get("legal_representative") != case.applicant_name:
        return
    person = Person.objects.filter(id_number_index=case.applicant_id_index).first()
    if person is None:
        return
    Enterprise.objects.get_or_create(
        code=code,
        defaults={
            "name": str(document.get("name", ""))[:128],
            "legal_representative": person,
            "home_node": settings.TONGBAN_NODE,
            # the account that applied may manage it; others under the 身份证号 need L3
            "registered_by": case.applicant_account,
        },
    )


@inbox_handler("case.event")
def case_event_received(envelope: VerifiedEnvelope) -> None:
    body = envelope.signed["body"]
    sender = envelope.signed["sender"]
    case = (
        Case.objects.select_for_update(of=("self",))
        .filter(number=envelope.signed["correlation"], perspective="origin", handling_node=sender)
        .first()
    )
    if case is None:
        raise HandlerRefusal("unknown case")
    to_status = body.get("to_status")
    if to_status not in CaseStatus.values:
        raise HandlerRefusal(f"unknown status {to_status}")
    if body.get("event") in CLOCK_EVENTS:
        for field in ("deadline", "legal_deadline"):
            if body.get(field):
                setattr(case, field, dt.date.fromisoformat(body[field]))
        case.deadline_provisional = bool(body.get("deadline_provisional"))
        case.save(update_fields=["deadline", "legal_deadline", "deadline_provisional"])
        return
    try:
        occurred_at = parse_time(body.get("occurred_at"))
    except ValueError as exc:
        raise HandlerRefusal("bad occurred_at") from exc
    details = body.get("details") or {}
    if body.get("event") == "withdrawal_refused":
        _withdrawal_refused_apply(case, body, sender=sender, occurred_at=occurred_at)
        return
    _documents_store(body.get("documents"), number=case.number, sender=sender)
    result = details.get("result")
    if to_status == CaseStatus.APPROVED and result:
        result = _verified_result(result, sender)
        CaseResult.objects.update_or_create(
            case=case,
            defaults={
                "kind": result.get("kind", ""),
                "document": result["document"],
                "signature": result["signature"],
                "issued_at": parse_time(result["document"].get("issued_at")),
                "licence_identifier": str(result["document"].get("licence_identifier", ""))[:96],
            },
        )
        if result.get("kind") == "business_licence":
            _new_enterprise_register(case, result["document"])
        update = result["document"].get("enterprise_update")
        if isinstance(update, dict):
            enterprise_update_apply(update)
    status_record(
        case,
        to_status=to_status,
        actor=_actor(body.get("actor"), sender),
        occurred_at=occurred_at,
        reason=str(body.get("reason", ""))[:2000],
        details=details,
        from_status=case.status,
    )
    if case.status == CaseStatus.WITHDRAWN and to_status != CaseStatus.WITHDRAWN:
        # withdrawn here while the deciding node moved on: its status is the true one
        case.concluded_at = None
        case.decision_reason = ""
    case.status = to_status
    case.status_changed_at = timezone.now()
    if to_status == CaseStatus.ACCEPTED:
        case.accepted_at = occurred_at
    if to_status == CaseStatus.WITHDRAWN:
        case.concluded_at = case.concluded_at or occurred_at
        case.decision_reason = case.decision_reason or str(body.get("reason", ""))[:2000]
    if to_status in (CaseStatus.REFUSED, CaseStatus.APPROVED, CaseStatus.DENIED):
        case.concluded_at = occurred_at
        case.decision_reason = str(body.get("reason", ""))[:2000]
    if to_status == CaseStatus.SUPPLEMENT_REQUESTED:
        case.supplement_request = {
            "missing": details.get("missing", []),
            "note": str(body.get("reason", ""))[:2000],
            "requested_at": body.get("occurred_at"),
        }
    for field in ("deadline", "legal_deadline"):
        if body.get(field):
            setattr(case, field, dt.date.fromisoformat(body[field]))
    case.deadline_provisional = bool(body.get("deadline_provisional"))
    case.save()
    outputs = body.get("outputs") if isinstance(body.get("outputs"), dict) else {}
    member_changed_send(
        case, to_status=to_status, reason=str(body.get("reason", ""))[:2000], outputs=outputs
    )


@on_delivered("case.submit")
def case_submit_delivered(message, receipt: dict) -> None:
    """Origin: remember when the handling node received the case — or that it would not."""
    case = (
        Case.objects.select_for_update(of=("self",))
        .filter(number=message.correlation, perspective="origin")
        .first()
    )
    if case is None:
        return
    if receipt.get("status") in ("accepted", "queued"):
        case.received_at = parse_time(receipt["received_at"])
        case.save(update_fields=["received_at"])
        return
    # refused or rejected for good: the window must know the application did not arrive
    reason = f"办理地节点拒收（{receipt.get('code') or receipt.get('status')}）"
    status_record(
        case,
        to_status=CaseStatus.REFUSED,
        actor=Actor(name="系统", place="数据共享交换", node=message.recipient),
        occurred_at=parse_time(receipt["responded_at"]),
        reason=reason,
        details={"event": "undeliverable", "receipt_code": receipt.get("code", "")},
    )
    case.status = CaseStatus.REFUSED
    case.status_changed_at = timezone.now()
    case.concluded_at = parse_time(receipt["responded_at"])
    case.decision_reason = reason
    case.save()
    member_changed_send(case, to_status=CaseStatus.REFUSED, reason=reason)


# --- 撤回 (case.withdraw) -----------------------------------------------------------------


@inbox_handler("case.withdraw")
def case_withdraw_received(envelope: VerifiedEnvelope) -> None:
    """Handling node: the receiving node withdrew the case. Applied only while it is not
    yet accepted (submitted / supplement_requested); otherwise the case keeps its status
    and the origin is told the true one (``case.event`` ``withdrawal_refused``). Either
    way the answer is a ``case.event``, so the origin ends with this node's status."""
    body = envelope.signed["body"]
    sender = envelope.signed["sender"]
    case = _handled_case(envelope, "handling_organization")
    try:
        occurred_at = parse_time(body.get("occurred_at"))
    except ValueError as exc:
        raise HandlerRefusal("bad occurred_at") from exc
    reason = str(body.get("reason", ""))[:2000]
    actor = _actor(body.get("actor"), sender)
    from_status = case.status
    if case.status in WITHDRAWABLE and case.accepted_at is None:
        withdrawn_record(
            case,
            actor=actor,
            occurred_at=occurred_at,
            reason=reason,
            details={"event": "withdraw", "received_from": sender},
        )
        case_event_announce(
            case,
            event="withdraw",
            from_status=from_status,
            actor=actor,
            occurred_at=occurred_at,
            reason=reason,
        )
        return
    # accepted (or concluded) meanwhile: the withdrawal does not apply here
    here = Actor(name="系统", place=case.handling_organization.name, node=settings.TONGBAN_NODE)
    refusal = f"办件当前状态为“{case.get_status_display()}”，撤回未生效"
    status_record(
        case,
        to_status=case.status,
        actor=here,
        occurred_at=timezone.now(),
        reason=refusal,
        details={"event": "withdrawal_refused", "requested_by": actor.as_dict()},
    )
    case_event_announce(
        case,
        event="withdrawal_refused",
        from_status=from_status,
        actor=here,
        occurred_at=timezone.now(),
        reason=refusal,
        details={"requested_at": body.get("occurred_at")},
    )


def _withdrawal_refused_apply(
    case: Case, body: dict, *, sender: str, occurred_at: dt.datetime
) -> None:
    """Origin: the deciding node had accepted (or concluded) the case before the
    withdrawal arrived. Keep its true status and say so in the history."""
    to_status = body["to_status"]
    status_record(
        case,
        to_status=to_status,
        actor=_actor(body.get("actor"), sender),
        occurred_at=occurred_at,
        reason=str(body.get("reason", ""))[:2000],
        details={"event": "withdrawal_refused"},
        from_status=case.status,
    )
    if case.status == CaseStatus.WITHDRAWN and to_status != CaseStatus.WITHDRAWN:
        case.concluded_at = None
        case.decision_reason = ""
    case.status = to_status
    case.status_changed_at = timezone.now()
    if to_status == CaseStatus.ACCEPTED and case.accepted_at is None:
        case.accepted_at = occurred_at
    for field in ("deadline", "legal_deadline"):
        if body.get(field):
            setattr(case, field, dt.date.fromisoformat(body[field]))
    case.save()


@on_delivered("case.withdraw")
def case_withdraw_delivered(message, receipt: dict) -> None:
    """Origin: a deciding node that would not take the withdrawal at all (it does not
    know the case) — the history says so; the case stays as it is here."""
    if receipt.get("status") in ("accepted", "queued", "duplicate"):
        return
    case = (
        Case.objects.select_for_update(of=("self",))
        .filter(number=message.correlation, perspective="origin")
        .first()
    )
    if case is None:
        return
    status_record(
        case,
        to_status=case.status,
        actor=Actor(name="系统", place="数据共享交换", node=message.recipient),
        occurred_at=parse_time(receipt["responded_at"]),
        reason=f"办理地节点未接收撤回（{receipt.get('code') or receipt.get('status')}）",
        details={"event": "withdrawal_undeliverable", "receipt_code": receipt.get("code", "")},
        from_status=case.status,
    )


# --- the hub: where each 联办件 stands (composite.progress) ------------------------------


@inbox_handler("composite.progress")
def composite_progress_received(envelope: VerifiedEnvelope) -> None:
    """Hub: a coordinating node's report on one 联办件 (no personal data)."""
    if settings.TONGBAN_ROLE != "hub":
        raise HandlerRefusal("composite.progress is for the hub", code="wrong_recipient")
    composite_trace_store(
        body=envelope.signed["body"],
        sender=envelope.signed["sender"],
        correlation=envelope.signed["correlation"],
        seq=envelope.signed["seq"],
    )


# --- 送达 (case.delivery) ---------------------------------------------------------------


@inbox_handler("case.delivery")
def case_delivery_received(envelope: VerifiedEnvelope) -> None:
    """The other node of the case recorded a waybill, a delivery or a pickup."""
    sender = envelope.signed["sender"]
    case = (
        Case.objects.select_for_update(of=("self",))
        .filter(number=envelope.signed["correlation"])
        .filter(
            Q(perspective="origin", handling_node=sender)
            | Q(perspective="handling", receiving_node=sender)
        )
        .first()
    )
    if case is None:
        raise HandlerRefusal("unknown case")
    body = envelope.signed["body"]
    try:
        delivery_received(case, body if isinstance(body, dict) else {}, sender=sender)
    except (TypeError, ValueError) as exc:
        raise HandlerRefusal(f"delivery refused: {exc}") from exc
