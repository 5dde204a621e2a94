"""E-licence reads, scoped by who asks: a holder sees their own wallet (and
their enterprises'), an authority's staff the licences it issued, a node
administrator the counters. Anything else does not exist for the caller."""

from __future__ import annotations

from django.db.models import QuerySet, Sum

from tongban.errors import NotFound
from tongban.identity.pii import blind_index
from tongban.identity.selectors import access_for
from tongban.licences.models import Licence, LicenceCounter, LicenceUse, WalletEntry


def holder_indexes(user) -> list[str]:
    """Blind indexes of every holder the user may act as: themselves and their enterprises."""
    access = access_for(user)
    if not access.person_index:
        return []
    codes = set(access.enterprise_codes) | {code for code, _item in access.agent_scopes}
    return [access.person_index] + [blind_index(code) for code in sorted(codes)]


def wallet_entries_for(user) -> QuerySet[WalletEntry]:
    return WalletEntry.objects.filter(holder_id_index__in=holder_indexes(user))


def wallet_entry_for(user, identifier: str) -> WalletEntry:
    entry = wallet_entries_for(user).filter(identifier=identifier).first()
    if entry is None:
        raise NotFound("证照不存在")
    return entry


def licence_uses_for(user, identifier: str | None = None) -> QuerySet[LicenceUse]:
    uses = LicenceUse.objects.filter(holder_id_index__in=holder_indexes(user))
    return uses.filter(identifier=identifier) if identifier else uses


def licences_issued_visible_to(user) -> QuerySet[Licence]:
    access = access_for(user)
    return Licence.objects.filter(organization_id__in=access.view_orgs).select_related(
        "licence_type", "organization"
    )


def licence_issued(user, identifier: str) -> Licence:
    licence = licences_issued_visible_to(user).filter(identifier=identifier).first()
    if licence is None:
        raise NotFound("证照不存在")
    return licence


def counters_summary() -> list[dict]:
    """Totals per type and event at this node (for administrators and dashboards)."""
    rows = (
        LicenceCounter.objects.values("node_id", "type_code", "event")
        .annotate(total=Sum("count"))
        .order_by("type_code", "event")
    )
    return list(rows)
