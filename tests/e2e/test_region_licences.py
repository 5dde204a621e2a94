"""电子证照 across four real nodes: issued in Jiangsu, held at home in Zhejiang,
shown and verified in Shanghai, used instead of paper in a case decided in Anhui,
then revoked — everything over real HTTP between separate processes."""

from __future__ import annotations

import base64

import pytest

from tongban.identity.demo_accounts import DEMO_PASSWORD, PERSONS
from tongban.region import ApiClient

from .test_region_flow1 import wait_for

pytestmark = pytest.mark.e2e
FUND = "000530001000"  # 异地购房提取住房公积金: M02 不动产权证书 can be an e-licence
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


def pdf(code: str) -> dict:
    return {
        "material_code": code,
        "filename": f"{code}.pdf",
        "content_base64": base64.b64encode(PDF + code.encode()).decode(),
    }


def test_issue_hold_show_verify_use_and_revoke_across_four_provinces(full_region):
    region = full_region
    username, name, id_number, _phone = PERSONS["zj"]  # 张伟, resident of Zhejiang

    # 1. 苏州市吴江区 issues a 不动产权证书 (he bought a flat in Suzhou)
    issuer = ApiClient(region.url("js"), "wujiang.official", DEMO_PASSWORD)
    types = issuer.get("/licence-types").json()["types"]
    deed = next(t for t in types if t["name"] == "不动产权证书")
    configuration = issuer.get("/global-configuration").json()["configuration"]
    wujiang = next(
        o["code"] for o in configuration["organizations"] if o["name"] == "苏州市吴江区行政审批局"
    )
    fields = {
        f["key"]: ("2026-10-01" if f["kind"] == "date" else f"苏(2026)吴江区不动产权第{f['key']}号")
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
    assert r.json()["holder_home_node"] == "zj"

    # 2. it reaches his wallet at home (zj) through the exchange
    holder = ApiClient(
        region.url("zj"), username, DEMO_PASSWORD, otp=lambda: region.last_sms_code("zj")
    )
    entry = wait_for(
        lambda: next(
            (w for w in holder.get("/wallet").json()["results"] if w["identifier"] == identifier),
            None,
        ),
        what="licence in the zj wallet",
    )
    assert entry["issuer"]["node"] == "js" and entry["status"] == "valid"

    # 3. 亮证 at zj: only the name and the certificate number
    r = holder.post(
        f"/wallet/{identifier}/presentations", {"fields": ["holder_name", "licence_number"]}
    )
    assert r.status_code == 201, r.text
    qr_text = r.json()["qr_text"]
    assert id_number not in qr_text

    # 4. 核验 at sh: online asks js for its current status list; then offline from cache
    checker = ApiClient(region.url("sh"))
    result = checker.post("/licences/verifications", {"qr_text": qr_text, "online": True}).json()
    assert result["verdict"] == "valid", result
    shown = {d["key"]: d for d in result["disclosed"]}
    assert {k for k, d in shown.items() if not d["masked"]} == {"holder_name", "licence_number"}
    # his 身份证号 was not chosen: the verifier sees it masked only
    assert shown["holder_id"]["value"] == id_number[:4] + "*" * 10 + id_number[-4:]
    assert result["status"]["source"] == "online" and not result["status"]["online_failed"]
    assert result["licence"]["issuer"]["node"] == "js" and result["holder_node"] == "zj"
    offline = checker.post("/licences/verifications", {"qr_text": qr_text, "online": False})
    offline = offline.json()
    assert offline["verdict"] == "valid" and offline["status"]["source"] == "cache"
    assert offline["status"]["age_seconds"] is not None

    # 5. 用证 at ah: he applies online at home for a case decided in Hefei; the deed
    #    is fetched from js with his consent instead of a scan
    items = holder.get(f"/items/{FUND}").json()["implementations"]
    hefei = next(
        i["organization"] for i in items if i["organization_name"] == "合肥住房公积金管理中心"
    )
    r = holder.post(
        "/cases/online",
        {
            "item": FUND,
            "organization": hefei,
            "form": {
                "applicant_name": name,
                "applicant_id_number": id_number,
                "contact_phone": "13905731234",
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
    official = ApiClient(region.url("ah"), "hefei.fund.official", DEMO_PASSWORD)

    def licence_material():
        response = official.get(f"/cases/{number}")
        if response.status_code != 200:
            return None
        material = next(m for m in response.json()["materials"] if m["material_code"] == "M02")
        return material if material["licence"]["state"] == "verified" else None

    material = wait_for(licence_material, what="the deed verified at ah")
    values = {f["key"]: f["value"] for f in material["licence"]["fields"]}
    assert values["holder_name"] == name and values["licence_number"] == fields["licence_number"]

    # the use appears in his history at home
    use = wait_for(
        lambda: next(
            (u for u in holder.get("/wallet/uses").json()["results"] if u["case_number"] == number),
            None,
        ),
        what="use history",
    )
    assert use["requester_node"] == "ah" and use["identifier"] == identifier

    # 6. js revokes the deed: his wallet follows, and sh's online check says revoked
    r = issuer.post(f"/licences/issued/{identifier}/revoke", {"reason": "不动产转移登记"})
    assert r.status_code == 200, r.text
    wait_for(
        lambda: holder.get(f"/wallet/{identifier}").json()["status"] == "revoked",
        what="revocation in the wallet",
    )
    # 联网查询 reuses a list fetched in the last 2 s and, when the issuer does not answer,
    # falls back to the cache saying so: the revocation is seen within a few checks
    answers = []

    def online_check():
        answer = checker.post("/licences/verifications", {"qr_text": qr_text, "online": True})
        answers.append(answer.json())
        return answers[-1]["verdict"] in ("revoked", "expired_presentation")

    try:
        wait_for(online_check, timeout=30, what="the revocation seen online")
    except AssertionError:
        raise AssertionError(f"online checks after the revocation: {answers[-3:]}") from None
    result = answers[-1]
    if result["verdict"] == "revoked":
        assert result["status"]["source"] == "online"

    # 7. 免证办 after the revocation: the deed was valid when ah fetched it. Acting on
    #    the case, ah asks js again: 受理 goes on (the case page warns), 准予 is refused
    #    while the licence it relies on is revoked, 不予许可 stays possible.
    r = official.post(f"/cases/{number}/accept", {"note": "予以受理"})
    assert r.status_code == 200, r.text
    r = official.post(f"/cases/{number}/approve", {})
    assert r.status_code == 409, r.text
    assert r.json()["error"]["code"] == "licence_no_longer_valid"
    assert "不动产权证书" in r.json()["error"]["message"] and "吊销" in r.json()["error"]["message"]
    assert official.get(f"/cases/{number}").json()["status"] == "accepted"
    r = official.post(f"/cases/{number}/deny", {"reason": "所用不动产权证书已被注销"})
    assert r.status_code == 200, r.text
