"""/api/v1/items — the service-item catalog; /api/v1/catalog/releases — releases."""

from __future__ import annotations

from django.http import HttpResponse
from ninja import Query, Router, Schema

from tongban.api_errors import MAX_LIMIT, MAX_OFFSET, errors
from tongban.catalog import selectors
from tongban.catalog.models import Release
from tongban.errors import NotFound

router = Router(tags=["catalog"])


class ItemMaterialOut(Schema):
    code: str
    name: str
    required: bool
    file_types: list[str]
    max_size_mb: int
    licence_type: str
    # 可由数据共享核验替代: "<dataset code>.<field>[,<field>…]", "" when not
    data_check: str


class ImplementationOut(Schema):
    code: str
    region: str
    organization: str
    organization_name: str
    node: str


class ItemSummary(Schema):
    basic_code: str
    name: str
    audience: str
    area: str
    mode: str
    mode_label: str
    legal_limit_days: int
    promised_limit_days: int
    sample: bool


class ItemStageOut(Schema):
    """One stage of a 接续办 relay (docs/catalog.md)."""

    sequence: int
    key: str
    role: str
    name: str
    # exactly one of {"from": "applied"}, {"region_field": "<form field>"}, {"same_as": "<key>"}
    organization: dict[str, str]
    limit_days: int
    # "form:<field>" | "stage:<earlier key>:<output key>" — what the stage's official sees
    inputs: list[str]
    # what the stage's official enters on approval (same shape as result.official_inputs)
    outputs: list[dict]
    # the stage's document (a result declaration; may use stage:<key>:<output> sources)
    result: dict


class ItemPartOut(Schema):
    """One part of a 集成办 bundle, "一件事" (docs/catalog.md)."""

    key: str
    item: str
    role: str
    # {"region_field": "<bundle form field>"} or {"same_as": "<part key>"}
    organization: dict[str, str]
    depends_on: list[str]
    # part item form field → "form:<bundle field>" | "applicant:name|id_number|phone"
    #   | "part:<depends_on key>:<output key>" | "text:<literal>"
    fields: dict[str, str]
    # part item material code → bundle material code
    materials: dict[str, str] = {}


class ItemDetail(ItemSummary):
    fee: str
    min_assurance: str
    result_kind: str
    # what approval yields and says: kind, title, licence, facts, official_inputs, …
    # (docs/exchange-protocol.md §12); official_inputs are the approve body's "result" keys
    result: dict = {}
    guide: str
    keywords: list[str]
    form: list[dict]
    materials: list[ItemMaterialOut]
    implementations: list[ImplementationOut]
    # 接续办: the relay's ordered stages; 集成办: the bundle's parts ([] for a plain item)
    stages: list[ItemStageOut] = []
    parts: list[ItemPartOut] = []
    release: str


class ItemList(Schema):
    count: int
    results: list[ItemSummary]


def _summary(item) -> dict:
    return {
        "basic_code": item.basic_code,
        "name": item.name,
        "audience": item.audience,
        "area": item.area,
        "mode": item.mode,
        "mode_label": str(item.get_mode_display()),
        "legal_limit_days": item.legal_limit_days,
        "promised_limit_days": item.promised_limit_days,
        "sample": item.sample,
    }


@router.get("/items", response=ItemList, summary="事项检索（中文全文）")
def item_list(
    request,
    q: str = "",
    audience: str = "",
    area: str = "",
    mode: str = "",
    limit: int = Query(50, ge=1, le=MAX_LIMIT),
    offset: int = Query(0, ge=0, le=MAX_OFFSET),
):
    items = selectors.item_search(query=q, audience=audience, area=area, mode=mode)
    return {
        "count": items.count(),
        "results": [_summary(i) for i in items[offset : offset + limit]],
    }


@router.get("/items/{basic_code}", response={200: ItemDetail, **errors(404)}, summary="事项详情")
def item_get(request, basic_code: str):
    item = selectors.item_detail(basic_code=basic_code)
    if item is None:
        raise NotFound("事项不存在")
    return {
        **_summary(item),
        "fee": item.fee,
        "min_assurance": item.min_assurance,
        "result_kind": item.result_kind,
        "result": item.result or {},
        "guide": item.guide,
        "keywords": item.keywords,
        "form": item.form_schema,
        "materials": [
            {
                "code": m.code,
                "name": m.name,
                "required": m.required,
                "file_types": m.file_types,
                "max_size_mb": m.max_size_mb,
                "licence_type": m.licence_type,
                "data_check": m.data_check,
            }
            for m in item.materials.all()
        ],
        "implementations": [
            {
                "code": i.code,
                "region": i.region,
                "organization": i.organization.code,
                "organization_name": i.organization.name,
                "node": i.organization.node.node_id,
            }
            for i in item.implementations.all()
        ],
        "stages": item.stages or [],
        "parts": item.parts or [],
        "release": item.release.version if item.release_id else "",
    }


@router.get(
    "/catalog/releases/{version}",
    response={200: dict, **errors(404)},
    summary="事项清单版本（规范化 JSON，SM3 见全局配置）",
)
def release_get(request, version: str):
    release = Release.objects.filter(version=version).first()
    if release is None:
        raise NotFound("没有该版本")
    # served byte-for-byte as published so that its SM3 can be checked
    return HttpResponse(release.document.encode(), content_type="application/json; charset=utf-8")
