"""OpenAPI shapes of a 联办件 (接续办 stages / 集成办 parts) in /api/v1/cases."""

import datetime as dt

from ninja import Schema


class MemberOutput(Schema):
    key: str
    label: str
    value: str


class CompositeMemberOut(Schema):
    """One stage (接续办) or part (集成办): where it runs and how far it is."""

    sequence: int
    key: str
    role: str
    name: str
    number: str  # the member's own case number ("" until it starts)
    item: str
    node: str
    organization: str
    organization_name: str
    status: str  # waiting | submitted | supplement_requested | accepted | approved | refused | denied | cancelled | withdrawn
    status_label: str
    depends_on: list[str]
    limit_days: int
    started_at: dt.datetime | None
    deadline: dt.date | None
    concluded_at: dt.datetime | None
    reason: str
    outputs: list[MemberOutput]


class CompositeDocumentOut(Schema):
    id: str
    kind: str
    kind_label: str
    title: str
    case_number: str
    issuer_node: str
    issuer_name: str
    issued_at: dt.datetime
    status: str
    is_result: bool


class CompositeDetail(Schema):
    """A 联办件: ``composite_kind`` relay (``stages``) or bundle (``parts``); ``status``
    is derived from its members (in_progress | supplement_requested | approved |
    partially_concluded | refused | denied | withdrawn)."""

    number: str
    composite_kind: str
    kind_label: str
    item: str
    item_name: str
    status: str
    status_label: str
    organization: str
    organization_name: str
    channel: str
    receiving_node: str
    receiving_window: str
    applicant_name: str
    applicant_id_masked: str
    enterprise_code: str
    enterprise_name: str
    submitted_at: dt.datetime
    concluded_at: dt.datetime | None
    reason: str
    stages: list[CompositeMemberOut]
    parts: list[CompositeMemberOut]
    documents: list[CompositeDocumentOut]
