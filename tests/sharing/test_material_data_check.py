"""A catalog material replaceable by a data check (可由数据共享核验替代)."""

from __future__ import annotations

import json

import pytest

from tongban.catalog.models import Material
from tongban.catalog.services import DATA_DIR, CatalogError, catalog_release_import
from tongban.gm.canonical import canonical_json
from tongban.gm.sm3 import sm3_hex

ITEM = "000530001000"


def release_with(data_check) -> dict:
    document = json.loads((DATA_DIR / "catalog_2026Q4.json").read_text(encoding="utf-8"))
    document["release"] = "2026Q4-datacheck"
    item = next(i for i in document["items"] if i["basic_code"] == ITEM)
    material = next(m for m in item["materials"] if "不动产" in m["name"])
    material["data_check"] = data_check
    return document


def test_a_material_declares_its_data_check(region, api):
    document = release_with("sh.real_estate.has_property,property_address")
    catalog_release_import(document=document, sm3=sm3_hex(canonical_json(document)))
    material = Material.objects.get(item__basic_code=ITEM, name__contains="不动产")
    assert material.data_check == "sh.real_estate.has_property,property_address"
    body = api.get(f"/items/{ITEM}").json()
    by_name = {m["name"]: m for m in body["materials"]}
    assert by_name[material.name]["data_check"] == material.data_check
    # the shipped release also lets 婚姻登记信息 replace the marriage certificate (M04)
    others = {m["code"]: m["data_check"] for n, m in by_name.items() if n != material.name}
    assert others == {"M01": "", "M03": "", "M04": "js.marriage.marital_status,spouse_name"}


@pytest.mark.parametrize("bad", ["sh.real_estate", "real_estate.has_property", "SH.x.y", 7])
def test_a_malformed_data_check_is_refused_naming_the_material(region, bad):
    document = release_with(bad)
    with pytest.raises(CatalogError, match=f"item {ITEM} material .*: data_check"):
        catalog_release_import(document=document, sm3=sm3_hex(canonical_json(document)))
