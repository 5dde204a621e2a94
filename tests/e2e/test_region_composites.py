"""联办件 across real nodes (hub, sh and js as separate processes, real signed HTTP):

* 接续办: a pension transfer 转出 江苏 → 转入 上海, applied for at a 黄浦 (sh) window, with
  the js node down while its stage is sent — it waits in sh's outbox and arrives later;
* 集成办: a newborn born in Shanghai whose parents' hukou is in 南京 (js): the parts start
  in dependency order at sh and js, and the bundle collects every result;
* a part refused after another was approved: its dependents are terminated, the approved
  part stands, the bundle is 部分办结 with the reason.

The region is the session's ``full_region`` (shared with the e-licence and browser
tests): nothing here needs a region of its own."""

from __future__ import annotations

import pytest

from tongban.identity.demo_accounts import AGENTS, PERSONS

from .composite_steps import (
    Staff,
    arrived,
    composite,
    decide,
    id_number,
    implementation_of,
    member,
    member_reaches,
    node_down,
    outputs,
    pdf_material,
    pending_for,
    pension_relay_at_huangpu,
    required_inputs,
    statuses,
    wait_for,
)

pytestmark = pytest.mark.e2e
PENSION = "000520001000"  # 城镇职工基本养老保险关系转移接续 (接续办, three stages)
NEWBORN = "000550001000"  # 新生儿出生“一件事” (集成办, four parts)
SH_HRSS = "上海市人力资源和社会保障局"
JS_HRSS = "江苏省人力资源和社会保障厅"
SH_HEALTH = "上海市卫生健康委员会"
JS_POLICE = "江苏省公安厅"
NANJING_MEDICAL = "南京市医疗保障局"
WINDOW = "sh-310101-01"  # 黄浦区 专区


@pytest.fixture(scope="module")
def staff(full_region):
    return Staff(full_region)


def implementation(client, item_code: str, organization_name: str) -> str:
    return implementation_of(client.get(f"/items/{item_code}").json(), organization_name)


# --- 接续办 ---------------------------------------------------------------------------


def test_pension_relay_from_jiangsu_to_shanghai_survives_jiangsu_down(full_region, staff):
    region = full_region
    clerk = staff.client("sh", "huangpu.clerk")
    sh_admin = staff.client("sh", "sh.admin")
    sh_hrss = staff.official("sh", SH_HRSS)
    js_hrss = staff.official("js", JS_HRSS)
    _, name, applicant_id, phone = PERSONS["sh"]
    response = pension_relay_at_huangpu(clerk, "320000")
    assert response.status_code == 201, response.text
    body = response.json()
    number = body["number"]
    assert body["composite_kind"] == "relay" and body["status"] == "in_progress"
    assert [(s["key"], s["role"], s["node"]) for s in body["stages"]] == [
        ("contact_letter", "转入地", "sh"),
        ("transfer_out", "转出地", "js"),
        ("receive", "转入地", "sh"),
    ]
    assert member(body, "transfer_out")["organization_name"] == JS_HRSS
    letter = member(body, "contact_letter")
    assert letter["status"] == "submitted" and letter["number"] and letter["deadline"]
    assert statuses(body) == {
        "contact_letter": "submitted",
        "transfer_out": "waiting",
        "receive": "waiting",
    }

    with node_down(region, "js"):
        # 1. 转入地 (sh) issues the 联系函; the 转出地 stage is started for js, which is down
        arrived(sh_hrss, letter["number"])
        decide(sh_hrss, letter["number"], {"letter_number": "沪人社联〔2026〕118号"})
        body = composite(clerk, number)
        out = member(body, "transfer_out")
        assert body["status"] == "in_progress"
        assert member(body, "contact_letter")["status"] == "approved"
        assert outputs(member(body, "contact_letter"))["letter_number"] == "沪人社联〔2026〕118号"
        assert out["status"] == "submitted" and out["number"] and out["node"] == "js"
        assert member(body, "receive")["status"] == "waiting"

        # its case.submit waits in sh's outbox: tried, failed, still pending — not lost
        waiting = wait_for(
            lambda: [
                m
                for m in pending_for(sh_admin, out["number"])
                if m["type"] == "case.submit" and m["attempts"] >= 1 and m["last_error"]
            ],
            what="a failed delivery attempt of the stage to js",
        )
        assert {m["status"] for m in waiting} == {"pending"}
        assert {m["recipient"] for m in waiting} == {"js"}
        # the applicant's window still sees the 联办件 going on, the stage not received
        body = composite(clerk, number)
        assert body["status"] == "in_progress"
        assert member(body, "transfer_out")["status"] == "submitted"

    # 2. js is back: the stage arrives, with the 联系函 and its number
    stage2 = arrived(js_hrss, out["number"], "the 转出地 stage at js after its restart")
    assert stage2["composite"]["number"] == number
    assert stage2["composite"]["role"] == "转出地"
    shown = {i["label"]: i["value"] for i in stage2["composite"]["inputs"]}
    assert shown["联系函编号"] == "沪人社联〔2026〕118号"
    wait_for(
        lambda: {m["status"] for m in pending_for(sh_admin, out["number"])} == {"delivered"},
        what="the stage's messages delivered",
    )

    # 3. 转出地 (js) issues the 参保缴费凭证 and transfers the fund
    transferred = {
        "insured_periods": "2012-03至2026-10",
        "contribution_base": "9800.00",
        "account_balance": "86432.10",
        "fund_transfer_amount": "120500.00",
        "transfer_date": "2026-11-30",
    }
    decide(js_hrss, out["number"], transferred)

    # 4. sh sees the outputs and starts 确认接收 at its own 人社局
    body = member_reaches(
        clerk,
        number,
        "receive",
        "submitted",
        "the 转出地 approval back at sh and the last stage started",
    )
    assert member(body, "transfer_out")["status"] == "approved"
    assert transferred.items() <= outputs(member(body, "transfer_out")).items()
    receive = member(body, "receive")
    assert receive["node"] == "sh" and receive["organization_name"] == SH_HRSS
    detail = arrived(sh_hrss, receive["number"])
    shown = {i["label"]: i["value"] for i in detail["composite"]["inputs"]}
    assert shown["个人账户储存额（元）"] == "86432.10"
    assert shown["转移基金额（元）"] == "120500.00"
    decide(sh_hrss, receive["number"], {})

    # 5. the 联办件 is 办结 and lists the 联系函 (sh) and the 参保缴费凭证 (js)
    body = wait_for(
        lambda: (b := composite(clerk, number))["status"] == "approved" and b,
        what="the relay approved",
    )
    assert body["concluded_at"] and body["reason"] == ""
    assert set(statuses(body).values()) == {"approved"}
    assert outputs(member(body, "receive"))["received_on"]
    documents = {(d["title"], d["issuer_node"], d["case_number"]) for d in body["documents"]}
    assert ("基本养老保险关系转移接续联系函", "sh", letter["number"]) in documents
    assert ("基本养老保险参保缴费凭证", "js", out["number"]) in documents
    assert all(d["status"] for d in body["documents"])
    assert applicant_id not in str(body)  # masked


# --- 集成办 ---------------------------------------------------------------------------


def newborn_application(clerk, newborn_name: str) -> dict:
    """王芳 (hukou 南京) applies at a Shanghai window for her child born in Shanghai."""
    _, mother, mother_id, phone = PERSONS["js"]
    father_id = AGENTS["js"][2]
    return {
        "window": WINDOW,
        "item": NEWBORN,
        "organization": implementation(clerk, NEWBORN, SH_HEALTH),
        "applicant": {"name": mother, "id_number": mother_id, "phone": phone},
        "form": {
            "newborn_name": newborn_name,
            "newborn_sex": "男",
            "newborn_birth_date": "2026-11-20",
            "birth_hospital": "上海市第一妇婴保健院",
            "birth_region": "310000",
            "hukou_region": "320100",
            "father_id_number": father_id,
            "mother_id_number": mother_id,
            "settle_address": "江苏省南京市玄武区北京东路41号",
            "bank": "工商银行",
            "contact_phone": phone,
        },
        "materials": [pdf_material("M01"), pdf_material("M02"), pdf_material("M04")],
    }


def submit_newborn(clerk, newborn_name: str) -> dict:
    response = clerk.post("/cases", newborn_application(clerk, newborn_name))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["composite_kind"] == "bundle" and body["status"] == "in_progress"
    assert [(p["key"], p["node"], p["organization_name"]) for p in body["parts"]] == [
        ("birth_certificate", "sh", SH_HEALTH),
        ("hukou", "js", JS_POLICE),
        ("medical_insurance", "js", NANJING_MEDICAL),
        ("social_card", "js", JS_HRSS),
    ]
    assert statuses(body) == {
        "birth_certificate": "submitted",
        "hukou": "waiting",
        "medical_insurance": "waiting",
        "social_card": "waiting",
    }
    return body


def approve_birth_certificate(staff, clerk, body: dict) -> dict:
    """The sh 卫健委 issues the 出生医学证明; the bundle then starts 户口登记 at js."""
    health = staff.official("sh", SH_HEALTH)
    part = member(body, "birth_certificate")
    entries = {"gender": "男", "birth_place": "上海市第一妇婴保健院", "mother_name": "王芳"}
    assert required_inputs(clerk, "000550002000") <= set(entries)
    arrived(health, part["number"])
    decide(health, part["number"], entries)
    return member_reaches(
        clerk, body["number"], "hukou", "submitted", "户口登记 started after the 出生医学证明"
    )


def test_newborn_bundle_born_in_shanghai_with_hukou_in_nanjing(full_region, staff):
    clerk = staff.client("sh", "huangpu.clerk")
    body = submit_newborn(clerk, "李沐阳")
    number = body["number"]

    body = approve_birth_certificate(staff, clerk, body)
    certificate = outputs(member(body, "birth_certificate"))
    assert certificate["licence_number"]
    assert statuses(body) == {
        "birth_certificate": "approved",
        "hukou": "submitted",
        "medical_insurance": "waiting",
        "social_card": "waiting",
    }

    # 户口登记 at js (江苏省公安厅) — with the certificate number taken from the first part
    police = staff.official("js", JS_POLICE)
    hukou = arrived(police, member(body, "hukou")["number"], "户口登记 at js")
    assert hukou["composite"]["number"] == number
    assert hukou["form"]["birth_certificate_number"] == certificate["licence_number"]
    child_id = id_number("32010220261120001")
    entries = {"child_id_number": child_id, "registered_on": "2026-12-01"}
    assert required_inputs(clerk, "000501006000") <= set(entries)
    decide(police, hukou["number"], entries)
    body = member_reaches(
        clerk, number, "medical_insurance", "submitted", "医保参保登记 started after 户口登记"
    )
    # 社保卡 needs both 户口 and 医保: it waits
    assert member(body, "social_card")["status"] == "waiting"
    assert not member(body, "social_card")["number"]

    # 医保参保登记 at 南京市医保局, for the child's new 公民身份号码
    medical = staff.official("js", NANJING_MEDICAL)
    insurance = arrived(medical, member(body, "medical_insurance")["number"])
    entries = {"insured_from": "2026-11-20", "insurance_number": "NJ3201202611200001"}
    assert required_inputs(clerk, "000510004000") <= set(entries)
    decide(medical, insurance["number"], entries)
    body = member_reaches(
        clerk, number, "social_card", "submitted", "社保卡申领 started after 户口 and 医保"
    )

    # 社会保障卡申领 at 江苏省人社厅
    hrss = staff.official("js", JS_HRSS)
    card = arrived(hrss, member(body, "social_card")["number"])
    entries = {"card_number": "320102202611200011"}
    assert required_inputs(clerk, "000520006000") <= set(entries)
    decide(hrss, card["number"], entries)

    body = wait_for(
        lambda: (b := composite(clerk, number))["status"] == "approved" and b,
        what="the bundle approved",
    )
    assert set(statuses(body).values()) == {"approved"} and body["concluded_at"]
    parts = {p["key"]: p for p in body["parts"]}
    # each part started only once what it depends on was approved
    for part in parts.values():
        for dependency in part["depends_on"]:
            assert parts[dependency]["concluded_at"] <= part["started_at"], part["key"]
    assert outputs(parts["hukou"])["child_id_number"] == child_id
    assert outputs(parts["medical_insurance"])["insured_from"] == "2026-11-20"
    assert outputs(parts["social_card"])["card_number"] == "320102202611200011"
    # every part's result is collected at sh, issued where it was decided
    results = {d["case_number"]: d for d in body["documents"] if d["is_result"]}
    for key, node in (
        ("birth_certificate", "sh"),
        ("hukou", "js"),
        ("medical_insurance", "js"),
        ("social_card", "js"),
    ):
        assert parts[key]["number"] in results, key
        assert results[parts[key]["number"]]["issuer_node"] == node, key


def test_a_part_refused_after_another_was_approved(full_region, staff):
    clerk = staff.client("sh", "huangpu.clerk")
    body = submit_newborn(clerk, "李沐晨")
    number = body["number"]
    body = approve_birth_certificate(staff, clerk, body)

    police = staff.official("js", JS_POLICE)
    hukou = arrived(police, member(body, "hukou")["number"], "户口登记 at js")
    reason = "户口登记地址与父母户籍地址不一致，请核实后重新申请"
    refused = police.post(f"/cases/{hukou['number']}/refuse", {"reason": reason})
    assert refused.status_code == 200, refused.text
    assert refused.json()["status"] == "refused"

    body = wait_for(
        lambda: (b := composite(clerk, number))["status"] == "partially_concluded" and b,
        what="the bundle partially concluded",
    )
    assert statuses(body) == {
        "birth_certificate": "approved",
        "hukou": "refused",
        "medical_insurance": "cancelled",
        "social_card": "cancelled",
    }
    assert body["reason"] == reason and body["concluded_at"]
    assert member(body, "hukou")["reason"] == reason
    for key in ("medical_insurance", "social_card"):
        cancelled = member(body, key)
        assert not cancelled["number"], key  # never started
        assert "出生登记" in cancelled["reason"] or "户口" in cancelled["reason"], cancelled
    # the approved part stands, with its result
    assert outputs(member(body, "birth_certificate"))["licence_number"]
    assert member(body, "birth_certificate")["number"] in {
        d["case_number"] for d in body["documents"] if d["is_result"]
    }


def test_business_start_in_suzhou_a_refused_part_leaves_the_others_standing(full_region, staff):
    """企业开办“一件事” applied for at a 青浦 (sh) window for a company in 苏州 (js): after
    设立登记, 印章刻制备案 is refused; the parts that do not depend on it go on and are
    approved; the bundle ends 部分办结 with the refusal's reason."""
    clerk = staff.client("sh", "qingpu.clerk")
    item = clerk.get("/items/000300001000").json()
    _, name, applicant_id, phone = PERSONS["js"]
    form = {
        "company_name": "苏州松陵联办科技有限公司",
        "registered_capital": "100",
        "business_scope": "软件开发；信息技术咨询服务。",
        "address": "江苏省苏州市吴江区松陵镇开平路300号",
        "legal_representative": name,
        "company_type": "有限责任公司（自然人投资或控股）",
        "company_region": "320500",
        "contact_phone": phone,
        "seal_kinds": "公章",
        "seal_count": "1",
        "finance_officer": "徐明",
        "tax_officer_phone": "13913559876",
        "invoice_kind": "数电发票",
        "monthly_quantity": "50",
        "bank_name": "中国工商银行苏州吴江支行",
        "bank_account": "1102020109000123456",
        "deposit_ratio": "7",
        "employee_count": "8",
    }
    response = clerk.post(
        "/cases",
        {
            "window": "sh-310118-01",
            "item": "000300001000",
            "organization": implementation(clerk, "000300001000", "苏州市市场监督管理局"),
            "applicant": {"name": name, "id_number": applicant_id, "phone": phone},
            "form": form,
            "materials": [pdf_material(m["code"]) for m in item["materials"] if m["required"]],
        },
    )
    assert response.status_code == 201, response.text
    body = response.json()
    number = body["number"]
    assert {p["node"] for p in body["parts"]} == {"js"}
    assert statuses(body)["establish"] == "submitted"
    assert {k for k, s in statuses(body).items() if s == "waiting"} == {
        "seal",
        "tax",
        "invoice",
        "social_insurance",
        "housing_fund",
    }

    market = staff.client("js", "suzhou.official")
    decide(market, arrived(market, member(body, "establish")["number"])["number"], {})
    body = wait_for(
        lambda: (
            (b := composite(clerk, number))
            and all(s == "submitted" for k, s in statuses(b).items() if k != "establish")
            and b
        ),
        what="the five parts started after 设立登记",
    )
    uscc = outputs(member(body, "establish"))["licence_number"]
    assert len(uscc) == 18

    # 印章刻制备案 refused by 江苏省公安厅
    police = staff.official("js", JS_POLICE)
    seal = arrived(police, member(body, "seal")["number"], "印章刻制备案 at js")
    assert seal["enterprise_code"] == uscc
    reason = "印模样式未包含企业名称全称，请按规定重新设计后申请"
    refused = police.post(f"/cases/{seal['number']}/refuse", {"reason": reason})
    assert refused.status_code == 200, refused.text
    body = member_reaches(clerk, number, "seal", "refused", what="the refusal at sh")
    # nothing depends on the seal: the bundle goes on
    assert body["status"] == "in_progress"
    assert statuses(body)["tax"] == "submitted"

    tax_office = staff.official("js", "国家税务总局苏州市税务局")
    decide(tax_office, arrived(tax_office, member(body, "tax")["number"])["number"], {})
    decide(
        tax_office,
        arrived(tax_office, member(body, "invoice")["number"])["number"],
        {"monthly_quantity": "50"},
    )
    hrss = staff.official("js", JS_HRSS)
    decide(
        hrss,
        arrived(hrss, member(body, "social_insurance")["number"])["number"],
        {"unit_number": "SZ32050900123"},
    )
    fund = staff.official("js", "苏州市住房公积金管理中心")
    decide(fund, arrived(fund, member(body, "housing_fund")["number"])["number"], {})

    body = wait_for(
        lambda: (b := composite(clerk, number))["status"] == "partially_concluded" and b,
        what="the bundle partially concluded",
    )
    assert statuses(body) == {
        "establish": "approved",
        "seal": "refused",
        "tax": "approved",
        "invoice": "approved",
        "social_insurance": "approved",
        "housing_fund": "approved",
    }
    assert body["concluded_at"]
    assert member(body, "seal")["reason"] == reason
    assert reason in body["reason"], body["reason"]
