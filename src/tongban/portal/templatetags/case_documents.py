"""The case page's documents (portal/includes/case_documents.html) and the result inputs of
the approval form (portal/includes/decision_result_fields.html)."""

from __future__ import annotations

from django import template
from django.utils.translation import gettext_lazy as _

register = template.Library()

KIND_LABELS = {
    "intake_receipt": _("收件凭证"),
    "acceptance_receipt": _("受理回执"),
    "refusal_notice": _("不予受理通知书"),
    "supplement_notice": _("补正告知书"),
    "approval_decision": _("准予许可决定书"),
    "denial_decision": _("不予许可决定书"),
    "certificate": _("证明"),
    "filing_receipt": _("备案回执"),
    "conclusion_notice": _("办结通知书"),
}
STATUS_LABELS = {
    "valid": _("有效"),
    "revoked": _("已撤销"),
    "superseded": _("已被新文书取代"),
}


@register.simple_tag
def case_documents(case) -> list[dict]:
    """Each signed document of the case with its PDF and OFD addresses, newest last."""
    from tongban.cases.presenters import case_documents_list

    rows = case_documents_list(case)
    for row in rows:
        row["kind_label"] = KIND_LABELS.get(row["kind"], row["kind_label"])
        row["status_label"] = STATUS_LABELS.get(row["status"], row["status"])
    return rows


@register.simple_tag(takes_context=True)
def decision_result_fields(context, case) -> list[dict]:
    """The item's official inputs for 准予, each with the value to show: what was posted
    (after a refused submit), else the declared default (the form, the holder's current
    licence at this node, …)."""
    from django.utils import timezone

    from tongban.cases import issuance
    from tongban.cases.stages import result_declaration_for

    declaration = result_declaration_for(case)  # a relay stage's own
    inputs = declaration.get("official_inputs") or []
    if not inputs:
        return []
    request = context.get("request")
    posted = request.POST if request is not None and request.method == "POST" else None
    ctx = issuance.ResultContext(
        case=case, organization=case.handling_organization, decided_at=timezone.now()
    )
    if declaration.get("kind") == "licence":
        from tongban.licences.services import licence_values

        current = issuance.current_licence(declaration, ctx)
        if current is not None:
            ctx.licence_face = licence_values(current)
    rows = []
    for spec in inputs:
        name = f"approve-result-{spec['key']}"
        if posted is not None and name in posted:
            value = posted.get(name, "")
        else:
            value = ctx.value(spec["default"]) if spec.get("default") else ""
        rows.append({**spec, "name": name, "id": f"id_{name}", "value": value})
    return rows


@register.simple_tag
def decision_result_title(case) -> str:
    """The title of what 准予 issues: a relay stage's own document, else the item's (empty
    when the stage issues no document, only records its outputs)."""
    from tongban.cases.stages import result_declaration_for

    declaration = result_declaration_for(case)
    if declaration.get("kind") == "none":
        return ""
    return str(declaration.get("title") or "")
