"""Applying the peer's case envelopes to this node's cases."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.utils import timezone

from tongban.cases.materials import CheckedFile
from tongban.cases.models import Case, CaseResult, CaseStatus
from tongban.cases.services import (
    Actor,
    deadline_clock_start,
    local_date,
    materials_attach,
    person_upsert,
    status_record,
)
from tongban.catalog.models import Implementation
from tongban.directory.signing import peer_public_key
from tongban.exchange.envelopes import VerifiedEnvelope, parse_time
from tongban.exchange.handlers import HandlerRefusal, inbox_handler, on_delivered
from tongban.gm import sm2
from tongban.gm.canonical import canonical_json
from tongban.identity.pii import blind_index, encrypt_identifier


def _actor(raw: dict, sender: str) -> Actor:
    raw = raw if isinstance(raw, dict) else {}
    return Actor(
        name=str(raw.get("name", ""))[:64], place=str(raw.get("place", ""))[:128], node=sender
    )


def _files(refs: list[dict], blobs: dict[str, bytes]) -> list[CheckedFile]:
    files = []
    for ref in refs:
        content = blobs.get(ref.get("sm3", ""))
        if content is None:
            raise HandlerRefusal(f"material {ref.get('material_code')} arrived without its content")
        files.append(
            CheckedFile(
                material_code=str(ref["material_code"])[:8],
                name=str(ref.get("name", ""))[:128],
                filename=str(ref.get("filename", ""))[:200],
                media_type=str(ref.get("media_type", ""))[:64],
                content=content,
                sm3=ref["sm3"],
            )
        )
    return files


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
        identity_assertion=envelope.signed.get("subject") or {},
        form_data=data.get("form") or {},
        status=CaseStatus.SUBMITTED,
        status_changed_at=now,
        submitted_at=submitted_at,
        received_at=now,
    )
    deadline_clock_start(case, local_date(now))
    case.save()
    person_upsert(
        name=case.applicant_name,
        id_number=str(applicant.get("id_number", "")),
        phone=str(applicant.get("phone", "")),
        home_node=sender,
    )
    materials_attach(
        case,
        _files(data.get("materials", []), envelope.blobs),
        source="submission",
        at=submitted_at,
    )
    status_record(
        case,
        to_status=CaseStatus.SUBMITTED,
        actor=_actor(data.get("actor"), sender),
        occurred_at=submitted_at,
        from_status="",
        details={"received_from": sender, "materials": len(data.get("materials", []))},
    )


@inbox_handler("case.supplement")
def case_supplement_received(envelope: VerifiedEnvelope) -> None:
    body = envelope.signed["body"]
    sender = envelope.signed["sender"]
    case = (
        Case.objects.select_for_update(of=("self",))
        .select_related("item")
        .filter(
            number=envelope.signed["correlation"], perspective="handling", receiving_node=sender
        )
        .first()
    )
    if case is None:
        raise HandlerRefusal("unknown case")
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


def _verified_result(result: dict, sender: str) -> dict:
    signature = result.get("signature") or {}
    public_key = peer_public_key(sender, signature.get("kid", ""))
    if public_key is None or not sm2.verify_b64(
        public_key, canonical_json(result.get("document")), signature.get("value", "")
    ):
        raise HandlerRefusal("result signature does not verify")
    return result


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
    try:
        occurred_at = parse_time(body.get("occurred_at"))
    except ValueError as exc:
        raise HandlerRefusal("bad occurred_at") from exc
    details = body.get("details") or {}
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
            },
        )
    status_record(
        case,
        to_status=to_status,
        actor=_actor(body.get("actor"), sender),
        occurred_at=occurred_at,
        reason=str(body.get("reason", ""))[:2000],
        details=details,
        from_status=case.status,
    )
    case.status = to_status
    case.status_changed_at = timezone.now()
    if to_status == CaseStatus.ACCEPTED:
        case.accepted_at = occurred_at
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


@on_delivered("case.submit")
def case_submit_delivered(message, receipt: dict) -> None:
    """Origin: remember when the handling node received the case."""
    if receipt.get("status") not in ("accepted", "queued"):
        return
    Case.objects.filter(number=message.correlation, perspective="origin").update(
        received_at=parse_time(receipt["received_at"])
    )
