"""Reads of the data-use log, scoped by access.

A person reads the uses kept under the blind index of their 身份证号 — only with a proven
identity (L3, ADR 0010); staff and anonymous callers read none. A 数据专员 (StaffAssignment
role ``data_officer``) reads the flags on uses by their organizations; one assigned without
an organization reads the flags on this node's uses that name no organization (e.g. public
verifications)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from tongban.errors import DomainError
from tongban.identity.selectors import Access
from tongban.sharing.models import DataUseFlag, DataUseRecord


def data_uses_visible_to(access: Access) -> QuerySet[DataUseRecord]:
    if not access.is_person or not access.person_index:
        return DataUseRecord.objects.none()
    return DataUseRecord.objects.filter(person_index=access.person_index)


@dataclass(frozen=True)
class UseFilters:
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    kind: str = ""
    organization: str = ""

    def as_query(self) -> dict:
        return {
            "from": self.date_from.isoformat() if self.date_from else "",
            "to": self.date_to.isoformat() if self.date_to else "",
            "kind": self.kind,
            "organization": self.organization,
        }


def use_filters_clean(params) -> UseFilters:
    """Filters from a query string (``from``, ``to`` as YYYY-MM-DD, ``kind``,
    ``organization``); every problem at once as DomainError ``invalid_filter``."""
    errors: dict[str, str] = {}
    dates: dict[str, dt.date | None] = {}
    for name in ("from", "to"):
        raw = str(params.get(name) or "").strip()
        dates[name] = None
        if raw:
            try:
                dates[name] = dt.date.fromisoformat(raw)
            except ValueError:
                errors[name] = _("日期格式应为 年-月-日，例如 2026-12-01")
    if dates["from"] and dates["to"] and dates["from"] > dates["to"]:
        errors["to"] = _("结束日期不能早于开始日期")
    kind = str(params.get("kind") or "").strip()
    if kind and kind not in DataUseRecord.Kind.values:
        errors["kind"] = _("未知的使用方式")
    organization = str(params.get("organization") or "").strip()
    if len(organization) > 128:
        errors["organization"] = _("使用部门不超过 128 个字")
    if errors:
        raise DomainError("invalid_filter", _("筛选条件有误"), details={"fields": errors})
    return UseFilters(
        date_from=dates["from"], date_to=dates["to"], kind=kind, organization=organization
    )


def _day_start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def data_uses_for(access: Access, filters: UseFilters) -> QuerySet[DataUseRecord]:
    """The person's uses, newest first, filtered."""
    rows = data_uses_visible_to(access)
    if filters.date_from:
        rows = rows.filter(used_at__gte=_day_start(filters.date_from))
    if filters.date_to:
        rows = rows.filter(used_at__lt=_day_start(filters.date_to + dt.timedelta(days=1)))
    if filters.kind:
        rows = rows.filter(kind=filters.kind)
    if filters.organization:
        rows = rows.filter(
            Q(user_organization_name__icontains=filters.organization)
            | Q(user_organization_code=filters.organization.upper())
        )
    return rows.order_by("-used_at", "-id")


def officer_organizations(user) -> set[str] | None:
    """The organizations whose flags ``user`` answers as 数据专员 ("" for a node-wide
    assignment); None when the user is not a data officer."""
    from tongban.identity.models import StaffAssignment

    if user is None or not user.is_authenticated or not user.is_active:
        return None
    rows = list(
        StaffAssignment.objects.filter(user=user, role="data_officer").values_list(
            "organization__code", flat=True
        )
    )
    if not rows:
        return None
    return {code or "" for code in rows}


def flags_visible_to(user) -> QuerySet[DataUseFlag]:
    codes = officer_organizations(user)
    if not codes:
        return DataUseFlag.objects.none()
    return DataUseFlag.objects.filter(organization_code__in=codes)


def proof_state(record: DataUseRecord) -> dict:
    """What the person is told about the proof: ``state`` "included" with the log position,
    checkpoint size and witnesses, or "pending"."""
    if record.proof and record.audit_index is not None:
        return {
            "state": "included",
            "node": record.reporter_node,
            "index": record.audit_index,
            "checkpoint_size": record.proof.get("size"),
            "witnesses": list(record.proof.get("witnesses") or []),
        }
    return {"state": "pending", "node": record.reporter_node, "index": record.audit_index}
