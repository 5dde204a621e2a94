"""撤回: the applicant (online) or the receiving window withdraws a case before acceptance;
the deciding node applies it — or, if it accepted the case meanwhile, answers with the
true status and the receiving node keeps that one."""

from __future__ import annotations

import json

from tests.api.test_cases_api import NUMBER, application, clerk, official, received
from tests.api.test_identity_api import huji_apply_online, register, sms_outbox, token_for
from tests.conftest import utc
from tests.factories import QINGPU_AMR, user_with, zj_event
from tongban.cases.models import Case, CaseStatusChange
from tongban.cases.services import Actor, case_withdraw_by_system
from tongban.exchange.models import InboxMessage, OutboxMessage
from tongban.identity.pii import decrypt_at_rest

__all__ = ["clerk", "official", "sms_outbox"]  # the fixtures, used by name


def inbox(api, envelope) -> dict:
    response = api.post("/exchange/inbox", raw=json.dumps(envelope).encode())
    assert response.status_code == 200, response.content
    return response.json()


def envelope_body(message: OutboxMessage) -> dict:
    return json.loads(decrypt_at_rest(message.envelope))["signed"]["body"]


def withdraw_envelope(region, number: str, seq: int = 2, from_status: str = "submitted"):
    return region.envelope(
        type="case.withdraw",
        correlation=number,
        seq=seq,
        body={
            "number": number,
            "from_status": from_status,
            "reason": "申请人不再需要",
            "occurred_at": utc().isoformat(),
            "actor": {"name": "沈晓燕", "place": "嘉善县专窗", "node": "zj"},
        },
    )


# --- at the receiving node (sh window, decided in zj) -------------------------------------


def test_window_withdraws_and_the_deciding_node_is_told_in_the_same_step(region, api, clerk):
    number = api.login(clerk).post("/cases", application(region)).json()["number"]
    response = api.post(f"/cases/{number}/withdraw", {"reason": "申请人当面要求撤回"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "withdrawn" and body["concluded_at"]
    assert body["timeline"][-1]["to_status"] == "withdrawn"
    assert body["timeline"][-1]["reason"] == "申请人当面要求撤回"
    message = OutboxMessage.objects.get(type="case.withdraw")
    assert (message.recipient, message.correlation, message.seq) == ("zj", number, 2)
    sent = envelope_body(message)
    assert sent["number"] == number and sent["from_status"] == "submitted"
    assert sent["reason"] == "申请人当面要求撤回" and sent["actor"]["node"] == "sh"
    # a second withdrawal, or a supply, is refused and sends nothing
    again = api.post(f"/cases/{number}/withdraw", {})
    assert again.status_code == 409 and again.json()["error"]["code"] == "not_withdrawable"
    assert OutboxMessage.objects.filter(type="case.withdraw").count() == 1

    # the deciding node confirms: the status stays withdrawn, its entry is in the history
    inbox(api, zj_event(region, number, 1, "withdraw", "withdrawn", reason="申请人当面要求撤回"))
    case = Case.objects.get(number=number)
    assert case.status == "withdrawn" and case.concluded_at is not None
    assert case.history.filter(to_status="withdrawn", node="zj").exists()


def test_withdrawal_after_acceptance_elsewhere_keeps_the_true_status(region, api, clerk):
    number = api.login(clerk).post("/cases", application(region)).json()["number"]
    assert api.post(f"/cases/{number}/withdraw", {}).status_code == 200
    # zj had accepted before the withdrawal arrived: its accept, then its answer
    inbox(api, zj_event(region, number, 1, "accept", "accepted"))
    inbox(
        api,
        zj_event(
            region,
            number,
            2,
            "withdrawal_refused",
            "accepted",
            from_status="accepted",
            reason="办件当前状态为“已受理”，撤回未生效",
        ),
    )
    case = Case.objects.get(number=number)
    assert case.status == "accepted"
    assert case.concluded_at is None and case.accepted_at is not None
    refused = case.history.get(details__event="withdrawal_refused")
    assert refused.to_status == "accepted" and "撤回未生效" in refused.reason
    # the window sees it as accepted and can no longer withdraw
    assert api.get(f"/cases/{number}").json()["status"] == "accepted"
    assert api.post(f"/cases/{number}/withdraw", {}).status_code == 409


def test_a_supplement_request_in_flight_does_not_undo_the_withdrawal(region, api, clerk):
    number = api.login(clerk).post("/cases", application(region)).json()["number"]
    api.post(f"/cases/{number}/withdraw", {})
    inbox(api, zj_event(region, number, 1, "request_supplements", "supplement_requested"))
    inbox(api, zj_event(region, number, 2, "withdraw", "withdrawn", from_status="submitted"))
    case = Case.objects.get(number=number)
    assert case.status == "withdrawn" and case.concluded_at is not None


def test_only_the_window_or_the_applicant_may_withdraw(region, api, clerk, official):
    number = api.login(clerk).post("/cases", application(region)).json()["number"]
    other_clerk = user_with("x.clerk", role="clerk", window=region.window("sh-310101-01"))
    assert api.login(other_clerk).post(f"/cases/{number}/withdraw", {}).status_code == 404
    assert api.login(official).post(f"/cases/{number}/withdraw", {}).status_code == 404
    too_long = api.login(clerk).post(f"/cases/{number}/withdraw", {"reason": "长" * 2001})
    assert too_long.status_code == 400
    assert Case.objects.get(number=number).status == "submitted"
    assert not OutboxMessage.objects.filter(type="case.withdraw").exists()


def test_online_applicant_withdraws_own_case(region, api, sms_outbox):
    user = register(api, sms_outbox)
    token_for(api, sms_outbox, "lina", scopes=["cases:read", "cases:write"])
    r = huji_apply_online(api, user)
    assert r.status_code == 201, r.content
    number = r.json()["number"]
    withdrawn = api.post(f"/cases/{number}/withdraw", {"reason": "材料有误，重新申请"})
    assert withdrawn.status_code == 200, withdrawn.content
    assert withdrawn.json()["status"] == "withdrawn"
    assert OutboxMessage.objects.get(type="case.withdraw").recipient == "zj"


def test_local_case_is_withdrawn_directly_and_leaves_the_worklist(region, api, clerk, official):
    body = application(region, org_name=QINGPU_AMR)
    number = api.login(clerk).post("/cases", body).json()["number"]
    assert Case.objects.get(number=number).perspective == "local"
    assert api.login(official).get("/cases?worklist=true").json()["count"] == 1
    assert api.login(clerk).post(f"/cases/{number}/withdraw", {}).status_code == 200
    assert not OutboxMessage.objects.filter(type="case.withdraw").exists()
    api.login(official)
    assert api.get("/cases?worklist=true").json()["count"] == 0
    refused = api.post(f"/cases/{number}/accept", {})
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "invalid_state"


def test_the_composite_engine_withdraws_without_a_user(region, api, clerk):
    number = api.login(clerk).post("/cases", application(region)).json()["number"]
    actor = Actor(name="系统", place="联办件", node="sh")
    case = case_withdraw_by_system(number=number, actor=actor, reason="前序环节不予许可")
    assert case.status == "withdrawn"
    entry = CaseStatusChange.objects.filter(case=case).last()
    assert entry.actor_name == "系统" and entry.details["by_system"] is True
    assert OutboxMessage.objects.filter(type="case.withdraw").count() == 1


# --- at the deciding node (sh decides, zj received) ---------------------------------------


def test_deciding_node_applies_a_withdrawal_before_acceptance(region, api, official):
    received(region, api)
    inbox(api, withdraw_envelope(region, NUMBER))
    case = Case.objects.get(number=NUMBER)
    assert case.status == "withdrawn" and case.concluded_at is not None
    assert case.history.last().reason == "申请人不再需要"
    answer = OutboxMessage.objects.filter(type="case.event").order_by("-seq").first()
    body = envelope_body(answer)
    assert (body["event"], body["from_status"], body["to_status"]) == (
        "withdraw",
        "submitted",
        "withdrawn",
    )
    # the official can no longer decide it, and it is off the worklist
    api.login(official)
    assert api.post(f"/cases/{NUMBER}/accept", {}).status_code == 409
    assert api.get("/cases?worklist=true").json()["count"] == 0


def test_deciding_node_refuses_a_withdrawal_after_acceptance(region, api, official):
    received(region, api)
    assert api.login(official).post(f"/cases/{NUMBER}/accept", {}).status_code == 200
    receipt = inbox(api, withdraw_envelope(region, NUMBER))
    assert receipt["signed"]["status"] == "accepted"
    case = Case.objects.get(number=NUMBER)
    assert case.status == "accepted" and case.concluded_at is None
    assert case.history.filter(details__event="withdrawal_refused").exists()
    answer = OutboxMessage.objects.filter(type="case.event").order_by("-seq").first()
    body = envelope_body(answer)
    assert (body["event"], body["to_status"]) == ("withdrawal_refused", "accepted")
    assert "撤回未生效" in body["reason"]


def test_withdrawal_of_an_unknown_case_is_refused(region, api):
    receipt = api.post(
        "/exchange/inbox", raw=json.dumps(withdraw_envelope(region, "NOPE", seq=1)).encode()
    ).json()
    assert receipt["signed"]["status"] == "refused"
    assert InboxMessage.objects.get().status == "refused"


# --- the pages ------------------------------------------------------------------------------


def test_case_page_offers_withdrawal_with_a_confirmation(region, api, client, clerk):
    number = api.login(clerk).post("/cases", application(region)).json()["number"]
    client.force_login(clerk)
    page = client.get(f"/cases/{number}/").content.decode()
    assert "action-withdraw" in page and "确认撤回" in page
    # without the tick nothing happens
    unticked = client.post(f"/cases/{number}/actions/withdraw/", {"withdraw-reason": "x"})
    assert unticked.status_code == 400
    assert Case.objects.get(number=number).status == "submitted"
    done = client.post(
        f"/cases/{number}/actions/withdraw/", {"withdraw-reason": "", "withdraw-confirm": "on"}
    )
    assert done.status_code == 302
    assert Case.objects.get(number=number).status == "withdrawn"
    assert "action-withdraw" not in client.get(f"/cases/{number}/").content.decode()
