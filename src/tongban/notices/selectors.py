"""Notice reads, scoped by the caller's access.

A person reads the notices addressed to their account, and — only with a proven
identity (L3) — those addressed to their 身份证号 (ADR 0010). Staff and anonymous
callers read none.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet

from tongban.identity.selectors import Access
from tongban.notices.models import Notice


def notices_visible_to(access: Access) -> QuerySet[Notice]:
    if not access.is_person:
        return Notice.objects.none()
    mine = Q(account_id=access.person_account)
    if access.person_index:
        mine |= Q(recipient_index=access.person_index)
    return Notice.objects.filter(mine)


def notice_list(access: Access, *, limit: int, offset: int = 0) -> tuple[list[Notice], int]:
    rows = notices_visible_to(access)
    return list(rows[offset : offset + limit]), rows.count()


def notices_unread_count(access: Access) -> int:
    if not access.is_person:
        return 0
    return notices_visible_to(access).filter(read_at__isnull=True).count()
