"""一地认证、全网通办 across real processes: a resident registers at home (zj), applies
online for an item decided in Shanghai, the sh authority decides, the result comes
home; an enterprise's agent applies within an authorization."""

from __future__ import annotations

import pytest
from stdnum.cn import ric

from tongban.identity.demo_accounts import AGENTS, DEMO_PASSWORD, ENTERPRISES, PERSONS
from tongban.region import ApiClient

from .test_region_flow1 import wait_for

pytestmark = pytest.mark.e2e
HUJI = "000501001000"  # 户籍事项证明 (L2)
CRIMINAL = "000501002000"  # 有无犯罪记录证明 (L3)
SCOPE_CHANGE = "000302001000"  # 内资有限公司经营范围变更登记
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


def pdfs(*codes):
    import base64

    return [
        {
            "material_code": c,
            "filename": f"{c}.pdf",
            "content_base64": base64.b64encode(PDF + c.encode()).decode(),
        }
        for c in codes
    ]


def org(client, item, name):
    return next(
        i["organization"]
        for i in client.get(f"/items/{item}").json()["implementations"]
        if i["organization_name"] == name
    )


def test_register_at_home_apply_in_shanghai_follow_at_home(live_region):
    zj = live_region.url("zj")
    anonymous = ApiClient(zj)
    prefix = "33042119960521" + "135"
    id_number = prefix + ric.calc_check_digit(prefix + "0")
    r = anonymous.post(
        "/auth/register",
        {
            "username": "lu.xiaoyu",
            "name": "陆小雨",
            "id_number": id_number,
            "phone": "13905730001",
            "password": "Lu-Xiaoyu-2026",
        },
    )
    assert r.status_code == 202, r.text
    code = wait_for(lambda: live_region.last_sms_code("zj"), what="registration SMS")
    assert (
        anonymous.post("/auth/register/verify", {"username": "lu.xiaoyu", "code": code}).json()[
            "assurance"
        ]
        == "L2"
    )
    person = ApiClient(
        zj, "lu.xiaoyu", "Lu-Xiaoyu-2026", otp=lambda: live_region.last_sms_code("zj")
    )

    police = org(person, HUJI, "上海市公安局")
    item = person.get(f"/items/{HUJI}").json()
    proof_kind = next(f for f in item["form"] if f["name"] == "proof_kind")["choices"][0]
    form = {
        "applicant_name": "陆小雨",
        "applicant_id_number": id_number,
        "contact_phone": "13905730001",
        "proof_kind": proof_kind,
        "purpose": "子女入学",
    }
    # L3 item refused at submission, with the reason
    r = person.post(
        "/cases/online",
        {
            "item": CRIMINAL,
            "organization": org(person, CRIMINAL, "上海市公安局"),
            "form": form,
            "materials": pdfs("M01"),
        },
    )
    assert r.status_code == 403 and r.json()["error"]["code"] == "assurance_too_low"
    r = person.post(
        "/cases/online",
        {"item": HUJI, "organization": police, "form": form, "materials": pdfs("M01", "M02")},
    )
    assert r.status_code == 201, r.text
    number = r.json()["number"]

    official = ApiClient(live_region.url("sh"), "sh.police.official", DEMO_PASSWORD)
    wait_for(lambda: official.get(f"/cases/{number}").status_code == 200, what="delivery to sh")
    detail = official.get(f"/cases/{number}").json()
    assertion = detail["identity_assertion"]
    assert assertion["method"] == "password+sms_otp" and assertion["assurance"] == "L2"
    by = assertion["authenticated_by"]
    assert (by["node"], by["home_node"]) == ("zj", "zj") and by["account"].isdigit()
    assert assertion["subject"]["id_number"] == id_number[:4] + "*" * 10 + id_number[-4:]
    assert official.post(f"/cases/{number}/accept", {}).status_code == 200
    content = "经核查，申请人户籍信息如下：户籍注销情况属实。"
    approved = official.post(f"/cases/{number}/approve", {"result": {"content": content}})
    assert approved.status_code == 200, approved.text
    final = wait_for(
        lambda: (c := person.get(f"/cases/{number}").json())["status"] == "approved" and c,
        what="result at home",
    )
    assert final["result"]["document"]["issuer"]["name"] == "上海市公安局"
    # never registered in Shanghai: no such account there
    import requests

    r = requests.post(
        f"{live_region.url('sh')}/api/v1/auth/tokens",
        json={"username": "lu.xiaoyu", "password": "Lu-Xiaoyu-2026"},
        timeout=10,
    )
    assert r.status_code == 401


def test_enterprise_agent_applies_within_authorization(live_region):
    zj = live_region.url("zj")
    username, name, _, _ = AGENTS["zj"]
    enterprise_name, enterprise_code = ENTERPRISES["zj"]
    agent = ApiClient(zj, username, DEMO_PASSWORD, otp=lambda: live_region.last_sms_code("zj"))
    mine = agent.get("/enterprises").json()
    assert [(e["code"], e["role"]) for e in mine] == [(enterprise_code, "agent")]
    item = agent.get(f"/items/{SCOPE_CHANGE}").json()
    values = {
        "text": enterprise_name,
        "uscc": enterprise_code,
        "phone": "13905739876",
        "textarea": "技术开发",
        "date": "2026-11-20",
        "decimal": "100",
        "integer": "1",
    }
    form = {
        f["name"]: (f["choices"][0] if f["type"] == "select" else values[f["type"]])
        for f in item["form"]
        if f["type"] in values or f["type"] == "select"
    }
    materials = pdfs(*[m["code"] for m in item["materials"] if m["required"]])
    r = agent.post(
        "/cases/online",
        {
            "item": SCOPE_CHANGE,
            "organization": org(agent, SCOPE_CHANGE, "上海市青浦区市场监督管理局"),
            "form": form,
            "materials": materials,
            "enterprise": enterprise_code,
        },
    )
    assert r.status_code == 201, r.text
    number = r.json()["number"]
    official = ApiClient(live_region.url("sh"), "qingpu.official", DEMO_PASSWORD)
    wait_for(lambda: official.get(f"/cases/{number}").status_code == 200, what="agent case at sh")
    acting = official.get(f"/cases/{number}").json()["identity_assertion"]["acting_for"]
    assert acting["code"] == enterprise_code and acting["role"] == "agent"
    # sh asked zj's register who represents the company: the signer of the authorization
    check = wait_for(
        lambda: next(
            (
                c
                for c in official.get(f"/cases/{number}/data-checks").json()["checks"]
                if c["use"] == "agent_authorization" and c["status"] != "pending"
            ),
            None,
        ),
        what="zj's register answering sh",
    )
    assert check["status"] == "answered" and check["representative_matches"] is True, check
    shown = {f["key"]: f["value"] for f in check["fields"]}
    assert "*" in shown["legal_representative_id"]  # masked, also for the official
    # the legal representative sees it at home too
    rep = ApiClient(zj, "zhangwei", DEMO_PASSWORD, otp=lambda: live_region.last_sms_code("zj"))
    assert rep.get(f"/cases/{number}").json()["enterprise_name"] == enterprise_name


def test_another_persons_id_number_opens_nothing_at_any_node(live_region):
    """The outside probe's reproduction: the 嘉善 window takes a case for a 浙江 resident
    who has no account anywhere; someone registers with that name and 身份证号 and their
    own phone at another node (to follow SSO back) or at the home node (ADR 0010)."""
    from tongban.demo_seed import ESTABLISHMENT, form_payload, material_payload

    from .test_region_flow1 import QINGPU

    zj = live_region.url("zj")
    clerk = ApiClient(zj, "jiashan.clerk", DEMO_PASSWORD)
    item = clerk.get(f"/items/{ESTABLISHMENT}").json()
    organization = next(
        i["organization"] for i in item["implementations"] if i["organization_name"] == QINGPU
    )
    prefix = "33042119890615" + "271"
    victim = {"name": "沈一鸣", "id_number": prefix + ric.calc_check_digit(prefix + "0")}
    applicant = {**victim, "phone": "13905730271"}
    r = clerk.post(
        "/cases",
        {
            "window": "zj-330421-01",
            "item": ESTABLISHMENT,
            "organization": organization,
            "applicant": applicant,
            "form": form_payload(item, applicant, "嘉善一鸣科技有限公司"),
            "materials": material_payload(item),
        },
    )
    assert r.status_code == 201, r.text
    attempt = {**victim, "phone": "13700000271", "password": "Someone-Else-2026"}
    for node in ("sh",):  # this region runs sh and zj; js and ah: tests/security
        r = ApiClient(live_region.url(node)).post(
            "/auth/register", {**attempt, "username": f"intruder.{node}"}
        )
        assert r.status_code == 403, r.text
        error = r.json()["error"]
        assert error["code"] == "register_at_home_node" and error["details"]["home_node"] == "zj"
        assert error["details"]["register_url"] == f"{zj}/register/"
    # at the home node the window recorded another phone for this 身份证号
    r = ApiClient(zj).post("/auth/register", {**attempt, "username": "intruder.zj"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "registration_refused"
    # a demo resident of 浙江 (with cases decided at sh) cannot be registered at sh either
    _, name, id_number, _ = PERSONS["zj"]
    r = ApiClient(live_region.url("sh")).post(
        "/auth/register", {**attempt, "name": name, "id_number": id_number, "username": "x.sh"}
    )
    assert r.status_code == 403 and r.json()["error"]["code"] == "register_at_home_node"
