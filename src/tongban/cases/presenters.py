"""Case → plain dicts for the API (and pages): personal identifiers masked."""

from __future__ import annotations

import json

from tongban.cases.delivery import delivery_view
from tongban.cases.materials import material_read
from tongban.cases.models import Case, CaseMaterial, CaseStatus
from tongban.cases.selectors import input_documents
from tongban.cases.stages import inputs_shown
from tongban.cases.stored_pii import assertion_masked, form_masked
from tongban.gm.sm3 import sm3_hex
from tongban.identity.masking import mask_id_number
from tongban.identity.pii import decrypt_at_rest

STATUS_LABELS = dict(CaseStatus.choices)


def case_result(case: Case):
    try:
        return case.result
    except Case.result.RelatedObjectDoesNotExist:
        return None


def material_digest_ok(material: CaseMaterial) -> bool:
    if material.is_licence:
        return material.licence_state == "verified"
    try:
        return sm3_hex(material_read(material.storage_path)) == material.sm3
    except OSError:
        return False


def licence_material_view(material: CaseMaterial) -> dict | None:
    """An e-licence material as the official sees it: the licence's face data, not a scan."""
    if not material.is_licence:
        return None
    fields = []
    if material.licence_state == "verified" and material.licence_disclosures_encrypted:
        from tongban.licences.formats import disclosure_open
        from tongban.licences.models import LicenceType

        licence_type = LicenceType.objects.filter(name=material.licence_type_name).first()
        labels = licence_type.claim_labels() if licence_type else {}
        person = licence_type is not None and licence_type.holder_type == "person"
        for disclosure in json.loads(decrypt_at_rest(material.licence_disclosures_encrypted)):
            _salt, key, value = disclosure_open(disclosure)
            if (key == "holder_id" and person) or (
                licence_type and key in licence_type.identifier_fields
            ):
                value = mask_id_number(str(value))
            fields.append({"key": key, "label": labels.get(key, key), "value": value})
    return {
        "identifier": material.licence_identifier,
        "type_name": material.licence_type_name,
        "issuer_node": material.licence_issuer_node,
        "state": material.licence_state,
        "state_label": str(material.get_licence_state_display()),
        "note": material.licence_note,
        "fields": fields,
    }


def masked_assertion(stored: dict) -> dict:
    """The identity assertion as shown to staff: the subject's 身份证号 masked."""
    return assertion_masked(stored)


def masked_form(case: Case) -> dict:
    """Form answers with 身份证号 / phone fields masked (they are encrypted at rest)."""
    return form_masked(case.item.form_schema, case.form_data)


def case_summary_dict(case: Case) -> dict:
    return {
        "number": case.number,
        "enterprise_code": case.enterprise_code,
        "enterprise_name": case.enterprise_name,
        "item": case.item.basic_code,
        "item_name": case.item_name,
        "status": case.status,
        "status_label": str(STATUS_LABELS.get(case.status, case.status)),
        "perspective": case.perspective,
        "channel": case.channel,
        "handling_node": case.handling_node,
        "handling_organization": case.handling_organization_id,
        "handling_organization_name": case.handling_organization.name,
        "receiving_node": case.receiving_node,
        "receiving_window": case.receiving_window_name,
        "applicant_name": case.applicant_name_masked,
        "applicant_id_masked": case.applicant_id_masked,
        "submitted_at": case.submitted_at,
        "received_at": case.received_at,
        "deadline": case.deadline,
        "deadline_provisional": case.deadline_provisional,
        # a stage/part of a 联办件: its number and the member's role ("" for a plain case)
        "composite_number": case.composite_number,
        "member_role": case.member_role,
    }


def case_documents_list(case: Case, documents=None) -> list[dict]:
    """The case's signed documents (or ``documents``, e.g. a member's inputs), each with
    its download addresses (API) under this case."""
    from tongban.cases.documents import short_name
    from tongban.cases.selectors import case_documents
    from tongban.documents.formats import KINDS

    own = documents is None
    rows = []
    documents = case_documents(case) if own else documents
    latest = {}
    for d in documents:
        latest[short_name(d)] = d.document_id
    for d in documents:
        name = short_name(d)
        query = "" if own and latest[name] == d.document_id else f"?id={d.document_id}"
        base = f"/api/v1/cases/{case.number}/documents/{name}"
        rows.append(
            {
                "id": d.document_id,
                "kind": d.kind,
                "kind_label": KINDS.get(d.kind, d.kind),
                "title": d.title,
                "doc_number": d.doc_number,
                "issuer_node": d.issuer_node,
                "issuer_name": d.issuer_name,
                "issued_at": d.issued_at,
                "status": d.status,
                "pdf": f"{base}.pdf{query}",
                "ofd": f"{base}.ofd{query}",
            }
        )
    return rows


def case_detail_dict(case: Case) -> dict:
    result = case_result(case)
    return {
        **case_summary_dict(case),
        "applicant_name": case.applicant_name,
        "implementation_code": case.implementation_code,
        "applicant_phone_masked": case.applicant_phone_masked,
        "form": masked_form(case),
        "identity_assertion": masked_assertion(case.identity_assertion),
        "accepted_at": case.accepted_at,
        "concluded_at": case.concluded_at,
        "legal_deadline": case.legal_deadline,
        "supplement_request": case.supplement_request or {},
        "decision_reason": case.decision_reason,
        "materials": [
            {
                "id": m.pk,
                "material_code": m.material_code,
                "name": m.name,
                "filename": m.filename,
                "media_type": m.media_type,
                "size": m.size,
                "sm3": m.sm3,
                "digest_verified": material_digest_ok(m),
                "source": m.source,
                "uploaded_at": m.uploaded_at,
                "licence": licence_material_view(m),
            }
            for m in case.materials.all()
        ],
        "timeline": [
            {
                "from_status": h.from_status,
                "to_status": h.to_status,
                "to_status_label": str(STATUS_LABELS.get(h.to_status, h.to_status)),
                "occurred_at": h.occurred_at,
                "recorded_at": h.recorded_at,
                "node": h.node,
                "actor": h.actor_name,
                "place": h.place,
                "reason": h.reason,
                "details": h.details,
            }
            for h in case.history.all()
        ],
        "result": (
            {
                "kind": result.kind,
                "document": result.document,
                "signature": result.signature,
                "issued_at": result.issued_at.isoformat(),
            }
            if result
            else None
        ),
        "documents": case_documents_list(case),
        "composite": member_view(case),
        "delivery": delivery_view(case),  # 送达, the address masked (cases.delivery)
    }


def member_view(case: Case) -> dict | None:
    """A stage or part of a 联办件: which, and what earlier members passed on to it."""
    if not case.composite_number:
        return None
    return {
        "number": case.composite_number,
        "key": case.member_key,
        "role": case.member_role,
        "inputs": inputs_shown(case),
        "documents": case_documents_list(case, input_documents(case)),
    }
