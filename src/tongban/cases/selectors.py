"""Case reads, always scoped by the caller's access.

A clerk sees cases received at their windows; an official or supervisor the
cases their organization decides; a person the cases their account applied
for, and every case under their 身份证号 once their identity is proven (L3,
ADR 0010); a node administrator every case on this node. Anything else does not exist
for the caller (404, never 403).
"""

from __future__ import annotations

from django.db.models import Prefetch, Q, QuerySet
from django.utils.translation import gettext as _

from tongban.cases.models import Case, CaseMaterial, CaseStatusChange
from tongban.documents.models import IssuedDocument
from tongban.errors import NotFound
from tongban.identity.selectors import Access


def cases_visible_to(access: Access) -> QuerySet[Case]:
    if access.user_id is None:
        return Case.objects.none()
    if access.node_admin:
        return Case.objects.all()
    scope = Q(pk__in=[])
    if access.clerk_windows:
        scope |= Q(receiving_window_id__in=access.clerk_windows)
    if access.view_orgs:
        scope |= Q(
            handling_organization_id__in=access.view_orgs, perspective__in=("handling", "local")
        )
    if access.person_account is not None:
        # what this account applied for itself
        scope |= Q(applicant_account_id=access.person_account, enterprise_code="")
    if access.vouched_as:
        # what its home node vouched for this same account (online, decided here)
        scope |= Q(applicant_vouched_by=access.vouched_as, enterprise_code="")
    if access.person_index:
        # a proven identity: every application under their 身份证号; an enterprise's
        # cases only as its representative or agent
        scope |= Q(applicant_id_index=access.person_index, enterprise_code="")
    if access.enterprise_codes:
        scope |= Q(enterprise_code__in=access.enterprise_codes)
    for enterprise_code, item_code in access.agent_scopes:
        if item_code == "*":
            scope |= Q(enterprise_code=enterprise_code)
        else:
            scope |= Q(enterprise_code=enterprise_code, item__basic_code=item_code)
    return Case.objects.filter(scope)


def case_list(
    access: Access,
    *,
    status: str = "",
    perspective: str = "",
    query: str = "",
    worklist: bool = False,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[Case], int]:
    cases = cases_visible_to(access)
    if worklist:
        cases = cases.filter(
            handling_organization_id__in=access.view_orgs,
            perspective__in=("handling", "local"),
            status__in=("submitted", "accepted"),
        )
    if status:
        cases = cases.filter(status=status)
    if perspective:
        cases = cases.filter(perspective=perspective)
    if query:
        cases = cases.filter(Q(number__startswith=query) | Q(item_name__contains=query))
    total = cases.count()
    rows = list(
        cases.select_related("handling_organization", "item").order_by("-submitted_at", "-id")[
            offset : offset + limit
        ]
    )
    return rows, total


def case_detail(access: Access, number: str) -> Case:
    case = (
        cases_visible_to(access)
        .filter(number=number)
        .select_related("item", "handling_organization", "receiving_window", "result")
        .prefetch_related(
            Prefetch("history", queryset=CaseStatusChange.objects.order_by("occurred_at", "id")),
            Prefetch("materials", queryset=CaseMaterial.objects.order_by("material_code", "id")),
        )
        .first()
    )
    if case is None:
        raise NotFound(_("办件不存在"))
    return case


def case_material(access: Access, number: str, material_id: int) -> CaseMaterial:
    material = CaseMaterial.objects.filter(
        pk=material_id, case__in=cases_visible_to(access).filter(number=number)
    ).first()
    if material is None:
        raise NotFound(_("材料不存在"))
    return material


def case_documents(case: Case) -> list[IssuedDocument]:
    """The signed documents of a case held here (issued here, or copies of a peer's), in
    the order they were issued. The caller has already been given the case."""
    return list(IssuedDocument.objects.filter(case_number=case.number).order_by("issued_at", "id"))


def case_document_of_kind(case: Case, kinds: tuple[str, ...], document_id: str = ""):
    """The case's latest document of one of ``kinds`` (or the one named), or NotFound."""
    documents = IssuedDocument.objects.filter(case_number=case.number, kind__in=kinds)
    if document_id:
        documents = documents.filter(document_id=document_id)
    document = documents.order_by("-issued_at", "-id").first()
    if document is None:
        raise NotFound(_("没有这种文书"))
    return document
