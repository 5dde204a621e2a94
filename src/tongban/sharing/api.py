"""/api/v1/sharing/datasets — the sharing catalog as this node holds it (staff)."""

from __future__ import annotations

from django.utils.translation import gettext as _
from ninja import Router, Schema

from tongban.api_errors import errors
from tongban.errors import PermissionDenied
from tongban.identity.authentication import api_auth
from tongban.sharing import selectors

router = Router(tags=["sharing"], auth=api_auth)


class DatasetFieldOut(Schema):
    key: str
    label: str
    type: str
    # 数据分级: 一般 / 重要 / 核心
    classification: str
    personal: bool


class AuthorizationOut(Schema):
    item: str
    # an organization's USCC, or "*" for every organization of the region
    organization: str
    fields: list[str]
    purpose: str
    legal_basis: str
    consent_required: bool
    sample: bool


class DatasetOut(Schema):
    code: str
    name: str
    node: str
    organization: str
    organization_name: str
    # person (自然人) | enterprise (法人)
    subject: str
    # 无条件 / 有条件 / 不予共享
    sharing_type: str
    description: str
    sample: bool
    fields: list[DatasetFieldOut]
    authorizations: list[AuthorizationOut]


class DatasetsOut(Schema):
    datasets: list[DatasetOut]


@router.get(
    "/sharing/datasets",
    response={200: DatasetsOut, **errors(401, 403)},
    summary="政务数据共享清单目录（本节点所持）",
)
def sharing_datasets(request):
    """Datasets, their fields and classification, and their authorizations, as mirrored
    from the hub's signed global configuration. Staff accounts only."""
    if request.user.kind != "staff":
        raise PermissionDenied(_("仅工作人员可查看共享目录"))
    return {
        "datasets": [
            {
                "code": d.code,
                "name": d.name,
                "node": d.node.node_id,
                "organization": d.organization_id,
                "organization_name": d.organization.name,
                "subject": d.subject,
                "sharing_type": d.sharing_type,
                "description": d.description,
                "sample": d.sample,
                "fields": [
                    {
                        "key": f.key,
                        "label": f.label,
                        "type": f.type,
                        "classification": f.classification,
                        "personal": f.personal,
                    }
                    for f in d.fields.all()
                ],
                "authorizations": [
                    {
                        "item": a.item_code,
                        "organization": a.organization_code,
                        "fields": a.fields,
                        "purpose": a.purpose,
                        "legal_basis": a.legal_basis,
                        "consent_required": a.consent_required,
                        "sample": a.sample,
                    }
                    for a in d.authorizations.all()
                ],
            }
            for d in selectors.datasets()
        ]
    }
