"""Cases through /api/v1/cases: intake at a window, decisions, supplements, scope."""

from __future__ import annotations

import json

import pytest
from stdnum.cn import uscc

from tests.conftest import b64
from tests.factories import (
    ESTABLISHMENT,
    JIAXING_AMR,
    PDF,
    PNG,
    QINGPU_AMR,
    establishment_form,
    id_number,
    materials_payload,
    user_with,
    zj_event,
)
from tongban.cases.models import Case, CaseMaterial, CaseStatusChange
from tongban.exchange.models import OutboxMessage
from tongban.gm.canonical import canonical_json
from tongban.identity.pii import decrypt_at_rest

NUMBER = "11310118TESTCASE0000001"


@pytest.fixture
def clerk(region):
    return user_with("qingpu.clerk", role="clerk", window=region.window("sh-310118-01"))


@pytest.fixture
def official(region):
    return user_with("qingpu.official", role="official", organization=region.org(QINGPU_AMR))


def application(region, org_name=JIAXING_AMR, **overrides):
    body = {
        "window": "sh-310118-01",
        "item": ESTABLISHMENT,
        "organization": region.org(org_name).code,
        "applicant": {
            "name": "李娜",
            "id_number": id_number("31022919880512456"),
            "phone": "13801761234",
        },
        "form": establishment_form(address="浙江省嘉兴市南湖区"),
        "materials": materials_payload(),
    }
    body.update(overrides)
    return body


def received(region, api, number=NUMBER):
    response = api.post(
        "/exchange/inbox", raw=json.dumps(region.case_submit_envelope(number=number)).encode()
    )
    assert response.status_code == 200, response.content
    return number


# --- intake at the sh window for a zj authority --------------------------------------


def test_window_intake_records_case_and_outbox_in_one_go(region, api, clerk):
    response = api.login(clerk).post("/cases", application(region))
    assert response.status_code == 201, response.content
    body = response.json()
    case = Case.objects.get(number=body["number"])
    assert case.perspective == "origin" and case.handling_node == "zj"
    assert body["number"].startswith(case.implementation_code)
    assert len(case.implementation_code) == 31 and body["number"][31:39].isdigit()
    assert body["applicant_id_masked"] == "3102**********" + case.applicant_id_number[-4:]
    assert "19880512" not in json.dumps(body, ensure_ascii=False)
    outbox = OutboxMessage.objects.get()
    envelope = json.loads(decrypt_at_rest(outbox.envelope))
    assert outbox.envelope.startswith("sm4gcm:")  # personal data inside: encrypted at rest
    assert (outbox.type, outbox.recipient, outbox.seq) == ("case.submit", "zj", 1)
    assert envelope["signed"]["subject"]["authenticated_by"]["window"]["code"] == "sh-310118-01"
    assert len(envelope["signed"]["blobs"]) == 5
    # the applicant's identifiers are encrypted at rest
    raw = (
        Case.objects.filter(pk=case.pk)
        .values("applicant_id_encrypted", "applicant_phone_encrypted")
        .get()
    )
    assert all(v.startswith("sm4gcm:") for v in raw.values())


@pytest.mark.parametrize(
    ("change", "code", "status"),
    [
        (
            {
                "applicant": {
                    "name": "李娜",
                    "id_number": "310229198805124561",
                    "phone": "13801761234",
                }
            },
            "invalid_applicant",
            400,
        ),
        ({"form": establishment_form(company_name="")}, "invalid_form", 400),
        ({"form": {**establishment_form(), "company_type": "股份公司"}}, "invalid_form", 400),
        ({"form": {**establishment_form(), "unexpected": "x"}}, "invalid_form", 400),
        ({"materials": materials_payload(("M01", "M02"))}, "missing_materials", 400),
        (
            {"materials": materials_payload(content=b"MZ\x90\x00 not a pdf")},
            "file_type_not_accepted",
            415,
        ),
        (
            {"materials": [{"material_code": "M09", "content_base64": b64(PDF)}]},
            "unknown_material",
            400,
        ),
        ({"materials": [{"material_code": "M01", "content_base64": "@@@"}]}, "bad_encoding", 400),
        (
            {
                "materials": materials_payload(("M01",), content=PDF + b"0" * (11 * 1024 * 1024))
                + materials_payload(("M02", "M03", "M04", "M05"))
            },
            "file_too_large",
            413,
        ),
        ({"organization": "91310000MA1FL0000X"}, "no_such_implementation", 400),
        ({"window": "zj-330421-01"}, "forbidden", 403),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(region, api, clerk, change, code, status):
    response = api.login(clerk).post("/cases", application(region, **change))
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert error["code"] == code and error["message"]
    assert not Case.objects.exists() and not OutboxMessage.objects.exists()
    assert not CaseMaterial.objects.exists()


def test_oversized_request_body_is_a_clean_json_error(region, api, clerk):
    huge = materials_payload(("M01",), content=PDF + b"0" * (70 * 1024 * 1024))
    response = api.login(clerk).post("/cases", application(region, materials=huge))
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"
    assert not Case.objects.exists()


def test_png_accepted_where_allowed_and_schema_errors_are_422(region, api, clerk):
    mats = materials_payload()
    mats[2] = {"material_code": "M03", "filename": "id.png", "content_base64": b64(PNG)}
    assert api.login(clerk).post("/cases", application(region, materials=mats)).status_code == 201
    response = api.post("/cases", {"window": "sh-310118-01"})
    assert response.status_code == 422 and response.json()["error"]["code"] == "invalid_request"


def test_api_requires_authentication(region, api):
    response = api.get("/cases")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"


# --- decisions at the handling node (sh decides a case received at zj) --------------------


def test_official_accepts_then_approves_issuing_a_signed_business_licence(region, api, official):
    received(region, api)
    api.login(official)
    worklist = api.get("/cases", worklist="true").json()
    assert [c["number"] for c in worklist["results"]] == [NUMBER]
    detail = api.get(f"/cases/{NUMBER}").json()
    assert all(m["digest_verified"] for m in detail["materials"])
    assert detail["identity_assertion"]["subject"]["id_number"].startswith("3304**")
    assert api.post(f"/cases/{NUMBER}/accept", {"note": "材料齐全"}).json()["status"] == "accepted"
    approved = api.post(f"/cases/{NUMBER}/approve", {}).json()
    assert approved["status"] == "approved"
    result = approved["result"]
    assert result["kind"] == "business_licence"
    code = result["document"]["uscc"]
    assert uscc.is_valid(code) and code[2:8] == "310118"
    from tongban.directory.signing import peer_public_key
    from tongban.gm import sm2

    key = peer_public_key("sh", result["signature"]["kid"])
    assert sm2.verify_b64(key, canonical_json(result["document"]), result["signature"]["value"])
    # receipt (with the deadline) and each step were announced to zj, in order
    events = OutboxMessage.objects.filter(type="case.event").order_by("seq")
    bodies = [json.loads(decrypt_at_rest(e.envelope))["signed"]["body"] for e in events]
    assert [b["event"] for b in bodies] == ["received", "accept", "approve"]
    assert bodies[0]["deadline"] == Case.objects.get().deadline.isoformat()
    assert [e.seq for e in events] == [1, 2, 3] and {e.recipient for e in events} == {"zj"}
    timeline = [(t["from_status"], t["to_status"]) for t in approved["timeline"]]
    assert timeline == [("", "submitted"), ("submitted", "accepted"), ("accepted", "approved")]


def test_refuse_and_deny_need_a_reason_and_wrong_state_is_409(region, api, official):
    received(region, api)
    api.login(official)
    response = api.post(f"/cases/{NUMBER}/refuse", {"reason": "  "})
    assert response.status_code == 400 and response.json()["error"]["code"] == "reason_required"
    response = api.post(f"/cases/{NUMBER}/approve", {})
    assert response.status_code == 409 and response.json()["error"]["code"] == "invalid_state"
    assert Case.objects.get().status == "submitted"
    assert CaseStatusChange.objects.count() == 1
    # only the "received" announcement, and the report of the applicant's data used by the
    # case to their home node (我的数据使用记录)
    assert sorted(OutboxMessage.objects.values_list("type", flat=True)) == [
        "case.event",
        "data.use",
    ]
    assert api.post(f"/cases/{NUMBER}/refuse", {"reason": "名称重复"}).json()["status"] == "refused"
    assert api.post(f"/cases/{NUMBER}/accept", {}).status_code == 409


def test_supplement_request_lists_materials(region, api, official):
    received(region, api)
    api.login(official)
    response = api.post(
        f"/cases/{NUMBER}/request-supplements", {"missing": [{"material_code": "M99"}]}
    )
    assert response.json()["error"]["code"] == "unknown_material"
    response = api.post(f"/cases/{NUMBER}/request-supplements", {"missing": []})
    assert response.json()["error"]["code"] == "missing_required"
    body = api.post(
        f"/cases/{NUMBER}/request-supplements",
        {"missing": [{"material_code": "M02", "note": "需盖章"}], "note": "请补正"},
    ).json()
    assert body["status"] == "supplement_requested"
    assert body["supplement_request"]["missing"][0]["name"] == "公司章程"


def test_other_organizations_and_roles_cannot_see_or_act(region, api, official):
    received(region, api)
    songjiang = user_with(
        "songjiang", role="official", organization=region.org("上海市松江区市场监督管理局")
    )
    clerk = user_with("huangpu.clerk", role="clerk", window=region.window("sh-310101-01"))
    supervisor = user_with("sup", role="supervisor", organization=region.org(QINGPU_AMR))
    for outsider in (songjiang, clerk):
        api.login(outsider)
        assert api.get(f"/cases/{NUMBER}").status_code == 404
        assert api.post(f"/cases/{NUMBER}/accept", {}).status_code == 404
        assert api.get("/cases").json()["count"] == 0
    api.login(supervisor)
    assert api.get(f"/cases/{NUMBER}").status_code == 200
    assert api.post(f"/cases/{NUMBER}/accept", {}).status_code == 403
    assert Case.objects.get().status == "submitted"


def test_applicant_sees_own_cases_only(region, api):
    from tongban.identity.services import person_upsert

    received(region, api)  # applicant id_number() = the default test person
    mine = user_with("zhangwei", person=person_upsert(name="张伟", id_number=id_number()))
    mine.assurance = "L3"  # a window case is seen under the 身份证号 only by a proven identity
    mine.save(update_fields=["assurance"])
    other = user_with(
        "other", person=person_upsert(name="王芳", id_number=id_number("32058419930818246"))
    )
    assert api.login(mine).get("/cases").json()["count"] == 1
    assert api.get(f"/cases/{NUMBER}").status_code == 200
    assert api.login(other).get("/cases").json()["count"] == 0
    assert api.get(f"/cases/{NUMBER}").status_code == 404


def test_documents_are_pdfs_with_chinese_text(region, api, official):
    from io import BytesIO

    from pypdf import PdfReader

    received(region, api)
    api.login(official)
    api.post(f"/cases/{NUMBER}/accept", {})
    response = api.get(f"/cases/{NUMBER}/documents/acceptance.pdf")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    text = PdfReader(BytesIO(response.content)).pages[0].extract_text()
    assert "受理回执" in text and NUMBER in text.replace("\n", "")
    assert api.get(f"/cases/{NUMBER}/documents/result.pdf").status_code == 404
    api.post(f"/cases/{NUMBER}/approve", {})
    code = Case.objects.get().result.document["uscc"]
    text = (
        PdfReader(BytesIO(api.get(f"/cases/{NUMBER}/documents/result.pdf").content))
        .pages[0]
        .extract_text()
    )
    assert "营业执照" in text and code in text
    assert api.get(f"/cases/{NUMBER}/documents/other.pdf").status_code == 404


def test_material_download_is_scoped(region, api, official):
    received(region, api)
    material = CaseMaterial.objects.first()
    response = api.login(official).get(f"/cases/{NUMBER}/materials/{material.pk}")
    assert response.status_code == 200 and response.content.startswith(b"%PDF")
    stranger = user_with("x", role="official", organization=region.org("上海市公安局"))
    assert api.login(stranger).get(f"/cases/{NUMBER}/materials/{material.pk}").status_code == 404


# --- the origin side: events from the deciding node update the mirror ------------------


def test_origin_mirror_follows_events_and_supplies(region, api, clerk):
    number = api.login(clerk).post("/cases", application(region)).json()["number"]
    event = zj_event(
        region,
        number,
        1,
        "request_supplements",
        "supplement_requested",
        reason="请补正",
        details={"missing": [{"material_code": "M02", "name": "公司章程"}]},
    )
    assert api.post("/exchange/inbox", raw=json.dumps(event).encode()).status_code == 200
    body = api.get(f"/cases/{number}").json()
    assert body["status"] == "supplement_requested"
    assert body["supplement_request"]["missing"][0]["material_code"] == "M02"
    supplied = api.post(
        f"/cases/{number}/supply", {"materials": materials_payload(("M02",)), "note": "已补"}
    )
    assert supplied.status_code == 200, supplied.content
    assert supplied.json()["status"] == "submitted"
    message = OutboxMessage.objects.get(type="case.supplement")
    assert (message.recipient, message.seq) == ("zj", 2)
    # supplying again in the wrong state changes nothing
    again = api.post(f"/cases/{number}/supply", {"materials": materials_payload(("M02",))})
    assert again.status_code == 409
    assert OutboxMessage.objects.filter(type="case.supplement").count() == 1


def test_origin_rejects_a_result_with_a_forged_signature(region, api, clerk):
    number = api.login(clerk).post("/cases", application(region)).json()["number"]
    accept = zj_event(region, number, 1, "accept", "accepted")
    assert api.post("/exchange/inbox", raw=json.dumps(accept).encode()).status_code == 200
    forged = {
        "kind": "business_licence",
        "document": {"uscc": "91330400MA0000000X", "issued_at": "2026-11-21T00:00:00Z"},
        "signature": region.signer("js")(b"other"),
    }
    approve = zj_event(region, number, 2, "approve", "approved", details={"result": forged})
    response = api.post("/exchange/inbox", raw=json.dumps(approve).encode())
    assert response.status_code == 409 and response.json()["signed"]["status"] == "refused"
    case = Case.objects.get(number=number)
    assert case.status == "accepted"
    from tongban.cases.models import CaseResult

    assert not CaseResult.objects.exists()
