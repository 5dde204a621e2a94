"""我的数据使用记录 across real nodes: 张伟 (home zj) holds a 不动产权证书 issued in Jiangsu;
Shanghai verifies his 亮证 code, Anhui handles his 公积金 case and fetches the deed from
Jiangsu. Each using node enters the use in its own audit log and reports it to zj, where he
lists the three uses with their purpose and — once the reporters' checkpoints cover them —
an inclusion proof that verifies; his objection to the verification reaches Shanghai."""

from __future__ import annotations

import base64
import json

import pytest

from tongban.identity.demo_accounts import DEMO_PASSWORD, PERSONS
from tongban.region import ApiClient

from .test_region_flow1 import wait_for
from .test_region_licences import FUND, pdf

pytestmark = pytest.mark.e2e


def test_uses_in_three_provinces_reach_the_home_node_with_proofs(full_region):
    region = full_region
    username, name, id_number, phone = PERSONS["zj"]
    issuer = ApiClient(region.url("js"), "wujiang.official", DEMO_PASSWORD)
    deed = next(
        t for t in issuer.get("/licence-types").json()["types"] if t["name"] == "不动产权证书"
    )
    organizations = issuer.get("/global-configuration").json()["configuration"]["organizations"]
    wujiang = next(o["code"] for o in organizations if o["name"] == "苏州市吴江区行政审批局")
    fields = {
        f["key"]: (
            "2026-10-02" if f["kind"] == "date" else f"苏(2026)吴江区不动产权第{f['key']}0号"
        )
        for f in deed["fields"]
    }
    r = issuer.post(
        "/licences",
        {
            "type": deed["code"],
            "organization": wujiang,
            "holder": {"name": name, "id_number": id_number},
            "fields": fields,
        },
    )
    assert r.status_code == 201, r.text
    identifier = r.json()["identifier"]
    holder = ApiClient(
        region.url("zj"), username, DEMO_PASSWORD, otp=lambda: region.last_sms_code("zj")
    )
    wait_for(
        lambda: any(w["identifier"] == identifier for w in holder.get("/wallet").json()["results"]),
        what="the deed in the zj wallet",
    )

    # sh verifies his 亮证 code (anonymously: 上海 公众核验)
    qr_text = holder.post(
        f"/wallet/{identifier}/presentations", {"fields": ["holder_name", "licence_number"]}
    ).json()["qr_text"]
    result = ApiClient(region.url("sh")).post("/licences/verifications", {"qr_text": qr_text})
    assert result.json()["verdict"] == "valid", result.text

    # ah handles his case, which fetches the deed from js with his consent
    hefei = next(
        i["organization"]
        for i in holder.get(f"/items/{FUND}").json()["implementations"]
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
                "house_region": "320509",
                "amount": "80000",
                "bank_account": "6222020000000000002",
            },
            "materials": [pdf("M01"), pdf("M03")],
            "licences": [{"material_code": "M02", "identifier": identifier}],
            "licence_consent": True,
        },
    )
    assert r.status_code == 201, r.text
    number = r.json()["number"]

    def uses() -> dict | None:
        rows = holder.get("/me/data-uses", limit=200).json()["results"]
        found = {
            "verification": next(
                (
                    u
                    for u in rows
                    if u["kind"] == "licence_verification" and u["dataset_name"] == "不动产权证书"
                ),
                None,
            ),
            "fetch": next(
                (u for u in rows if u["kind"] == "licence_fetch" and u["case_number"] == number),
                None,
            ),
            "case": next(
                (u for u in rows if u["kind"] == "case" and u["case_number"] == number), None
            ),
        }
        return found if all(found.values()) else None

    try:
        found = wait_for(uses, timeout=90, what="the three uses at zj")
    except AssertionError:
        rows = holder.get("/me/data-uses", limit=200).json()["results"]
        raise AssertionError(
            "uses at zj: "
            + json.dumps([(u["kind"], u["user_node"], u["case_number"]) for u in rows])
        ) from None
    verification, fetch, case = found["verification"], found["fetch"], found["case"]
    assert verification["user_node"] == "sh" and verification["proof"]["node"] == "sh"
    assert verification["user_organization_name"].endswith("公众核验") and verification["purpose"]
    assert fetch["user_node"] == "ah" and fetch["proof"]["node"] == "js"
    assert fetch["user_organization_name"] == "合肥住房公积金管理中心" and fetch["consent_id"]
    assert case["user_node"] == "ah" and case["purpose"] == "办理异地购房提取住房公积金"

    # the reporters sign checkpoints; zj's proof pass (the worker's, run now) proves each
    def proved() -> dict | None:
        for node in ("sh", "js", "ah"):
            region.manage(node, "audit", "checkpoint")
        region.manage(
            "zj",
            "shell",
            "-c",
            "from tongban.sharing.data_use import data_use_proofs_collect; "
            "data_use_proofs_collect()",
        )
        now = uses()
        return now if now and all(u["proof"]["state"] == "included" for u in now.values()) else None

    proofs = wait_for(proved, timeout=120, what="inclusion proofs at zj")
    checked = region.manage(
        "zj",
        "shell",
        "-c",
        "import json; from tongban.sharing.models import DataUseRecord; "
        "from tongban.sharing.data_use import proof_verify; "
        f"ids = {json.dumps([u['use_id'] for u in proofs.values()])}; "
        "print(json.dumps([proof_verify(r) for r in DataUseRecord.objects.filter(use_id__in=ids)]))",
    )
    assert json.loads(checked.strip().splitlines()[-1]) == [True, True, True]
    for use in proofs.values():
        assert use["proof"]["checkpoint"].startswith(f"tongban/{use['proof']['node']}/audit\n")
        assert all(base64.b64decode(h) for h in use["proof"]["hashes"])

    # his objection to the verification goes to sh, for its data officers
    r = holder.post(
        f"/me/data-uses/{verification['use_id']}/flag", {"reason": "我没有在上海出示过证照"}
    )
    assert r.status_code == 200 and r.json()["flag"] == "open", r.text
    wait_for(
        lambda: (
            "1"
            in region.manage(
                "sh",
                "shell",
                "-c",
                "from tongban.sharing.models import DataUseFlag; "
                f"print(DataUseFlag.objects.filter(use_id='{verification['use_id']}').count())",
            )
        ),
        timeout=60,
        what="the flag at sh",
    )
