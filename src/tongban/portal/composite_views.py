"""联办件 pages: one 联办件 (its stages or parts and the results collected), and the rows
the applicant's and the window's lists show.

A 联办件 is kept at the node where the applicant applied (``cases.composites``); its
members run as ordinary cases, each with its own page. What the caller may not see
does not exist for them (404).
"""

from __future__ import annotations

import re

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render
from django.utils.translation import gettext as _

from tongban.cases import composites, selectors
from tongban.cases.composite_presenters import composite_dict
from tongban.cases.documents import short_name
from tongban.cases.models import Case, Composite, CompositeMember, MemberStatus
from tongban.cases.presenters import case_documents_list
from tongban.cases.stages import inputs_shown, stage_of
from tongban.catalog.models import ServiceItem
from tongban.documents.models import IssuedDocument
from tongban.errors import DomainError
from tongban.identity.masking import mask_id_number
from tongban.identity.selectors import Access, access_for
from tongban.portal.templatetags.case_documents import KIND_LABELS, STATUS_LABELS

# an 18-character 身份证号 among a member's outputs (e.g. the newborn's, 出生登记) is masked
ID_NUMBER = re.compile(r"^\d{17}[\dXx]$")

# identifiers for machines, shown on the member case's page, not in the stepper
TECHNICAL_OUTPUTS = {"document_id", "licence_identifier"}

# what a step looks like in the stepper: done, current, waiting, stopped
STEP_STATE = {
    MemberStatus.WAITING: "waiting",
    MemberStatus.SUBMITTED: "current",
    MemberStatus.SUPPLEMENT_REQUESTED: "attention",
    MemberStatus.ACCEPTED: "current",
    MemberStatus.APPROVED: "done",
    MemberStatus.REFUSED: "stopped",
    MemberStatus.DENIED: "stopped",
    MemberStatus.CANCELLED: "stopped",
    MemberStatus.WITHDRAWN: "stopped",
}


def _masked(value) -> str:
    text = "" if value is None else str(value)
    return mask_id_number(text) if ID_NUMBER.match(text) else text


def _document_links(documents: list[dict], member_names: dict[str, str]) -> list[dict]:
    """Each collected document with its member case's download addresses (the same as the
    member case page's: the latest of a kind by its short name, an earlier one by id)."""
    rows = IssuedDocument.objects.filter(document_id__in=[d["id"] for d in documents])
    names = {d.document_id: short_name(d) for d in rows}
    latest: dict[tuple[str, str], str] = {}
    for d in documents:  # issued in order: the last of a (case, kind) is the latest
        latest[(d["case_number"], names.get(d["id"], d["kind"]))] = d["id"]
    links = []
    for d in documents:
        name = names.get(d["id"], d["kind"])
        query = "" if latest[(d["case_number"], name)] == d["id"] else f"?id={d['id']}"
        base = f"/api/v1/cases/{d['case_number']}/documents/{name}"
        links.append(
            {
                **d,
                "member": member_names.get(d["case_number"], ""),
                "kind_label": KIND_LABELS.get(d["kind"], d["kind_label"]),
                "status_label": STATUS_LABELS.get(d["status"], d["status"]),
                "pdf": f"{base}.pdf{query}",
                "ofd": f"{base}.ofd{query}",
            }
        )
    return links


def composite_view(access: Access, composite: Composite) -> dict:
    """The page's content: the 联办件, its steps (with what the caller may open) and the
    documents collected, results first."""
    data = composite_dict(composite)
    rows = data["stages"] or data["parts"]
    names = {r["key"]: r["name"] for r in rows}
    numbers = [r["number"] for r in rows if r["number"]]
    openable = set(
        selectors.cases_visible_to(access)
        .filter(number__in=numbers)
        .values_list("number", flat=True)
    )
    steps = []
    for row in rows:
        steps.append(
            {
                **row,
                "state": STEP_STATE.get(row["status"], "waiting"),
                "depends_on_names": [names.get(k, k) for k in row["depends_on"]],
                "outputs": [
                    {**o, "value": _masked(o["value"])}
                    for o in row["outputs"]
                    if o["key"] not in TECHNICAL_OUTPUTS
                ],
                "openable": row["number"] in openable,
            }
        )
    documents = _document_links(
        data["documents"], {r["number"]: r["name"] for r in rows if r["number"]}
    )
    done = sum(1 for s in steps if s["status"] == MemberStatus.APPROVED)
    return {
        **data,
        "steps": steps,
        "done": done,
        "total": len(steps),
        "results": [d for d in documents if d["is_result"]],
        "other_documents": [d for d in documents if not d["is_result"]],
    }


@login_required
def composite_page(request, number: str):
    access = access_for(request.user)
    try:
        composite = selectors.composite_detail(access, number)
    except DomainError as error:
        raise Http404(error.message) from error
    return render(
        request,
        "portal/composites/detail.html",
        {"composite": composite, "c": composite_view(access, composite)},
    )


def without_licences(form, item) -> None:
    """A 联办 item's materials are uploaded: its member cases cannot yet take an e-licence
    in their place (cases.composites refuses it), so its form does not offer one."""
    if not composites.is_composite_item(item):
        return
    for code in form.licence_codes:
        form.fields.pop(f"l_{code}", None)
    form.fields.pop("licence_consent", None)
    form.licence_codes = ()


def composite_submitted_text(composite: Composite, *, window: bool) -> str:
    """The message after the one application of a 联办件 was taken."""
    count = composite.members.count()
    started = composite.members.exclude(case_number="").count()
    if window:
        text = _("联办件 %(number)s 已收件，共 %(count)s 个环节，已发起 %(started)s 个")
    else:
        text = _("联办件 %(number)s 已提交，共 %(count)s 个环节，已发起 %(started)s 个")
    return text % {"number": composite.number, "count": count, "started": started}


# --- in the lists ------------------------------------------------------------------------


# 联办件 per page of a list (我的办件, the window's): cards, fewer than the cases' rows
COMPOSITE_PAGE_SIZE = 10


def composites_paged(request, access: Access) -> dict:
    """One page of the (scoped) caller's 联办件 for a list page, with its pager; the page
    number is ``composite_page`` so that it pages independently of the cases below."""
    total = selectors.composite_count(access)
    pages = max(1, -(-total // COMPOSITE_PAGE_SIZE))
    try:
        page = min(max(1, int(request.GET.get("composite_page", "1"))), pages)
    except ValueError:
        page = 1
    return {
        "composite_rows": composite_rows(
            access, limit=COMPOSITE_PAGE_SIZE, offset=(page - 1) * COMPOSITE_PAGE_SIZE
        )
        if total
        else [],
        "composite_total": total,
        "composite_pager": {
            "page": page,
            "pages": pages,
            "has_previous": page > 1,
            "has_next": page < pages,
        },
    }


def composite_rows(access: Access, *, limit: int = 50, offset: int = 0) -> list[dict]:
    """The 联办件 the (scoped) caller sees, each with its progress: n of m steps done."""
    rows = []
    for composite in selectors.composite_list(access, limit=limit, offset=offset):
        members = list(composite.members.all())
        rows.append(
            {
                "composite": composite,
                "done": sum(1 for m in members if m.status == MemberStatus.APPROVED),
                "total": len(members),
                "current": [
                    m.name
                    for m in sorted(members, key=lambda m: m.sequence)
                    if m.status
                    in (
                        MemberStatus.SUBMITTED,
                        MemberStatus.ACCEPTED,
                        MemberStatus.SUPPLEMENT_REQUESTED,
                    )
                ],
            }
        )
    return rows


# --- on a member case's page --------------------------------------------------------------


def _sequence(case: Case) -> tuple[int, int] | None:
    """(n, of how many) of a member case: from the 联办件 when it is kept here, else from
    the catalog's definition (a relay's stages are its own item's; a bundle's parts
    belong to the bundle item that has a part of this key for this item)."""
    member = (
        CompositeMember.objects.filter(
            composite__number=case.composite_number, case_number=case.number
        )
        .select_related("composite")
        .first()
    )
    if member is not None:
        return member.sequence, member.composite.members.count()
    stage = stage_of(case)
    if stage is not None:
        stages = case.item.stages or []
        return stages.index(stage) + 1, len(stages)
    for item in ServiceItem.objects.filter(active=True).exclude(parts=[]).only("parts"):
        for n, part in enumerate(item.parts or [], start=1):
            if part.get("key") == case.member_key and part.get("item") == case.item.basic_code:
                return n, len(item.parts)
    return None


def member_box(access: Access, case: Case) -> dict | None:
    """The box on a member case's page: which 联办件, which step, and what the earlier
    steps passed on to it."""
    if not case.composite_number:
        return None
    sequence = _sequence(case)
    return {
        "number": case.composite_number,
        "role": case.member_role,
        "sequence": sequence[0] if sequence else None,
        "count": sequence[1] if sequence else None,
        "openable": selectors.composites_visible_to(access)
        .filter(number=case.composite_number)
        .exists(),
        "inputs": [{**row, "value": _masked(row["value"])} for row in inputs_shown(case)],
        "documents": case_documents_list(case, selectors.input_documents(case)),
    }
