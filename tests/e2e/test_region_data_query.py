"""数据核验 across four real nodes: 张伟 (zj) applies at home for 异地购房提取住房公积金
decided in 合肥 (ah) without his deed or marriage certificate; ah asks sh 不动产登记信息 and
js 婚姻登记信息 by itself over the exchange, each source answers only the authorized
fields in a signed record, and the official sees both; an unauthorized field is refused
at once. Everything over real HTTP between separate processes."""

from __future__ import annotations

import base64

import pytest

from tongban.identity.demo_accounts import DEMO_PASSWORD, PERSONS
from tongban.region import ApiClient

from .test_region_flow1 import wait_for

pytestmark = pytest.mark.e2e
FUND = "000530001000"  # 异地购房提取住房公积金: M02 and M04 replaceable by data checks
PURPOSE = "核验购房提取条件"
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


def pdf(code: str) -> dict:
    return {
        "material_code": code,
        "filename": f"{code}.pdf",
        "content_base64": base64.b64encode(PDF + code.encode()).decode(),
    }


def test_a_fund_withdrawal_at_ah_checks_js_and_sh_data_instead_of_papers(full_region):
    region = full_region
    for node in ("sh", "js"):
        region.manage(node, "sharing-samples")  # the sources' sample rows (示例数据)
    username, name, id_number, phone = PERSONS["zj"]  # 张伟, resident of Zhejiang
    holder = ApiClient(
        region.url("zj"), username, DEMO_PASSWORD, otp=lambda: region.last_sms_code("zj")
    )
    items = holder.get(f"/items/{FUND}").json()
    materials = {m["code"]: m for m in items["materials"]}
    assert materials["M02"]["data_check"] == "sh.real_estate.has_property,property_address"
    hefei = next(
        i["organization"]
        for i in items["implementations"]
        if i["organization_name"] == "合肥住房公积金管理中心"
    )
    r = holder.post(
        "/cases/online",
        {
            "item": FUND,
            "organization": hefei,
            "form": {
                "applicant_name": name,
                "applicant_id_number": id_number,
                "contact_phone": phone,
                "house_region": "310118",
                "amount": "80000",
                "bank_account": "6222020000000000002",
            },
            "materials": [pdf("M01"), pdf("M03")],  # no deed, no marriage certificate
        },
    )
    assert r.status_code == 201, r.text
    number = r.json()["number"]
    official = ApiClient(region.url("ah"), "hefei.fund.official", DEMO_PASSWORD)

    def settled():
        response = official.get(f"/cases/{number}/data-checks")
        if response.status_code != 200:
            return None
        body = response.json()
        checks = {c["dataset"]: c for c in body["checks"]}
        if set(checks) >= {"sh.real_estate", "js.marriage"} and all(
            c["status"] != "pending" for c in checks.values()
        ):
            return body
        return None

    body = wait_for(settled, timeout=90, what="both data checks answered at ah")
    checks = {c["dataset"]: c for c in body["checks"]}
    estate, marriage = checks["sh.real_estate"], checks["js.marriage"]
    assert estate["status"] == "answered" and estate["signature_verified"] is True
    assert estate["source_node"] == "sh" and estate["material_code"] == "M02"
    assert estate["source_organization_name"] == "上海市不动产登记局"
    values = {f["key"]: f["value"] for f in estate["fields"]}
    assert set(values) == {"has_property", "property_address"} and values["has_property"] is True
    assert "示例" in values["property_address"]
    assert marriage["status"] == "answered" and marriage["signature_verified"] is True
    assert marriage["source_node"] == "js" and marriage["material_code"] == "M04"
    assert {f["key"]: f["value"] for f in marriage["fields"]} == {
        "marital_status": "已婚",
        "spouse_name": "王建国",
    }
    assert all(c["requested_by"] == "" for c in (estate, marriage))  # sent by itself
    assert {m["material_code"]: m["replaced"] for m in body["materials"]} == {
        "M02": True,
        "M04": True,
    }
    assert id_number not in str(body)

    # an unauthorized field is refused at once at ah: nothing is asked of js
    r = official.post(
        f"/cases/{number}/data-checks",
        {"dataset": "js.marriage", "fields": ["spouse_id_number"], "purpose": PURPOSE},
    )
    assert r.status_code == 403 and r.json()["error"]["code"] == "fields_not_authorized"
    assert len(official.get(f"/cases/{number}/data-checks").json()["checks"]) == 2

    # the official asks again: a new round trip to js, answered and signed
    r = official.post(
        f"/cases/{number}/data-checks",
        {"dataset": "js.marriage", "fields": ["marital_status"], "purpose": PURPOSE},
    )
    assert r.status_code == 201 and r.json()["status"] == "pending", r.text
    query_id = r.json()["query_id"]

    def answered():
        body = official.get(f"/cases/{number}/data-checks").json()
        check = next(c for c in body["checks"] if c["query_id"] == query_id)
        return check if check["status"] != "pending" else None

    check = wait_for(answered, timeout=60, what="the official's check answered")
    assert check["status"] == "answered" and check["signature_verified"] is True
    assert [f["key"] for f in check["fields"]] == ["marital_status"]
    assert check["requested_by"]
