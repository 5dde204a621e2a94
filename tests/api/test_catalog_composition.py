"""接续办 stages and 集成办 parts in the catalog release: shipped, checked, shown."""

from __future__ import annotations

import copy
import json

import jsonschema_rs
import pytest
from django.test import Client

from tongban.catalog.composition import choice_values, region_resolve
from tongban.catalog.models import Implementation, Release, ServiceItem
from tongban.catalog.services import DATA_DIR, CatalogError, catalog_release_import
from tongban.gm.canonical import canonical_json
from tongban.gm.sm3 import sm3_hex

PENSION = "000520001000"  # 城镇职工基本养老保险关系转移接续
FUND = "000530003000"  # 住房公积金异地转移接续
HUKOU_MOVE = "000501003000"  # 大中专学生毕业户口迁移
MEDICAL = "000510002000"  # 医保关系转移接续
NEWBORN = "000550001000"  # 新生儿出生“一件事”
START_UP = "000300001000"  # 企业开办“一件事”
RELAYS = (PENSION, FUND, HUKOU_MOVE, MEDICAL)
BUNDLES = (NEWBORN, START_UP)


def release() -> dict:
    return json.loads((DATA_DIR / "catalog_2026Q4.json").read_text(encoding="utf-8"))


def item_of(document: dict, code: str) -> dict:
    return next(i for i in document["items"] if i["basic_code"] == code)


def imported(document: dict):
    return catalog_release_import(document=document, sm3=sm3_hex(canonical_json(document)))


# --- the shipped release ------------------------------------------------------------------


def test_the_shipped_release_imports_its_relays_and_bundles(region):
    for code in RELAYS:
        item = ServiceItem.objects.get(basic_code=code)
        assert item.mode == "joint" and item.parts == []
        assert [s["sequence"] for s in item.stages] == [1, 2, 3]
        # the item's limits are the whole relay's
        total = sum(s["limit_days"] for s in item.stages)
        assert item.legal_limit_days >= item.promised_limit_days >= total, code
        assert item.stages[0]["organization"] == {"from": "applied"}
        assert item.stages[1]["organization"] == {"region_field": "from_region"}
        assert item.stages[2]["organization"] == {"same_as": item.stages[0]["key"]}
        for stage in item.stages:
            assert stage["result"]["official_inputs"] == stage["outputs"]
    for code in BUNDLES:
        item = ServiceItem.objects.get(basic_code=code)
        assert item.mode == "joint" and item.stages == [] and len(item.parts) >= 4
    newborn = ServiceItem.objects.get(basic_code=NEWBORN)
    assert [p["key"] for p in newborn.parts] == [
        "birth_certificate",
        "hukou",
        "medical_insurance",
        "social_card",
    ]
    hukou = newborn.parts[1]
    assert hukou["fields"]["birth_certificate_number"] == "part:birth_certificate:licence_number"
    assert ServiceItem.objects.get(basic_code=hukou["item"]).name == "出生登记（新生儿入户）"
    start_up = ServiceItem.objects.get(basic_code=START_UP)
    assert start_up.audience == "enterprise" and start_up.promised_limit_days == 1
    assert all(
        p["depends_on"] == ["establish"] and p["fields"]["uscc"] == "part:establish:licence_number"
        for p in start_up.parts[1:]
    )
    assert not ServiceItem.objects.exclude(stages=[]).exclude(parts=[]).exists()
    assert ServiceItem.objects.filter(active=True).count() == len(release()["items"]) == 59


def test_every_region_a_form_offers_has_a_deciding_organization_in_the_directory(region):
    """Each choice of a region field resolves (region, city, province) to an organization
    this node's directory lists as implementing the stage's or part's item."""
    for code in RELAYS + BUNDLES:
        item = ServiceItem.objects.get(basic_code=code)
        form = {f["name"]: f for f in item.form_schema}
        members = [(s["organization"], code) for s in item.stages]
        members += [(p["organization"], p["item"]) for p in item.parts]
        for organization, target in members:
            if "region_field" not in organization:
                continue
            field = form[organization["region_field"]]
            responsible = [
                {"region": i.region, "organization": i.organization_id}
                for i in Implementation.objects.filter(item__basic_code=target)
            ]
            for value in choice_values(field):
                assert region_resolve(value, responsible), (code, target, value)


def test_the_start_up_bundle_offers_every_province_and_zhejiang_decides_at_home(region):
    """企业开办“一件事” in 嘉兴 or 杭州: every part is decided by a 浙江 organization."""
    item = ServiceItem.objects.get(basic_code=START_UP)
    field = next(f for f in item.form_schema if f["name"] == "company_region")
    offered = choice_values(field)
    assert {"330400", "330100"} <= set(offered)
    assert {value[:2] for value in offered} == {"31", "32", "33", "34"}
    for value in ("330400", "330100"):
        for part in item.parts:
            responsible = [
                {"region": i.region, "organization": i.organization_id}
                for i in Implementation.objects.filter(item__basic_code=part["item"])
            ]
            found = region_resolve(value, responsible)
            assert found and found["organization"][2:4] == "33", (value, part["key"], found)


def test_item_detail_shows_the_stages_and_parts_as_its_schema_says(region, api):
    spec = Client().get("/api/v1/openapi.json").json()
    schema = spec["paths"]["/api/v1/items/{basic_code}"]["get"]["responses"]["200"]["content"][
        "application/json"
    ]["schema"]
    validator = {**schema, "components": spec["components"]}
    assert {"ItemStageOut", "ItemPartOut"} <= set(spec["components"]["schemas"])
    pension = api.get(f"/items/{PENSION}").json()
    jsonschema_rs.validate(validator, pension)
    assert pension["parts"] == []
    first, second, third = pension["stages"]
    assert (first["key"], first["role"], first["name"]) == (
        "contact_letter",
        "转入地",
        "出具联系函",
    )
    assert second["inputs"] == ["form:from_region", "stage:contact_letter:letter_number"]
    assert [o["key"] for o in second["outputs"]] == [
        "insured_periods",
        "contribution_base",
        "account_balance",
        "fund_transfer_amount",
        "transfer_date",
    ]
    assert second["limit_days"] == 15 and third["organization"] == {"same_as": "contact_letter"}
    region_field = next(f for f in pension["form"] if f["name"] == "from_region")
    assert {"value": "320000", "label": "江苏省"} in region_field["choices"]
    assert "stage:transfer_out:insured_periods" in json.dumps(pension["result"])

    newborn = api.get(f"/items/{NEWBORN}").json()
    jsonschema_rs.validate(validator, newborn)
    assert newborn["stages"] == []
    assert newborn["parts"][2]["depends_on"] == ["hukou"]
    assert newborn["parts"][2]["fields"]["insured_id_number"] == "part:hukou:child_id_number"

    plain = api.get("/items/000501001000").json()
    jsonschema_rs.validate(validator, plain)
    assert plain["stages"] == [] and plain["parts"] == []


# --- malformed definitions refuse the whole release ------------------------------------


def _stage(doc, n):
    return item_of(doc, PENSION)["stages"][n]


def _part(doc, key):
    return next(p for p in item_of(doc, NEWBORN)["parts"] if p["key"] == key)


def _set(target: dict, **values):
    target.update(values)


BROKEN = {
    "unknown stage source": (
        lambda d: _stage(d, 1)["result"]["facts"].append(
            {"label": "x", "from": "stage:contact_letter:nothing"}
        ),
        f"{PENSION} stage 'transfer_out' result facts\\[\\d+\\]: 'stage:contact_letter:nothing'",
    ),
    "a stage input from a later stage": (
        lambda d: _stage(d, 0)["inputs"].append("stage:transfer_out:insured_periods"),
        f"{PENSION} stage 'contact_letter': input 'stage:transfer_out:insured_periods' is not "
        "an output of an earlier stage",
    ),
    "a stage result drawing on a later stage": (
        lambda d: _stage(d, 0)["result"]["facts"].append(
            {"label": "x", "from": "{stage:receive:received_on}"}
        ),
        f"{PENSION} stage 'contact_letter' result",
    ),
    "same_as a later stage": (
        lambda d: _set(_stage(d, 1), organization={"same_as": "receive"}),
        f"{PENSION} stage 'transfer_out': organization same_as 'receive' is not an earlier",
    ),
    "stages out of sequence": (
        lambda d: _set(_stage(d, 1), sequence=3),
        f"{PENSION} stages\\[1\\]: sequence must be 2",
    ),
    "a stage key used twice": (
        lambda d: _set(_stage(d, 2), key="contact_letter"),
        f"{PENSION} stages\\[2\\]: key 'contact_letter' is used twice",
    ),
    "unknown organization rule": (
        lambda d: _set(_stage(d, 1), organization={"nearest": "from_region"}),
        f"{PENSION} stage 'transfer_out': unknown organization rule 'nearest'",
    ),
    "two organization rules": (
        lambda d: _set(_stage(d, 1), organization={"from": "applied", "same_as": "x"}),
        f"{PENSION} stage 'transfer_out': organization must be exactly one of",
    ),
    "a region field that is not on the form": (
        lambda d: _set(_stage(d, 1), organization={"region_field": "to_region"}),
        f"{PENSION} stage 'transfer_out': organization region_field 'to_region' is not a form",
    ),
    "a region nobody decides": (
        lambda d: item_of(d, PENSION)["form"][3]["choices"].append(
            {"value": "110000", "label": "北京市"}
        ),
        f"{PENSION} stage 'transfer_out': no responsible organization for region 110000",
    ),
    "outputs differing from the stage result's official inputs": (
        lambda d: _set(
            _stage(d, 0)["result"], official_inputs=[{"key": "letter_number", "label": "编号"}]
        ),
        f"{PENSION} stage 'contact_letter': result.official_inputs must equal the outputs",
    ),
    "zero days": (
        lambda d: _set(_stage(d, 0), limit_days=0),
        f"{PENSION} stage 'contact_letter': limit_days must be",
    ),
    "a relay promising less than its stages take": (
        lambda d: _set(item_of(d, PENSION), promised_limit_days=15),
        f"{PENSION}: promised_limit_days 15 is below the 45 working days its stages take",
    ),
    "a longer stage pushing the stages past the item limit": (
        lambda d: _set(_stage(d, 2), limit_days=20),
        f"{PENSION}: promised_limit_days 45 is below the 50 working days",
    ),
    "a relay's legal limit below its stages'": (
        lambda d: _set(item_of(d, MEDICAL), legal_limit_days=14),
        f"{MEDICAL}: legal_limit_days 14 is below the 15 working days",
    ),
    "an item with stages and parts": (
        lambda d: _set(item_of(d, PENSION), parts=copy.deepcopy(item_of(d, NEWBORN)["parts"])),
        f"{PENSION}: an item has stages or parts, not both",
    ),
    "a dependency cycle": (
        lambda d: _set(_part(d, "birth_certificate"), depends_on=["social_card"]),
        f"{NEWBORN}: parts depend on each other in a cycle: "
        "birth_certificate → social_card → hukou → birth_certificate",
    ),
    "an unmapped required field": (
        lambda d: _part(d, "hukou")["fields"].pop("settle_address"),
        f"{NEWBORN} part 'hukou': required form fields of 000501006000 not mapped: settle_address",
    ),
    "a part source outside depends_on": (
        lambda d: _set(_part(d, "medical_insurance"), depends_on=["birth_certificate"]),
        f"{NEWBORN} part 'medical_insurance' fields.insured_id_number: "
        "'part:hukou:child_id_number' — part 'hukou' is not in depends_on",
    ),
    "a part output its item does not yield": (
        lambda d: _part(d, "social_card")["fields"].update(
            cardholder_id_number="part:medical_insurance:licence_number"
        ),
        f"{NEWBORN} part 'social_card' fields.cardholder_id_number: "
        "'part:medical_insurance:licence_number' — part 'medical_insurance' \\(000510004000\\) "
        "has no output 'licence_number'",
    ),
    "a part item missing from the release": (
        lambda d: _set(_part(d, "hukou"), item="000501999000"),
        f"{NEWBORN} part 'hukou': item '000501999000' is not in this release",
    ),
    "a part that is itself a relay": (
        lambda d: _set(_part(d, "hukou"), item=HUKOU_MOVE),
        f"{NEWBORN} part 'hukou': item {HUKOU_MOVE} has stages or parts itself",
    ),
    "a part decided by the applied organization": (
        lambda d: _set(_part(d, "hukou"), organization={"from": "applied"}),
        f"{NEWBORN} part 'hukou': organization from 'applied' is for relay stages",
    ),
    "a required field from an optional bundle field": (
        lambda d: _set(
            next(f for f in item_of(d, NEWBORN)["form"] if f["name"] == "settle_address"),
            required=False,
        ),
        f"{NEWBORN} part 'hukou' fields.settle_address: required by 000501006000 but mapped "
        "from the optional bundle field 'settle_address'",
    ),
    "a bundle result drawing on an unknown part output": (
        lambda d: item_of(d, START_UP)["result"]["facts"].append(
            {"label": "x", "from": "part:seal:seal_number"}
        ),
        f"{START_UP} result facts\\[\\d+\\]: 'part:seal:seal_number' is not an output",
    ),
    "a part source in a plain item's result": (
        lambda d: item_of(d, "000501001000")["result"]["facts"].append(
            {"label": "x", "from": "part:seal:document_id"}
        ),
        "000501001000 result facts\\[\\d+\\]: unknown source 'part:seal:document_id'",
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_malformed_definition_refuses_the_whole_release(db, case):
    break_it, message = BROKEN[case]
    document = release()
    break_it(document)
    with pytest.raises(CatalogError, match=f"catalog release 2026Q4: {message}"):
        imported(document)
    assert not Release.objects.exists() and not ServiceItem.objects.exists()


def test_the_shipped_release_imports_on_an_empty_node(db):
    assert imported(release()).current
    assert ServiceItem.objects.get(basic_code=START_UP).parts[0]["item"] == "000301001000"


# --- select choices as {value, label} -----------------------------------------------------


def test_a_select_choice_may_be_a_value_with_a_label():
    from tongban.cases.application_form import application_form_clean
    from tongban.errors import DomainError
    from tongban.portal.forms import schema_field

    spec = {
        "name": "from_region",
        "label": "转出地",
        "type": "select",
        "required": True,
        "choices": [{"value": "320000", "label": "江苏省"}, "330000"],
    }
    assert application_form_clean([spec], {"from_region": "320000"}) == {"from_region": "320000"}
    assert application_form_clean([spec], {"from_region": "330000"}) == {"from_region": "330000"}
    with pytest.raises(DomainError):
        application_form_clean([spec], {"from_region": "江苏省"})
    shown = schema_field(spec)
    assert list(shown.choices)[1:] == [("320000", "江苏省"), ("330000", "330000")]
