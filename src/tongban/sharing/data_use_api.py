"""/api/v1/me/data-uses and /api/v1/data-officer/flags — 我的数据使用记录 and the 数据专员's
flags (docs/data-sharing.md §6, docs/api.md)."""

from __future__ import annotations

from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema

from tongban.api_errors import ACTION_ERRORS, MAX_LIMIT, MAX_OFFSET, errors
from tongban.errors import PermissionDenied
from tongban.exchange.envelopes import iso
from tongban.identity.authentication import api_auth
from tongban.identity.selectors import access_for
from tongban.sharing import data_use
from tongban.sharing import data_use_selectors as sel

router = Router(tags=["sharing"], auth=api_auth)


class ProofOut(Schema):
    # included | pending
    state: str
    # the node whose audit log holds the use's leaf
    node: str
    index: int | None = None
    checkpoint_size: int | None = None
    witnesses: list[str] = []
    size: int | None = None
    root: str | None = None
    hashes: list[str] = []
    # the signed checkpoint note the proof is against (with the witnesses' cosignatures)
    checkpoint: str | None = None


class DataUseOut(Schema):
    use_id: str
    # data_query | licence_fetch | licence_verification | case
    kind: str
    kind_name: str
    used_at: str
    user_node: str
    user_organization_code: str
    user_organization_name: str
    dataset_code: str
    dataset_name: str
    fields: list[str]
    case_number: str
    item_name: str
    purpose: str
    legal_basis: str
    consent_id: str
    proof: ProofOut
    # "" | open | answered
    flag: str
    flag_reason: str
    flagged_at: str | None
    flag_deadline: str | None
    flag_answer: str
    flag_answered_at: str | None


class DataUsesOut(Schema):
    count: int
    results: list[DataUseOut]


class UseFilterQuery(Schema):
    date_from: str = Field("", alias="from", description="YYYY-MM-DD, used on or after")
    date_to: str = Field("", alias="to", description="YYYY-MM-DD, used on or before")
    kind: str = Field("", description="data_query | licence_fetch | licence_verification | case")
    organization: str = Field("", description="part of the using organization's name, or its USCC")
    limit: int = Field(50, ge=1, le=MAX_LIMIT)
    offset: int = Field(0, ge=0, le=MAX_OFFSET)


class FlagIn(Schema):
    reason: str = Field(description="why the use is questioned (1–500 characters)")


class FlagOut(Schema):
    flag_id: str
    use_id: str
    home_node: str
    organization_code: str
    use: dict
    reason: str
    raised_at: str
    deadline: str
    overdue: bool
    # open | answered
    status: str
    answer: str
    answered_at: str | None


class FlagsOut(Schema):
    count: int
    results: list[FlagOut]


class AnswerIn(Schema):
    answer: str = Field(description="the data officer's answer (1–2000 characters)")


def _opt(value) -> str | None:
    if value is None:
        return None
    return value.isoformat() if not hasattr(value, "tzinfo") else iso(value)


def use_dict(record) -> dict:
    state = sel.proof_state(record)
    proof = dict(state)
    if record.proof:
        proof.update(
            size=record.proof.get("size"),
            root=record.proof.get("root"),
            hashes=list(record.proof.get("hashes") or []),
            checkpoint=record.proof.get("checkpoint"),
        )
    return {
        "use_id": record.use_id,
        "kind": record.kind,
        "kind_name": str(record.get_kind_display()),
        "used_at": iso(record.used_at),
        "user_node": record.user_node,
        "user_organization_code": record.user_organization_code,
        "user_organization_name": record.user_organization_name,
        "dataset_code": record.dataset_code,
        "dataset_name": record.dataset_name,
        "fields": list(record.fields),
        "case_number": record.case_number,
        "item_name": record.item_name,
        "purpose": record.purpose,
        "legal_basis": record.legal_basis,
        "consent_id": record.consent_id,
        "proof": proof,
        "flag": record.flag,
        "flag_reason": record.flag_reason,
        "flagged_at": _opt(record.flagged_at),
        "flag_deadline": record.flag_deadline.isoformat() if record.flag_deadline else None,
        "flag_answer": record.flag_answer,
        "flag_answered_at": _opt(record.flag_answered_at),
    }


def flag_dict(flag) -> dict:
    from django.utils import timezone

    return {
        "flag_id": flag.flag_id,
        "use_id": flag.use_id,
        "home_node": flag.home_node,
        "organization_code": flag.organization_code,
        "use": flag.use_summary,
        "reason": flag.reason,
        "raised_at": iso(flag.raised_at),
        "deadline": flag.deadline.isoformat(),
        "overdue": flag.status == flag.Status.OPEN and flag.deadline < timezone.localdate(),
        "status": flag.status,
        "answer": flag.answer,
        "answered_at": _opt(flag.answered_at),
    }


def _person(request):
    access = access_for(request.user)
    if not access.is_person:
        raise PermissionDenied(_("仅个人用户可查看数据使用记录"))
    return access


def _officer(request) -> None:
    if sel.officer_organizations(request.user) is None:
        raise PermissionDenied(_("仅数据专员可处理数据使用异议"))


@router.get(
    "/me/data-uses",
    response={200: DataUsesOut, **errors(400, 403)},
    summary="我的数据使用记录",
)
def my_data_uses(request, query: Query[UseFilterQuery]):
    """Every use of the caller's data reported to this node (their home node), newest
    first, with its inclusion proof once the reporting node's checkpoint covers it. Only
    with a proven identity (L3); otherwise an empty list."""
    access = _person(request)
    filters = sel.use_filters_clean(
        {
            "from": query.date_from,
            "to": query.date_to,
            "kind": query.kind,
            "organization": query.organization,
        }
    )
    rows = sel.data_uses_for(access, filters)
    return {
        "count": rows.count(),
        "results": [use_dict(r) for r in rows[query.offset : query.offset + query.limit]],
    }


@router.post(
    "/me/data-uses/{use_id}/flag",
    response={200: DataUseOut, **ACTION_ERRORS},
    summary="对一条数据使用记录提出异议",
)
def my_data_use_flag(request, use_id: str, payload: FlagIn):
    """The flag goes to the 数据专员 of the using organization's node, who answers within
    15 working days."""
    _person(request)
    record = data_use.data_use_flag_raise(user=request.user, use_id=use_id, reason=payload.reason)
    return use_dict(record)


@router.get(
    "/data-officer/flags",
    response={200: FlagsOut, **errors(403)},
    summary="数据专员：本部门的数据使用异议",
)
def officer_flags(
    request,
    status: str = Query("", description="open | answered (both when empty)"),
    limit: int = Query(50, ge=1, le=MAX_LIMIT),
    offset: int = Query(0, ge=0, le=MAX_OFFSET),
):
    _officer(request)
    rows = sel.flags_visible_to(request.user)
    if status in ("open", "answered"):
        rows = rows.filter(status=status)
    rows = rows.order_by("status", "deadline", "id")
    return {"count": rows.count(), "results": [flag_dict(f) for f in rows[offset : offset + limit]]}


@router.post(
    "/data-officer/flags/{flag_id}/answer",
    response={200: FlagOut, **ACTION_ERRORS},
    summary="数据专员：答复数据使用异议",
)
def officer_flag_answer(request, flag_id: str, payload: AnswerIn):
    _officer(request)
    flag = data_use.data_use_flag_answer(user=request.user, flag_id=flag_id, answer=payload.answer)
    return flag_dict(flag)
