"""Reads of the sharing catalog as this node holds it."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from tongban.errors import DomainError
from tongban.sharing.models import ANY_ORGANIZATION, Dataset, SharingAuthorization


class SharingRefused(DomainError):
    """A use of a dataset the catalog does not authorize; ``code`` says why:

    ``unknown_dataset``, ``not_shared`` (不予共享), ``item_not_authorized`` (no
    authorization for this item at this organization), ``purpose_mismatch``,
    ``fields_not_authorized`` (details.fields lists the fields refused)."""

    def __init__(self, code: str, message: str, **details):
        super().__init__(code, message, status=403, details=details)


def datasets() -> QuerySet[Dataset]:
    return (
        Dataset.objects.filter(active=True)
        .select_related("node", "organization")
        .prefetch_related("fields", "authorizations")
        .order_by("code")
    )


def authorization_for(
    *,
    dataset: Dataset | str,
    item: str,
    organization: str,
    fields: list[str],
    purpose: str,
) -> SharingAuthorization:
    """The authorization that lets ``organization`` (USCC), handling ``item`` (basic
    code), read ``fields`` of ``dataset`` for ``purpose``; SharingRefused otherwise.

    An authorization for organization "*" covers every organization of the region
    for that item. The purpose must be the one stated in the authorization."""
    code = dataset.code if isinstance(dataset, Dataset) else dataset
    found = Dataset.objects.filter(code=code, active=True).first()
    if found is None:
        raise SharingRefused("unknown_dataset", _("共享目录中没有数据集 %(code)s") % {"code": code})
    if found.sharing_type == "不予共享":
        raise SharingRefused("not_shared", _("数据集 %(name)s 不予共享") % {"name": found.name})
    candidates = [
        a
        for a in SharingAuthorization.objects.filter(dataset=found, item_code=item)
        if a.organization_code in (organization, ANY_ORGANIZATION)
    ]
    if not candidates:
        raise SharingRefused(
            "item_not_authorized",
            _("事项 %(item)s 在本部门未获授权使用数据集 %(name)s")
            % {"item": item, "name": found.name},
        )
    purposeful = [a for a in candidates if a.purpose == purpose.strip()]
    if not purposeful:
        raise SharingRefused(
            "purpose_mismatch",
            _("使用目的与授权不符，授权的目的为：%(purposes)s")
            % {"purposes": "；".join(sorted({a.purpose for a in candidates}))},
        )
    wanted = list(dict.fromkeys(fields))
    if not wanted:
        raise SharingRefused("fields_not_authorized", _("请指明要使用的字段"), fields=[])
    best = None
    for a in purposeful:
        # the named organization's own authorization before a region-wide one
        if set(wanted) <= set(a.fields) and (
            best is None or a.organization_code != ANY_ORGANIZATION
        ):
            best = a
    if best is None:
        allowed = set().union(*(a.fields for a in purposeful))
        refused = [f for f in wanted if f not in allowed] or wanted
        raise SharingRefused(
            "fields_not_authorized",
            _("未获授权使用字段：%(fields)s") % {"fields": "、".join(refused)},
            fields=refused,
        )
    return best
