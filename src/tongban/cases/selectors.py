"""Case reads, always scoped by the caller's access.

A clerk sees cases received at their windows; an official or supervisor the
cases their organization decides; a person the cases their account applied
for, and every case under their 身份证号 once their identity is proven (L3,
ADR 0010); a node administrator every case on this node. Anything else does not exist
for the caller (404, never 403).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from tongban.cases.deadlines import add_working_days, working_days_between
from tongban.cases.delivery import pickup_windows_q
from tongban.cases.models import (
    COMPOSITE_TERMINAL,
    Case,
    CaseMaterial,
    CaseStatusChange,
    Composite,
    CompositeMember,
    CompositeTrace,
)
from tongban.cases.stages import member_inputs
from tongban.documents.models import IssuedDocument
from tongban.errors import NotFound
from tongban.identity.selectors import Access, access_for


def cases_visible_to(access: Access) -> QuerySet[Case]:
    if access.user_id is None:
        return Case.objects.none()
    if access.node_admin:
        return Case.objects.all()
    scope = Q(pk__in=[])
    if access.clerk_windows:
        scope |= Q(receiving_window_id__in=access.clerk_windows)
        scope |= pickup_windows_q(access)  # 窗口自取 at one of their windows (cases.delivery)
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


def input_documents(case: Case) -> list[IssuedDocument]:
    """A 联办件 member's inputs as documents: what its earlier members issued, held here
    as verified copies (exchange protocol §15.1)."""
    numbers = [m.get("case_number") for m in member_inputs(case).get("members") or []]
    if not numbers:
        return []
    return list(
        IssuedDocument.objects.filter(case_number__in=[n for n in numbers if n]).order_by(
            "issued_at", "id"
        )
    )


def case_document_of_kind(case: Case, kinds: tuple[str, ...], document_id: str = ""):
    """The case's latest document of one of ``kinds`` (or the one named — which may also
    be one of its inputs, for a 联办件 member), or NotFound."""
    documents = IssuedDocument.objects.filter(case_number=case.number, kind__in=kinds)
    if document_id:
        inputs = [d.document_id for d in input_documents(case)]
        documents = IssuedDocument.objects.filter(
            Q(case_number=case.number) | Q(document_id__in=inputs),
            kind__in=kinds,
            document_id=document_id,
        )
    document = documents.order_by("-issued_at", "-id").first()
    if document is None:
        raise NotFound(_("没有这种文书"))
    return document


# --- 时限监督: deadlines approaching or past ----------------------------------------------

# the clock runs while the case waits for a decision; during 补正 it is stopped (it
# restarts from the day the supplements arrive), and a concluded case has no limit left
CLOCK_RUNNING = ("submitted", "accepted")


@dataclass(frozen=True)
class DueCase:
    case: Case
    overdue: bool
    days_overdue: int  # working days past the deadline (0 when not overdue)
    days_left: int  # working days left up to and including the deadline (0 when overdue)


def oversight_scope(access: Access) -> QuerySet[Case]:
    """The cases whose time limits the caller oversees: those their organizations decide
    (supervisors and officials), or every case decided on this node (node administrator)."""
    if access.user_id is None:
        return Case.objects.none()
    cases = Case.objects.filter(perspective__in=("handling", "local"))
    if not access.node_admin:
        cases = cases.filter(handling_organization_id__in=access.view_orgs)
    return cases


def _due_rows(cases: QuerySet[Case], today: dt.date) -> list[DueCase]:
    rows = []
    for case in cases.select_related("handling_organization", "item").order_by(
        "deadline", "submitted_at", "id"
    ):
        if case.deadline < today:
            rows.append(DueCase(case, True, working_days_between(case.deadline, today), 0))
        else:
            rows.append(DueCase(case, False, 0, working_days_between(today, case.deadline)))
    return rows


def cases_overdue(*, access: Access, today: dt.date | None = None) -> list[DueCase]:
    """Past their 承诺办结期限 and not concluded, most overdue first."""
    today = today or timezone.localdate()
    cases = oversight_scope(access).filter(status__in=CLOCK_RUNNING, deadline__lt=today)
    return _due_rows(cases, today)


def cases_due(
    *, access: Access, within_days: int = 3, today: dt.date | None = None
) -> list[DueCase]:
    """Not concluded and due within ``within_days`` working days (today included), soonest
    first; overdue cases are not in this list (see ``cases_overdue``)."""
    today = today or timezone.localdate()
    within_days = max(0, min(int(within_days), 60))
    horizon, _provisional = add_working_days(today, within_days)
    cases = oversight_scope(access).filter(
        status__in=CLOCK_RUNNING, deadline__gte=today, deadline__lte=horizon
    )
    return _due_rows(cases, today)


def oversight_by_organization(
    *, access: Access, within_days: int = 3, today: dt.date | None = None
) -> list[dict]:
    """Per organization overseen: its overdue and approaching cases (organizations with
    neither are listed too, so a supervisor sees that nothing is late)."""
    from tongban.directory.models import Organization

    today = today or timezone.localdate()
    overdue = cases_overdue(access=access, today=today)
    due = cases_due(access=access, within_days=within_days, today=today)
    if access.node_admin:
        codes = set(
            oversight_scope(access)
            .order_by()
            .values_list("handling_organization_id", flat=True)
            .distinct()
        )
    else:
        codes = set(access.view_orgs)
    codes |= {r.case.handling_organization_id for r in overdue + due}
    groups = []
    for org in Organization.objects.filter(code__in=codes).order_by("name"):
        groups.append(
            {
                "organization": org,
                "overdue": [r for r in overdue if r.case.handling_organization_id == org.code],
                "approaching": [r for r in due if r.case.handling_organization_id == org.code],
            }
        )
    return groups


# --- the hub: where every 联办件 stands -----------------------------------------------------


def hub_operator(user) -> bool:
    """The hub's operators: its administrators (枢纽管理员, 节点管理员, superusers)."""
    if settings.TONGBAN_ROLE != "hub" or user is None or not user.is_authenticated:
        return False
    if not user.is_active:
        return False
    access = access_for(user)
    return access.node_admin or access.hub_admin


def composite_traces(
    *, status: str = "", overdue: bool = False, today: dt.date | None = None
) -> QuerySet[CompositeTrace]:
    """The hub's latest report of each 联办件 (callers check ``hub_operator`` first)."""
    today = today or timezone.localdate()
    traces = CompositeTrace.objects.all()
    if status:
        traces = traces.filter(status=status)
    if overdue:
        traces = traces.filter(next_deadline__lt=today).exclude(status__in=COMPOSITE_TERMINAL)
    return traces.order_by("-submitted_at", "-id")


# --- 联办件 -----------------------------------------------------------------------------


def composites_visible_to(access: Access):
    """联办件 kept here, scoped like cases: the applicant (account or proven identity),
    the enterprise, the receiving window's clerks, the officials of an organization
    that handles one of its members here, and the node administrator."""
    if access.user_id is None:
        return Composite.objects.none()
    if access.node_admin:
        return Composite.objects.all()
    scope = Q(pk__in=[])
    if access.clerk_windows:
        scope |= Q(receiving_window_id__in=access.clerk_windows)
    if access.view_orgs:
        scope |= Q(members__organization_id__in=access.view_orgs)
    if access.person_account is not None:
        scope |= Q(applicant_account_id=access.person_account, enterprise_code="")
    if access.person_index:
        scope |= Q(applicant_id_index=access.person_index, enterprise_code="")
    if access.enterprise_codes:
        scope |= Q(enterprise_code__in=access.enterprise_codes)
    return Composite.objects.filter(scope).distinct()


def composite_detail(access: Access, number: str):
    composite = (
        composites_visible_to(access)
        .filter(number=number)
        .select_related("item", "organization", "receiving_window")
        .prefetch_related(
            Prefetch(
                "members",
                queryset=CompositeMember.objects.select_related("organization").order_by(
                    "sequence"
                ),
            )
        )
        .first()
    )
    if composite is None:
        raise NotFound(_("办件不存在"))
    return composite


def composite_exists(number: str) -> bool:
    return Composite.objects.filter(number=number).exists()


def composite_list(access: Access, *, limit: int = 50, offset: int = 0) -> list:
    """A page of the 联办件 the caller sees, newest first (``composite_count`` for all)."""
    return list(
        composites_visible_to(access)
        .select_related("organization")
        .prefetch_related("members")
        .order_by("-submitted_at", "-id")[offset : offset + limit]
    )


def composite_count(access: Access) -> int:
    return composites_visible_to(access).count()


def member_cases(numbers: list[str]) -> dict:
    """The member cases held here, by number (their deadlines, counted at their nodes)."""
    return {
        c.number: c
        for c in Case.objects.filter(number__in=[n for n in numbers if n]).only(
            "number", "status", "deadline", "deadline_provisional", "accepted_at"
        )
    }
