"""联办件 through /api/v1/cases: a relay (接续办) whose stages pass their outputs on, and a
bundle (集成办) whose parts start when their inputs exist — at this node (sh) and, with
real signed envelopes, at a peer."""

from __future__ import annotations

import json

import pytest

from tests.api.test_identity_api import register, sms_outbox, token_for
from tests.factories import PDF, id_number, materials_payload, user_with
from tongban.cases.models import Case, Composite, CompositeMember
from tongban.documents.models import IssuedDocument
from tongban.exchange.models import OutboxMessage
from tongban.identity.pii import decrypt_at_rest
from tongban.notices.models import Notice

__all__ = ["sms_outbox"]  # the fixture, used by name

PENSION = "000520001000"
NEWBORN = "000550001000"
SH_HRSS = "上海市人力资源和社会保障局"
APPLICANT_ID = id_number("31022919880512456")


@pytest.fixture
def clerk(region):
    return user_with("huangpu.clerk", role="clerk", window=region.window("sh-310101-01"))


@pytest.fixture
def hrss_official(region):
    return user_with("sh.hrss", role="official", organization=region.org(SH_HRSS))


def pension_application(region, *, from_region="310000", **overrides):
    body = {
        "window": "sh-310101-01",
        "item": PENSION,
        "organization": region.org(SH_HRSS).code,
        "applicant": {"name": "李娜", "id_number": APPLICANT_ID, "phone": "13801761234"},
        "form": {
            "applicant_name": "李娜",
            "applicant_id_number": APPLICANT_ID,
            "contact_phone": "13801761234",
            "from_region": from_region,
            "new_employer": "上海青禾数字科技有限公司",
        },
        "materials": materials_payload(("M01",)),
    }
    body.update(overrides)
    return body


def approve(api, official, number, result):
    api.login(official)
    assert api.post(f"/cases/{number}/accept", {}).status_code == 200
    response = api.post(f"/cases/{number}/approve", {"result": result})
    assert response.status_code == 200, response.content
    return response.json()


def js_event(region, number, event, from_status, to_status, **body):
    """江苏省人力资源和社会保障厅 (js) reports on its relay stage ``number``."""
    return region.envelope(
        sender="js",
        type="case.event",
        correlation=number,
        seq=1,
        body={
            "number": number,
            "event": event,
            "from_status": from_status,
            "to_status": to_status,
            "occurred_at": "2026-12-01T10:00:00+08:00",
            "actor": {"name": "周敏", "place": "江苏省人力资源和社会保障厅", "node": "js"},
            **body,
        },
    )


def stage(body, key):
    return next(s for s in body["stages"] if s["key"] == key)


def test_relay_at_one_node_passes_each_stage_output_on(region, api, clerk, hrss_official):
    created = api.login(clerk).post("/cases", pension_application(region))
    assert created.status_code == 201, created.content
    body = created.json()
    number = body["number"]
    assert body["composite_kind"] == "relay" and body["status"] == "in_progress"
    assert [s["role"] for s in body["stages"]] == ["转入地", "转出地", "转入地"]
    first = stage(body, "contact_letter")
    assert first["status"] == "submitted" and first["number"] and first["deadline"]
    assert [s["status"] for s in body["stages"][1:]] == ["waiting", "waiting"]
    assert "19880512" not in json.dumps(body, ensure_ascii=False)
    # the window's 收件凭证 states the first stage's own limit, not the whole relay's
    receipt = IssuedDocument.objects.get(case_number=first["number"], kind="intake_receipt")
    assert {"label": "承诺时限", "value": "15个工作日（自受理之日起算）"} in receipt.record["facts"]

    approve(api, hrss_official, first["number"], {"letter_number": "沪人社联〔2026〕001号"})
    body = api.login(clerk).get(f"/cases/{number}").json()
    second = stage(body, "transfer_out")
    assert stage(body, "contact_letter")["status"] == "approved"
    assert {o["key"]: o["value"] for o in stage(body, "contact_letter")["outputs"]}[
        "letter_number"
    ] == "沪人社联〔2026〕001号"
    assert second["status"] == "submitted" and second["number"]
    # the official's list marks each stage with its 联办件 and role
    listed = {r["number"]: r for r in api.login(hrss_official).get("/cases").json()["results"]}
    assert listed[second["number"]]["composite_number"] == number
    assert listed[second["number"]]["member_role"] == "转出地"

    # the second stage's official sees what the first produced, without re-entering it
    detail = api.login(hrss_official).get(f"/cases/{second['number']}").json()
    assert detail["composite"]["number"] == number
    assert detail["composite"]["role"] == "转出地"
    assert {i["label"]: i["value"] for i in detail["composite"]["inputs"]}[
        "联系函编号"
    ] == "沪人社联〔2026〕001号"

    approve(
        api,
        hrss_official,
        second["number"],
        {
            "insured_periods": "2015-07至2026-10",
            "account_balance": "86432.10",
            "fund_transfer_amount": "120500.00",
            "transfer_date": "2026-11-30",
        },
    )
    third = stage(api.login(clerk).get(f"/cases/{number}").json(), "receive")
    assert third["status"] == "submitted"
    approve(api, hrss_official, third["number"], {})
    body = api.login(clerk).get(f"/cases/{number}").json()
    assert body["status"] == "approved" and body["concluded_at"]
    assert all(s["status"] == "approved" for s in body["stages"])
    assert any(d["is_result"] for d in body["documents"])
    # the last stage issues the relay's own result, drawing on the earlier stages
    titles = [d["title"] for d in body["documents"]]
    assert "养老保险关系转移接续回执" in titles, titles[6:]
    receipt = next(d for d in body["documents"] if d["title"] == "养老保险关系转移接续回执")
    assert receipt["case_number"] == third["number"] and receipt["issuer_node"] == "sh"


def test_relay_stage_at_a_peer_is_sent_with_inputs_and_its_answer_moves_on(
    region, api, clerk, hrss_official
):
    number = api.login(clerk).post("/cases", pension_application(region, from_region="320000"))
    number = number.json()["number"]
    first = CompositeMember.objects.get(composite__number=number, key="contact_letter")
    approve(api, hrss_official, first.case_number, {"letter_number": "沪人社联〔2026〕002号"})

    second = CompositeMember.objects.get(composite__number=number, key="transfer_out")
    assert second.node == "js" and second.status == "submitted"
    message = OutboxMessage.objects.get(type="case.submit", correlation=second.case_number)
    envelope = json.loads(decrypt_at_rest(message.envelope))
    sent = envelope["signed"]["body"]["case"]["composite"]
    assert sent["number"] == number and sent["key"] == "transfer_out"
    assert sent["inputs"]["members"][0]["outputs"]["letter_number"] == "沪人社联〔2026〕002号"
    assert sent["documents"], "the 联系函 travels as a signed document"
    letter = sent["documents"][0]["record"]
    assert {"label": "转出地", "value": "江苏省"} in letter["facts"]  # the label, not "320000"

    # js approves its stage: its case.event carries the outputs
    event = js_event(
        region,
        second.case_number,
        "approve",
        "accepted",
        "approved",
        outputs={"insured_periods": "2012-03至2026-10", "account_balance": "50000.00"},
    )
    assert api.post("/exchange/inbox", raw=json.dumps(event).encode()).status_code == 200
    body = api.login(clerk).get(f"/cases/{number}").json()
    assert stage(body, "transfer_out")["status"] == "approved"
    third = stage(body, "receive")
    assert third["status"] == "submitted" and third["node"] == "sh"
    shown = api.login(hrss_official).get(f"/cases/{third['number']}").json()["composite"]
    assert {i["label"]: i["value"] for i in shown["inputs"]}["个人账户储存额（元）"] == "50000.00"
    # the 联系函 (a signed document, held here) is among the third stage's inputs
    letter = next(d for d in shown["documents"] if "联系函" in d["title"])
    download = api.get(letter["pdf"].removeprefix("/api/v1"))
    assert download.status_code == 200 and download["Content-Type"] == "application/pdf"


def test_a_refused_stage_ends_the_relay_with_its_reason(region, api, clerk, hrss_official):
    number = api.login(clerk).post("/cases", pension_application(region)).json()["number"]
    first = CompositeMember.objects.get(composite__number=number, key="contact_letter")
    refused = api.login(hrss_official).post(
        f"/cases/{first.case_number}/refuse", {"reason": "申请人在转入地无在职参保记录"}
    )
    assert refused.status_code == 200, refused.content
    body = api.login(clerk).get(f"/cases/{number}").json()
    assert body["status"] == "refused"
    assert body["reason"] == "申请人在转入地无在职参保记录"
    assert [s["status"] for s in body["stages"]] == ["refused", "cancelled", "cancelled"]
    assert Case.objects.filter(composite_number=number).count() == 1


def test_an_unserved_region_is_refused_at_intake_and_nothing_is_written(region, api, clerk):
    bad = pension_application(region, from_region="999999")
    response = api.login(clerk).post("/cases", bad)
    assert response.status_code == 400
    assert not Composite.objects.exists() and not Case.objects.exists()


def test_composites_are_hidden_from_others(region, api, clerk):
    number = api.login(clerk).post("/cases", pension_application(region)).json()["number"]
    stranger = user_with("qingpu.clerk", role="clerk", window=region.window("sh-310118-01"))
    assert api.login(stranger).get(f"/cases/{number}").status_code == 404


def test_item_detail_shows_the_definition(region, api, clerk):
    body = api.login(clerk).get(f"/items/{PENSION}").json()
    assert [s["key"] for s in body["stages"]] == ["contact_letter", "transfer_out", "receive"]
    assert api.get(f"/items/{NEWBORN}").json()["parts"]


def test_pdf_materials_reach_the_first_stage(region, api, clerk):
    number = api.login(clerk).post("/cases", pension_application(region)).json()["number"]
    first = CompositeMember.objects.get(composite__number=number, key="contact_letter")
    case = Case.objects.get(number=first.case_number)
    assert [m.material_code for m in case.materials.all()] == ["M01"]
    assert case.materials.get().size == len(PDF + b"M01")


# --- 集成办: 新生儿出生“一件事” at sh --------------------------------------------------------

FATHER_ID = id_number("31011519860101123")


def newborn_application(region, **form):
    answers = {
        "newborn_name": "王小禾",
        "newborn_sex": "女",
        "newborn_birth_date": "2026-11-20",
        "birth_hospital": "复旦大学附属妇产科医院",
        "birth_region": "310000",
        "hukou_region": "310000",
        "father_id_number": FATHER_ID,
        "mother_id_number": APPLICANT_ID,
        "settle_address": "上海市黄浦区九江路1号",
        "bank": "工商银行",
        "contact_phone": "13801761234",
    }
    answers.update(form)
    return {
        "window": "sh-310101-01",
        "item": NEWBORN,
        "organization": region.org("上海市卫生健康委员会").code,
        "applicant": {"name": "李娜", "id_number": APPLICANT_ID, "phone": "13801761234"},
        "form": answers,
        "materials": materials_payload(("M01", "M02", "M04")),
    }


def part(body, key):
    return next(p for p in body["parts"] if p["key"] == key)


def officials(region):
    return {
        "birth_certificate": user_with(
            "sh.health", role="official", organization=region.org("上海市卫生健康委员会")
        ),
        "hukou": user_with("sh.police", role="official", organization=region.org("上海市公安局")),
        "medical_insurance": user_with(
            "sh.medical", role="official", organization=region.org("上海市医疗保障局")
        ),
        "social_card": user_with("sh.hrss2", role="official", organization=region.org(SH_HRSS)),
    }


def test_bundle_parts_start_in_dependency_order_and_collect_results(region, api, clerk):
    by = officials(region)
    body = api.login(clerk).post("/cases", newborn_application(region))
    assert body.status_code == 201, body.content
    body = body.json()
    number = body["number"]
    assert body["composite_kind"] == "bundle"
    assert [p["status"] for p in body["parts"]] == ["submitted", "waiting", "waiting", "waiting"]
    inputs = {
        "birth_certificate": {"gender": "女"},
        "hukou": {"child_id_number": id_number("31010120261120002")},
        "medical_insurance": {},
        "social_card": {"card_number": "SH2026112000001"},
    }
    for key in ("birth_certificate", "hukou", "medical_insurance", "social_card"):
        current = part(api.login(clerk).get(f"/cases/{number}").json(), key)
        assert current["status"] == "submitted", (key, current)
        approve(api, by[key], current["number"], inputs[key])
    body = api.login(clerk).get(f"/cases/{number}").json()
    assert body["status"] == "approved", body
    assert all(p["status"] == "approved" for p in body["parts"])
    # the 户口登记 part got the 出生医学证明 number without anyone typing it
    hukou = Case.objects.get(number=part(body, "hukou")["number"])
    certificate = {o["key"]: o["value"] for o in part(body, "birth_certificate")["outputs"]}
    assert certificate["licence_number"]
    assert hukou.form_data["birth_certificate_number"] == certificate["licence_number"]
    assert len([d for d in body["documents"] if d["is_result"]]) >= 3
    # the child's 公民身份号码 is stored encrypted, not in the history
    assert "31010120261120002" not in json.dumps(
        list(Case.objects.get(number=part(body, "social_card")["number"]).history.values()),
        default=str,
    )


def test_a_refused_part_terminates_its_dependents_and_approved_parts_stand(region, api, clerk):
    by = officials(region)
    number = api.login(clerk).post("/cases", newborn_application(region)).json()["number"]
    first = part(api.get(f"/cases/{number}").json(), "birth_certificate")
    approve(api, by["birth_certificate"], first["number"], {"gender": "女"})
    hukou = part(api.login(clerk).get(f"/cases/{number}").json(), "hukou")
    refused = api.login(by["hukou"]).post(
        f"/cases/{hukou['number']}/refuse", {"reason": "户口登记地址与父母户籍不符"}
    )
    assert refused.status_code == 200, refused.content
    body = api.login(clerk).get(f"/cases/{number}").json()
    assert [p["status"] for p in body["parts"]] == ["approved", "refused", "cancelled", "cancelled"]
    assert body["status"] == "partially_concluded"
    assert (
        "出生登记" in part(body, "medical_insurance")["reason"]
        or part(body, "medical_insurance")["reason"]
    )


def test_withdrawing_a_relay_before_acceptance_withdraws_its_started_stage(
    region, api, clerk, hrss_official
):
    number = api.login(clerk).post("/cases", pension_application(region)).json()["number"]
    response = api.post(f"/cases/{number}/withdraw", {"reason": "申请人改在原参保地办理"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "withdrawn"
    assert [s["status"] for s in body["stages"]] == ["withdrawn", "withdrawn", "withdrawn"]
    first = stage(body, "contact_letter")
    assert Case.objects.get(number=first["number"]).status == "withdrawn"
    # nothing is left to decide
    api.login(hrss_official)
    assert api.post(f"/cases/{first['number']}/accept", {}).status_code == 409


def test_a_relay_cannot_be_withdrawn_once_a_stage_is_accepted(region, api, clerk, hrss_official):
    number = api.login(clerk).post("/cases", pension_application(region)).json()["number"]
    first = CompositeMember.objects.get(composite__number=number, key="contact_letter")
    assert (
        api.login(hrss_official).post(f"/cases/{first.case_number}/accept", {}).status_code == 200
    )
    response = api.login(clerk).post(f"/cases/{number}/withdraw", {"reason": ""})
    assert response.status_code == 409
    assert Composite.objects.get(number=number).status == "in_progress"


def test_a_stage_at_a_peer_asks_for_supplements_through_the_node_where_they_applied(
    region, api, clerk, hrss_official
):
    number = api.login(clerk).post("/cases", pension_application(region, from_region="320000"))
    number = number.json()["number"]
    first = CompositeMember.objects.get(composite__number=number, key="contact_letter")
    approve(api, hrss_official, first.case_number, {"letter_number": "沪人社联〔2026〕003号"})
    second = CompositeMember.objects.get(composite__number=number, key="transfer_out")
    event = js_event(
        region,
        second.case_number,
        "request_supplements",
        "submitted",
        "supplement_requested",
        reason="请补充原参保地缴费记录",
        details={"missing": [{"material_code": "M02", "name": "参保缴费凭证"}]},
    )
    assert api.post("/exchange/inbox", raw=json.dumps(event).encode()).status_code == 200
    body = api.login(clerk).get(f"/cases/{number}").json()
    assert body["status"] == "supplement_requested"
    assert stage(body, "transfer_out")["status"] == "supplement_requested"
    # the applicant hears of it at their home node (sh), in Chinese, with the 联办件's number
    notice = Notice.objects.filter(case_number=number).order_by("-id").first()
    assert (
        notice is not None and "需要补正" in notice.text and "请补充原参保地缴费记录" in notice.text
    )

    # the window where they applied hands in the supplement; it goes to js
    supplied = api.post(
        f"/cases/{second.case_number}/supply", {"materials": materials_payload(("M02",))}
    )
    assert supplied.status_code == 200, supplied.content
    assert OutboxMessage.objects.filter(
        type="case.supplement", correlation=second.case_number, recipient="js"
    ).exists()
    body = api.get(f"/cases/{number}").json()
    assert body["status"] == "in_progress"
    assert stage(body, "transfer_out")["status"] == "submitted"


def test_a_resident_applies_online_at_home_and_follows_one_number(
    region, api, sms_outbox, hrss_official
):
    user = register(api, sms_outbox)
    user.assurance = "L3"  # verified face to face earlier (the item asks for L3)
    user.save(update_fields=["assurance"])
    token_for(api, sms_outbox, "lina", scopes=["cases:read", "cases:write"])
    body = pension_application(region, from_region="330000")
    online = {k: body[k] for k in ("item", "organization", "form", "materials")}
    created = api.post("/cases/online", online)
    assert created.status_code == 201, created.content
    number = created.json()["number"]
    composite = Composite.objects.get(number=number)
    assert composite.channel == "online" and composite.applicant_account == user
    first = CompositeMember.objects.get(composite=composite, key="contact_letter")
    assert Case.objects.get(number=first.case_number).applicant_account == user
    assert api.get(f"/cases/{number}").json()["stages"][1]["node"] == "zj"

    applicant_headers = api.headers
    approve(api, hrss_official, first.case_number, {"letter_number": "沪人社联〔2026〕004号"})
    second = CompositeMember.objects.get(composite=composite, key="transfer_out")
    message = OutboxMessage.objects.get(type="case.submit", correlation=second.case_number)
    envelope = json.loads(decrypt_at_rest(message.envelope))
    assert envelope["signed"]["subject"]["authenticated_by"]["home_node"] == "sh"
    assert envelope["signed"]["body"]["case"]["channel"] == "online"
    api.headers = applicant_headers
    assert api.get(f"/cases/{number}").json()["stages"][1]["status"] == "submitted"
