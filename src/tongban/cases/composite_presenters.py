"""How a 联办件 is shown (API and pages): its stages or parts, and the results collected."""

from __future__ import annotations

from tongban.cases.models import Composite, CompositeMember
from tongban.cases.selectors import member_cases
from tongban.cases.stages import inputs_load
from tongban.documents.formats import KINDS
from tongban.documents.models import IssuedDocument

RESULT_KINDS = ("certificate", "approval_decision", "filing_receipt", "licence_file")


def _outputs(member: CompositeMember) -> list[dict]:
    stored = inputs_load(member.outputs_encrypted)
    labels = stored.get("labels") or {}
    return [
        {"key": key, "label": labels.get(key, key), "value": value}
        for key, value in (stored.get("values") or {}).items()
        if value not in ("", None)
    ]


def member_dict(member: CompositeMember, case) -> dict:
    deadline = case.deadline if case is not None and case.deadline else member.deadline
    return {
        "sequence": member.sequence,
        "key": member.key,
        "role": member.role,
        "name": member.name,
        "number": member.case_number,
        "item": member.item.basic_code,
        "node": member.node,
        "organization": member.organization_id,
        "organization_name": member.organization.name,
        "status": member.status,
        "status_label": str(member.get_status_display()),
        "depends_on": member.depends_on,
        "limit_days": member.limit_days,
        "started_at": member.started_at,
        "deadline": deadline,
        "concluded_at": member.concluded_at,
        "reason": member.reason,
        "outputs": _outputs(member),
    }


def composite_documents(numbers: list[str]) -> list[IssuedDocument]:
    """The results of every member held here, in the order they were issued."""
    return list(
        IssuedDocument.objects.filter(case_number__in=[n for n in numbers if n])
        .exclude(kind__in=("intake_receipt",))
        .order_by("issued_at", "id")
    )


def composite_dict(composite: Composite) -> dict:
    members = list(composite.members.all())
    cases = member_cases([m.case_number for m in members])
    rows = [member_dict(m, cases.get(m.case_number)) for m in members]
    documents = composite_documents([m.case_number for m in members])
    return {
        "number": composite.number,
        "composite_kind": composite.kind,
        "kind_label": str(composite.get_kind_display()),
        "item": composite.item.basic_code,
        "item_name": composite.item_name,
        "status": composite.status,
        "status_label": str(composite.get_status_display()),
        "organization": composite.organization_id,
        "organization_name": composite.organization.name,
        "channel": composite.channel,
        "receiving_node": composite.receiving_node,
        "receiving_window": composite.receiving_window_name,
        "applicant_name": composite.applicant_name,
        "applicant_id_masked": composite.applicant_id_masked,
        "enterprise_code": composite.enterprise_code,
        "enterprise_name": composite.enterprise_name,
        "submitted_at": composite.submitted_at,
        "concluded_at": composite.concluded_at,
        "reason": composite.reason,
        "stages": rows if composite.kind == "relay" else [],
        "parts": rows if composite.kind == "bundle" else [],
        "documents": [
            {
                "id": d.document_id,
                "kind": d.kind,
                "kind_label": str(KINDS.get(d.kind, d.kind)),
                "title": d.title,
                "case_number": d.case_number,
                "issuer_node": d.issuer_node,
                "issuer_name": d.issuer_name,
                "issued_at": d.issued_at,
                "status": d.status,
                "is_result": d.kind in RESULT_KINDS,
            }
            for d in documents
        ],
    }
