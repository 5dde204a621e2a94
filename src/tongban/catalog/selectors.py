"""Catalog reads: search and item detail (public information)."""

from django.db.models import Prefetch, Q, QuerySet

from tongban.catalog.models import Implementation, ServiceItem


def item_search(*, query: str = "", audience: str = "", area: str = "", mode: str = "") -> QuerySet:
    items = ServiceItem.objects.filter(active=True)
    for term in query.lower().split():
        items = items.filter(Q(search_text__contains=term) | Q(basic_code=term))
    if audience:
        items = items.filter(audience=audience)
    if area:
        items = items.filter(area=area)
    if mode:
        items = items.filter(mode=mode)
    return items.order_by("basic_code")


def item_detail(*, basic_code: str) -> ServiceItem | None:
    implementations = Implementation.objects.select_related(
        "organization", "organization__node"
    ).order_by("region")
    return (
        ServiceItem.objects.filter(active=True, basic_code=basic_code)
        .prefetch_related("materials", Prefetch("implementations", queryset=implementations))
        .first()
    )
