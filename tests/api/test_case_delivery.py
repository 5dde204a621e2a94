"""送达: the applicant's choice at submission (电子送达 / 邮寄 / 窗口自取), the waybill,
the pickup at the window, the case.delivery envelope both ways, and who may do what."""

from __future__ import annotations

import json
import logging

import pytest

from tests.api.test_cases_api import clerk, official
from tests.conftest import utc
from tests.factories import (
    ESTABLISHMENT,
    JIAXING_AMR,
    QINGPU_AMR,
    establishment_form,
    id_number,
    materials_payload,
    user_with,
    zj_event,
)
from tongban.cases.models import Case
from tongban.exchange.models import OutboxMessage
from tongban.identity.models import SecurityEvent
from tongban.identity.pii import decrypt_at_rest

__all__ = ["clerk", "official"]  # the fixtures, used by name

APPLICANT_ID = id_number("31022919880512456")
POST = {
    "method": "post",
    "recipient": "李娜",
    "phone": "13801761234",
    "address": "浙江省嘉兴市南湖区东栅街道凌公塘路1号",
}


@pytest.fixture
def huangpu_clerk(region):
    return user_with("huangpu.clerk", role="clerk", window=region.window("sh-310101-01"))


def application(region, delivery=None, org_name=JIAXING_AMR):
    body = {
        "window": "sh-310118-01",
        "item": ESTABLISHMENT,
        "organization": region.org(org_name).code,
        "applicant": {"name": "李娜", "id_number": APPLICANT_ID, "phone": "13801761234"},
        "form": establishment_form(address="浙江省嘉兴市南湖区"),
        "materials": materials_payload(),
    }
    if delivery is not None:
        body["delivery"] = delivery
    return body


def submitted_body(number: str) -> dict:
    message = OutboxMessage.objects.get(type="case.submit", correlation=number)
    return json.loads(decrypt_at_rest(message.envelope))["signed"]["body"]["case"]


def zj_approves(region, api, number: str) -> None:
    """The zj authority accepts and approves the case (its events reach this origin)."""
    for seq, (event, status) in enumerate((("accept", "accepted"), ("approve", "approved")), 1):
        envelope = zj_event(region, number, seq, event, status)
        response = api.post("/exchange/inbox", raw=json.dumps(envelope).encode())
        assert response.status_code == 200, response.content


# --- the choice at submission -----------------------------------------------------------


def test_electronic_is_the_default_and_travels_in_case_submit(region, api, clerk):
    response = api.login(clerk).post("/cases", application(region))
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["delivery"]["method"] == "electronic"
    assert body["delivery"]["status"] == "pending" and body["delivery"]["address"] is None
    assert submitted_body(body["number"])["delivery"] == {
        "method": "electronic",
        "window": None,
        "address": None,
    }
    zj_approves(region, api, body["number"])
    # the signed documents are the delivery: concluded = delivered
    assert api.get(f"/cases/{body['number']}").json()["delivery"]["status"] == "delivered"


def test_post_stores_the_address_encrypted_and_shows_it_masked(region, api, clerk, caplog):
    caplog.set_level(logging.DEBUG)
    response = api.login(clerk).post("/cases", application(region, POST))
    assert response.status_code == 201, response.content
    number = response.json()["number"]
    case = Case.objects.get(number=number)
    assert case.delivery_method == "post" and case.delivery_status == "pending"
    assert case.delivery_address_encrypted.startswith("sm4gcm:")
    assert "凌公塘路" not in case.delivery_address_encrypted
    # the case detail masks it …
    shown = response.json()["delivery"]["address"]
    assert shown == {"recipient": "李*", "phone": "138****1234", "address": "浙江省嘉兴市****"}
    # … the receiving window, which may post the result, reads it in full
    full = api.get(f"/cases/{number}/delivery").json()
    assert full["address"] == {k: POST[k] for k in ("recipient", "phone", "address")}
    # the handling node gets it in case.submit, byte for byte as cleaned
    assert submitted_body(number)["delivery"] == {
        "method": "post",
        "window": None,
        "address": {k: POST[k] for k in ("recipient", "phone", "address")},
    }
    assert "凌公塘路" not in caplog.text and "13801761234" not in caplog.text


def test_pickup_names_a_window_of_this_node(region, api, clerk):
    choice = {"method": "pickup", "window": "sh-310101-01"}
    response = api.login(clerk).post("/cases", application(region, choice))
    assert response.status_code == 201, response.content
    delivery = response.json()["delivery"]
    assert delivery["method"] == "pickup" and delivery["window"]["code"] == "sh-310101-01"
    name = region.window("sh-310101-01").name
    assert delivery["window"]["name"] == name
    assert submitted_body(response.json()["number"])["delivery"] == {
        "method": "pickup",
        "window": {"code": "sh-310101-01", "name": name},
        "address": None,
    }


@pytest.mark.parametrize(
    "choice, fields",
    [
        (
            {"method": "post", "recipient": "", "phone": "123", "address": "上海"},
            {"delivery.recipient", "delivery.phone", "delivery.address"},
        ),
        ({"method": "pickup"}, {"delivery.window"}),
        ({"method": "pickup", "window": "zj-330421-01"}, {"delivery.window"}),  # not sh's
        ({"method": "pigeon"}, {"delivery.method"}),
    ],
)
def test_bad_choices_answer_every_error_at_once_and_store_nothing(
    region, api, clerk, choice, fields
):
    response = api.login(clerk).post("/cases", application(region, choice))
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid_delivery"
    assert set(error["details"]["fields"]) == fields
    assert not Case.objects.exists() and not OutboxMessage.objects.exists()


def test_online_application_carries_the_choice(region, api):
    from tongban.identity.services import person_upsert

    person = person_upsert(name="李娜", id_number=APPLICANT_ID, phone="13801761234")
    person.home_node = "sh"
    person.save(update_fields=["home_node"])
    resident = user_with("lina", person=person, assurance="L3")
    body = {
        "item": ESTABLISHMENT,
        "organization": region.org(JIAXING_AMR).code,
        "form": establishment_form(),
        "materials": materials_payload(),
        "delivery": {"method": "pickup", "window": "sh-310118-01"},
    }
    response = api.login(resident).post("/cases/online", body)
    assert response.status_code == 201, response.content
    assert response.json()["delivery"]["window"]["code"] == "sh-310118-01"
    bad = api.post("/cases/online", {**body, "delivery": {"method": "post"}})
    assert bad.status_code == 400
    assert set(bad.json()["error"]["details"]["fields"]) == {
        "delivery.recipient",
        "delivery.phone",
        "delivery.address",
    }
    assert Case.objects.count() == 1


# --- 邮寄: the waybill ----------------------------------------------------------------


def test_the_receiving_window_records_the_waybill_once_concluded(region, api, clerk, huangpu_clerk):
    number = api.login(clerk).post("/cases", application(region, POST)).json()["number"]
    waybill = {"carrier": "顺丰速运", "waybill": "SF1234567890"}
    early = api.post(f"/cases/{number}/delivery/waybill", waybill)
    assert early.status_code == 409 and early.json()["error"]["code"] == "not_concluded"
    zj_approves(region, api, number)
    bad = api.post(f"/cases/{number}/delivery/waybill", {"carrier": "", "waybill": "顺丰"})
    assert bad.status_code == 400
    assert set(bad.json()["error"]["details"]["fields"]) == {"carrier", "waybill"}
    # another window's clerk does not see the case at all
    assert (
        api.login(huangpu_clerk).post(f"/cases/{number}/delivery/waybill", waybill).status_code
        == 404
    )
    assert (
        api.login(clerk)
        .post(f"/cases/{number}/delivery/pickup", {"id_number": APPLICANT_ID})
        .status_code
        == 403
    )
    response = api.post(f"/cases/{number}/delivery/waybill", waybill)
    assert response.status_code == 200, response.content
    delivery = response.json()["delivery"]
    assert (delivery["status"], delivery["carrier"], delivery["waybill"]) == (
        "sent",
        "顺丰速运",
        "SF1234567890",
    )
    message = OutboxMessage.objects.get(type="case.delivery")
    assert message.recipient == "zj" and message.correlation == number
    sent = json.loads(decrypt_at_rest(message.envelope))["signed"]["body"]
    assert sent["status"] == "sent" and sent["waybill"] == "SF1234567890"
    assert "address" not in sent and "13801761234" not in json.dumps(sent)
    assert api.post(f"/cases/{number}/delivery/delivered").json()["delivery"]["status"] == (
        "delivered"
    )
    again = api.post(f"/cases/{number}/delivery/waybill", waybill)
    assert again.status_code == 409


def case_submit_with_delivery(region, number: str, delivery: dict | None) -> dict:
    """What zj sends for a case decided in 青浦, with the applicant's 送达 choice."""
    return region.case_submit_envelope(number=number, case_fields={"delivery": delivery})


NUMBER = "11310118TESTDELIVERY00001"


def test_the_handling_authority_records_the_waybill_and_tells_the_window(region, api, official):
    envelope = case_submit_with_delivery(
        region,
        NUMBER,
        {
            "method": "post",
            "window": None,
            "address": {k: POST[k] for k in ("recipient", "phone", "address")},
        },
    )
    response = api.post("/exchange/inbox", raw=json.dumps(envelope).encode())
    assert response.status_code == 200, response.content
    case = Case.objects.get(number=NUMBER)
    assert case.perspective == "handling" and case.delivery_method == "post"
    api.login(official)
    # the official reads the full address; a supervisor of the same authority only masked
    assert api.get(f"/cases/{NUMBER}/delivery").json()["address"]["phone"] == "13801761234"
    supervisor = user_with("sup", role="supervisor", organization=region.org(QINGPU_AMR))
    assert (
        api.login(supervisor).get(f"/cases/{NUMBER}/delivery").json()["address"]["phone"]
        == "138****1234"
    )
    waybill = {"carrier": "EMS", "waybill": "EA123456789CN"}
    assert api.post(f"/cases/{NUMBER}/delivery/waybill", waybill).status_code == 403
    api.login(official)
    api.post(f"/cases/{NUMBER}/accept", {})
    assert api.post(f"/cases/{NUMBER}/approve", {}).json()["status"] == "approved"
    response = api.post(f"/cases/{NUMBER}/delivery/waybill", waybill)
    assert response.status_code == 200, response.content
    message = OutboxMessage.objects.get(type="case.delivery")
    assert message.recipient == "zj"


def test_a_peer_delivery_without_an_address_is_refused(region, api):
    envelope = case_submit_with_delivery(region, NUMBER, {"method": "post", "address": None})
    response = api.post("/exchange/inbox", raw=json.dumps(envelope).encode())
    assert response.json()["signed"]["status"] == "refused"
    assert not Case.objects.filter(number=NUMBER).exists()


def test_the_origin_applies_the_handling_nodes_case_delivery(region, api, clerk):
    number = api.login(clerk).post("/cases", application(region, POST)).json()["number"]
    zj_approves(region, api, number)
    envelope = region.envelope(
        type="case.delivery",
        correlation=number,
        seq=3,
        body={
            "number": number,
            "method": "post",
            "status": "sent",
            "carrier": "中国邮政",
            "waybill": "1190000000001",
            "window": None,
            "occurred_at": utc().isoformat(),
            "actor": {"name": "钱程", "place": JIAXING_AMR, "node": "zj"},
        },
    )
    response = api.post("/exchange/inbox", raw=json.dumps(envelope).encode())
    assert response.status_code == 200, response.content
    delivery = api.get(f"/cases/{number}").json()["delivery"]
    assert (delivery["status"], delivery["waybill"]) == ("sent", "1190000000001")
    # a node that is not the case's other node is refused
    stranger = region.envelope(
        sender="js",
        type="case.delivery",
        correlation=number,
        seq=1,
        body={**envelope["signed"]["body"], "status": "delivered"},
    )
    response = api.post("/exchange/inbox", raw=json.dumps(stranger).encode())
    assert response.json()["signed"]["status"] == "refused"
    assert Case.objects.get(number=number).delivery_status == "sent"


# --- 窗口自取: the pickup -------------------------------------------------------------


def test_pickup_at_the_chosen_window_checks_the_id_number(region, api, clerk, huangpu_clerk):
    choice = {"method": "pickup", "window": "sh-310101-01"}
    number = api.login(clerk).post("/cases", application(region, choice)).json()["number"]
    zj_approves(region, api, number)
    # the receiving window is not the pickup window
    response = api.post(f"/cases/{number}/delivery/pickup", {"id_number": APPLICANT_ID})
    assert response.status_code == 403
    # the pickup window sees the case it hands over
    api.login(huangpu_clerk)
    assert api.get(f"/cases/{number}").status_code == 200
    wrong = api.post(f"/cases/{number}/delivery/pickup", {"id_number": id_number()})
    assert wrong.status_code == 403 and wrong.json()["error"]["code"] == "identity_mismatch"
    assert Case.objects.get(number=number).delivery_status == "pending"
    event = SecurityEvent.objects.get(kind="pickup_identity_mismatch")
    assert event.details["case"] == number and id_number() not in json.dumps(event.details)
    assert not OutboxMessage.objects.filter(type="case.delivery").exists()
    response = api.post(f"/cases/{number}/delivery/pickup", {"id_number": APPLICANT_ID.lower()})
    assert response.status_code == 200, response.content
    assert response.json()["delivery"]["status"] == "picked_up"
    message = OutboxMessage.objects.get(type="case.delivery")
    assert message.recipient == "zj"
    again = api.post(f"/cases/{number}/delivery/pickup", {"id_number": APPLICANT_ID})
    assert again.status_code == 409


def test_a_pickup_window_sees_only_the_cases_it_hands_over(region, api, clerk, huangpu_clerk):
    api.login(clerk).post("/cases", application(region, POST))
    api.post("/cases", application(region, {"method": "pickup", "window": "sh-310101-01"}))
    listed = api.login(huangpu_clerk).get("/cases").json()
    assert listed["count"] == 1 and listed["results"][0]["number"] == (
        Case.objects.get(delivery_method="pickup").number
    )
