"""/api/v1/sharing/datasets — the sharing catalog as this node holds it (staff);
/api/v1/cases/{number}/data-checks — the 数据核验 of a case at its handling node."""

import datetime as dt
from typing import Any

from django.utils.translation import gettext as _
from ninja import Field, Router, Schema, Status

from tongban.api_errors import errors
from tongban.errors import PermissionDenied
from tongban.identity.authentication import api_auth, requires_scope
from tongban.sharing import selectors
from tongban.sharing.query import case_checks, data_query_view

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


# --- 数据核验 on a case (docs/data-sharing.md §5) -----------------------------------------------


class DataCheckIn(Schema):
    # a dataset code of the sharing catalog, e.g. "js.marriage"
    dataset: str = Field(..., max_length=64)
    # field keys of that dataset, all covered by one authorization of the case's item
    fields: list[str] = Field(..., max_length=50)
    # the authorization's purpose, word for word
    purpose: str = Field(..., max_length=200)


class DataCheckFieldOut(Schema):
    key: str
    label: str
    # the value the source answered (null until answered, or when it has none); a 身份证号
    # is masked
    value: Any = None


class DataCheckOut(Schema):
    query_id: str
    material_code: str
    dataset: str
    dataset_name: str
    source_node: str
    source_organization: str
    source_organization_name: str
    fields: list[DataCheckFieldOut]
    purpose: str
    legal_basis: str
    consent_id: str
    # pending | answered | not_found | refused | failed
    status: str
    status_label: str
    asked_at: dt.datetime
    answered_at: dt.datetime | None
    # the source's SM2 signature over the answer record verifies (checked again now)
    signature_verified: bool
    sample: bool
    refusal_code: str
    refusal_label: str
    refusal_message: str
    requested_by: str
    # "case" (数据核验 of the case) or "agent_authorization" (the register's check of the
    # agent's authorization, data-sharing.md §7.4)
    use: str
    # agent_authorization only: the register names the legal representative who signed the
    # authorization (null until answered, and for other checks)
    representative_matches: bool | None = None


class DataCheckOptionFieldOut(Schema):
    key: str
    label: str


class DataCheckOptionOut(Schema):
    dataset: str
    dataset_name: str
    source_node: str
    source_organization_name: str
    fields: list[DataCheckOptionFieldOut]
    purpose: str
    legal_basis: str
    consent_required: bool


class ReplacedMaterialOut(Schema):
    material_code: str
    name: str
    # 免交（数据核验）: an answered check replaces the material
    replaced: bool


class DataChecksOut(Schema):
    case_number: str
    checks: list[DataCheckOut]
    # the authorizations of the case's item at the handling organization
    options: list[DataCheckOptionOut]
    materials: list[ReplacedMaterialOut]
    can_start: bool


@router.get(
    "/cases/{number}/data-checks",
    response={200: DataChecksOut, **errors(401, 403, 404)},
    summary="办件的数据核验",
)
@requires_scope("cases:read")
def case_data_checks(request, number: str):
    """The case's data queries (数据核验) with their source, fields and values, times,
    signature check or refusal, and what may be asked. Staff of the handling
    organization only (as for the case itself)."""
    _, listing = case_checks()
    return listing(user=request.user, number=number)


@router.post(
    "/cases/{number}/data-checks",
    response={201: DataCheckOut, **errors(400, 401, 403, 404, 409, 422)},
    summary="发起数据核验",
)
@requires_scope("cases:write")
def case_data_check_start(request, number: str, payload: DataCheckIn):
    """Ask a dataset of the sharing catalog about the case's applicant, for the
    authorization's purpose. Refused at once (403, with the catalog's code) when the
    catalog does not authorize it; otherwise 201 with the check, ``pending`` until the
    source node answers (or already answered for a dataset of this node)."""
    start, _ = case_checks()
    query = start(
        user=request.user,
        number=number,
        dataset=payload.dataset,
        fields=payload.fields,
        purpose=payload.purpose,
    )
    query.refresh_from_db()
    return Status(201, data_query_view(query))
